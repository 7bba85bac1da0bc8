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

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use crate::data::files::{self, Format, NpyElem};
use crate::data::{idx, Rows};
use crate::error::{Error, Result};

/// Bytes read from a mapped file between two releases of its pages.
pub const RELEASE_BYTES: u64 = 16 << 20;

/// Stored values as f32: little-endian floats, or bytes scaled by 1/255.
fn decode(elem: NpyElem, bytes: &[u8], dst: &mut [f32]) {
    match elem {
        NpyElem::F32 => {
            for (d, b) in dst.iter_mut().zip(bytes.chunks_exact(4)) {
                *d = f32::from_le_bytes(b.try_into().unwrap());
            }
        }
        NpyElem::F64 => {
            for (d, b) in dst.iter_mut().zip(bytes.chunks_exact(8)) {
                *d = f64::from_le_bytes(b.try_into().unwrap()) as f32;
            }
        }
        NpyElem::U8 => {
            for (d, &b) in dst.iter_mut().zip(bytes) {
                *d = f32::from(b) / 255.0;
            }
        }
    }
}

/// Rows per block when a whole source is read in order (statistics,
/// inference): a few MiB at a time.
/// `v` clipped to [0, 1] when `on` (NaN stays NaN, to be reported).
fn clip(on: bool, v: f32) -> f32 {
    if on {
        v.clamp(0.0, 1.0)
    } else {
        v
    }
}

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
    /// then (with `true`) clipped to [0, 1].
    transform: Option<Arc<Transform>>,
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
}

struct Mapped {
    path: PathBuf,
    file: std::fs::File,
    map: memmap2::Mmap,
    /// Bytes before the first value.
    offset: usize,
    elem: NpyElem,
    cols: usize,
    dims: Vec<usize>,
    len: u64,
    modified: Option<SystemTime>,
    /// Bytes read since the pages were last released.
    touched: AtomicU64,
}

impl Mapped {
    /// Reads stored row `row` with a positioned read rather than through
    /// the map: a row at random would bring a whole folio of the page
    /// cache (64 KiB to megabytes) into this process's memory, so rows in a
    /// shuffled order are read, and only runs in order are mapped. A file
    /// cut short gives an error here, not a fault.
    fn read_row_at(&self, row: usize, dst: &mut [u8]) -> Result<()> {
        let at = self.offset as u64 + (row * self.cols * self.elem.size()) as u64;
        read_exact_at(&self.file, dst, at).map_err(|e| {
            file_err(
                &self.path,
                format!(
                    "cannot read sample {} ({e}); the file changed while wgae was reading it: \
                     keep it read-only while wgae reads it, and run again",
                    row + 1
                ),
            )
        })
    }
}

/// `dst.len()` bytes of `file` from byte `at`, without moving a cursor.
#[cfg(unix)]
fn read_exact_at(file: &std::fs::File, dst: &mut [u8], at: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, dst, at)
}

/// `dst.len()` bytes of `file` from byte `at`.
#[cfg(windows)]
fn read_exact_at(file: &std::fs::File, mut dst: &mut [u8], mut at: u64) -> std::io::Result<()> {
    while !dst.is_empty() {
        match std::os::windows::fs::FileExt::seek_read(file, dst, at)? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => {
                dst = &mut dst[n..];
                at += n as u64;
            }
        }
    }
    Ok(())
}

