//! f64 twins of shaders/contractive.wgsl: f' and f'' from the output, the
//! row sums of squared weights, and the penalty from its definition.

use crate::op::Activation;
use crate::reference::elementwise::act_derivative;
use crate::reference::widen::w;

/// f'(z) and f''(z) of a code activation, from y = f(z), as contractive.wgsl.
pub fn contractive_derivatives(y: f64, a: Activation) -> (f64, f64) {
    match a {
        Activation::Relu => (if y > 0.0 { 1.0 } else { 0.0 }, 0.0),
        Activation::LeakyRelu(s) => (if y > 0.0 { 1.0 } else { w(s) }, 0.0),
        Activation::Sigmoid => (y * (1.0 - y), y * (1.0 - y) * (1.0 - 2.0 * y)),
        Activation::Tanh => (1.0 - y * y, -2.0 * y * (1.0 - y * y)),
        _ => (1.0, 0.0),
    }
}

/// s_j = sum_i W_ji^2.
pub fn row_sq(wt: &[f32], hidden: usize, inputs: usize) -> Vec<f64> {
    (0..hidden)
        .map(|j| (0..inputs).map(|i| w(wt[j * inputs + i]).powi(2)).sum())
        .collect()
}

/// The contractive penalty lambda / rows * sum_b ||J_b||_F^2 of a one-layer
/// encoder h = f(x W^T + b), computed directly from its definition.
#[allow(clippy::too_many_arguments)]
pub fn contractive_penalty(
    x: &[f64],
    wt: &[f64],
    bias: &[f64],
    rows: usize,
    inputs: usize,
    hidden: usize,
    a: Activation,
    lambda: f64,
) -> f64 {
    let mut total = 0.0;
    for b in 0..rows {
        for j in 0..hidden {
            let z: f64 = bias[j]
                + (0..inputs)
                    .map(|i| x[b * inputs + i] * wt[j * inputs + i])
                    .sum::<f64>();
            let d = act_derivative(z, a);
            for i in 0..inputs {
                // J_b[j, i] = f'(z_bj) W_ji
                total += (d * wt[j * inputs + i]).powi(2);
            }
        }
    }
    lambda / rows as f64 * total
}
