//! An f64 twin of a whole training step: forward, loss, penalties, backward,
//! weight decay, clipping and the optimizer, for every variant, over the same
//! parameter arena layout and the same random draws (same Philox streams) as
//! the GPU plan in `train::net`. Written as plainly as possible: loops over
//! rows and columns, no cleverness.

use crate::kernels::{OptimConfig, RandomFill};
use crate::model::{LayerSpec, LossKind, ModelConfig, Role};
use crate::plan::stream;
use crate::plan::ParamLayout;
use crate::reference::{self as r, OptState};
use crate::train::TrainConfig;

/// `x (rows, k) . W^T` with W (n, k), or `x . W` with W (k, n) when `transposed`.
fn dense(x: &[f64], w: &[f64], rows: usize, k: usize, n: usize, transposed: bool) -> Vec<f64> {
    let mut out = vec![0.0; rows * n];
    for b in 0..rows {
        for j in 0..n {
            let mut s = 0.0;
            for i in 0..k {
                let wv = if transposed {
                    w[i * n + j]
                } else {
                    w[j * k + i]
                };
                s += x[b * k + i] * wv;
            }
            out[b * n + j] = s;
        }
    }
    out
}

/// A model's parameters, optimizer state and configuration in f64.
pub struct RefTrainer {
    pub cfg: ModelConfig,
    pub layers: Vec<LayerSpec>,
    pub layout: ParamLayout,
    pub params: Vec<f64>,
    pub m: Vec<f64>,
    pub v: Vec<f64>,
    pub state: OptState,
    pub optim: OptimConfig,
    pub weight_decay: f64,
    pub seed: u64,
    /// The last step's gradient arena (for inspection).
    pub grads: Vec<f64>,
}

impl RefTrainer {
    /// From a host copy of the GPU's initial parameter arena.
    pub fn new(
        cfg: &ModelConfig,
        tcfg: &TrainConfig,
        layout: ParamLayout,
        params: &[f32],
        steps_per_epoch: usize,
    ) -> Self {
        let n = params.len();
        Self {
            cfg: cfg.clone(),
            layers: cfg.layers(),
            layout,
            params: params.iter().map(|&v| f64::from(v)).collect(),
            m: vec![0.0; n],
            v: vec![0.0; n],
            state: OptState::default(),
            optim: tcfg.optim(steps_per_epoch),
            weight_decay: if tcfg.optimizer == crate::train::OptimizerName::Adamw {
                0.0
            } else {
                f64::from(tcfg.weight_decay)
            },
            seed: tcfg.seed,
            grads: vec![0.0; n],
        }
    }

    fn entry(&self, i: usize) -> &[f64] {
        let e = &self.layout.entries[i];
        &self.params[e.offset..e.offset + e.len()]
    }

