//! f64 twins of shaders/elementwise.wgsl: activations and their
//! derivatives, axpby and the elementwise product.

use crate::op::Activation;
use crate::reference::softmax::softmax_rows;
use crate::reference::widen::w;

pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

pub fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

const GELU_C: f64 = 0.797_884_560_802_865_4;
const GELU_K: f64 = 0.044715;

/// f(x) for an elementwise activation.
pub fn act(x: f64, a: Activation) -> f64 {
    match a {
        Activation::Identity | Activation::Softmax => x,
        Activation::Relu => x.max(0.0),
        Activation::LeakyRelu(s) => {
            if x > 0.0 {
                x
            } else {
                w(s) * x
            }
        }
        Activation::Sigmoid => sigmoid(x),
        Activation::Tanh => x.tanh(),
        Activation::Gelu => 0.5 * x * (1.0 + (GELU_C * (x + GELU_K * x * x * x)).tanh()),
    }
}

/// f'(z) for an elementwise activation.
pub fn act_derivative(z: f64, a: Activation) -> f64 {
    match a {
        Activation::Identity | Activation::Softmax => 1.0,
        Activation::Relu => {
            if z > 0.0 {
                1.0
            } else {
                0.0
            }
        }
        Activation::LeakyRelu(s) => {
            if z > 0.0 {
                1.0
            } else {
                w(s)
            }
        }
        Activation::Sigmoid => {
            let y = sigmoid(z);
            y * (1.0 - y)
        }
        Activation::Tanh => 1.0 - z.tanh().powi(2),
        Activation::Gelu => {
            let t = (GELU_C * (z + GELU_K * z * z * z)).tanh();
            let du = GELU_C * (1.0 + 3.0 * GELU_K * z * z);
            0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * du
        }
    }
}

/// act_forward: elementwise, or softmax over each row of (rows, cols).
pub fn act_forward(x: &[f32], a: Activation, rows: usize, cols: usize) -> Vec<f64> {
    if a == Activation::Softmax {
        return softmax_rows(&x.iter().map(|&v| w(v)).collect::<Vec<_>>(), rows, cols);
    }
    x.iter().map(|&v| act(w(v), a)).collect()
}

/// act_backward: dz = dy * f'(z); for softmax, from y = softmax(z).
pub fn act_backward(
    z: &[f32],
    y: &[f32],
    dy: &[f32],
    a: Activation,
    rows: usize,
    cols: usize,
) -> Vec<f64> {
    if a == Activation::Softmax {
        let mut out = vec![0.0; rows * cols];
        for r in 0..rows {
            let row = r * cols..(r + 1) * cols;
            let d: f64 = row.clone().map(|i| w(dy[i]) * w(y[i])).sum();
            for i in row {
                out[i] = w(y[i]) * (w(dy[i]) - d);
            }
        }
        return out;
    }
    z.iter()
        .zip(dy)
        .map(|(&z, &g)| w(g) * act_derivative(w(z), a))
        .collect()
}

pub fn mul(x: &[f32], y: &[f32]) -> Vec<f64> {
    x.iter().zip(y).map(|(&a, &b)| w(a) * w(b)).collect()
}

pub fn axpby(alpha: f32, x: &[f32], beta: f32, out: &[f32]) -> Vec<f64> {
    x.iter()
        .zip(out)
        .map(|(&x, &o)| {
            let base = w(alpha) * w(x);
            if beta != 0.0 {
                base + w(beta) * w(o)
            } else {
                base
            }
        })
        .collect()
}
