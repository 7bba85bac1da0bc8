//! A dataset read by rows when they are needed, rather than loaded whole: held
//! in memory, or mapped from a `.npy` (f32, f64, u8) or raw IDX file and read
//! lazily. A source may be a range of another's rows (a validation split)
//! and may carry a per-column transform (`--scale`), applied as rows are
//! read. Training streams batches from one when the data does not stay on
//! the GPU (`train::stream`), and inference reads one block by block.
//!
//! Memory: a mapped file's pages count towards the process's resident
//! memory while they are mapped in, so runs of rows read in order through
//! the map are released every [`RELEASE_BYTES`], and rows in a shuffled
//! order are read with positioned reads instead (a fault at random maps a
//! whole folio of the page cache). What stays resident is the blocks in
//! flight.
//!
//! A mapped file must not change while it is read. Each read first checks
//! the file's size and modification time against those seen when it was
//! opened and stops with an error naming the file if they differ. (A file
//! truncated during one read of a block cannot be caught: the operating
//! system stops the process. Keep training inputs read-only.)

use std::path::Path;
use std::sync::Arc;

use crate::data::files::{self, Format, NpyElem};
pub use crate::data::mapped::RELEASE_BYTES;
use crate::data::mapped::{decode, Mapped};
use crate::data::sparse::Csr;
use crate::data::windows::WindowLayout;
use crate::data::{Rows, MISSING};
use crate::error::{Error, Result};
use cut::Cut;

mod cut;

/// `v` clipped to [0, 1] when `on` (NaN stays NaN, to be reported).
fn clip(on: bool, v: f32) -> f32 {
    if on {
        v.clamp(0.0, 1.0)
    } else {
        v
    }
}

/// Rows per block when a whole source is read in order (statistics,
/// inference): a few MiB at a time.
pub fn block_rows(cols: usize) -> usize {
    ((4usize << 20) / (cols.max(1) * 4)).clamp(1, 1 << 16)
}

/// Per-column offsets and scales, and whether to clip to [0, 1] after them.
type Transform = (Vec<f32>, Vec<f32>, bool);

/// Rows of `cols` features, read on demand. Cloning shares the storage.
#[derive(Clone)]
pub struct Source {
    store: Arc<Store>,
    /// The first row of the store this source starts at.
    start: usize,
    rows: usize,
    /// x' = (x - offset) / scale per column, applied as rows are read,
    /// then (with `true`) clipped to [0, 1]. Per channel (column of the
    /// store) for windows.
    transform: Option<Arc<Transform>>,
    /// Windows over the store's rows (time steps): this source's rows are
    /// windows, `start` and `rows` count them.
    cut: Option<Cut>,
    /// Whether NaN is a missing entry (read as [`MISSING`]) rather than an
    /// error, for a model that masks missing entries out of its loss.
    missing: bool,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("name", &self.name())
            .field("rows", &self.rows)
            .field("cols", &self.cols())
            .field("mapped", &self.is_mapped())
            .finish()
    }
}

enum Store {
    Memory {
        data: Vec<f32>,
        cols: usize,
    },
    /// Unsigned bytes (images), each value b read as b / 255.
    MemoryU8 {
        bytes: Vec<u8>,
        cols: usize,
        dims: Vec<usize>,
    },
    Mapped(Mapped),
    /// Sparse rows (ratings), each densified as it is read.
    Sparse(Csr),
}

/// Whether `path` (as `format`, or detected) is a file [`Source::map`] can
/// read lazily: an uncompressed `.npy` or IDX file.
pub fn mappable(path: &Path, format: Option<Format>) -> bool {
    if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return false;
    }
    let mut magic = [0u8; 2];
    let gz = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .is_ok_and(|_| magic == [0x1f, 0x8b]);
    !gz && matches!(
        format.map_or_else(|| files::detect(path), Ok),
        Ok(Format::Npy | Format::Idx)
    )
}

