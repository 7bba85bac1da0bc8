//! Rating matrices saved by `scipy.sparse.save_npz`: a zip (stored or
//! deflated) of `.npy` arrays, `format` (`csr`, `csc` or `coo`), `shape`
//! (rows, columns), and `indptr`/`indices`/`data` or `row`/`col`/`data`.
//! Its entries come out in row-major order; `data::ratings` reads the rows
//! as users and the columns as items.
//!
//! Every array is read within its declared size, and their declared sizes
//! together within a byte budget, so that a small compressed file cannot
//! make an unbounded allocation.

use std::io::Read;
use std::path::Path;

use crate::data::bounded::read_exact_bytes;
use crate::data::files::{read_npy_dict, NpyDict};
use crate::error::{Error, Result};

fn file_err(path: &Path, message: impl Into<String>) -> Error {
    Error::File {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Whether `path` starts as a zip archive does.
pub fn is_zip(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|_| magic == *b"PK\x03\x04")
}

/// The arrays of one archive, each read whole within the budget left.
struct Archive<'a> {
    path: &'a Path,
    zip: zip::ZipArchive<std::fs::File>,
    budget: u64,
}

impl Archive<'_> {
    /// Array `name` (`name.npy` in the archive): its header and raw values.
    fn raw(&mut self, name: &str) -> Result<(NpyDict, Vec<u8>)> {
        let path = self.path;
        let mut entry = self.zip.by_name(&format!("{name}.npy")).map_err(|_| {
            file_err(
                path,
                format!("holds no {name}.npy: is it from scipy.sparse.save_npz?"),
            )
        })?;
        let size = entry.size();
        if size > self.budget {
            return Err(file_err(
                path,
                format!(
                    "{name}.npy takes {} MiB unpacked, more than the {} MiB of the host budget \
                     left",
                    size >> 20,
                    self.budget >> 20
                ),
            ));
        }
        self.budget -= size;
        let head = read_npy_dict(path, &mut entry)?;
        if head.fortran {
            return Err(file_err(path, format!("{name}.npy is in Fortran order")));
        }
        let n = head.dims.iter().product::<usize>();
        let width = elem_width(&head.descr)
            .ok_or_else(|| file_err(path, format!("{name}.npy has dtype '{}'", head.descr)))?;
        let bytes = n
            .checked_mul(width)
            .filter(|&b| (head.header_len + b) as u64 == size)
            .ok_or_else(|| {
                file_err(
                    path,
                    format!("{name}.npy's shape {:?} does not match its size", head.dims),
                )
            })?;
        let values = read_exact_bytes(path, &mut entry, bytes, name)?;
        Ok((head, values))
    }

    /// Array `name` as non-negative integers.
    fn ints(&mut self, name: &str) -> Result<Vec<u64>> {
        let (head, b) = self.raw(name)?;
        let w = elem_width(&head.descr).unwrap_or(1);
        let signed = head.descr.as_bytes().get(1) == Some(&b'i');
        if !matches!(head.descr.as_bytes().get(1), Some(b'i' | b'u')) {
            return Err(file_err(
                self.path,
                format!("{name}.npy holds '{}', not integers", head.descr),
            ));
        }
        b.chunks_exact(w)
            .map(|c| {
                let mut v = [0u8; 8];
                v[..w].copy_from_slice(c);
                if signed && c[w - 1] & 0x80 != 0 {
                    return Err(file_err(
                        self.path,
                        format!("{name}.npy holds a negative index"),
                    ));
                }
                Ok(u64::from_le_bytes(v))
            })
            .collect()
    }

    /// Array `name` as f32: floats, integers or booleans.
    fn values(&mut self, name: &str) -> Result<Vec<f32>> {
        let (head, b) = self.raw(name)?;
        let d = head.descr.as_str();
        let w = elem_width(d).unwrap_or(1);
        let out: Vec<f32> = match &d[1..] {
            "f4" => b
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            "f8" => b
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f32)
                .collect(),
            "b1" | "u1" => b.iter().map(|&v| f32::from(v)).collect(),
            "i1" => b.iter().map(|&v| f32::from(v as i8)).collect(),
            t if t.starts_with('i') || t.starts_with('u') => b
                .chunks_exact(w)
                .map(|c| {
                    let mut v = [0u8; 8];
                    v[..w].copy_from_slice(c);
                    if t.starts_with('i') && c[w - 1] & 0x80 != 0 {
                        v[w..].fill(0xFF);
                    }
                    if t.starts_with('i') {
                        i64::from_le_bytes(v) as f32
                    } else {
                        u64::from_le_bytes(v) as f32
                    }
                })
                .collect(),
            _ => return Err(file_err(self.path, format!("data.npy has dtype '{d}'"))),
        };
        if let Some(k) = out.iter().position(|v| !v.is_finite()) {
            return Err(file_err(
                self.path,
                format!("rating {} (entry {k}) is not a number", out[k]),
            ));
        }
        Ok(out)
    }

    /// The `format` string array (bytes or unicode).
    fn format(&mut self) -> Result<String> {
        let (head, b) = self.raw("format")?;
        Ok(
            if head.descr.ends_with(|c: char| c.is_ascii_digit()) && head.descr.contains('U') {
                b.chunks_exact(4)
                    .filter_map(|c| char::from_u32(u32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                    .filter(|&c| c != '\0')
                    .collect()
            } else {
                b.iter().filter(|&&c| c != 0).map(|&c| c as char).collect()
            },
        )
    }
}

/// Bytes per element of a little-endian or byte-wide dtype `descr`.
fn elem_width(descr: &str) -> Option<usize> {
    let (order, rest) = descr.split_at_checked(1)?;
    if !matches!(order, "<" | "|" | "=") {
        return None;
    }
    let (kind, n) = rest.split_at_checked(1)?;
    let n: usize = n.parse().ok()?;
    match kind {
        "f" | "i" | "u" | "b" | "S" => Some(n),
        "U" => Some(4 * n),
        _ => None,
    }
}

/// The stored entries of a matrix, in row-major order.
#[derive(Clone, Debug, Default)]
pub struct Entries {
    pub rows: usize,
    pub cols: usize,
    pub row: Vec<u32>,
    pub col: Vec<u32>,
    pub value: Vec<f32>,
}

/// The entries of a scipy.sparse `.npz`, whose arrays' declared sizes must
/// fit in `budget` bytes.
pub fn load(path: &Path, budget: u64) -> Result<Entries> {
    let file =
        std::fs::File::open(path).map_err(|e| file_err(path, format!("cannot open: {e}")))?;
    let zip = zip::ZipArchive::new(file)
        .map_err(|e| file_err(path, format!("not a readable .npz (zip) archive: {e}")))?;
    let mut a = Archive { path, zip, budget };
    let format = a.format()?;
    let shape = a.ints("shape")?;
    let [n, m] = shape[..] else {
        return Err(file_err(
            path,
            format!("shape.npy holds {shape:?}, not (rows, columns)"),
        ));
    };
    let (n, m) = (n as usize, m as usize);
    if n == 0 || m == 0 || n > u32::MAX as usize || m > u32::MAX as usize {
        return Err(file_err(
            path,
            format!("a matrix of {n} x {m}: rows and columns must be 1 to 2^32"),
        ));
    }
    let (row, col) = match format.as_str() {
        "coo" => (a.ints("row")?, a.ints("col")?),
        "csr" | "csc" => {
            let major = if format == "csr" { n } else { m };
            let indptr = a.ints("indptr")?;
            let indices = a.ints("indices")?;
            let outer = expand(path, &indptr, major, indices.len())?;
            if format == "csr" {
                (outer, indices)
            } else {
                (indices, outer)
            }
        }
        f => {
            return Err(file_err(
                path,
                format!("holds a '{f}' matrix; save it as CSR, CSC or COO (m.tocsr())"),
            ))
        }
    };
    let data = a.values("data")?;
    if row.len() != col.len() || row.len() != data.len() {
        return Err(file_err(
            path,
            format!(
                "{} rows, {} columns and {} values",
                row.len(),
                col.len(),
                data.len()
            ),
        ));
    }
    if let Some(k) = (0..row.len()).find(|&k| row[k] as usize >= n || col[k] as usize >= m) {
        return Err(file_err(
            path,
            format!(
                "entry {k} at ({}, {}) lies outside its {n} x {m} shape",
                row[k], col[k]
            ),
        ));
    }
    // Row-major order, whatever the format (stable: of a pair given twice,
    // the later entry stays later), so that a seeded split holds out the
    // same ratings of CSR, CSC and COO files.
    let mut order: Vec<usize> = (0..data.len()).collect();
    order.sort_by_key(|&k| (row[k], col[k]));
    Ok(Entries {
        rows: n,
        cols: m,
        row: order.iter().map(|&k| row[k] as u32).collect(),
        col: order.iter().map(|&k| col[k] as u32).collect(),
        value: order.iter().map(|&k| data[k]).collect(),
    })
}

/// The outer index of each entry from a compressed `indptr` over `major`
/// rows (or columns) of `entries` entries.
fn expand(path: &Path, indptr: &[u64], major: usize, entries: usize) -> Result<Vec<u64>> {
    let ok = indptr.len() == major + 1
        && indptr[0] == 0
        && indptr[major] as usize == entries
        && indptr.windows(2).all(|w| w[0] <= w[1]);
    if !ok {
        return Err(file_err(
            path,
            format!(
                "indptr.npy is not {} offsets from 0 to {entries}, in order",
                major + 1
            ),
        ));
    }
    let mut out = Vec::with_capacity(entries);
    for (i, w) in indptr.windows(2).enumerate() {
        out.extend(std::iter::repeat_n(i as u64, (w[1] - w[0]) as usize));
    }
    Ok(out)
}
