//! f64 twins of shaders/reduce.wgsl: column sums and whole-tensor sums.

use crate::kernels::ReduceMode;
use crate::reference::widen::w;

pub fn col_sum(
    x: &[f32],
    rows: usize,
    cols: usize,
    scale: f32,
    beta: f32,
    out: &[f32],
) -> Vec<f64> {
    let x: Vec<f64> = x.iter().map(|&v| w(v)).collect();
    col_sum_f64(&x, rows, cols, scale, beta, out)
}

/// [`col_sum`] of f64 values (for the gated column sum, x * f'(gate)).
pub fn col_sum_f64(
    x: &[f64],
    rows: usize,
    cols: usize,
    scale: f32,
    beta: f32,
    out: &[f32],
) -> Vec<f64> {
    (0..cols)
        .map(|j| {
            let s: f64 = (0..rows).map(|i| x[i * cols + j]).sum();
            let mut v = w(scale) * s;
            if beta != 0.0 {
                v += w(beta) * w(out[j]);
            }
            v
        })
        .collect()
}

/// sum f(x), and sum |f(x)| (the scale of its rounding error).
pub fn reduce(x: &[f32], mode: ReduceMode) -> (f64, f64) {
    let f = |v: f64| match mode {
        ReduceMode::Sum => v,
        ReduceMode::SumSquares => v * v,
        ReduceMode::SumAbs => v.abs(),
    };
    let s = x.iter().map(|&v| f(w(v))).sum();
    let a = x.iter().map(|&v| f(w(v)).abs()).sum();
    (s, a)
}
