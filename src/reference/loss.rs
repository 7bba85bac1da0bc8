//! f64 twins of shaders/loss.wgsl: the losses, their gradients, the per-row
//! losses.

use crate::op::Loss;
use crate::reference::elementwise::{sigmoid, softplus};
use crate::reference::widen::w;

pub fn element_loss(pred: f64, t: f64, loss: Loss) -> f64 {
    match loss {
        Loss::Mse => (pred - t).powi(2),
        Loss::BceLogits => softplus(pred) - pred * t,
    }
}

pub fn element_loss_grad(pred: f64, t: f64, loss: Loss) -> f64 {
    match loss {
        Loss::Mse => 2.0 * (pred - t),
        Loss::BceLogits => sigmoid(pred) - t,
    }
}

pub fn loss_grad(pred: &[f32], target: &[f32], loss: Loss, scale: f32) -> Vec<f64> {
    pred.iter()
        .zip(target)
        .map(|(&p, &t)| w(scale) * element_loss_grad(w(p), w(t), loss))
        .collect()
}

pub fn row_loss(
    pred: &[f32],
    target: &[f32],
    rows: usize,
    cols: usize,
    loss: Loss,
    scale: f32,
) -> Vec<f64> {
    (0..rows)
        .map(|r| {
            let s: f64 = (r * cols..(r + 1) * cols)
                .map(|i| element_loss(w(pred[i]), w(target[i]), loss))
                .sum();
            w(scale) * s
        })
        .collect()
}