impl Source {
    /// Rows held in memory (moved in, not copied). Every value must be finite.
    pub fn memory(data: Vec<f32>, rows: usize, cols: usize) -> Result<Self> {
        Rows::new(&data, rows, cols)?;
        Ok(Self {
            store: Arc::new(Store::Memory { data, cols }),
            start: 0,
            rows,
            transform: None,
            cut: None,
            missing: false,
        })
    }

    /// Sparse rows (a rating matrix), held as their entries and densified
    /// a block at a time as they are read; training keeps them sparse on
    /// the GPU where they fit (`kernels::gather_sparse`).
    pub fn sparse(rows: Csr) -> Self {
        Self {
            rows: rows.rows,
            store: Arc::new(Store::Sparse(rows)),
            start: 0,
            transform: None,
            cut: None,
            missing: true,
        }
    }

    /// Unsigned bytes held in memory (an image set decompressed from a .gz
    /// IDX file, say), each value b read as b / 255 as the loaders do;
    /// `dims` is a sample's shape as stored.
    pub fn memory_u8(bytes: Vec<u8>, rows: usize, dims: Vec<usize>) -> Result<Self> {
        let cols: usize = dims.iter().product::<usize>();
        if rows == 0 || cols == 0 || rows.checked_mul(cols) != Some(bytes.len()) {
            return Err(Error::InvalidArgument(format!(
                "{} bytes are not {rows} samples shaped {dims:?}",
                bytes.len()
            )));
        }
        Ok(Self {
            store: Arc::new(Store::MemoryU8 { bytes, cols, dims }),
            start: 0,
            rows,
            transform: None,
            cut: None,
            missing: false,
        })
    }

    /// An uncompressed `.npy` (f32, f64 or u8, 2-D or more) or IDX file of
    /// unsigned bytes, mapped and read lazily: u8 values are scaled by 1/255
    /// as the loaders do, so the rows are the same as [`files::load`]'s.
    pub fn map(path: &Path, format: Option<Format>) -> Result<Self> {
        let (mapped, rows) = Mapped::open(path, format)?;
        Ok(Self {
            store: Arc::new(Store::Mapped(mapped)),
            start: 0,
            rows,
            transform: None,
            cut: None,
            missing: false,
        })
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        if let Some(c) = &self.cut {
            return c.w.cols();
        }
        self.store_cols()
    }

    /// Values per stored row: a time step's channels for windows.
    fn store_cols(&self) -> usize {
        match &*self.store {
            Store::Memory { cols, .. } | Store::MemoryU8 { cols, .. } => *cols,
            Store::Mapped(m) => m.cols,
            Store::Sparse(m) => m.cols,
        }
    }

    /// A sample's dimensions as the file stores them (mapped files).
    pub fn dims(&self) -> Option<Vec<usize>> {
        if let Some(c) = &self.cut {
            return Some(c.w.dims());
        }
        match &*self.store {
            Store::Mapped(Mapped { dims, .. }) | Store::MemoryU8 { dims, .. } if dims.len() > 1 => {
                Some(dims.clone())
            }
            _ => None,
        }
    }

    /// Whether the rows are read from a mapped file.
    pub fn is_mapped(&self) -> bool {
        matches!(&*self.store, Store::Mapped(_))
    }

    /// The file's path, or "the data" for rows in memory: for messages.
    pub fn name(&self) -> String {
        match &*self.store {
            Store::Memory { .. } | Store::MemoryU8 { .. } => "the data".into(),
            Store::Sparse(_) => "the ratings".into(),
            Store::Mapped(m) => m.path.display().to_string(),
        }
    }

    /// The rows as f32 bytes: what keeping them on the GPU takes.
    pub fn f32_bytes(&self) -> u64 {
        self.rows as u64 * self.cols() as u64 * 4
    }

