//! Loading a dataset from a file, whatever its format: MNIST IDX (raw or
//! .gz), NumPy .npy (f32, f64, u8), numeric CSV with or without a header, or
//! a folder of PNG/JPEG images. The format is detected from the contents
//! (and the folder-ness); `Format` overrides it.

use std::path::Path;

use crate::data::{idx, Dataset};
use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Idx,
    Npy,
    Csv,
    Images,
}

impl std::str::FromStr for Format {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "idx" | "mnist" => Format::Idx,
            "npy" | "numpy" => Format::Npy,
            "csv" => Format::Csv,
            "images" | "image" | "png" | "jpeg" | "jpg" => Format::Images,
            other => {
                return Err(Error::InvalidArgument(format!(
                    "unknown format '{other}' (idx, npy, csv, images)"
                )))
            }
        })
    }
}

fn file_err(path: &Path, message: impl Into<String>) -> Error {
    Error::File {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Guesses the format from the contents.
pub fn detect(path: &Path) -> Result<Format> {
    if path.is_dir() {
        return Ok(Format::Images);
    }
    if !path.exists() {
        return Err(file_err(path, "no such file or folder"));
    }
    let bytes = idx::read_head(path, 4096)?;
    if bytes.starts_with(b"\x93NUMPY") {
        Ok(Format::Npy)
    } else if bytes.len() >= 4 && bytes[0] == 0 && bytes[1] == 0 && bytes[2] == 0x08 {
        Ok(Format::Idx)
    } else if bytes.iter().take(4096).all(|&b| b.is_ascii() && b != 0) {
        Ok(Format::Csv)
    } else {
        Err(file_err(
            path,
            "unrecognized format: not IDX, .npy, CSV or a folder of images (use `format`)",
        ))
    }
}

/// Loads `path` as `format` (detected when None). Image-like data (IDX, u8
/// npy, images) is scaled to [0, 1]; other values are kept as they are.
pub fn load(path: &Path, format: Option<Format>) -> Result<Dataset> {
    load_allowing(path, format, false)
}

/// [`load`]; with `missing`, NaN in a `.npy` and an empty, `NaN` or `NA`
/// field of a CSV are missing entries, held as [`crate::data::MISSING`]
/// (for a model that masks them out of its loss), not refused.
pub fn load_allowing(path: &Path, format: Option<Format>, missing: bool) -> Result<Dataset> {
    let format = match format {
        Some(f) => f,
        None => detect(path)?,
    };
    match format {
        Format::Idx => idx::load_labeled(path),
        Format::Npy => load_npy_allowing(path, missing),
        Format::Csv => load_csv_allowing(path, missing),
        Format::Images => load_images(path, None, false),
    }
}

/// Whether a CSV field marks a missing entry: empty, `NaN` or `NA` (any case).
fn is_missing_field(field: &str) -> bool {
    field.is_empty() || field.eq_ignore_ascii_case("nan") || field.eq_ignore_ascii_case("na")
}

/// A .npy file's element type: what one value is stored as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NpyElem {
    /// Little-endian float32.
    F32,
    /// Little-endian float64 (read as f32).
    F64,
    /// uint8, scaled by 1/255 as images are.
    U8,
}

impl NpyElem {
    /// Bytes per value.
    pub fn size(self) -> usize {
        match self {
            NpyElem::F32 => 4,
            NpyElem::F64 => 8,
            NpyElem::U8 => 1,
        }
    }
}

/// What a .npy header says: the array's dimensions (2-D or more), its
/// element type, and the bytes before the values.
#[derive(Clone, Debug)]
pub struct NpyHeader {
    pub dims: Vec<usize>,
    pub elem: NpyElem,
    pub header_len: usize,
}

impl NpyHeader {
    /// Rows (the first dimension) and values per row (the rest).
    pub fn rows_cols(&self) -> (usize, usize) {
        (
            self.dims[0],
            self.dims[1..].iter().product::<usize>().max(1),
        )
    }
}

/// A .npy header as written: its dtype string, whether it is in Fortran
/// order, its dimensions (any number, none for a scalar), and the bytes
/// before the values.
#[derive(Clone, Debug)]
pub struct NpyDict {
    pub descr: String,
    pub fortran: bool,
    pub dims: Vec<usize>,
    pub header_len: usize,
}

/// Reads a .npy header from `r` (at the start of the file), leaving `r` at
/// the first value; errors name `path`.
pub fn read_npy_dict(path: &Path, r: &mut dyn std::io::Read) -> Result<NpyDict> {
    // Header first, then exactly the values it promises: a device or a
    // lying header cannot make the read endless or the allocation huge.
    let pre = idx::read_exact_bytes(path, r, 10, "the .npy header")
        .map_err(|_| file_err(path, "not a .npy file (too short)"))?;
    if !pre.starts_with(b"\x93NUMPY") {
        return Err(file_err(path, "not a .npy file (no \\x93NUMPY magic)"));
    }
    let major = pre[6];
    let mut header_len = 10;
    let hlen = match major {
        1 => u16::from_le_bytes([pre[8], pre[9]]) as usize,
        2 | 3 => {
            header_len += 2;
            let more = idx::read_exact_bytes(path, r, 2, "the .npy header")?;
            u32::from_le_bytes([pre[8], pre[9], more[0], more[1]]) as usize
        }
        _ => {
            return Err(file_err(
                path,
                format!(".npy version {major} is not supported"),
            ))
        }
    };
    if hlen > 1 << 20 {
        return Err(file_err(
            path,
            format!(".npy header of {hlen} bytes: corrupt"),
        ));
    }
    let header = idx::read_exact_bytes(path, r, hlen, "the .npy header")
        .map_err(|_| file_err(path, "truncated .npy header"))?;
    let header = String::from_utf8_lossy(&header);
    // Slicing by `get`: a corrupt header may hold any characters.
    let field = |key: &str| -> Option<String> {
        let at = header.find(&format!("'{key}'"))?;
        let rest = header.get(at + key.len() + 2..)?;
        let rest = rest.get(rest.find(':')? + 1..)?.trim_start();
        Some(rest.to_string())
    };
    let descr = field("descr").ok_or_else(|| file_err(path, ".npy header has no descr"))?;
    // The dtype string alone: up to its closing quote.
    let descr = descr.trim_start_matches(['\'', '"']);
    let end = descr.find(['\'', '"']).unwrap_or(descr.len()).min(16);
    let descr = descr.get(..end).unwrap_or(descr);
    let fortran = field("fortran_order").is_some_and(|v| v.starts_with("True"));
    let shape_txt = field("shape").ok_or_else(|| file_err(path, ".npy header has no shape"))?;
    let inner = shape_txt.trim_start_matches('(');
    let inner = &inner[..inner
        .find(')')
        .ok_or_else(|| file_err(path, "malformed .npy shape"))?];
    let dims: Vec<usize> = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| file_err(path, format!("malformed .npy shape '{inner}'")))
        })
        .collect::<Result<_>>()?;
    dims.iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| file_err(path, format!("shape {dims:?} overflows")))?;
    Ok(NpyDict {
        descr: descr.to_string(),
        fortran,
        dims,
        header_len: header_len + hlen,
    })
}

