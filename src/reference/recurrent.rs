//! f64 twins of shaders/recurrent.wgsl: an LSTM or GRU layer over a whole
//! sequence (PyTorch's equations and gate order), forward and backward
//! through time, with the tensors laid out as the GPU's (see the shader's
//! header), and the layer's parameter and input gradients from them.

use crate::kernels::RecDims;
use crate::model::layer::{steps_features, Recurrence};
use crate::model::{LayerKind, LayerSpec};
use crate::reference::layer::{LayerTwin, ParamGrads, Weights};

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// What the forward pass keeps: `state` and `cell` (T + 1, N, H) with the
/// initial zeros first, `gates` (T, N, 4H), `out` (N, T, H).
pub struct RecForward {
    pub state: Vec<f64>,
    pub cell: Vec<f64>,
    pub gates: Vec<f64>,
    pub out: Vec<f64>,
}

/// The gradients w.r.t. the input projection, `dxw` (N, T, G H), and
/// w.r.t. the recurrent product, `dhw` (T, N, G H).
pub struct RecBackward {
    pub dxw: Vec<f64>,
    pub dhw: Vec<f64>,
}

/// The layer over its input projection `xw` (N, T, G H) with `whh` (G H, H)
/// and `bhh` (G H), from zero initial states.
pub fn rec_forward(
    cell: Recurrence,
    d: RecDims,
    xw: &[f64],
    whh: &[f64],
    bhh: &[f64],
) -> RecForward {
    let (n, steps, h, g) = (d.n, d.steps, d.h, cell.gates());
    let mut f = RecForward {
        state: vec![0.0; (steps + 1) * n * h],
        cell: vec![0.0; (steps + 1) * n * h],
        gates: vec![0.0; steps * n * 4 * h],
        out: vec![0.0; n * steps * h],
    };
    for t in 0..steps {
        for b in 0..n {
            let hp: Vec<f64> = f.state[(t * n + b) * h..][..h].to_vec();
            let rec = |row: usize| -> f64 {
                bhh[row] + (0..h).map(|m| hp[m] * whh[row * h + m]).sum::<f64>()
            };
            for j in 0..h {
                let x = |k: usize| xw[(b * steps + t) * g * h + k * h + j];
                let gi = (t * n + b) * 4 * h + j;
                let (now, next) = ((t * n + b) * h + j, ((t + 1) * n + b) * h + j);
                let hv = match cell {
                    Recurrence::Lstm => {
                        let i = sigmoid(x(0) + rec(j));
                        let fg = sigmoid(x(1) + rec(h + j));
                        let gg = (x(2) + rec(2 * h + j)).tanh();
                        let o = sigmoid(x(3) + rec(3 * h + j));
                        let c = fg * f.cell[now] + i * gg;
                        f.cell[next] = c;
                        for (k, v) in [i, fg, gg, o].into_iter().enumerate() {
                            f.gates[gi + k * h] = v;
                        }
                        o * c.tanh()
                    }
                    Recurrence::Gru => {
                        let r = sigmoid(x(0) + rec(j));
                        let z = sigmoid(x(1) + rec(h + j));
                        let hn = rec(2 * h + j);
                        let nn = (x(2) + r * hn).tanh();
                        for (k, v) in [r, z, nn, hn].into_iter().enumerate() {
                            f.gates[gi + k * h] = v;
                        }
                        (1.0 - z) * nn + z * hp[j]
                    }
                };
                f.state[next] = hv;
                f.out[(b * steps + t) * h + j] = hv;
            }
        }
    }
    f
}