    /// The rows as stored on the GPU: a byte each for a byte source
    /// ([`Self::is_u8`]), four otherwise.
    pub fn stored_bytes(&self) -> u64 {
        if let Some(c) = &self.cut {
            // The series the windows cover, once.
            return c.w.span(self.rows) as u64 * c.w.channels as u64 * 4;
        }
        if let Store::Sparse(m) = &*self.store {
            return m.stored_bytes(self.start, self.start + self.rows);
        }
        self.rows as u64 * self.cols() as u64 * if self.is_u8() { 1 } else { 4 }
    }

    /// Rows `start..end` of this source (clamped), sharing its storage.
    pub fn slice(&self, start: usize, end: usize) -> Source {
        let end = end.min(self.rows);
        let start = start.min(end);
        Source {
            store: self.store.clone(),
            start: self.start + start,
            rows: end - start,
            transform: self.transform.clone(),
            cut: self.cut,
            missing: self.missing,
        }
    }

    /// Splits off the last `fraction` of the rows, as [`Rows::split_validation`].
    /// Windows are split where no validation window overlaps a training
    /// one: the windows between are left out.
    pub fn split_validation(&self, fraction: f32) -> Result<(Source, Source)> {
        let cut = crate::data::validation_cut(self.rows, fraction)?;
        let after = match &self.cut {
            Some(c) => cut - 1 + c.w.len.div_ceil(c.w.stride),
            None => cut,
        };
        if after >= self.rows {
            return Err(Error::InvalidArgument(format!(
                "a validation split of {fraction} of {} windows leaves no validation window \
                 that does not overlap the training ones; give a larger --val-split, a \
                 shorter --window or a longer series",
                self.rows
            )));
        }
        Ok((self.slice(0, cut), self.slice(after, self.rows)))
    }

    /// The same rows with `x' = (x - offset) / scale` applied per column as
    /// they are read (replacing any transform before).
    pub fn with_transform(&self, offset: Vec<f32>, scale: Vec<f32>) -> Result<Source> {
        self.with_transform_clipped(offset, scale, false)
    }

    /// [`Self::with_transform`], and with `clip` every value clipped to
    /// [0, 1] after it: a unit scaling fitted on the training rows, for a
    /// BCE model, which can only compare values in [0, 1] (rows of other
    /// data may fall outside the training rows' range).
    pub fn with_transform_clipped(
        &self,
        offset: Vec<f32>,
        scale: Vec<f32>,
        clip: bool,
    ) -> Result<Source> {
        let c = self.cols();
        if offset.len() != c || scale.len() != c {
            return Err(Error::InvalidArgument(format!(
                "a transform of {} offsets and {} scales for {c} columns",
                offset.len(),
                scale.len()
            )));
        }
        // Windows keep one transform per channel, the same at every step.
        let (offset, scale) = match &self.cut {
            Some(cut) => match (cut.w.untile(&offset), cut.w.untile(&scale)) {
                (Some(o), Some(s)) => (o, s),
                _ => {
                    return Err(Error::InvalidArgument(format!(
                        "{}: a scaling of windows must be the same at every step of a window \
                         (one offset and scale per channel)",
                        self.name()
                    )))
                }
            },
            None => (offset, scale),
        };
        Ok(Source {
            transform: Some(Arc::new((offset, scale, clip))),
            ..self.clone()
        })
    }

    /// Whether the rows are stored as unsigned bytes (IDX images, u8
    /// .npy): they can stay bytes on the GPU ([`Self::lut`]).
    pub fn is_u8(&self) -> bool {
        if self.cut.is_some() {
            // Windows are gathered from the series as f32.
            return false;
        }
        match &*self.store {
            Store::MemoryU8 { .. } => true,
            Store::Mapped(m) => m.elem == NpyElem::U8,
            Store::Memory { .. } | Store::Sparse(_) => false,
        }
    }

    /// Whether the rows are sparse ([`Self::sparse`]).
    pub fn is_sparse(&self) -> bool {
        matches!(&*self.store, Store::Sparse(_))
    }

    /// What an unset cell of sparse rows reads as; `None` for rows that
    /// are not sparse.
    pub fn sparse_rows_absent(&self) -> Option<f32> {
        match &*self.store {
            Store::Sparse(m) => Some(m.absent),
            _ => None,
        }
    }

