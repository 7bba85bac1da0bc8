//! An f64 twin of a whole training step: forward, loss, penalties, backward,
//! weight decay, clipping and the optimizer, for every variant, over the same
//! parameter arena layout and the same random draws (same Philox streams) as
//! the GPU plan in `plan/`. Written as plainly as possible: loops over rows
//! and columns, no cleverness. Each layer kind's products come from its own
//! twin (`layer::twin`); [`RefTrainer::step`] runs the phases in order.

use crate::kernels::RandomFill;
use crate::model::{LayerSpec, LossKind, Missing, ModelConfig, Role};
use crate::op::OptimConfig;
use crate::plan::{stream, ParamLayout};
use crate::reference::layer::Weights;
use crate::reference::twin;
use crate::reference::{self as r, OptState};
use crate::train::TrainConfig;

/// What the forward pass leaves for the backward pass, per layer.
pub struct Forward {
    /// Each layer's input (the noisy input for the first layer).
    pub inputs: Vec<Vec<f64>>,
    pub zs: Vec<Vec<f64>>,
    pub ys: Vec<Vec<f64>>,
    /// Inverted-dropout masks where dropout applies.
    pub masks: Vec<Option<Vec<f64>>>,
    /// A VAE's noise.
    pub eps: Vec<f64>,
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
        let trainable = layout.trainable;
        Self {
            cfg: cfg.clone(),
            layers: cfg.layers(),
            layout,
            params: params.iter().map(|&v| f64::from(v)).collect(),
            m: vec![0.0; trainable],
            v: vec![0.0; trainable],
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

    /// Layer `li`'s parameters (empty slices for a kind without any) for a
    /// training pass or an evaluation one.
    fn weights(&self, li: usize, training: bool) -> Weights<'_> {
        self.weights_in(li, training, &[])
    }

    /// The same, with the input of the layer's residual block among the
    /// layers' `inputs` (for a block's end).
    fn weights_in<'a>(&'a self, li: usize, training: bool, inputs: &'a [Vec<f64>]) -> Weights<'a> {
        let lp = &self.layout.layers[li];
        Weights {
            params: lp
                .params
                .iter()
                .map(|&(name, i)| (name, self.entry(i)))
                .collect(),
            transposed: lp.transposed,
            buffers: lp
                .buffers
                .map_or(0..0, |first| first..first + lp.n_buffers)
                .map(|i| self.entry(i))
                .collect(),
            skip: self.layers[li]
                .skip()
                .and_then(|k| inputs.get(li - k.body))
                .map(Vec::as_slice),
            training,
        }
    }

    /// The buffers of every layer after the training pass `f`.
    fn update_buffers(&mut self, f: &Forward, rows: usize) {
        for (li, l) in self.layers.clone().iter().enumerate() {
            let fresh =
                twin(l.kind).updated_buffers(l, &self.weights(li, true), &f.inputs[li], rows);
            let Some(first) = self.layout.layers[li].buffers else {
                continue;
            };
            for (k, values) in fresh.into_iter().enumerate() {
                let e = &self.layout.entries[first + k];
                self.params[e.offset..e.offset + e.len()].copy_from_slice(&values);
            }
        }
    }

    /// The model in evaluation mode (no noise, no dropout, running
    /// statistics, a VAE's mean as its code): the reconstruction of `x`.
    pub fn predict(&self, x: &[f32], rows: usize) -> Vec<f64> {
        let mut cur: Vec<f64> = self.model_input(x).iter().map(|&v| f64::from(v)).collect();
        let mut inputs = Vec::new();
        for (li, l) in self.layers.iter().enumerate() {
            inputs.push(cur.clone());
            let z = twin(l.kind).forward(l, &cur, &self.weights_in(li, false, &inputs), rows);
            let y: Vec<f64> = z.iter().map(|&v| r::act(v, l.act)).collect();
            cur = if l.role == Role::VaeHead {
                let c = self.cfg.code_dim();
                (0..rows * c).map(|i| y[(i / c) * 2 * c + i % c]).collect()
            } else {
                y
            };
        }
        cur
    }

