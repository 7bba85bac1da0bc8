//! f64 twins of shaders/vae.wgsl: the reparameterization, its gradient and
//! the KL divergence per row.

use crate::reference::widen::w;

pub fn vae_reparam(head: &[f32], eps: &[f32], rows: usize, code: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(rows * code);
    for b in 0..rows {
        for j in 0..code {
            let mu = w(head[b * 2 * code + j]);
            let lv = w(head[b * 2 * code + code + j]);
            out.push(mu + (0.5 * lv).exp() * w(eps[b * code + j]));
        }
    }
    out
}

pub fn vae_backward(
    head: &[f32],
    eps: &[f32],
    dz: &[f32],
    rows: usize,
    code: usize,
    beta: f32,
) -> Vec<f64> {
    let coef = w(beta) / rows as f64;
    let mut out = vec![0.0; rows * 2 * code];
    for b in 0..rows {
        for j in 0..code {
            let mu = w(head[b * 2 * code + j]);
            let lv = w(head[b * 2 * code + code + j]);
            let g = w(dz[b * code + j]);
            let s = (0.5 * lv).exp();
            out[b * 2 * code + j] = g + coef * mu;
            out[b * 2 * code + code + j] =
                0.5 * g * w(eps[b * code + j]) * s + 0.5 * coef * (s * s - 1.0);
        }
    }
    out
}

/// KL(N(mu, exp(lv)) || N(0, I)) of each row, times `scale`.
pub fn vae_kl_rows(head: &[f64], rows: usize, code: usize, scale: f64) -> Vec<f64> {
    (0..rows)
        .map(|b| {
            let s: f64 = (0..code)
                .map(|j| {
                    let mu = head[b * 2 * code + j];
                    let lv = head[b * 2 * code + code + j];
                    1.0 + lv - mu * mu - lv.exp()
                })
                .sum();
            -0.5 * scale * s
        })
        .collect()
}
