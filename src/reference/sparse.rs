//! f64 twin of shaders/sparse.wgsl.

use crate::data::sparse::Csr;

/// Rows `order[first..first + rows]` of `m`, dense, with `m.absent` where
/// a row has no entry.
pub fn gather_sparse(m: &Csr, order: &[u32], first: usize, rows: usize) -> Vec<f64> {
    let mut out = vec![f64::from(m.absent); rows * m.cols];
    for (j, &r) in order[first..first + rows].iter().enumerate() {
        let (cols, vals) = m.row(r as usize);
        for (&c, &v) in cols.iter().zip(vals) {
            out[j * m.cols + c as usize] = f64::from(v);
        }
    }
    out
}
