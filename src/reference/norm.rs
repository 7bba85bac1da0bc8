//! f64 twins of shaders/norm.wgsl: batch normalization over (n, c, s)
//! tensors. They take f64 values, so the layer's twin and the finite
//! differences can call them as well as the kernel tests (which widen what
//! the GPU saw).

use crate::op::Activation;
use crate::reference::elementwise::act;

/// The flat index of value j of channel ch in an (n, c, s) tensor.
fn at(c: usize, s: usize, ch: usize, j: usize) -> usize {
    let (b, k) = (j / s, j % s);
    (b * c + ch) * s + k
}

/// (mean, biased variance) of each channel.
pub fn bn_stats(x: &[f64], n: usize, c: usize, s: usize) -> (Vec<f64>, Vec<f64>) {
    let m = (n * s) as f64;
    let mut mean = vec![0.0; c];
    let mut var = vec![0.0; c];
    for ch in 0..c {
        mean[ch] = (0..n * s).map(|j| x[at(c, s, ch, j)]).sum::<f64>() / m;
        var[ch] = (0..n * s)
            .map(|j| (x[at(c, s, ch, j)] - mean[ch]).powi(2))
            .sum::<f64>()
            / m;
    }
    (mean, var)
}

/// The running statistics moved toward the batch's (PyTorch's rule, the
/// variance unbiased over m = n * s values, itself when m = 1).
pub fn bn_running(
    running_mean: &mut [f64],
    running_var: &mut [f64],
    mean: &[f64],
    var: &[f64],
    m: usize,
    momentum: f64,
) {
    let unbias = if m > 1 {
        m as f64 / (m - 1) as f64
    } else {
        1.0
    };
    for ch in 0..mean.len() {
        running_mean[ch] += momentum * (mean[ch] - running_mean[ch]);
        running_var[ch] += momentum * (var[ch] * unbias - running_var[ch]);
    }
}

/// `act(gamma * (x - mean) / sqrt(var + eps) + beta)`.
#[allow(clippy::too_many_arguments)]
pub fn bn_apply(
    x: &[f64],
    c: usize,
    s: usize,
    mean: &[f64],
    var: &[f64],
    gamma: &[f64],
    beta: &[f64],
    eps: f64,
    a: Activation,
) -> Vec<f64> {
    x.iter()
        .enumerate()
        .map(|(i, &v)| {
            let ch = (i / s) % c;
            act(
                gamma[ch] * (v - mean[ch]) / (var[ch] + eps).sqrt() + beta[ch],
                a,
            )
        })
        .collect()
}

/// (sum dy * xhat, sum dy) over each channel, xhat from the batch statistics.
#[allow(clippy::too_many_arguments)]
pub fn bn_grad_sums(
    x: &[f64],
    dy: &[f64],
    n: usize,
    c: usize,
    s: usize,
    mean: &[f64],
    var: &[f64],
    eps: f64,
) -> (Vec<f64>, Vec<f64>) {
    let mut sdx = vec![0.0; c];
    let mut sd = vec![0.0; c];
    for ch in 0..c {
        let r = 1.0 / (var[ch] + eps).sqrt();
        for j in 0..n * s {
            let i = at(c, s, ch, j);
            sdx[ch] += dy[i] * (x[i] - mean[ch]) * r;
            sd[ch] += dy[i];
        }
    }
    (sdx, sd)
}

/// The input's gradient of a normalization with batch statistics.
#[allow(clippy::too_many_arguments)]
pub fn bn_dx(
    x: &[f64],
    dy: &[f64],
    n: usize,
    c: usize,
    s: usize,
    gamma: &[f64],
    eps: f64,
) -> Vec<f64> {
    let (mean, var) = bn_stats(x, n, c, s);
    let (sdx, sd) = bn_grad_sums(x, dy, n, c, s, &mean, &var, eps);
    let m = (n * s) as f64;
    x.iter()
        .enumerate()
        .map(|(i, &v)| {
            let ch = (i / s) % c;
            let r = 1.0 / (var[ch] + eps).sqrt();
            let xhat = (v - mean[ch]) * r;
            gamma[ch] * r * (dy[i] - sd[ch] / m - xhat * sdx[ch] / m)
        })
        .collect()
}
