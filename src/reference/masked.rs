//! f64 twin of shaders/masked.wgsl.

use crate::kernels::MISSING;
use crate::op::Loss;
use crate::reference::{sigmoid, softplus};

/// (filled, mask): `x` with each [`MISSING`] entry 0, and 1 where observed.
pub fn unmask(x: &[f32]) -> (Vec<f64>, Vec<f64>) {
    x.iter()
        .map(|&v| {
            if v == MISSING {
                (0.0, 0.0)
            } else {
                (f64::from(v), 1.0)
            }
        })
        .unzip()
}

/// The element's loss and its gradient w.r.t. the prediction.
fn loss_and_grad(loss: Loss, z: f64, t: f64) -> (f64, f64) {
    match loss {
        Loss::BceLogits => (softplus(z) - z * t, sigmoid(z) - t),
        Loss::Mse => ((z - t).powi(2), 2.0 * (z - t)),
    }
}

/// (gradient, row losses) of the masked loss: the gradient of the mean
/// over every observed entry, and `scale` x each row's mean over its own
/// observed entries (0 for a row with none).
pub fn masked_loss(
    loss: Loss,
    pred: &[f64],
    tgt: &[f64],
    mask: &[f64],
    cols: usize,
    scale: f64,
) -> (Vec<f64>, Vec<f64>) {
    let count: f64 = mask.iter().sum::<f64>().max(1.0);
    let mut grad = vec![0.0; pred.len()];
    let mut rows = Vec::new();
    for (r, ((p, t), m)) in pred
        .chunks(cols)
        .zip(tgt.chunks(cols))
        .zip(mask.chunks(cols))
        .enumerate()
    {
        let (mut sum, mut n) = (0.0, 0.0);
        for j in 0..cols {
            let (l, g) = loss_and_grad(loss, p[j], t[j]);
            sum += m[j] * l;
            n += m[j];
            grad[r * cols + j] = m[j] * g / count;
        }
        rows.push(scale * sum / n.max(1.0));
    }
    (grad, rows)
}
