//! The data a command reads: loaded into memory, or, for a `.npy` or raw
//! IDX file larger than the host budget (`--host-memory`, by default half
//! of the memory available), mapped and read as it is needed, so that a
//! file larger than RAM trains and scores with bounded memory.

use std::path::Path;

use wgae::data::source::mappable;
use wgae::data::{files, idx, memory, Dataset, Source};

/// Bytes of data the host may hold: `--host-memory`, or half of what the
/// host has available.
pub fn host_budget(flag: Option<u64>) -> u64 {
    flag.unwrap_or_else(|| memory::available_host_bytes().map_or(u64::MAX, |a| a / 2))
}

/// Data opened for a command, in memory or mapped.
pub enum Opened {
    Memory(Dataset),
    Mapped {
        source: Source,
        labels: Option<Vec<u32>>,
    },
}

/// Opens `path`: mapped when it is a `.npy` or raw IDX file whose values,
/// as f32, exceed `budget`; loaded otherwise. `limit` keeps the first rows.
pub fn open(
    path: &Path,
    format: Option<files::Format>,
    limit: Option<usize>,
    rgb: bool,
    budget: u64,
) -> wgae::Result<Opened> {
    if !rgb && mappable(path, format) {
        let source = Source::map(path, format)?;
        let source = match limit {
            Some(n) => source.slice(0, n),
            None => source,
        };
        if source.f32_bytes() > budget {
            let labels = match idx::labels_path_for(path) {
                Some(lp) if files::detect(path)? == files::Format::Idx => {
                    let mut l = idx::load_labels(&lp)?;
                    l.truncate(source.rows());
                    (l.len() == source.rows()).then_some(l)
                }
                _ => None,
            };
            return Ok(Opened::Mapped { source, labels });
        }
    }
    let ds = if rgb && path.is_dir() {
        files::load_images(path, None, true)?
    } else {
        files::load(path, format)?
    };
    Ok(Opened::Memory(match limit {
        Some(n) => ds.take(n),
        None => ds,
    }))
}

impl Opened {
    pub fn rows(&self) -> usize {
        match self {
            Opened::Memory(d) => d.rows,
            Opened::Mapped { source, .. } => source.rows(),
        }
    }

    pub fn cols(&self) -> usize {
        match self {
            Opened::Memory(d) => d.cols,
            Opened::Mapped { source, .. } => source.cols(),
        }
    }

    pub fn is_mapped(&self) -> bool {
        matches!(self, Opened::Mapped { .. })
    }

    /// The rows as a model shaped `shape` (channels first) reads them (see
    /// [`Dataset::for_shape`]). A mapped file is read as stored, so one
    /// stored channels-last is refused with what to do.
    pub fn for_shape(self, shape: [usize; 3]) -> wgae::Result<Self> {
        match self {
            Opened::Memory(d) => Ok(Opened::Memory(d.for_shape(shape)?)),
            Opened::Mapped { source, labels } => {
                let want: usize = shape.iter().product();
                let squeeze =
                    |d: &[usize]| d.iter().copied().filter(|&v| v != 1).collect::<Vec<_>>();
                let dims = source.dims().unwrap_or_else(|| vec![source.cols()]);
                if want != source.cols() || (dims.len() > 1 && squeeze(&dims) != squeeze(&shape)) {
                    return Err(wgae::Error::InvalidArgument(format!(
                        "the data's samples are shaped {dims:?} but the model's input_shape is \
                         {}x{}x{} (channels first); a file this large is read as stored, so \
                         save it as (samples, channels, height, width)",
                        shape[0], shape[1], shape[2]
                    )));
                }
                Ok(Opened::Mapped { source, labels })
            }
        }
    }

    /// The per-column transform of `scale` fitted on the first `rows` rows.
    pub fn fit_transform(&self, standard: bool, rows: usize) -> wgae::Result<(Vec<f32>, Vec<f32>)> {
        Ok(match (self, standard) {
            (Opened::Memory(d), true) => d.standard_transform(rows),
            (Opened::Memory(d), false) => d.unit_transform(rows),
            (Opened::Mapped { source, .. }, true) => source.slice(0, rows).standard_transform()?,
            (Opened::Mapped { source, .. }, false) => source.slice(0, rows).unit_transform()?,
        })
    }

    /// Applies a transform: in place in memory, as rows are read when mapped.
    pub fn apply(&mut self, offset: &[f32], scale: &[f32]) -> wgae::Result<()> {
        match self {
            Opened::Memory(d) => d.apply_transform(offset, scale),
            Opened::Mapped { source, .. } => {
                *source = source.with_transform(offset.to_vec(), scale.to_vec())?
            }
        }
        Ok(())
    }

    /// The rows as a source (rows in memory are moved, not copied) and
    /// their labels.
    pub fn into_source(self) -> wgae::Result<(Source, Option<Vec<u32>>)> {
        match self {
            Opened::Memory(d) => {
                let (rows, cols, labels) = (d.rows, d.cols, d.labels);
                Ok((Source::memory(d.data, rows, cols)?, labels))
            }
            Opened::Mapped { source, labels } => Ok((source, labels)),
        }
    }
}

/// The first `n` rows of `source` (all if fewer) as a dataset, with their
/// labels: what a report draws.
pub fn head(source: &Source, labels: Option<&[u32]>, n: usize) -> wgae::Result<Dataset> {
    let n = n.min(source.rows());
    Dataset::new(
        source.head(n)?,
        n,
        source.cols(),
        labels.map(|l| l[..n.min(l.len())].to_vec()),
    )
}
