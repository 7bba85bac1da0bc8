//! The data a command reads. `.npy` and raw IDX files are mapped and read
//! as they are needed, so that a file larger than RAM trains and scores
//! with bounded memory; image bytes stay bytes (IDX, uint8 .npy, and a
//! gzipped IDX file decompressed into memory). CSV files and image folders
//! are loaded whole, within the host budget (`--host-memory`, by default
//! half of the memory available); `wgae convert` turns them into .npy.

use std::path::{Path, PathBuf};

use wgae::data::source::mappable;
use wgae::data::{files, idx, memory, Dataset, Source};

/// Bytes of data the host may hold: `--host-memory`, or half of what the
/// host has available.
pub fn host_budget(flag: Option<u64>) -> u64 {
    flag.unwrap_or_else(|| memory::available_host_bytes().map_or(u64::MAX, |a| a / 2))
}

/// A data path as the loaders read it: the file itself, or, for a pipe
/// (`<(zcat f.gz)`, `/dev/stdin`, a FIFO), a temporary file holding what
/// it sent, since the loaders look at a file's first bytes and then read
/// it from the start again, which a pipe cannot do. The temporary goes
/// when this is dropped (or on Ctrl-C).
pub struct DataPath {
    given: PathBuf,
    spool: Option<tempfile::TempPath>,
}

impl DataPath {
    /// `given`, spooled first if it is a pipe; a pipe that sends more than
    /// `budget` bytes (the host budget) is refused.
    pub fn new(given: &Path, budget: u64) -> wgae::Result<Self> {
        if !wgae::data::bounded::is_pipe(given) {
            return Ok(Self {
                given: given.to_path_buf(),
                spool: None,
            });
        }
        let err = |message: String| wgae::Error::File {
            path: given.to_path_buf(),
            message,
        };
        let (mut file, spool) = tempfile::Builder::new()
            .prefix(".wgae-pipe-")
            .tempfile()
            .map_err(|e| {
                err(format!(
                    "cannot make a temporary file for the pipe's data: {e}"
                ))
            })?
            .into_parts();
        wgae::atomic::track(&spool);
        let kept = Self {
            given: given.to_path_buf(),
            spool: Some(spool),
        };
        let pipe = std::fs::File::open(given).map_err(|e| err(format!("cannot read: {e}")))?;
        let sent = std::io::copy(&mut std::io::Read::take(pipe, budget + 1), &mut file)
            .map_err(|e| err(format!("cannot read the pipe into a temporary file: {e}")))?;
        if sent > budget {
            return Err(err(format!(
                "the pipe sent more than the host budget of {} (--host-memory); write the data \
                 to a file first (a .npy file is read from disk as it is needed)",
                crate::cli::size::mib(budget)
            )));
        }
        Ok(kept)
    }

    /// The path to read.
    pub fn path(&self) -> &Path {
        self.spool.as_deref().unwrap_or(&self.given)
    }

    /// An error about the temporary file made to name the pipe instead.
    pub fn name_errors(&self, e: wgae::Error) -> wgae::Error {
        match (e, &self.spool) {
            (wgae::Error::File { path, message }, Some(s)) if path == **s => wgae::Error::File {
                path: self.given.clone(),
                message,
            },
            (e, _) => e,
        }
    }
}

impl Drop for DataPath {
    fn drop(&mut self) {
        if let Some(s) = &self.spool {
            wgae::atomic::untrack(s);
        }
    }
}

/// Data opened for a command, in memory or mapped.
pub enum Opened {
    Memory(Dataset),
    /// Rows read from a source: a mapped file, or bytes in memory.
    Mapped {
        source: Source,
        labels: Option<Vec<u32>>,
    },
}

