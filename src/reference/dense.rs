//! f64 twin of a Dense layer (`plan/dense.rs`): `z = x W^T + b` with W
//! stored (outputs, inputs), or `z = x W_e + b` for a tied layer using its
//! mirror's W_e (inputs, outputs); its parameter gradients and its input
//! gradient. Plain loops over rows and columns.

use crate::model::LayerSpec;
use crate::reference::layer::{LayerTwin, ParamGrads, Weights};

/// The Dense layer's twin.
pub struct Dense;

impl LayerTwin for Dense {
    /// The pre-activation z (rows, outputs) of input x (rows, inputs).
    fn forward(&self, l: &LayerSpec, x: &[f64], p: &Weights, rows: usize) -> Vec<f64> {
        let (w, b, transposed) = (p.get("weight"), p.get("bias"), p.transposed);
        let (k, n) = (l.inputs, l.outputs);
        let mut out = vec![0.0; rows * n];
        for r in 0..rows {
            for j in 0..n {
                let mut s = 0.0;
                for i in 0..k {
                    s += x[r * k + i] * weight(w, i, j, k, n, transposed);
                }
                out[r * n + j] = s + b.get(j).copied().unwrap_or(0.0);
            }
        }
        out
    }

    /// The weight gradient `dz^T . x` (laid out as the weight) and, where
    /// the layer has a bias, the bias gradient `sum_rows dz`.
    fn param_grads(
        &self,
        l: &LayerSpec,
        p: &Weights,
        x: &[f64],
        dz: &[f64],
        rows: usize,
    ) -> ParamGrads {
        let (k, n) = (l.inputs, l.outputs);
        let mut gw = vec![0.0; k * n];
        let mut gb = vec![0.0; n];
        for j in 0..n {
            for i in 0..k {
                let g: f64 = (0..rows).map(|r| dz[r * n + j] * x[r * k + i]).sum();
                let at = if p.transposed { i * n + j } else { j * k + i };
                gw[at] = g;
            }
            gb[j] = (0..rows).map(|r| dz[r * n + j]).sum();
        }
        let mut out = vec![("weight", gw)];
        if !p.get("bias").is_empty() {
            out.push(("bias", gb));
        }
        out
    }

    /// The gradient w.r.t. the input, `dz . W` (rows, inputs).
    fn input_grad(
        &self,
        l: &LayerSpec,
        p: &Weights,
        _x: &[f64],
        dz: &[f64],
        rows: usize,
    ) -> Vec<f64> {
        let (w, transposed) = (p.get("weight"), p.transposed);
        let (k, n) = (l.inputs, l.outputs);
        let mut out = vec![0.0; rows * k];
        for r in 0..rows {
            for i in 0..k {
                out[r * k + i] = (0..n)
                    .map(|j| dz[r * n + j] * weight(w, i, j, k, n, transposed))
                    .sum();
            }
        }
        out
    }
}

/// W[j, i] of an untied layer, W_e[i, j] of a tied one.
fn weight(w: &[f64], i: usize, j: usize, inputs: usize, outputs: usize, transposed: bool) -> f64 {
    if transposed {
        w[i * outputs + j]
    } else {
        w[j * inputs + i]
    }
}

/// The twin of a Dense layer at every step of a sequence.
pub struct StepDense;

impl LayerTwin for StepDense {
    fn forward(&self, l: &LayerSpec, x: &[f64], p: &Weights, rows: usize) -> Vec<f64> {
        let (step, n) = l.per_step(rows);
        Dense.forward(&step, x, p, n)
    }

    fn param_grads(
        &self,
        l: &LayerSpec,
        p: &Weights,
        x: &[f64],
        dz: &[f64],
        rows: usize,
    ) -> ParamGrads {
        let (step, n) = l.per_step(rows);
        Dense.param_grads(&step, p, x, dz, n)
    }

    fn input_grad(
        &self,
        l: &LayerSpec,
        p: &Weights,
        x: &[f64],
        dz: &[f64],
        rows: usize,
    ) -> Vec<f64> {
        let (step, n) = l.per_step(rows);
        Dense.input_grad(&step, p, x, dz, n)
    }
}