fn file_err(path: &Path, message: impl Into<String>) -> Error {
    Error::File {
        path: path.to_path_buf(),
        message: message.into(),
    }
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
        })
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
        })
    }

    /// An uncompressed `.npy` (f32, f64 or u8, 2-D or more) or IDX file of
    /// unsigned bytes, mapped and read lazily: u8 values are scaled by 1/255
    /// as the loaders do, so the rows are the same as [`files::load`]'s.
    pub fn map(path: &Path, format: Option<Format>) -> Result<Self> {
        let format = match format {
            Some(f) => f,
            None => files::detect(path)?,
        };
        let mut file =
            std::fs::File::open(path).map_err(|e| file_err(path, format!("cannot open: {e}")))?;
        let meta = file
            .metadata()
            .map_err(|e| file_err(path, format!("cannot read its size: {e}")))?;
        if !meta.is_file() {
            return Err(file_err(
                path,
                "only a regular file can be read lazily (this is a device, pipe or folder)",
            ));
        }
        let (dims, offset, elem) = match format {
            Format::Npy => {
                let h = files::read_npy_header(path, &mut file)?;
                (h.dims, h.header_len, h.elem)
            }
            Format::Idx => {
                let (dims, header_len) = idx::read_idx_header(path, &mut file)?;
                if dims.len() < 2 {
                    return Err(file_err(
                        path,
                        format!("an image file needs [n, h, w] dimensions, got {dims:?}"),
                    ));
                }
                (dims, header_len, NpyElem::U8)
            }
            Format::Csv | Format::Images => {
                return Err(file_err(
                    path,
                    "CSV and image folders cannot be read lazily: convert them once to .npy \
                     with `wgae convert`",
                ))
            }
        };
        let rows = dims[0];
        let cols: usize = dims[1..].iter().product::<usize>().max(1);
        let want = (rows as u128 * cols as u128 * elem.size() as u128) + offset as u128;
        if rows == 0 || cols == 0 {
            return Err(file_err(path, format!("no samples: shape {dims:?}")));
        }
        if u128::from(meta.len()) != want {
            return Err(file_err(
                path,
                format!(
                    "its header promises {rows} samples of {cols} values ({want} bytes with the \
                     header) but the file has {} bytes: truncated or corrupt",
                    meta.len()
                ),
            ));
        }
        // SAFETY: the map is read-only and shared. Its pages follow the file,
        // so the values read are only as stable as the file; every read
        // checks first that the file has not changed (see the module note).
        let map = unsafe { memmap2::Mmap::map(&file) }
            .map_err(|e| file_err(path, format!("cannot map the file into memory: {e}")))?;
        // The map serves runs of rows in order (shuffled rows are read
        // with positioned reads): read ahead.
        #[cfg(unix)]
        let _ = map.advise(memmap2::Advice::Sequential);
        Ok(Self {
            store: Arc::new(Store::Mapped(Mapped {
                path: path.to_path_buf(),
                file,
                map,
                offset,
                elem,
                cols,
                dims: dims[1..].to_vec(),
                len: meta.len(),
                modified: meta.modified().ok(),
                touched: AtomicU64::new(0),
            })),
            start: 0,
            rows,
            transform: None,
        })
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        match &*self.store {
            Store::Memory { cols, .. } | Store::MemoryU8 { cols, .. } => *cols,
            Store::Mapped(m) => m.cols,
        }
    }

    /// A sample's dimensions as the file stores them (mapped files).
    pub fn dims(&self) -> Option<Vec<usize>> {
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
        }
    }

    /// Splits off the last `fraction` of the rows, as [`Rows::split_validation`].
    pub fn split_validation(&self, fraction: f32) -> Result<(Source, Source)> {
        let cut = crate::data::validation_cut(self.rows, fraction)?;
        Ok((self.slice(0, cut), self.slice(cut, self.rows)))
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
        Ok(Source {
            transform: Some(Arc::new((offset, scale, clip))),
            ..self.clone()
        })
    }

    /// Whether the rows are stored as unsigned bytes (IDX images, u8
    /// .npy): they can stay bytes on the GPU ([`Self::lut`]).
    pub fn is_u8(&self) -> bool {
        match &*self.store {
            Store::MemoryU8 { .. } => true,
            Store::Mapped(m) => m.elem == NpyElem::U8,
            Store::Memory { .. } => false,
        }
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
                Store::Memory { .. } => unreachable!("checked: a byte source"),
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
            self.touch(self.row_bytes());
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
            let mut raw = vec![0u8; m.cols * m.elem.size()];
            for (&r, dst) in idx.iter().zip(out.chunks_exact_mut(c)) {
                m.read_row_at(self.start + r as usize, &mut raw)?;
                decode(m.elem, &raw, dst);
            }
        } else {
            for (&r, dst) in idx.iter().zip(out.chunks_exact_mut(c)) {
                self.decode_row(r as usize, dst);
            }
        }
        self.finish_rows(out, |i| idx[i] as usize)
    }

    /// Row `r` of this source as stored (u8 scaled by 1/255), before the transform.
    fn decode_row(&self, r: usize, dst: &mut [f32]) {
        let row = self.start + r;
        match &*self.store {
            Store::Memory { data, cols } => {
                dst.copy_from_slice(&data[row * cols..(row + 1) * cols])
            }
            Store::MemoryU8 { bytes, cols, .. } => {
                for (d, &b) in dst.iter_mut().zip(&bytes[row * cols..(row + 1) * cols]) {
                    *d = f32::from(b) / 255.0;
                }
            }
            Store::Mapped(m) => {
                let size = m.elem.size();
                let at = m.offset + row * m.cols * size;
                decode(m.elem, &m.map[at..at + m.cols * size], dst);
            }
        }
    }

    /// Applies the transform to rows just decoded, checks that every value
    /// is finite (naming the row, counted from 1 in the file, and column),
    /// and releases a mapped file's pages when enough have been read.
    fn finish_rows(&self, out: &mut [f32], row_of: impl Fn(usize) -> usize) -> Result<()> {
        let c = self.cols();
        if let Some(t) = &self.transform {
            for row in out.chunks_exact_mut(c) {
                for ((v, o), s) in row.iter_mut().zip(&t.0).zip(&t.1) {
                    *v = clip(t.2, (*v - o) / s);
                }
            }
        }
        if let Some(i) = out.iter().position(|v| !v.is_finite()) {
            return Err(Error::InvalidArgument(format!(
                "{}: value {} at row {}, column {} (counting from 1) is not finite; clean the \
                 data (NaN and infinity cannot be trained on or scored)",
                self.name(),
                out[i],
                self.start + row_of(i / c) + 1,
                i % c + 1
            )));
        }
        Ok(())
    }

    /// A stored row's bytes.
    fn row_bytes(&self) -> u64 {
        match &*self.store {
            Store::Mapped(m) => (m.cols * m.elem.size()) as u64,
            _ => 0,
        }
    }

    /// Counts `bytes` of a mapped file as brought into this process's
    /// memory, and drops the file's pages from it once [`RELEASE_BYTES`]
    /// have been (they stay in the page cache, and a later read maps them
    /// back in).
    fn touch(&self, bytes: u64) {
        if let Store::Mapped(m) = &*self.store {
            if m.touched.fetch_add(bytes, Ordering::Relaxed) + bytes >= RELEASE_BYTES {
                m.touched.store(0, Ordering::Relaxed);
                // SAFETY: the map is a shared, read-only file mapping: the
                // dropped pages are read back from the file when next touched,
                // never replaced by zeros (which only private mappings do).
                // (Elsewhere the system trims a process's pages itself.)
                #[cfg(unix)]
                let _ = unsafe { m.map.unchecked_advise(memmap2::UncheckedAdvice::DontNeed) };
            }
        }
    }

    /// An error naming the file if its size or modification time changed
    /// since it was mapped.
    fn check_unchanged(&self) -> Result<()> {
        let Store::Mapped(m) = &*self.store else {
            return Ok(());
        };
        let meta = m
            .file
            .metadata()
            .map_err(|e| file_err(&m.path, format!("cannot read its size: {e}")))?;
        if meta.len() != m.len || meta.modified().ok() != m.modified {
            return Err(file_err(
                &m.path,
                format!(
                    "the file changed while wgae was reading it (it had {} bytes, now {}); \
                     nothing was written from it. Let whatever writes it finish, keep it \
                     read-only while wgae reads it, and run again",
                    m.len,
                    meta.len()
                ),
            ));
        }
        Ok(())
    }

    /// An error naming this source unless every value of `block` (rows read
    /// from it) lies in [0, 1], as a BCE loss needs. `row_of(i)` is the
    /// row (of this source) of the block's i-th row.
    pub fn check_unit_range(&self, block: &[f32], row_of: impl Fn(usize) -> usize) -> Result<()> {
        let c = self.cols();
        if let Some(i) = block.iter().position(|v| !(0.0..=1.0).contains(v)) {
            return Err(Error::InvalidArgument(format!(
                "BCE compares each value with a probability, but {} holds {} (row {}, column \
                 {}, counting from 1), outside [0, 1]; scale the data to [0, 1] (`scale` unit) \
                 or use `loss` mse",
                self.name(),
                block[i],
                self.start + row_of(i / c) + 1,
                i % c + 1
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

    /// Zero mean and unit variance per column over these rows, as
    /// [`crate::Dataset::standard_transform`] computes it (the same sums in
    /// the same order, so the same numbers), read block by block.
    pub fn standard_transform(&self) -> Result<(Vec<f32>, Vec<f32>)> {
        let mut fit = crate::data::StandardFit::new(self.cols());
        self.for_each_block(|_, b| {
            fit.add_mean(b);
            Ok(())
        })?;
        fit.end_mean();
        self.for_each_block(|_, b| {
            fit.add_var(b);
            Ok(())
        })?;
        Ok(fit.finish())
    }

    /// The largest magnitude of any value (after the transform), read
    /// block by block.
    pub fn max_abs(&self) -> Result<f32> {
        let mut largest = 0f32;
        self.for_each_block(|_, b| {
            largest = b.iter().fold(largest, |m, v| m.max(v.abs()));
            Ok(())
        })?;
        Ok(largest)
    }

    /// Each column to [0, 1] over these rows, as
    /// [`crate::Dataset::unit_transform`] computes it.
    pub fn unit_transform(&self) -> Result<(Vec<f32>, Vec<f32>)> {
        let mut fit = crate::data::UnitFit::new(self.cols());
        self.for_each_block(|_, b| {
            fit.add(b);
            Ok(())
        })?;
        Ok(fit.finish())
    }
}