/// Reads and checks a .npy header from `r` (at the start of the file),
/// leaving `r` at the first value.
pub fn read_npy_header(path: &Path, r: &mut dyn std::io::Read) -> Result<NpyHeader> {
    let NpyDict {
        descr,
        fortran,
        dims,
        header_len,
    } = read_npy_dict(path, r)?;
    let inner = dims
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let descr = descr.as_str();
    let elem = if descr.starts_with("<f4") {
        NpyElem::F32
    } else if descr.starts_with("<f8") {
        NpyElem::F64
    } else if descr.starts_with("|u1") || descr.starts_with("<u1") {
        NpyElem::U8
    } else {
        return Err(file_err(
            path,
            format!(
                ".npy dtype '{descr}' is not supported: save it as float32 ('<f4'), float64 \
                 ('<f8') or uint8 ('|u1'), little-endian (arr.astype(np.float32))"
            ),
        ));
    };
    if fortran {
        return Err(file_err(
            path,
            "Fortran-ordered .npy is not supported; save with np.ascontiguousarray",
        ));
    }
    if dims.is_empty() {
        return Err(file_err(path, "a .npy scalar is not a dataset"));
    }
    if dims.len() == 1 {
        // (784,) could be one sample or 784 samples of one feature.
        return Err(file_err(
            path,
            format!(
                "a 1-D .npy of shape ({},) is ambiguous: save rows of features as a 2-D array, \
                 (1, {}) for one sample (arr.reshape(1, -1)) or ({}, 1) for one feature each",
                dims[0], dims[0], dims[0]
            ),
        ));
    }
    if dims[1..].contains(&0) {
        return Err(file_err(
            path,
            format!(
                "shape ({}): each sample holds no values; save rows with at least one feature",
                inner.trim().trim_end_matches(',')
            ),
        ));
    }
    Ok(NpyHeader {
        dims,
        elem,
        header_len,
    })
}

/// NumPy .npy: little-endian f32, f64 or u8 (scaled by 1/255), C order,
/// shape (n, d) or (n, h, w, ...) flattened per row.
pub fn load_npy(path: &Path) -> Result<Dataset> {
    load_npy_allowing(path, false)
}