/// Opens `path`: a `.npy` or raw IDX file is mapped and read as it is
/// needed; a gzipped IDX file is decompressed into memory as bytes; CSV
/// and image folders are loaded (and must fit in `budget` as f32, or be
/// converted once with `wgae convert`). `limit` keeps the first rows. With
/// `missing`, NaN (and an empty, NaN or NA CSV field) is a missing entry,
/// held as `MISSING`, not an error.
pub fn open(
    path: &Path,
    format: Option<files::Format>,
    limit: Option<usize>,
    rgb: bool,
    missing: bool,
    budget: u64,
) -> wgae::Result<Opened> {
    let detected = match format {
        Some(f) => f,
        None => files::detect(path)?,
    };
    let keep = |s: Source| match limit {
        Some(n) => s.slice(0, n),
        None => s,
    };
    // `images`: the file's own count; `rows`: those kept (--limit).
    let idx_labels = |images: usize, rows: usize| -> wgae::Result<Option<Vec<u32>>> {
        if detected != files::Format::Idx {
            return Ok(None);
        }
        Ok(match idx::labels_path_for(path) {
            Some(lp) => {
                let l = idx::load_labels(&lp)?;
                if l.len() < rows {
                    return Err(wgae::Error::File {
                        path: lp,
                        message: format!("{} labels for {rows} images", l.len()),
                    });
                }
                if l.len() != images {
                    eprintln!(
                        "warning: {} holds {} labels for the {images} images of {}: is it \
                         their labels file? The first {rows} are used",
                        lp.display(),
                        l.len(),
                        path.display()
                    );
                }
                Some(l[..rows].to_vec())
            }
            None => None,
        })
    };
    if !rgb && mappable(path, Some(detected)) {
        let all = Source::map(path, Some(detected))?;
        let all = if missing { all.with_missing() } else { all };
        let source = keep(all.clone());
        let labels = idx_labels(all.rows(), source.rows())?;
        return Ok(Opened::Mapped { source, labels });
    }
    if detected == files::Format::Idx {
        let (dims, values) = idx::read_idx_u8(path)?;
        if dims.len() < 2 {
            return Err(wgae::Error::File {
                path: path.to_path_buf(),
                message: format!("an image file needs [n, h, w] dimensions, got {dims:?}"),
            });
        }
        let images = dims[0];
        let source = keep(
            Source::memory_u8(values, dims[0], dims[1..].to_vec()).map_err(|e| {
                wgae::Error::File {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                }
            })?,
        );
        let labels = idx_labels(images, source.rows())?;
        return Ok(Opened::Mapped { source, labels });
    }
    load(path, Some(detected), limit, rgb, missing, budget)
}

/// Loads `path` whole into memory as f32, within `budget` bytes.
pub fn load(
    path: &Path,
    format: Option<files::Format>,
    limit: Option<usize>,
    rgb: bool,
    missing: bool,
    budget: u64,
) -> wgae::Result<Opened> {
    let ds = if rgb && path.is_dir() {
        files::load_images(path, None, true)?
    } else {
        files::load_allowing(path, format, missing)?
    };
    let bytes = ds.data.len() as u64 * 4;
    if bytes > budget {
        return Err(wgae::Error::File {
            path: path.to_path_buf(),
            message: format!(
                "its {} MiB of values are more than the host budget of {} MiB (--host-memory); \
                 convert it once to .npy, which is read from disk as needed: wgae convert \
                 --data {} --out data.npy",
                bytes >> 20,
                budget >> 20,
                path.display()
            ),
        });
    }
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

    /// A sample's dimensions as stored, where known.
    pub fn dims(&self) -> Option<Vec<usize>> {
        match self {
            Opened::Memory(d) => d.dims.clone(),
            Opened::Mapped { source, .. } => source.dims(),
        }
    }

    pub fn cols(&self) -> usize {
        match self {
            Opened::Memory(d) => d.cols,
            Opened::Mapped { source, .. } => source.cols(),
        }
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

    /// The largest magnitude of rows held in memory (None when mapped:
    /// that would read the whole file).
    pub fn max_abs_in_memory(&self) -> Option<f32> {
        match self {
            Opened::Memory(d) => Some(d.data.iter().fold(0f32, |m, v| m.max(v.abs()))),
            Opened::Mapped { .. } => None,
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

    /// Applies a transform: in place in memory, as rows are read when
    /// mapped; with `clip`, then clips to [0, 1] (a BCE model's unit
    /// scaling, which rows beyond the training rows' range would leave).
    pub fn apply(&mut self, offset: &[f32], scale: &[f32], clip: bool) -> wgae::Result<()> {
        match self {
            Opened::Memory(d) => {
                d.apply_transform(offset, scale);
                if clip {
                    d.clip_unit();
                }
            }
            Opened::Mapped { source, .. } => {
                *source = source.with_transform_clipped(offset.to_vec(), scale.to_vec(), clip)?
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
