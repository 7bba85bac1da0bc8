//! f64 twin of shaders/gather.wgsl: rows gathered by index.

use crate::reference::w;

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
