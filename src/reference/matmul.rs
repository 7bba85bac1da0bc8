//! f64 twins of the matmul family (shaders/matmul*.wgsl): the product with
//! its rounding scale, the fused prologue's gate and the epilogue.

use crate::op::Activation;
use crate::reference::elementwise::{act, act_derivative};
use crate::reference::widen::w;

/// Element (i, j) of op(A) . op(B), plus sum_k |a_ik b_kj|, which sets the
/// rounding tolerance of an f32 dot product (Higham: |err| <~ sqrt(K) u sum|terms|).
#[allow(clippy::too_many_arguments)]
pub fn matmul(
    a: &[f32],
    b: &[f32],
    m: usize,
    n: usize,
    k: usize,
    trans_a: bool,
    trans_b: bool,
) -> (Vec<f64>, Vec<f64>) {
    let a: Vec<f64> = a.iter().map(|&v| w(v)).collect();
    let b: Vec<f64> = b.iter().map(|&v| w(v)).collect();
    matmul_f64(&a, &b, m, n, k, trans_a, trans_b)
}

/// f'(z) read from a fused kernel's gate: the output y = f(z) for sigmoid
/// and tanh, the pre-activation z otherwise (see `Activation::gate_is_output`).
pub fn act_derivative_from_gate(g: f64, a: Activation) -> f64 {
    match a {
        Activation::Sigmoid => g * (1.0 - g),
        Activation::Tanh => 1.0 - g * g,
        _ => act_derivative(g, a),
    }
}

/// x * f'(gate), element by element: the operand a fused prologue reads.
pub fn gated(x: &[f32], gate: &[f32], a: Activation) -> Vec<f64> {
    x.iter()
        .zip(gate)
        .map(|(&x, &g)| w(x) * act_derivative_from_gate(w(g), a))
        .collect()
}

/// [`matmul`] on f64 operands (for operands computed by a prologue).
#[allow(clippy::too_many_arguments)]
pub fn matmul_f64(
    a: &[f64],
    b: &[f64],
    m: usize,
    n: usize,
    k: usize,
    trans_a: bool,
    trans_b: bool,
) -> (Vec<f64>, Vec<f64>) {
    let mut out = vec![0.0; m * n];
    let mut norms = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut s = 0.0;
            let mut abs = 0.0;
            for kk in 0..k {
                let av = if trans_a {
                    a[kk * m + i]
                } else {
                    a[i * k + kk]
                };
                let bv = if trans_b {
                    b[j * k + kk]
                } else {
                    b[kk * n + j]
                };
                let t = av * bv;
                s += t;
                abs += t.abs();
            }
            out[i * n + j] = s;
            norms[i * n + j] = abs;
        }
    }
    (out, norms)
}

/// The matmul epilogue: act(alpha * acc + bias) + beta * c_in.
#[allow(clippy::too_many_arguments)]
pub fn matmul_epilogue(
    acc: &[f64],
    n: usize,
    alpha: f32,
    bias: Option<&[f32]>,
    a: Activation,
    beta: f32,
    c_in: &[f32],
) -> Vec<f64> {
    acc.iter()
        .enumerate()
        .map(|(i, &v)| {
            let mut v = w(alpha) * v;
            if let Some(b) = bias {
                v += w(b[i % n]);
            }
            v = act(v, a);
            if beta != 0.0 {
                v += w(beta) * w(c_in[i]);
            }
            v
        })
        .collect()
}
