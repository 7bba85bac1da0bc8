//! f64 twins of shaders/penalty.wgsl: the L1 and KL sparsity penalties and
//! their gradients.

use crate::reference::widen::w;

pub fn l1_grad(h: &[f32], g: &[f32], lambda: f32) -> Vec<f64> {
    h.iter()
        .zip(g)
        .map(|(&h, &g)| {
            let s = if h > 0.0 {
                1.0
            } else if h < 0.0 {
                -1.0
            } else {
                0.0
            };
            w(g) + w(lambda) * s
        })
        .collect()
}

const RH_EPS: f64 = 1e-6;

fn clamp_rho_hat(r: f64) -> f64 {
    r.clamp(RH_EPS, 1.0 - RH_EPS)
}

pub fn kl_divergence(rho: f64, rho_hat: f64) -> f64 {
    let rh = clamp_rho_hat(rho_hat);
    rho * (rho / rh).ln() + (1.0 - rho) * ((1.0 - rho) / (1.0 - rh)).ln()
}

pub fn kl_loss(rho_hat: &[f32], rho: f32, beta: f32) -> Vec<f64> {
    rho_hat
        .iter()
        .map(|&r| w(beta) * kl_divergence(w(rho), w(r)))
        .collect()
}

pub fn kl_grad(
    rho_hat: &[f32],
    g: &[f32],
    rows: usize,
    cols: usize,
    rho: f32,
    beta: f32,
) -> Vec<f64> {
    let rho = w(rho);
    (0..rows * cols)
        .map(|i| {
            let rh = clamp_rho_hat(w(rho_hat[i % cols]));
            w(g[i]) + w(beta) / rows as f64 * (-rho / rh + (1.0 - rho) / (1.0 - rh))
        })
        .collect()
}

/// The whole KL sparsity penalty of activations h (rows, cols):
/// beta * sum_j KL(rho || mean_i h[i, j]). Its gradient is kl_grad.
pub fn kl_penalty(h: &[f64], rows: usize, cols: usize, rho: f64, beta: f64) -> f64 {
    (0..cols)
        .map(|j| {
            let mean = (0..rows).map(|i| h[i * cols + j]).sum::<f64>() / rows as f64;
            beta * kl_divergence(rho, mean)
        })
        .sum()
}