    /// The sparse store where these rows can go to the GPU sparse: not
    /// where a transform would change an absent cell that is not
    /// [`MISSING`] (those rows are densified as read).
    fn gpu_sparse(&self) -> Option<&Csr> {
        match &*self.store {
            Store::Sparse(m) if self.transform.is_none() || m.absent_is_missing() => Some(m),
            _ => None,
        }
    }

    /// The entries of this source's rows where they can go to the GPU
    /// sparse (see [`Self::sparse_rows`]), `None` otherwise.
    pub fn sparse_entries(&self) -> Option<usize> {
        let m = self.gpu_sparse()?;
        Some((m.offsets[self.start + self.rows] - m.offsets[self.start]) as usize)
    }

    /// This source's rows as they go to the GPU sparse: the slice's
    /// entries, each value through the transform; `None` where
    /// [`Self::sparse_entries`] is.
    pub fn sparse_rows(&self) -> Option<Csr> {
        let m = self.gpu_sparse()?;
        let (r0, r1) = (self.start, self.start + self.rows);
        Some(match &self.transform {
            Some(t) => m.slice_map(r0, r1, |c, v| clip(t.2, (v - t.0[c]) / t.1[c])),
            None => m.slice_map(r0, r1, |_, v| v),
        })
    }

    /// The f32 value of each stored byte, as [`Self::read`] computes it (b
    /// / 255, then the transform): 256 values shared by every column, or
    /// 256 per column (`true`) under a transform. An error names the
    /// source if a value would not be finite.
    pub fn lut(&self) -> Result<(Vec<f32>, bool)> {
        let base: Vec<f32> = (0..=255u8).map(|b| f32::from(b) / 255.0).collect();
        let Some(t) = &self.transform else {
            return Ok((base, false));
        };
        let mut lut = Vec::with_capacity(256 * self.cols());
        for (o, s) in t.0.iter().zip(&t.1) {
            lut.extend(base.iter().map(|v| clip(t.2, (v - o) / s)));
        }
        if let Some(i) = lut.iter().position(|v| !v.is_finite()) {
            return Err(Error::InvalidArgument(format!(
                "{}: the transform makes byte {} of column {} {}; the saved scaling is corrupt",
                self.name(),
                i % 256,
                i / 256 + 1,
                lut[i]
            )));
        }
        Ok((lut, true))
    }

    /// The stored bytes of rows `idx` (indices into this source), in that
    /// order, for a byte source ([`Self::is_u8`]).
    pub fn gather_bytes(&self, idx: &[u32], out: &mut [u8]) -> Result<()> {
        let c = self.cols();
        if !self.is_u8() || out.len() != idx.len() * c {
            return Err(Error::shape(
                "source gather",
                format!("{} byte rows into {} bytes", idx.len(), out.len()),
            ));
        }
        if let Some(&bad) = idx.iter().find(|&&r| r as usize >= self.rows) {
            return Err(Error::shape(
                "source gather",
                format!("row {bad} of {}", self.rows),
            ));
        }
        self.check_unchanged()?;
        for (&r, dst) in idx.iter().zip(out.chunks_exact_mut(c)) {
            let row = self.start + r as usize;
            match &*self.store {
                Store::MemoryU8 { bytes, .. } => {
                    dst.copy_from_slice(&bytes[row * c..(row + 1) * c])
                }
                Store::Mapped(m) => m.read_row_at(row, dst)?,
                Store::Memory { .. } | Store::Sparse(_) => unreachable!("checked: a byte source"),
            }
        }
        Ok(())
    }

    /// Rows `r0..r1` of this source into `out` (`(r1 - r0) * cols` values).
    pub fn read(&self, r0: usize, r1: usize, out: &mut [f32]) -> Result<()> {
        let c = self.cols();
        if r0 > r1 || r1 > self.rows || out.len() != (r1 - r0) * c {
            return Err(Error::shape(
                "source read",
                format!("rows {r0}..{r1} of {} into {} values", self.rows, out.len()),
            ));
        }
        self.check_unchanged()?;
        for (i, dst) in out.chunks_exact_mut(c).enumerate() {
            self.decode_row(r0 + i, dst);
        }
        self.finish_rows(out, |i| r0 + i)
    }

