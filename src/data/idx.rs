//! MNIST-style IDX files (images u8 `[n, rows, cols]`, labels u8 `[n]`), raw or
//! gzip-compressed (detected from the magic bytes, not the file name).

use std::io::Read;
use std::path::{Path, PathBuf};

pub use crate::data::bounded::{expect_end, read_exact_bytes};
use crate::data::Dataset;
use crate::error::{Error, Result};

fn file_err(path: &Path, message: impl Into<String>) -> Error {
    Error::File {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// The file as a byte stream, gunzipped when it starts with the gzip magic.
/// A folder, a device or a socket is refused; a pipe is read as a stream,
/// and every reader below bounds what it reads.
pub fn open_maybe_gz(path: &Path) -> Result<Box<dyn Read>> {
    crate::data::bounded::check_kind(path)?;
    let mut f =
        std::fs::File::open(path).map_err(|e| file_err(path, format!("cannot read: {e}")))?;
    let mut magic = [0u8; 2];
    let mut got = 0;
    while got < 2 {
        match f.read(&mut magic[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => return Err(file_err(path, format!("cannot read: {e}"))),
        }
    }
    let stream = std::io::Cursor::new(magic[..got].to_vec()).chain(f);
    if got == 2 && magic == [0x1f, 0x8b] {
        Ok(Box::new(GzErrors(flate2::read::MultiGzDecoder::new(
            stream,
        ))))
    } else {
        Ok(Box::new(stream))
    }
}

/// A gzip stream whose read errors say that the gzip data is at fault.
struct GzErrors<R>(R);

impl<R: Read> Read for GzErrors<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf).map_err(|e| {
            std::io::Error::new(e.kind(), format!("corrupt or truncated gzip data: {e}"))
        })
    }
}

/// The size of a regular, uncompressed file (None for a gzip file, a pipe).
fn plain_file_len(path: &Path) -> Option<u64> {
    let m = std::fs::metadata(path).ok().filter(|m| m.is_file())?;
    let mut magic = [0u8; 2];
    let mut f = std::fs::File::open(path).ok()?;
    let gz = f.read_exact(&mut magic).is_ok() && magic == [0x1f, 0x8b];
    (!gz).then_some(m.len())
}

/// The whole stream (gunzipped), up to what this machine can hold: a
/// device or a lying compressed file cannot make the read endless.
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let limit = crate::data::memory::available_host_bytes()
        .map_or(8 << 30, |a| a / 2)
        .max(1 << 20);
    let mut out = Vec::new();
    open_maybe_gz(path)?
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| file_err(path, format!("corrupt or truncated data: {e}")))?;
    if out.len() as u64 > limit {
        return Err(file_err(
            path,
            format!(
                "holds more than {} MiB, half of this machine's available memory; give a \
                 smaller file",
                limit >> 20
            ),
        ));
    }
    Ok(out)
}

/// The first `n` bytes of the stream (gunzipped), or fewer if it ends.
pub fn read_head(path: &Path, n: usize) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    open_maybe_gz(path)?
        .take(n as u64)
        .read_to_end(&mut out)
        .map_err(|e| file_err(path, format!("corrupt or truncated data: {e}")))?;
    Ok(out)
}

/// An IDX tensor of unsigned bytes read header first: its dimensions, then
/// exactly the values they promise (checked against memory first), then
/// the end of the file.
pub fn read_idx_u8(path: &Path) -> Result<(Vec<usize>, Vec<u8>)> {
    let mut r = open_maybe_gz(path)?;
    let (dims, _) = read_idx_header(path, &mut r)?;
    let ndim = dims.len();
    let count = dims.iter().product::<usize>();
    // A plain file's size tells at once whether the values are there.
    if let Some(len) = plain_file_len(path) {
        let held = len.saturating_sub((4 + 4 * ndim) as u64);
        if count as u64 > held {
            return Err(file_err(
                path,
                format!("header claims {dims:?} = {count} values but the file holds only {held}: truncated or corrupt"),
            ));
        }
    }
    // The bytes, and the f32 values they become.
    crate::data::memory::check_host(&path.display().to_string(), count as u128, 5)?;
    let values = read_exact_bytes(path, &mut r, count, "the values")
        .map_err(|_| file_err(path, format!("header claims {dims:?} = {count} values but the file holds fewer: truncated or corrupt")))?;
    expect_end(path, &mut r, &format!("{dims:?} = {count} values"))?;
    Ok((dims, values))
}

/// Reads and checks an IDX header of unsigned bytes from `r` (at the start
/// of the file), leaving `r` at the first value: the dimensions (whose
/// product is known not to overflow) and the header's length in bytes.
pub fn read_idx_header(path: &Path, r: &mut dyn Read) -> Result<(Vec<usize>, usize)> {
    let head = read_exact_bytes(path, r, 4, "the IDX header")
        .map_err(|_| file_err(path, "too short to be an IDX file (no 4-byte header)"))?;
    let ndim = check_magic(path, &head)?;
    let dims_bytes = read_exact_bytes(path, r, 4 * ndim, "the IDX header")
        .map_err(|_| file_err(path, "truncated IDX header"))?;
    let dims: Vec<usize> = dims_bytes
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes(c.try_into().unwrap()) as usize)
        .collect();
    dims.iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| file_err(path, format!("header dimensions {dims:?} overflow")))?;
    Ok((dims, 4 + 4 * ndim))
}

