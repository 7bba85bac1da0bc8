//! A `.npy` (f32, f64, u8) or raw IDX file mapped into memory and read
//! lazily, for [`crate::data::Source`]: runs of rows in order are read
//! through the map (its pages released every [`RELEASE_BYTES`]), rows at
//! random with positioned reads, and every read first checks that the file
//! has not changed since it was opened (see `source`'s module note).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use crate::data::files::{self, Format, NpyElem};
use crate::data::idx;
use crate::error::{Error, Result};

/// Bytes read from a mapped file between two releases of its pages.
pub const RELEASE_BYTES: u64 = 16 << 20;

/// Stored values as f32: little-endian floats, or bytes scaled by 1/255.
pub(crate) fn decode(elem: NpyElem, bytes: &[u8], dst: &mut [f32]) {
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

/// The file's pages: a memory map natively. A browser (wasm32) opens no
/// files, and memmap2 is left out of its build: there the type is a
/// stand-in that is never made.
#[cfg(not(target_arch = "wasm32"))]
type Map = memmap2::Mmap;
#[cfg(target_arch = "wasm32")]
type Map = Vec<u8>;

#[cfg(not(target_arch = "wasm32"))]
fn map_file(file: &std::fs::File, path: &Path) -> Result<Map> {
    // SAFETY: see where `Mapped::open` calls this.
    unsafe { memmap2::Mmap::map(file) }
        .map_err(|e| file_err(path, format!("cannot map the file into memory: {e}")))
}

#[cfg(target_arch = "wasm32")]
fn map_file(_file: &std::fs::File, path: &Path) -> Result<Map> {
    Err(file_err(path, "a browser cannot map files into memory"))
}

pub(crate) struct Mapped {
    pub(crate) path: PathBuf,
    pub(crate) file: std::fs::File,
    pub(crate) map: Map,
    /// Bytes before the first value.
    pub(crate) offset: usize,
    pub(crate) elem: NpyElem,
    pub(crate) cols: usize,
    pub(crate) dims: Vec<usize>,
    pub(crate) len: u64,
    pub(crate) modified: Option<SystemTime>,
    /// Bytes read since the pages were last released.
    pub(crate) touched: AtomicU64,
}

impl Mapped {
    /// Reads stored row `row` with a positioned read rather than through
    /// the map: a row at random would bring a whole folio of the page
    /// cache (64 KiB to megabytes) into this process's memory, so rows in a
    /// shuffled order are read, and only runs in order are mapped. A file
    /// cut short gives an error here, not a fault.
    pub(crate) fn read_row_at(&self, row: usize, dst: &mut [u8]) -> Result<()> {
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

/// Where there are no positioned reads (wasm32, which has no files: a
/// file never opens there, so no mapped source exists to read).
#[cfg(not(any(unix, windows)))]
fn read_exact_at(_: &std::fs::File, _: &mut [u8], _: u64) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}

impl Mapped {
    /// Opens `path` (as `format`, or detected) and maps it: the file and
    /// its number of rows (samples).
    pub(crate) fn open(path: &Path, format: Option<Format>) -> Result<(Self, usize)> {
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
        let map = map_file(&file, path)?;
        // The map serves runs of rows in order (shuffled rows are read
        // with positioned reads): read ahead.
        #[cfg(unix)]
        let _ = map.advise(memmap2::Advice::Sequential);
        let mapped = Mapped {
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
        };
        Ok((mapped, rows))
    }

    /// Stored rows `row..row + n` decoded through the map into `dst`
    /// (`n * cols` values), counted towards the next release of its pages.
    pub(crate) fn decode_rows(&self, row: usize, dst: &mut [f32]) {
        let size = self.elem.size();
        let at = self.offset + row * self.cols * size;
        decode(self.elem, &self.map[at..at + dst.len() * size], dst);
        self.touch((dst.len() * size) as u64);
    }

    /// Counts `bytes` as brought into this process's memory, and drops the
    /// file's pages from it once [`RELEASE_BYTES`] have been (they stay in
    /// the page cache, and a later read maps them back in).
    fn touch(&self, bytes: u64) {
        if self.touched.fetch_add(bytes, Ordering::Relaxed) + bytes >= RELEASE_BYTES {
            self.touched.store(0, Ordering::Relaxed);
            // SAFETY: the map is a shared, read-only file mapping: the
            // dropped pages are read back from the file when next touched,
            // never replaced by zeros (which only private mappings do).
            // (Elsewhere the system trims a process's pages itself.)
            #[cfg(unix)]
            let _ = unsafe {
                self.map
                    .unchecked_advise(memmap2::UncheckedAdvice::DontNeed)
            };
        }
    }

    /// An error naming the file if its size or modification time changed
    /// since it was mapped.
    pub(crate) fn check_unchanged(&self) -> Result<()> {
        let meta = self
            .file
            .metadata()
            .map_err(|e| file_err(&self.path, format!("cannot read its size: {e}")))?;
        if meta.len() != self.len || meta.modified().ok() != self.modified {
            return Err(file_err(
                &self.path,
                format!(
                    "the file changed while wgae was reading it (it had {} bytes, now {}); \
                     nothing was written from it. Let whatever writes it finish, keep it \
                     read-only while wgae reads it, and run again",
                    self.len,
                    meta.len()
                ),
            ));
        }
        Ok(())
    }
}

pub(crate) fn file_err(path: &Path, message: impl Into<String>) -> Error {
    Error::File {
        path: path.to_path_buf(),
        message: message.into(),
    }
}