    /// The rows `idx` (indices into this source) into `out`, in that order.
    pub fn gather(&self, idx: &[u32], out: &mut [f32]) -> Result<()> {
        let c = self.cols();
        if out.len() != idx.len() * c {
            return Err(Error::shape(
                "source gather",
                format!("{} rows into {} values", idx.len(), out.len()),
            ));
        }
        if let Some(&bad) = idx.iter().find(|&&r| r as usize >= self.rows) {
            return Err(Error::shape(
                "source gather",
                format!("row {bad} of {}", self.rows),
            ));
        }
        self.check_unchanged()?;
        if let Store::Mapped(m) = &*self.store {
            // Rows at random are read, not mapped: see `read_row_at`.
            let steps = self.cut.map_or(1, |cut| cut.w.len);
            let mut raw = vec![0u8; steps * m.cols * m.elem.size()];
            let mut values = vec![0f32; steps * m.cols];
            for (&r, dst) in idx.iter().zip(out.chunks_exact_mut(c)) {
                m.read_row_at(self.store_row(r as usize), &mut raw)?;
                match &self.cut {
                    Some(cut) => {
                        decode(m.elem, &raw, &mut values);
                        cut.w.arrange(&values, dst);
                    }
                    None => decode(m.elem, &raw, dst),
                }
            }
        } else {
            for (&r, dst) in idx.iter().zip(out.chunks_exact_mut(c)) {
                self.decode_row(r as usize, dst);
            }
        }
        self.finish_rows(out, |i| idx[i] as usize)
    }

    /// The store's row where row (or window) `r` of this source starts.
    fn store_row(&self, r: usize) -> usize {
        match &self.cut {
            Some(c) => c.first + (self.start + r) * c.w.stride,
            None => self.start + r,
        }
    }

    /// Row `r` of this source as stored (u8 scaled by 1/255), before the
    /// transform; a window is arranged in its layout.
    fn decode_row(&self, r: usize, dst: &mut [f32]) {
        let row = self.store_row(r);
        match &self.cut {
            Some(c) if c.w.layout == WindowLayout::Channels => {
                let mut steps = vec![0f32; dst.len()];
                self.decode_store_rows(row, &mut steps);
                c.w.arrange(&steps, dst);
            }
            _ => self.decode_store_rows(row, dst),
        }
    }

    /// Stored rows from `row` into `dst` (whole rows), as stored.
    fn decode_store_rows(&self, row: usize, dst: &mut [f32]) {
        match &*self.store {
            Store::Memory { data, cols } => {
                dst.copy_from_slice(&data[row * cols..row * cols + dst.len()])
            }
            Store::MemoryU8 { bytes, cols, .. } => {
                let n = dst.len();
                for (d, &b) in dst.iter_mut().zip(&bytes[row * cols..row * cols + n]) {
                    *d = f32::from(b) / 255.0;
                }
            }
            Store::Mapped(m) => m.decode_rows(row, dst),
            Store::Sparse(m) => m.densify(row, dst),
        }
    }

