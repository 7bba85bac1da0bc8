//! f64 twin of shaders/gather.wgsl: rows gathered by index.

use crate::data::windows::Windows;
use crate::reference::widen::w;

pub fn gather_rows(
    idx: &[u32],
    idx_offset: usize,
    src: &[f32],
    src_rows: usize,
    rows: usize,
    cols: usize,
) -> Vec<f64> {
    let mut out = Vec::with_capacity(rows * cols);
    for r in 0..rows {
        let s = idx[idx_offset + r] as usize;
        for c in 0..cols {
            out.push(if s < src_rows {
                w(src[s * cols + c])
            } else {
                0.0
            });
        }
    }
    out
}

/// gather_u8: the rows of a byte dataset (each row's bytes laid end to end
/// over all chunks) through a table: `lut[b]`, or `lut[c * 256 + b]` with
/// `per_column`.
#[allow(clippy::too_many_arguments)]
pub fn gather_u8(
    idx: &[u32],
    idx_offset: usize,
    src: &[u8],
    src_rows: usize,
    rows: usize,
    cols: usize,
    lut: &[f32],
    per_column: bool,
) -> Vec<f64> {
    let mut out = Vec::with_capacity(rows * cols);
    for r in 0..rows {
        let s = idx[idx_offset + r] as usize;
        for c in 0..cols {
            out.push(if s < src_rows {
                let b = src[s * cols + c] as usize;
                w(lut[if per_column { c * 256 + b } else { b }])
            } else {
                0.0
            });
        }
    }
    out
}

/// gather_windows: windows `idx[idx_offset + r]` of `win`, cut from one
/// series (`series`, time steps of `win.channels` values) in `win`'s
/// layout; a window past `src_rows` is zeros.
pub fn gather_windows(
    idx: &[u32],
    idx_offset: usize,
    series: &[f32],
    src_rows: usize,
    rows: usize,
    win: &Windows,
) -> Vec<f64> {
    let mut out = Vec::with_capacity(rows * win.cols());
    for r in 0..rows {
        let s = idx[idx_offset + r] as usize;
        for c in 0..win.cols() {
            let (t, f) = win.place(c);
            out.push(if s < src_rows {
                w(series[(s * win.stride + t) * win.channels + f])
            } else {
                0.0
            });
        }
    }
    out
}