    /// One training step on `x` (rows, D): returns the batch's objective.
    pub fn step(&mut self, x: &[f32], rows: usize) -> f64 {
        let d = self.cfg.input_dim;
        let t = self.state.t;
        let cfg = self.cfg.clone();
        let layers = self.layers.clone();
        let lp = self.layout.layers.clone();
        let x64: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();

        // ---- forward
        let input0: Vec<f64> = match cfg.noise {
            Some(kind) => r::noise(kind, self.seed, stream::NOISE, t, x),
            None => x64.clone(),
        };
        let mut inputs: Vec<Vec<f64>> = Vec::new();
        let mut zs: Vec<Vec<f64>> = Vec::new();
        let mut ys: Vec<Vec<f64>> = Vec::new();
        let mut masks: Vec<Option<Vec<f64>>> = Vec::new();
        let mut eps: Vec<f64> = Vec::new();
        let mut cur = input0;
        for (li, l) in layers.iter().enumerate() {
            let w = self.entry(lp[li].weight).to_vec();
            let b = self.entry(lp[li].bias).to_vec();
            let mut z = dense(&cur, &w, rows, l.inputs, l.outputs, lp[li].transposed);
            for bi in 0..rows {
                for j in 0..l.outputs {
                    z[bi * l.outputs + j] += b[j];
                }
            }
            let y: Vec<f64> = z.iter().map(|&v| r::act(v, l.act)).collect();
            inputs.push(cur.clone());
            let mut next = y.clone();
            let mut mask = None;
            if l.role == Role::VaeHead {
                let c = cfg.code_dim();
                eps = r::random(
                    RandomFill::Normal {
                        mean: 0.0,
                        std: 1.0,
                    },
                    self.seed,
                    stream::VAE_EPS,
                    t,
                    rows * c,
                );
                next = (0..rows * c)
                    .map(|i| {
                        let (bi, j) = (i / c, i % c);
                        y[bi * 2 * c + j] + (0.5 * y[bi * 2 * c + c + j]).exp() * eps[i]
                    })
                    .collect();
            } else if cfg.dropout > 0.0 && matches!(l.role, Role::Hidden | Role::Code) {
                let mk = r::random(
                    RandomFill::DropoutMask { p: cfg.dropout },
                    self.seed,
                    stream::DROPOUT_BASE + li as u32,
                    t,
                    rows * l.outputs,
                );
                next = y.iter().zip(&mk).map(|(a, m)| a * m).collect();
                mask = Some(mk);
            }
            zs.push(z);
            ys.push(y);
            masks.push(mask);
            cur = next;
        }

        // ---- loss and its gradient w.r.t. the output pre-activation
        let lo = layers.len() - 1;
        let vae = cfg.variational.is_some();
        let scale = if vae {
            1.0 / rows as f64
        } else {
            1.0 / (rows * d) as f64
        };
        let (zl, yl) = (&zs[lo], &ys[lo]);
        let mut objective = 0.0;
        let mut dz_out = vec![0.0; rows * d];
        for i in 0..rows * d {
            match cfg.loss {
                LossKind::Bce => {
                    objective += scale * (r::softplus(zl[i]) - zl[i] * x64[i]);
                    dz_out[i] = scale * (r::sigmoid(zl[i]) - x64[i]);
                }
                LossKind::Mse => {
                    objective += scale * (yl[i] - x64[i]).powi(2);
                    dz_out[i] =
                        scale * 2.0 * (yl[i] - x64[i]) * r::act_derivative(zl[i], layers[lo].act);
                }
            }
        }

        // ---- backward
        let mut grads = vec![0.0; self.params.len()];
        let mut dz = dz_out;
        let contractive = f64::from(cfg.contractive);
        let mut cvec: Vec<f64> = Vec::new();
        for li in (0..layers.len()).rev() {
            let l = layers[li];
            let input = &inputs[li];
            let (we, be) = (
                &self.layout.entries[lp[li].weight],
                &self.layout.entries[lp[li].bias],
            );
            for j in 0..l.outputs {
                for i in 0..l.inputs {
                    let g: f64 = (0..rows)
                        .map(|bi| dz[bi * l.outputs + j] * input[bi * l.inputs + i])
                        .sum();
                    // Untied W is (out, in); a tied layer's W_e is (in, out).
                    let at = if lp[li].transposed {
                        i * l.outputs + j
                    } else {
                        j * l.inputs + i
                    };
                    grads[we.offset + at] += g;
                }
                grads[be.offset + j] = (0..rows).map(|bi| dz[bi * l.outputs + j]).sum();
            }
            if li == 0 && contractive > 0.0 {
                let coef = contractive / rows as f64;
                let w = self.entry(lp[0].weight).to_vec();
                for j in 0..l.outputs {
                    for i in 0..l.inputs {
                        grads[we.offset + j * l.inputs + i] +=
                            coef * 2.0 * w[j * l.inputs + i] * cvec[j];
                    }
                }
            }
            if li == 0 {
                break;
            }
            let w = self.entry(lp[li].weight).to_vec();
            let mut d_in = vec![0.0; rows * l.inputs];
            for bi in 0..rows {
                for i in 0..l.inputs {
                    d_in[bi * l.inputs + i] = (0..l.outputs)
                        .map(|j| {
                            let wv = if lp[li].transposed {
                                w[i * l.outputs + j]
                            } else {
                                w[j * l.inputs + i]
                            };
                            dz[bi * l.outputs + j] * wv
                        })
                        .sum();
                }
            }
            // Into layer li - 1.
            let p = layers[li - 1];
            let (zp, yp) = (&zs[li - 1], &ys[li - 1]);
            if p.role == Role::VaeHead {
                let c = cfg.code_dim();
                let coef = f64::from(cfg.variational.unwrap().beta) / rows as f64;
                let mut dh = vec![0.0; rows * 2 * c];
                for bi in 0..rows {
                    for j in 0..c {
                        let (mu, lv) = (yp[bi * 2 * c + j], yp[bi * 2 * c + c + j]);
                        let g = d_in[bi * c + j];
                        let s = (0.5 * lv).exp();
                        dh[bi * 2 * c + j] = g + coef * mu;
                        dh[bi * 2 * c + c + j] =
                            0.5 * g * eps[bi * c + j] * s + 0.5 * coef * (s * s - 1.0);
                    }
                }
                dz = dh;
                continue;
            }
            let mut da = d_in;
            if let Some(mk) = &masks[li - 1] {
                da.iter_mut().zip(mk).for_each(|(g, m)| *g *= m);
            }
            let n = p.outputs;
            if p.role == Role::Code {
                if cfg.l1 > 0.0 {
                    let lam = f64::from(cfg.l1) / rows as f64;
                    for (g, y) in da.iter_mut().zip(yp) {
                        *g += lam
                            * if *y > 0.0 {
                                1.0
                            } else if *y < 0.0 {
                                -1.0
                            } else {
                                0.0
                            };
                    }
                }
                if let Some(k) = cfg.kl_sparsity {
                    let (rho, beta) = (f64::from(k.rho), f64::from(k.beta));
                    for j in 0..n {
                        let rh = ((0..rows).map(|bi| yp[bi * n + j]).sum::<f64>() / rows as f64)
                            .clamp(1e-6, 1.0 - 1e-6);
                        for bi in 0..rows {
                            da[bi * n + j] +=
                                beta / rows as f64 * (-rho / rh + (1.0 - rho) / (1.0 - rh));
                        }
                    }
                }
            }
            let mut dzp: Vec<f64> = (0..rows * n)
                .map(|i| da[i] * r::act_derivative(zp[i], p.act))
                .collect();
            if li - 1 == 0 && contractive > 0.0 {
                let coef = contractive / rows as f64;
                let w0 = self.entry(lp[0].weight).to_vec();
                let s: Vec<f64> = (0..n)
                    .map(|j| (0..p.inputs).map(|i| w0[j * p.inputs + i].powi(2)).sum())
                    .collect();
                cvec = vec![0.0; n];
                for bi in 0..rows {
                    for j in 0..n {
                        let (d1, d2) = r::contractive_derivatives(yp[bi * n + j], p.act);
                        dzp[bi * n + j] += coef * 2.0 * s[j] * d1 * d2;
                        cvec[j] += d1 * d1;
                    }
                }
            }
            dz = dzp;
        }

        // ---- weight decay, clipping, optimizer
        if self.weight_decay > 0.0 {
            for e in &self.layout.entries {
                if e.name.ends_with(".weight") {
                    let range = e.offset..e.offset + e.len();
                    for (g, p) in grads[range.clone()].iter_mut().zip(&self.params[range]) {
                        *g += self.weight_decay * p;
                    }
                }
            }
        }
        let gsq: f64 = grads.iter().map(|g| g * g).sum();
        r::optim_tick(&self.optim, &mut self.state, gsq);
        r::optim_update(
            &self.optim,
            &self.state,
            &mut self.params,
            &grads,
            &mut self.m,
            &mut self.v,
        );
        self.grads = grads;
        objective
    }
}
