//! The f32 error bounds a kernel's output is held to against its f64 twin,
//! stated once for the test suite (`tests/kernels`) and the browser's
//! checks (`web/`), so both hold a kernel to the same tolerance. Each
//! returns the largest error allowed at one output whose twin's value is
//! `rv`.

use crate::op::Loss;
use crate::reference::loss::element_loss;

/// f32's unit roundoff.
pub const U: f64 = f32::EPSILON as f64 / 2.0;

/// A sum of `terms` products whose magnitudes add up to `magnitude`
/// (Higham's probabilistic bound, 2 sqrt(terms) u of it), plus `out_ulps`
/// of the output's own rounding: a matmul (one ulp) or a convolution with
/// its bias and activation (two).
pub fn dot(terms: usize, magnitude: f64, out_ulps: f64, rv: f64) -> f64 {
    let sk = (terms as f64).sqrt();
    2.0 * sk * U * magnitude + out_ulps * U * rv.abs() + 1e-30
}

/// A loss's gradient, `scale` times a few ulps of exp/log per element.
pub fn loss_grad(scale: f32, rv: f64) -> f64 {
    f64::from(scale) * 8.0 * U + 16.0 * U * rv.abs()
}

/// Each row's loss (`rscale` times a sum over `cols` elements): a few ulps
/// of exp/log per element and the sum's rounding, of the row's
/// `magnitude` ([`row_loss_magnitudes`]).
pub fn row_loss(rscale: f32, cols: usize, magnitude: f64) -> f64 {
    let sc = (cols as f64).sqrt();
    f64::from(rscale) * (2.0 * sc + 16.0) * U * magnitude
}

/// Per row, the sum of its elements' |loss| + 1: what [`row_loss`] scales.
pub fn row_loss_magnitudes(
    pred: &[f32],
    target: &[f32],
    rows: usize,
    cols: usize,
    loss: Loss,
) -> Vec<f64> {
    (0..rows)
        .map(|row| {
            (row * cols..(row + 1) * cols)
                .map(|i| element_loss(f64::from(pred[i]), f64::from(target[i]), loss).abs() + 1.0)
                .sum::<f64>()
        })
        .collect()
}

/// Batch-norm statistics of `xs` (`n` samples of `c` channels of `s`
/// values), laid out as `c` means then `c` variances (`var`, the twin's):
/// a sum of `n s` terms, 2 sqrt(n s) u of the sum of their magnitudes; a
/// variance adds the squared deviations and the mean's error squared.
pub fn bn_stats<'a>(
    xs: &[f64],
    n: usize,
    c: usize,
    s: usize,
    var: &'a [f64],
) -> impl Fn(usize, f64) -> f64 + 'a {
    let m = (n * s) as f64;
    let mean_abs: Vec<f64> = (0..c)
        .map(|ch| {
            (0..n * c * s)
                .filter(|i| (i / s) % c == ch)
                .map(|i| xs[i].abs())
                .sum::<f64>()
                / m
        })
        .collect();
    move |i, rv| {
        let ch = i % c;
        let k = 2.0 * m.sqrt() * U;
        if i < c {
            k * mean_abs[ch] + 2.0 * U * rv.abs()
        } else {
            2.0 * k * (var[ch] + mean_abs[ch].powi(2)) + 2.0 * U * rv.abs()
        }
    }
}