/// Backward through time from `dout` (N, T, H), the gradient w.r.t. the
/// layer's output: the step kernels' outputs, with the recurrent gradient
/// `dhw_t W_hh` carried into the step before.
pub fn rec_backward(
    cell: Recurrence,
    d: RecDims,
    f: &RecForward,
    whh: &[f64],
    dout: &[f64],
) -> RecBackward {
    let (n, steps, h, g) = (d.n, d.steps, d.h, cell.gates());
    let mut b_ = RecBackward {
        dxw: vec![0.0; n * steps * g * h],
        dhw: vec![0.0; steps * n * g * h],
    };
    let mut dhrec = vec![0.0; n * h];
    let mut carry = vec![0.0; n * h];
    for t in (0..steps).rev() {
        for b in 0..n {
            for j in 0..h {
                let i = b * h + j;
                let gi = (t * n + b) * 4 * h + j;
                let gate = |k: usize| f.gates[gi + k * h];
                let x = (b * steps + t) * g * h + j;
                let w = (t * n + b) * g * h + j;
                let (now, next) = ((t * n + b) * h + j, ((t + 1) * n + b) * h + j);
                let dh = dout[(b * steps + t) * h + j] + dhrec[i];
                let (dx, dr) = match cell {
                    Recurrence::Lstm => {
                        let (ig, fg, gg, og) = (gate(0), gate(1), gate(2), gate(3));
                        let tc = f.cell[next].tanh();
                        let dc = carry[i] + dh * og * (1.0 - tc * tc);
                        carry[i] = dc * fg;
                        let v = [
                            dc * gg * ig * (1.0 - ig),
                            dc * f.cell[now] * fg * (1.0 - fg),
                            dc * ig * (1.0 - gg * gg),
                            dh * tc * og * (1.0 - og),
                        ];
                        (v.to_vec(), v.to_vec())
                    }
                    Recurrence::Gru => {
                        let dh = dh + carry[i];
                        let (r, z, nn, hn) = (gate(0), gate(1), gate(2), gate(3));
                        carry[i] = dh * z;
                        let dan = dh * (1.0 - z) * (1.0 - nn * nn);
                        let drr = dan * hn * r * (1.0 - r);
                        let dz = dh * (f.state[now] - nn) * z * (1.0 - z);
                        (vec![drr, dz, dan], vec![drr, dz, dan * r])
                    }
                };
                for k in 0..g {
                    b_.dxw[x + k * h] = dx[k];
                    b_.dhw[w + k * h] = dr[k];
                }
            }
        }
        // dhrec = dhw_t W_hh: (N, G H) x (G H, H).
        for b in 0..n {
            for m in 0..h {
                dhrec[b * h + m] = (0..g * h)
                    .map(|r| b_.dhw[(t * n + b) * g * h + r] * whh[r * h + m])
                    .sum();
            }
        }
    }
    b_
}

/// A layer's parameters, PyTorch's: `w_ih` (G H, F), `w_hh` (G H, H),
/// `b_ih` and `b_hh` (G H).
pub struct RecWeights<'a> {
    pub w_ih: &'a [f64],
    pub w_hh: &'a [f64],
    pub b_ih: &'a [f64],
    pub b_hh: &'a [f64],
}

/// The input projection `x W_ih^T + b_ih` of `x` (N, T, F).
pub fn input_projection(
    cell: Recurrence,
    d: RecDims,
    f_in: usize,
    x: &[f64],
    p: &RecWeights,
) -> Vec<f64> {
    let gh = cell.gates() * d.h;
    let mut xw = vec![0.0; d.n * d.steps * gh];
    for row in 0..d.n * d.steps {
        for r in 0..gh {
            xw[row * gh + r] = p.b_ih[r]
                + (0..f_in)
                    .map(|c| x[row * f_in + c] * p.w_ih[r * f_in + c])
                    .sum::<f64>();
        }
    }
    xw
}

/// The gradients of `x`, `w_ih`, `w_hh`, `b_ih` and `b_hh` from a backward
/// pass `g` over input `x` (N, T, F) and forward pass `f`.
pub fn rec_param_grads(
    cell: Recurrence,
    d: RecDims,
    f_in: usize,
    x: &[f64],
    p: &RecWeights,
    f: &RecForward,
    g: &RecBackward,
) -> [Vec<f64>; 5] {
    let (n, steps, h) = (d.n, d.steps, d.h);
    let gh = cell.gates() * h;
    let rows = n * steps;
    let mut dx = vec![0.0; rows * f_in];
    let mut dw_ih = vec![0.0; gh * f_in];
    let mut db_ih = vec![0.0; gh];
    let mut dw_hh = vec![0.0; gh * h];
    let mut db_hh = vec![0.0; gh];
    for row in 0..rows {
        for r in 0..gh {
            let v = g.dxw[row * gh + r];
            db_ih[r] += v;
            for c in 0..f_in {
                dw_ih[r * f_in + c] += v * x[row * f_in + c];
                dx[row * f_in + c] += v * p.w_ih[r * f_in + c];
            }
        }
    }
    for tn in 0..steps * n {
        for r in 0..gh {
            let v = g.dhw[tn * gh + r];
            db_hh[r] += v;
            for m in 0..h {
                dw_hh[r * h + m] += v * f.state[tn * h + m];
            }
        }
    }
    [dx, dw_ih, dw_hh, db_ih, db_hh]
}