/// [`load_npy`]; with `missing`, NaN is a missing entry.
pub fn load_npy_allowing(path: &Path, missing: bool) -> Result<Dataset> {
    // Header first, then exactly the values it promises: a device or a
    // lying header cannot make the read endless or the allocation huge.
    let mut r = idx::open_maybe_gz(path)?;
    let NpyHeader { dims, elem, .. } = read_npy_header(path, &mut r)?;
    let elem = elem.size();
    let rows = dims[0];
    let cols: usize = dims[1..].iter().product::<usize>().max(1);
    let count = rows
        .checked_mul(cols)
        .ok_or_else(|| file_err(path, format!("shape {dims:?} overflows")))?;
    // Check before allocating: a corrupt header must not ask for gigabytes.
    crate::data::memory::check_host(
        &path.display().to_string(),
        count as u128,
        elem.max(4) as u128 + 4,
    )?;
    let body = idx::read_exact_bytes(path, &mut r, count * elem, "the values").map_err(|_| {
        file_err(
            path,
            format!(
                "header claims shape {dims:?} ({count} values) but the file holds fewer: \
                 truncated or corrupt"
            ),
        )
    })?;
    idx::expect_end(path, &mut r, &format!("shape {dims:?}"))?;
    let data: Vec<f32> = match elem {
        4 => body[..count * 4]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect(),
        8 => body[..count * 8]
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()) as f32)
            .collect(),
        _ => body[..count]
            .iter()
            .map(|&b| f32::from(b) / 255.0)
            .collect(),
    };
    let data = if missing {
        data.into_iter()
            .map(|v| if v.is_nan() { crate::data::MISSING } else { v })
            .collect()
    } else {
        data
    };
    Dataset::new(data, rows, cols, None)
        .map(|d| d.with_dims(dims[1..].to_vec()))
        .map_err(|e| file_err(path, e.to_string()))
}

/// Numeric CSV; a first line none of whose fields is a number is a header.
pub fn load_csv(path: &Path) -> Result<Dataset> {
    load_csv_allowing(path, false)
}

/// [`load_csv`]; with `missing`, an empty, `NaN` or `NA` field is a missing
/// entry.
pub fn load_csv_allowing(path: &Path, missing: bool) -> Result<Dataset> {
    // Whole-file reads stop at half the available memory (the text and
    // the values it becomes); a larger CSV is converted once to .npy.
    let limit = crate::data::memory::available_host_bytes().map_or(u64::MAX, |a| a / 2);
    if let Ok(m) = std::fs::metadata(path) {
        if m.is_file() && m.len() > limit {
            return Err(file_err(
                path,
                format!(
                    "{} MiB of CSV is more than half of the memory available ({} MiB); convert \
                     it once to .npy, which is read from disk as needed: wgae convert --data {} \
                     --out data.npy",
                    m.len() >> 20,
                    limit >> 19,
                    path.display()
                ),
            ));
        }
    }
    let mut data = Vec::new();
    let mut cols = 0;
    let rows = csv_rows(path, missing, |row| {
        cols = row.len();
        data.extend_from_slice(row);
        Ok(())
    })?;
    Dataset::new(data, rows, cols, None).map_err(|e| file_err(path, e.to_string()))
}

/// A CSV line's separator: a comma, else a semicolon, else a tab.
pub(crate) fn separator(line: &str) -> char {
    if line.contains(',') {
        ','
    } else if line.contains(';') {
        ';'
    } else {
        '\t'
    }
}

/// Reads a numeric CSV (comma, semicolon or tab separated, optionally
/// gzipped) line by line, handing each row's values to `f`; returns the
/// number of rows. A first line none of whose fields is a number is a
/// header (`1,2,NA,4` is a row with a bad value, not a header). Errors
/// name the line and column, counted from 1.
pub fn for_each_csv_row(path: &Path, f: impl FnMut(&[f32]) -> Result<()>) -> Result<usize> {
    csv_rows(path, false, f)
}

