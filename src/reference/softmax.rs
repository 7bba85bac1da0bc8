//! f64 twin of shaders/softmax.wgsl: the row-wise softmax.

pub fn softmax_rows(x: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    let mut out = vec![0.0; rows * cols];
    for r in 0..rows {
        let row = &x[r * cols..(r + 1) * cols];
        let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let s: f64 = row.iter().map(|v| (v - m).exp()).sum();
        for (j, v) in row.iter().enumerate() {
            out[r * cols + j] = (v - m).exp() / s;
        }
    }
    out
}