/// The gradient w.r.t. every step's output (N, T, H) of a layer that
/// returns its last state, from the gradient `dz` (N, H) of that state.
pub fn last_step_grad(dz: &[f64], rows: usize, steps: usize, h: usize) -> Vec<f64> {
    let mut v = vec![0.0; rows * steps * h];
    for r in 0..rows {
        v[(r * steps + steps - 1) * h..][..h].copy_from_slice(&dz[r * h..][..h]);
    }
    v
}

/// The `lstm` and `gru` layer kinds' twin.
pub struct Recurrent;

/// The layer's cell, sizes at `rows` sequences and input features.
fn layer_of(l: &LayerSpec, rows: usize) -> (Recurrence, RecDims, usize, bool) {
    let LayerKind::Recurrent(r) = l.kind else {
        panic!("layer {} is not recurrent", l.index);
    };
    let cell = r.cell;
    let (steps, f_in) = steps_features(l.in_shape);
    (
        cell,
        RecDims::dense(cell, rows, steps, r.hidden),
        f_in,
        r.return_sequences,
    )
}

fn weights<'a>(p: &Weights<'a>) -> RecWeights<'a> {
    RecWeights {
        w_ih: p.get("weight_ih_l0"),
        w_hh: p.get("weight_hh_l0"),
        b_ih: p.get("bias_ih_l0"),
        b_hh: p.get("bias_hh_l0"),
    }
}

/// The forward and backward passes over `x` from the output's gradient `dz`
/// (every step's, or the last step's alone): every gradient, `x`'s first.
fn grads(l: &LayerSpec, p: &Weights, x: &[f64], dz: &[f64], rows: usize) -> [Vec<f64>; 5] {
    let (cell, d, f_in, all) = layer_of(l, rows);
    let rw = weights(p);
    let xw = input_projection(cell, d, f_in, x, &rw);
    let f = rec_forward(cell, d, &xw, rw.w_hh, rw.b_hh);
    let dout = if all {
        dz.to_vec()
    } else {
        last_step_grad(dz, rows, d.steps, d.h)
    };
    let b = rec_backward(cell, d, &f, rw.w_hh, &dout);
    rec_param_grads(cell, d, f_in, x, &rw, &f, &b)
}

impl LayerTwin for Recurrent {
    fn forward(&self, l: &LayerSpec, x: &[f64], p: &Weights, rows: usize) -> Vec<f64> {
        let (cell, d, f_in, all) = layer_of(l, rows);
        let rw = weights(p);
        let xw = input_projection(cell, d, f_in, x, &rw);
        let f = rec_forward(cell, d, &xw, rw.w_hh, rw.b_hh);
        if all {
            f.out
        } else {
            f.state[d.steps * rows * d.h..].to_vec()
        }
    }

    fn param_grads(
        &self,
        l: &LayerSpec,
        p: &Weights,
        x: &[f64],
        dz: &[f64],
        rows: usize,
    ) -> ParamGrads {
        let [_, w_ih, w_hh, b_ih, b_hh] = grads(l, p, x, dz, rows);
        vec![
            ("weight_ih_l0", w_ih),
            ("weight_hh_l0", w_hh),
            ("bias_ih_l0", b_ih),
            ("bias_hh_l0", b_hh),
        ]
    }

    fn input_grad(
        &self,
        l: &LayerSpec,
        p: &Weights,
        x: &[f64],
        dz: &[f64],
        rows: usize,
    ) -> Vec<f64> {
        let [dx, ..] = grads(l, p, x, dz, rows);
        dx
    }
}