/// The IDX magic's checks; returns the number of dimensions.
fn check_magic(path: &Path, bytes: &[u8]) -> Result<usize> {
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(file_err(
            path,
            "not an IDX file (its first two bytes are not zero)",
        ));
    }
    if bytes[2] != 0x08 {
        return Err(file_err(
            path,
            format!(
                "IDX element type 0x{:02x} is not unsigned bytes (0x08)",
                bytes[2]
            ),
        ));
    }
    let ndim = bytes[3] as usize;
    if ndim == 0 || ndim > 4 {
        return Err(file_err(path, format!("IDX file claims {ndim} dimensions")));
    }
    Ok(ndim)
}

/// An IDX tensor of unsigned bytes: its dimensions and its values.
pub fn parse_idx_u8(path: &Path, bytes: &[u8]) -> Result<(Vec<usize>, Vec<u8>)> {
    if bytes.len() < 4 {
        return Err(file_err(
            path,
            "too short to be an IDX file (no 4-byte header)",
        ));
    }
    let ndim = check_magic(path, bytes)?;
    let header = 4 + 4 * ndim;
    if bytes.len() < header {
        return Err(file_err(path, "truncated IDX header"));
    }
    let dims: Vec<usize> = (0..ndim)
        .map(|i| u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().unwrap()) as usize)
        .collect();
    // Compare sizes before allocating anything: a corrupt header must not
    // ask for gigabytes.
    let count = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    let available = bytes.len() - header;
    match count {
        Some(c) if c == available => Ok((dims, bytes[header..].to_vec())),
        Some(c) if c > available => Err(file_err(
            path,
            format!("header claims {dims:?} = {c} values but the file holds only {available}: truncated or corrupt"),
        )),
        Some(c) => Err(file_err(path, format!("header claims {dims:?} = {c} values but the file holds {available}: corrupt"))),
        None => Err(file_err(path, format!("header dimensions {dims:?} overflow"))),
    }
}

/// Images from an IDX file, scaled to [0, 1], flattened to rows.
pub fn load_images(path: &Path) -> Result<Dataset> {
    let (dims, values) = read_idx_u8(path)?;
    if dims.len() < 2 {
        return Err(file_err(
            path,
            format!("an image file needs [n, h, w] dimensions, got {dims:?}"),
        ));
    }
    let rows = dims[0];
    let cols: usize = dims[1..].iter().product();
    let data = values.iter().map(|&v| f32::from(v) / 255.0).collect();
    Dataset::new(data, rows, cols, None)
        .map(|d| d.with_dims(dims[1..].to_vec()))
        .map_err(|e| file_err(path, e.to_string()))
}

/// Labels from an IDX file.
pub fn load_labels(path: &Path) -> Result<Vec<u32>> {
    let (dims, values) = read_idx_u8(path)?;
    if dims.len() != 1 {
        return Err(file_err(
            path,
            format!("a label file needs one dimension, got {dims:?}"),
        ));
    }
    Ok(values.into_iter().map(u32::from).collect())
}

/// The labels file next to an images file, by MNIST's naming
/// (`*-images-idx3-ubyte[.gz]` -> `*-labels-idx1-ubyte[.gz]`), if it exists.
pub fn labels_path_for(images: &Path) -> Option<PathBuf> {
    let name = images.file_name()?.to_str()?;
    if !name.contains("images-idx3") {
        return None;
    }
    let p = images.with_file_name(name.replace("images-idx3", "labels-idx1"));
    p.exists().then_some(p)
}

/// Images with their labels when the matching labels file is beside them.
pub fn load_labeled(images: &Path) -> Result<Dataset> {
    let mut ds = load_images(images)?;
    if let Some(lp) = labels_path_for(images) {
        let labels = load_labels(&lp)?;
        if labels.len() != ds.rows {
            return Err(file_err(
                &lp,
                format!("{} labels for {} images", labels.len(), ds.rows),
            ));
        }
        ds.labels = Some(labels);
    }
    Ok(ds)
}

/// An MNIST split from `dir`: "train" or "t10k", .gz or raw.
pub fn load_mnist(dir: &Path, split: &str) -> Result<Dataset> {
    for ext in [".gz", ""] {
        let p = dir.join(format!("{split}-images-idx3-ubyte{ext}"));
        if p.exists() {
            return load_labeled(&p);
        }
    }
    Err(file_err(
        &dir.join(format!("{split}-images-idx3-ubyte.gz")),
        "MNIST not found here; set WGAE_MNIST_DIR to the folder holding the IDX files",
    ))
}