    fn entry(&self, i: usize) -> &[f64] {
        let e = &self.layout.entries[i];
        &self.params[e.offset..e.offset + e.len()]
    }

    /// One training step on `x` (rows, D): returns the batch's
    /// reconstruction objective.
    pub fn step(&mut self, x: &[f32], rows: usize) -> f64 {
        let x64: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
        let fwd = self.forward(x, rows);
        self.update_buffers(&fwd, rows);
        let (objective, dz_out) = self.loss(&fwd, &x64, rows);
        let mut grads = self.backward(&fwd, dz_out, rows);
        self.weight_decay(&mut grads);
        self.optimize(grads);
        objective
    }

    /// Forward through every layer with the step's noise, dropout and VAE
    /// draws.
    pub fn forward(&self, x: &[f32], rows: usize) -> Forward {
        let t = self.state.t;
        let cfg = &self.cfg;
        let x = &self.model_input(x);
        let mut cur: Vec<f64> = match cfg.noise {
            Some(kind) => r::noise(kind, self.seed, stream::NOISE, t, x),
            None => x.iter().map(|&v| f64::from(v)).collect(),
        };
        let mut f = Forward {
            inputs: Vec::new(),
            zs: Vec::new(),
            ys: Vec::new(),
            masks: Vec::new(),
            eps: Vec::new(),
        };
        for (li, l) in self.layers.iter().enumerate() {
            let z = twin(l.kind).forward(l, &cur, &self.weights_in(li, true, &f.inputs), rows);
            let y: Vec<f64> = z.iter().map(|&v| r::act(v, l.act)).collect();
            let mut next = y.clone();
            let mut mask = None;
            if l.role == Role::VaeHead {
                let c = cfg.code_dim();
                f.eps = r::random(
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
                        y[bi * 2 * c + j] + (0.5 * y[bi * 2 * c + c + j]).exp() * f.eps[i]
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
            f.inputs.push(std::mem::replace(&mut cur, next));
            f.zs.push(z);
            f.ys.push(y);
            f.masks.push(mask);
        }
        f
    }

    /// The reconstruction objective and its gradient w.r.t. the output
    /// layer's pre-activation.
    pub fn loss(&self, f: &Forward, x: &[f64], rows: usize) -> (f64, Vec<f64>) {
        let d = self.cfg.input_dim;
        let lo = self.layers.len() - 1;
        if self.cfg.missing == Missing::Mask {
            return self.masked_loss(f, x);
        }
        let scale = if self.cfg.variational.is_some() {
            1.0 / rows as f64
        } else {
            1.0 / (rows * d) as f64
        };
        let (zl, yl) = (&f.zs[lo], &f.ys[lo]);
        let mut objective = 0.0;
        let mut dz = vec![0.0; rows * d];
        for i in 0..rows * d {
            match self.cfg.loss {
                LossKind::Bce => {
                    objective += scale * (r::softplus(zl[i]) - zl[i] * x[i]);
                    dz[i] = scale * (r::sigmoid(zl[i]) - x[i]);
                }
                LossKind::Mse => {
                    objective += scale * (yl[i] - x[i]).powi(2);
                    dz[i] = scale
                        * 2.0
                        * (yl[i] - x[i])
                        * r::act_derivative(zl[i], self.layers[lo].act);
                }
            }
        }
        (objective, dz)
    }

    /// What the network reads of rows `x`: a masked model's missing
    /// entries as 0.
    fn model_input(&self, x: &[f32]) -> Vec<f32> {
        match self.cfg.missing {
            Missing::Mask => x
                .iter()
                .map(|&v| if v == crate::kernels::MISSING { 0.0 } else { v })
                .collect(),
            Missing::Refuse => x.to_vec(),
        }
    }

    /// [`Self::loss`] of a masked model: the mean over the observed
    /// entries of `x` (its missing ones `MISSING`).
    fn masked_loss(&self, f: &Forward, x: &[f64]) -> (f64, Vec<f64>) {
        let d = self.cfg.input_dim;
        let lo = self.layers.len() - 1;
        let raw: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let (filled, mask) = r::masked::unmask(&raw);
        let (loss, pred) = match self.cfg.loss {
            LossKind::Bce => (crate::op::Loss::BceLogits, &f.zs[lo]),
            LossKind::Mse => (crate::op::Loss::Mse, &f.ys[lo]),
        };
        let (mut dz, _) = r::masked::masked_loss(loss, pred, &filled, &mask, d, 1.0);
        let count = mask.iter().sum::<f64>().max(1.0);
        let mut objective = 0.0;
        for i in 0..x.len() {
            let (z, t) = (f.zs[lo][i], filled[i]);
            objective += mask[i]
                * match self.cfg.loss {
                    LossKind::Bce => r::softplus(z) - z * t,
                    LossKind::Mse => (f.ys[lo][i] - t).powi(2),
                }
                / count;
            if self.cfg.loss == LossKind::Mse {
                dz[i] *= r::act_derivative(z, self.layers[lo].act);
            }
        }
        (objective, dz)
    }

    /// Backward from the output's gradient: every parameter's gradient,
    /// with the variant's terms (the VAE head, dropout, the code's
    /// penalties, the contractive penalty) added where they enter.
    pub fn backward(&self, f: &Forward, dz_out: Vec<f64>, rows: usize) -> Vec<f64> {
        let lp = &self.layout.layers;
        let mut grads = vec![0.0; self.params.len()];
        let mut dz = dz_out;
        let mut cvec: Vec<f64> = Vec::new();
        // Residual shortcuts' gradients, by the layer whose input they
        // add to (their block's first).
        let mut shortcuts: Vec<(usize, Vec<f64>)> = Vec::new();
        for li in (0..self.layers.len()).rev() {
            let l = &self.layers[li];
            // Each parameter's gradient, added into the arena by name (a
            // tied weight gets its mirror's too).
            let p = self.weights_in(li, true, &f.inputs);
            if let Some(k) = l.skip() {
                shortcuts.push((li - k.body, twin(l.kind).skip_grad(l, &p, &dz, rows)));
            }
            for (name, g) in twin(l.kind).param_grads(l, &p, &f.inputs[li], &dz, rows) {
                let Some(i) = lp[li].get(name) else {
                    panic!("layer {li} ({}) has no parameter {name}", l.kind.name());
                };
                let e = &self.layout.entries[i];
                assert_eq!(g.len(), e.len(), "layer {li}'s {name} gradient");
                for (a, v) in grads[e.offset..e.offset + e.len()].iter_mut().zip(g) {
                    *a += v;
                }
            }
            if li == 0 && self.cfg.contractive > 0.0 {
                if let Some(wi) = lp[0].weight() {
                    let e = &self.layout.entries[wi];
                    self.contractive_wgrad(&cvec, rows, &mut grads[e.offset..e.offset + e.len()]);
                }
            }
            if li == 0 {
                break;
            }
            let mut d_in = twin(l.kind).input_grad(l, &p, &f.inputs[li], &dz, rows);
            for (_, g) in shortcuts.iter().filter(|(start, _)| *start == li) {
                d_in.iter_mut().zip(g).for_each(|(a, b)| *a += b);
            }
            // Into layer li - 1.
            let p = &self.layers[li - 1];
            if p.role == Role::VaeHead {
                dz = self.vae_head_grad(&f.ys[li - 1], &f.eps, &d_in, rows);
                continue;
            }
            let mut da = d_in;
            if let Some(mk) = &f.masks[li - 1] {
                da.iter_mut().zip(mk).for_each(|(g, m)| *g *= m);
            }
            if p.role == Role::Code {
                self.code_penalty_grads(&f.ys[li - 1], &mut da, rows);
            }
            let (zp, yp) = (&f.zs[li - 1], &f.ys[li - 1]);
            dz = (0..rows * p.outputs)
                .map(|i| da[i] * r::act_derivative(zp[i], p.act))
                .collect();
            if li - 1 == 0 && self.cfg.contractive > 0.0 {
                cvec = self.contractive_dz(p, yp, &mut dz, rows);
            }
        }
        grads
    }

    /// The VAE head's gradient from the code's, with the KL term's.
    fn vae_head_grad(&self, head: &[f64], eps: &[f64], dcode: &[f64], rows: usize) -> Vec<f64> {
        let c = self.cfg.code_dim();
        let coef = f64::from(self.cfg.variational.map_or(1.0, |v| v.beta)) / rows as f64;
        let mut dh = vec![0.0; rows * 2 * c];
        for bi in 0..rows {
            for j in 0..c {
                let (mu, lv) = (head[bi * 2 * c + j], head[bi * 2 * c + c + j]);
                let g = dcode[bi * c + j];
                let s = (0.5 * lv).exp();
                dh[bi * 2 * c + j] = g + coef * mu;
                dh[bi * 2 * c + c + j] = 0.5 * g * eps[bi * c + j] * s + 0.5 * coef * (s * s - 1.0);
            }
        }
        dh
    }

    /// The code's L1 and KL sparsity gradients, added to `da`.
    fn code_penalty_grads(&self, y: &[f64], da: &mut [f64], rows: usize) {
        let n = y.len() / rows;
        if self.cfg.l1 > 0.0 {
            let lam = f64::from(self.cfg.l1) / rows as f64;
            for (g, y) in da.iter_mut().zip(y) {
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
        if let Some(k) = self.cfg.kl_sparsity {
            let (rho, beta) = (f64::from(k.rho), f64::from(k.beta));
            for j in 0..n {
                let rh = ((0..rows).map(|bi| y[bi * n + j]).sum::<f64>() / rows as f64)
                    .clamp(1e-6, 1.0 - 1e-6);
                for bi in 0..rows {
                    da[bi * n + j] += beta / rows as f64 * (-rho / rh + (1.0 - rho) / (1.0 - rh));
                }
            }
        }
    }

    /// The contractive penalty's term in the first layer's dz; returns
    /// `c_j = sum_rows f'(z)^2`, which its weight gradient reads.
    fn contractive_dz(&self, l: &LayerSpec, y: &[f64], dz: &mut [f64], rows: usize) -> Vec<f64> {
        let coef = f64::from(self.cfg.contractive) / rows as f64;
        let w0 = self.weights(0, true).get("weight");
        let n = l.outputs;
        let s: Vec<f64> = (0..n)
            .map(|j| (0..l.inputs).map(|i| w0[j * l.inputs + i].powi(2)).sum())
            .collect();
        let mut cvec = vec![0.0; n];
        for bi in 0..rows {
            for j in 0..n {
                let (d1, d2) = r::contractive_derivatives(y[bi * n + j], l.act);
                dz[bi * n + j] += coef * 2.0 * s[j] * d1 * d2;
                cvec[j] += d1 * d1;
            }
        }
        cvec
    }

    /// The contractive penalty's term in the first layer's weight gradient.
    fn contractive_wgrad(&self, cvec: &[f64], rows: usize, gw: &mut [f64]) {
        let coef = f64::from(self.cfg.contractive) / rows as f64;
        let l = &self.layers[0];
        let w = self.weights(0, true).get("weight");
        for j in 0..l.outputs {
            for i in 0..l.inputs {
                gw[j * l.inputs + i] += coef * 2.0 * w[j * l.inputs + i] * cvec[j];
            }
        }
    }

    /// Coupled L2 weight decay on the weights (AdamW decays in the update).
    fn weight_decay(&self, grads: &mut [f64]) {
        if self.weight_decay == 0.0 {
            return;
        }
        for e in &self.layout.entries {
            if e.decay {
                let range = e.offset..e.offset + e.len();
                for (g, p) in grads[range.clone()].iter_mut().zip(&self.params[range]) {
                    *g += self.weight_decay * p;
                }
            }
        }
    }

    /// Clipping factor, schedule and the optimizer's update.
    fn optimize(&mut self, grads: Vec<f64>) {
        let gsq: f64 = grads.iter().map(|g| g * g).sum();
        r::optim_tick(&self.optim, &mut self.state, gsq);
        let trainable = self.layout.trainable;
        r::optim_update(
            &self.optim,
            &self.state,
            &mut self.params[..trainable],
            &grads[..trainable],
            &mut self.m,
            &mut self.v,
        );
        self.grads = grads;
    }
}