/// [`for_each_csv_row`]; with `missing`, an empty, `NaN` or `NA` field is
/// handed on as [`crate::data::MISSING`].
fn csv_rows(path: &Path, missing: bool, mut f: impl FnMut(&[f32]) -> Result<()>) -> Result<usize> {
    use std::io::BufRead;
    let reader = std::io::BufReader::with_capacity(1 << 20, idx::open_maybe_gz(path)?);
    let mut cols = 0usize;
    let mut rows = 0usize;
    let mut values = Vec::new();
    for (ln, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => file_err(path, "not UTF-8 text"),
            _ => file_err(path, format!("corrupt or truncated data: {e}")),
        })?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let sep = separator(line);
        values.clear();
        let mut bad = None;
        for field in line.split(sep) {
            let field = field.trim();
            match field.parse::<f32>() {
                _ if missing && is_missing_field(field) => values.push(crate::data::MISSING),
                Ok(v) if missing && v.is_nan() => values.push(crate::data::MISSING),
                Ok(v) => values.push(v),
                Err(_) => {
                    bad.get_or_insert(field.to_string());
                }
            }
        }
        if let Some(bad) = bad {
            if rows == 0 && ln == 0 && values.is_empty() {
                continue; // a header, on evidence
            }
            let hint = if is_missing_field(&bad) {
                " (a missing entry: train with `missing` mask to leave such entries out of \
                 the loss)"
            } else {
                ""
            };
            return Err(file_err(
                path,
                format!("line {}: '{bad}' is not a number{hint}", ln + 1),
            ));
        }
        if rows == 0 {
            cols = values.len();
        } else if values.len() != cols {
            return Err(file_err(
                path,
                format!(
                    "line {} has {} columns, the first data line has {cols}",
                    ln + 1,
                    values.len()
                ),
            ));
        }
        if let Some(c) = values.iter().position(|v| !v.is_finite()) {
            return Err(file_err(
                path,
                format!(
                    "line {}, column {}: {} is not a finite number; clean the data (NaN and \
                     infinity cannot be trained on), or train with `missing` mask to leave \
                     missing entries out of the loss",
                    ln + 1,
                    c + 1,
                    values[c]
                ),
            ));
        }
        f(&values)?;
        rows += 1;
    }
    if rows == 0 {
        return Err(file_err(path, "no numeric rows"));
    }
    Ok(rows)
}

/// Every PNG/JPEG in a folder (sorted by name), resized to `side` x `side`
/// (default: the first image's size, made square), in [0, 1]: grayscale, or
/// with `rgb` three values per pixel (R, G, B interleaved).
pub fn load_images(dir: &Path, side: Option<u32>, rgb: bool) -> Result<Dataset> {
    let mut data = Vec::new();
    let (n, s) = for_each_image(dir, side, rgb, |bytes| {
        data.extend(bytes.iter().map(|&v| f32::from(v) / 255.0));
        Ok(())
    })?;
    let channels = if rgb { 3 } else { 1 };
    Dataset::new(data, n, s * s * channels, None)
        .map(|d| d.with_dims(vec![s, s, channels]))
        .map_err(|e| file_err(dir, e.to_string()))
}

/// Decodes every PNG/JPEG in a folder (sorted by name) in turn, resized to
/// `side` x `side` (default: the first image's size, made square), and
/// hands `f` its bytes (gray, or R, G, B interleaved with `rgb`); returns
/// the number of images and the side.
pub fn for_each_image(
    dir: &Path,
    side: Option<u32>,
    rgb: bool,
    mut f: impl FnMut(&[u8]) -> Result<()>,
) -> Result<(usize, usize)> {
    let files = image_files(dir)?;
    let mut side = side;
    for p in &files {
        let img = open_image(p)?;
        let s = *side.get_or_insert(img.width().max(img.height()));
        let resized = img.resize_exact(s, s, image::imageops::FilterType::Triangle);
        let bytes = if rgb {
            resized.to_rgb8().into_raw()
        } else {
            resized.to_luma8().into_raw()
        };
        f(&bytes)?;
    }
    Ok((files.len(), side.unwrap_or(0) as usize))
}

/// The largest image side wgae reads: an autoencoder's samples are far
/// smaller, and a header claiming more (a few bytes can claim 2^31 pixels)
/// is refused before anything is decoded.
pub const MAX_IMAGE_SIDE: u32 = 4096;

/// One image, decoded within [`MAX_IMAGE_SIDE`] and 128 MiB of memory.
fn open_image(p: &Path) -> Result<image::DynamicImage> {
    let bad = |e: image::ImageError| file_err(p, format!("cannot decode image: {e}"));
    let mut reader = image::ImageReader::open(p)
        .map_err(|e| file_err(p, format!("cannot read: {e}")))?
        .with_guessed_format()
        .map_err(|e| file_err(p, format!("cannot read: {e}")))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(128 << 20);
    reader.limits(limits);
    reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => file_err(
            p,
            format!(
                "the image is larger than {MAX_IMAGE_SIDE} pixels a side (or 128 MiB decoded); \
                 resize it first"
            ),
        ),
        e => bad(e),
    })
}

/// The PNG/JPEG files of a folder, sorted by name.
pub fn image_files(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| file_err(dir, format!("cannot read folder: {e}")))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(file_err(dir, "no .png or .jpg images in this folder"));
    }
    // An image name on a device or a pipe would never end (or never start).
    if let Some(odd) = files
        .iter()
        .find(|p| !std::fs::metadata(p).is_ok_and(|m| m.is_file()))
    {
        return Err(file_err(
            odd,
            "is not a regular file (a device, a pipe or a dangling link); a folder of images \
             holds image files",
        ));
    }
    Ok(files)
}