    /// Applies the transform to rows just decoded, checks that every value
    /// is finite (naming the row, counted from 1 in the file, and column),
    /// and releases a mapped file's pages when enough have been read.
    fn finish_rows(&self, out: &mut [f32], row_of: impl Fn(usize) -> usize) -> Result<()> {
        let c = self.cols();
        if self.missing {
            for v in out.iter_mut().filter(|v| v.is_nan()) {
                *v = MISSING;
            }
        }
        match (&self.transform, &self.cut) {
            (Some(t), None) => {
                for row in out.chunks_exact_mut(c) {
                    for ((v, o), s) in row.iter_mut().zip(&t.0).zip(&t.1) {
                        if *v != MISSING {
                            *v = clip(t.2, (*v - o) / s);
                        }
                    }
                }
            }
            (Some(t), Some(cut)) => {
                for row in out.chunks_exact_mut(c) {
                    for (i, v) in row.iter_mut().enumerate() {
                        let f = cut.w.place(i).1;
                        if *v != MISSING {
                            *v = clip(t.2, (*v - t.0[f]) / t.1[f]);
                        }
                    }
                }
            }
            (None, _) => {}
        }
        if let Some(i) = out.iter().position(|v| !v.is_finite()) {
            return Err(Error::InvalidArgument(format!(
                "{}: value {} at {} (counting from 1) is not finite; clean the data (NaN \
                 and infinity cannot be trained on or scored), or, where NaN marks a missing \
                 entry, train with `missing` mask",
                self.name(),
                out[i],
                self.place_of(row_of(i / c), i % c),
            )));
        }
        Ok(())
    }

    /// Where value `c` of row `r` of this source is, for messages, counted
    /// from 1 in the file: a row and column, or a series' time step and
    /// channel.
    fn place_of(&self, r: usize, c: usize) -> String {
        match &self.cut {
            Some(cut) => {
                let (t, f) = cut.w.place(c);
                format!("time step {}, channel {}", self.store_row(r) + t + 1, f + 1)
            }
            None => format!("row {}, column {}", self.start + r + 1, c + 1),
        }
    }

    /// An error naming the file if it changed since it was mapped.
    fn check_unchanged(&self) -> Result<()> {
        match &*self.store {
            Store::Mapped(m) => m.check_unchanged(),
            _ => Ok(()),
        }
    }

    /// An error naming this source unless every value of `block` (rows read
    /// from it) lies in [0, 1], as a BCE loss needs. `row_of(i)` is the
    /// row (of this source) of the block's i-th row.
    pub fn check_unit_range(&self, block: &[f32], row_of: impl Fn(usize) -> usize) -> Result<()> {
        let c = self.cols();
        let missing = crate::data::MISSING;
        if let Some(i) = block
            .iter()
            .position(|v| !(0.0..=1.0).contains(v) && *v != missing)
        {
            return Err(Error::InvalidArgument(format!(
                "BCE compares each value with a probability, but {} holds {} ({}, counting \
                 from 1), outside [0, 1]; scale the data to [0, 1] (`scale` unit) or use \
                 `loss` mse",
                self.name(),
                block[i],
                self.place_of(row_of(i / c), i % c),
            )));
        }
        Ok(())
    }

    /// Calls `f` with consecutive blocks of rows in order: (first row, its values).
    pub fn for_each_block(&self, f: impl FnMut(usize, &[f32]) -> Result<()>) -> Result<()> {
        self.for_each_block_of(block_rows(self.cols()), f)
    }

    /// [`Self::for_each_block`] with blocks of `per` rows (the last may hold fewer).
    pub fn for_each_block_of(
        &self,
        per: usize,
        mut f: impl FnMut(usize, &[f32]) -> Result<()>,
    ) -> Result<()> {
        let c = self.cols();
        let per = per.max(1);
        let mut buf = Vec::new();
        for r0 in (0..self.rows).step_by(per) {
            let r1 = (r0 + per).min(self.rows);
            buf.resize((r1 - r0) * c, 0.0);
            self.read(r0, r1, &mut buf)?;
            f(r0, &buf)?;
        }
        Ok(())
    }

    /// The first `n` rows (all if fewer) in memory.
    pub fn head(&self, n: usize) -> Result<Vec<f32>> {
        let n = n.min(self.rows);
        let mut out = vec![0.0; n * self.cols()];
        self.read(0, n, &mut out)?;
        Ok(out)
    }

    /// The same rows with NaN read as a missing entry ([`MISSING`]), for
    /// a model that masks missing entries out of its loss.
    pub fn with_missing(&self) -> Source {
        Source {
            missing: true,
            ..self.clone()
        }
    }
}
