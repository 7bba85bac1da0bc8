//! MNIST-style IDX files (images u8 `[n, rows, cols]`, labels u8 `[n]`), raw or
//! gzip-compressed (detected from the magic bytes, not the file name).

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::data::Dataset;
use crate::error::{Error, Result};

fn file_err(path: &Path, message: impl Into<String>) -> Error {
    Error::File {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Reads a whole file, gunzipping it when it starts with the gzip magic.
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| file_err(path, format!("cannot read: {e}")))?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| file_err(path, format!("corrupt or truncated gzip data: {e}")))?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// An IDX tensor of unsigned bytes: its dimensions and its values.
pub fn parse_idx_u8(path: &Path, bytes: &[u8]) -> Result<(Vec<usize>, Vec<u8>)> {
    if bytes.len() < 4 {
        return Err(file_err(
            path,
            "too short to be an IDX file (no 4-byte header)",
        ));
    }
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
    let bytes = read_maybe_gz(path)?;
    let (dims, values) = parse_idx_u8(path, &bytes)?;
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
    let bytes = read_maybe_gz(path)?;
    let (dims, values) = parse_idx_u8(path, &bytes)?;
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

/// The MNIST directory: `WGAE_MNIST_DIR`, or `../shared/data/mnist`.
pub fn mnist_dir() -> PathBuf {
    std::env::var_os("WGAE_MNIST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared/data/mnist"))
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
