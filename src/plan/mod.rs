//! The host graph: a model planned once, for a batch capacity, into GPU
//! buffers and a fixed list of [`Step`]s (forward, loss, penalties, backward).
//! Nothing here runs per training step: the trainer records these steps again
//! and again.
//!
//! The planner walks the model's layers and asks each layer's kind to plan
//! its own products (`dense.rs` for Dense; one file per kind); around them
//! it plans what every layer shares (activations, dropout) and what the
//! model's variant adds (input noise, the VAE code, sparsity and contractive
//! penalties).
//!
//! Shapes, for batch rows r <= cap and layer l with (in_l, out_l):
//!
//! ```text
//!   x, xin           (cap, D)        clean and corrupted input
//!   z[l]             (cap, out_l)    pre-activation, when the backward pass needs it
//!   a[l]             (cap, out_l)    output
//!   mask[l], ad[l]   (cap, out_l)    dropout mask and dropped-out output
//!   da[l], dz[l]     (cap, out_l)    gradients w.r.t. output and pre-activation
//!                                    (no dz[l] when its activation gradient is fused)
//!   eps, zc, dzc     (cap, c)        VAE noise, sampled code and its gradient
//! ```

pub mod conv;
pub mod dense;
pub mod layer;
pub mod layout;
pub mod mixed;
pub mod norm;
pub mod pool;
pub mod reshape;
pub mod stream;

/// The planning code of each layer kind, one line per kind.
pub fn planner(kind: LayerKind) -> &'static dyn LayerPlan {
    match kind {
        LayerKind::Dense => &Dense,
        LayerKind::Conv(_) => &Conv,
        LayerKind::ConvTranspose(_) => &ConvTranspose,
        LayerKind::MaxPool(_) | LayerKind::AvgPool(_) | LayerKind::Upsample { .. } => &Pooling,
        LayerKind::Reshape { .. } => &Reshape,
        LayerKind::BatchNorm(_) => &BatchNorm,
    }
}

use crate::error::Result;
use crate::gpu::{GpuContext, GpuTensor, Step};
use crate::kernels::{
    self as ops, Activation, Loss, MatmulSpec, RandomFill, ReduceMode, RngSpec, REDUCE_PARTIALS,
};
use crate::model::LayerKind;
use crate::model::{LayerSpec, LossKind, ModelConfig, Role};
use conv::{Conv, ConvTranspose};
use dense::Dense;
use layer::{Grad, LayerPlan, Params};
pub use layout::ParamLayout;
use norm::BatchNorm;
use pool::Pooling;
use reshape::Reshape;

/// Slots of the metrics buffer; each accumulates a sum over samples.
pub mod slot {
    /// The reconstruction term of the loss (per-sample mean over features;
    /// per-sample sum for a VAE).
    pub const RECON: usize = 0;
    /// Squared error per feature, of the output in data space.
    pub const MSE: usize = 1;
    /// Binary cross-entropy per feature (sigmoid outputs only).
    pub const BCE: usize = 2;
    /// Regularization penalties (L1, KL sparsity, contractive, beta * KL).
    pub const PENALTY: usize = 3;
    /// A VAE's KL(q(z|x) || p(z)).
    pub const KL: usize = 4;
    pub const COUNT: usize = 8;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Train,
    Eval,
}

/// Buffers of the planned model at capacity `cap` rows.
pub struct Net {
    pub cfg: ModelConfig,
    pub layers: Vec<LayerSpec>,
    pub layout: ParamLayout,
    pub cap: usize,
    pub mode: Mode,
    pub seed: u64,
    pub x: GpuTensor,
    xin: Option<GpuTensor>,
    z: Vec<Option<GpuTensor>>,
    a: Vec<GpuTensor>,
    mask: Vec<Option<GpuTensor>>,
    ad: Vec<Option<GpuTensor>>,
    da: Vec<Option<GpuTensor>>,
    dz: Vec<Option<GpuTensor>>,
    dad: Vec<Option<GpuTensor>>,
    /// What a layer's kind keeps from forward to backward (max pooling's argmax).
    scratch: Vec<Vec<GpuTensor>>,
    eps: Option<GpuTensor>,
    zc: Option<GpuTensor>,
    dzc: Option<GpuTensor>,
    rowbuf: GpuTensor,
    rowloss: Option<GpuTensor>,
    /// Per-sample MSE of the output, from the BCE loss kernel (training).
    rowmse: Option<GpuTensor>,
    partials: GpuTensor,
    pub metrics: GpuTensor,
    rho_hat: Option<GpuTensor>,
    klterms: Option<GpuTensor>,
    cs: Option<GpuTensor>,
    fp2: Option<GpuTensor>,
    cvec: Option<GpuTensor>,
    pen: Option<GpuTensor>,
}

/// Whether layer `l` keeps its pre-activation: the output layer always (its
/// logits feed BCE), and activations whose derivative cannot be read off the
/// output (gelu). Others fuse the activation into the matmul epilogue.
fn keeps_pre_activation(l: &LayerSpec) -> bool {
    l.role == Role::Output || !l.act.gate_may_be_output()
}

/// Whether layer `l`'s activation gradient dz = da * f'(z) is fused into the
/// kernels that consume it (the backward matmuls' prologue and the bias
/// gradient's column sum) instead of being written out by act_backward.
/// Not for the VAE head (its gradient comes from vae_backward), a
/// contractive encoder (its penalty adds to dz itself), or the output under
/// BCE (the loss kernel writes dz from the logits).
fn fuses_act_grad(ctx: &GpuContext, cfg: &ModelConfig, l: &LayerSpec) -> bool {
    ctx.fuse_act_grad()
        && planner(l.kind).fuses_act_grad()
        && l.act != Activation::Identity
        && l.act.is_elementwise()
        && l.role != Role::VaeHead
        && !(l.index == 0 && cfg.contractive > 0.0)
        && !(l.role == Role::Output && cfg.loss == LossKind::Bce)
}

fn has_dropout(cfg: &ModelConfig, l: &LayerSpec, mode: Mode) -> bool {
    mode == Mode::Train && cfg.dropout > 0.0 && matches!(l.role, Role::Hidden | Role::Code)
}

/// A buffer the plan made for this model and mode (a VAE's code, a kept
/// pre-activation); its absence is a planning bug, reported as one.
fn need<'a>(t: &'a Option<GpuTensor>, what: &str) -> Result<&'a GpuTensor> {
    t.as_ref().ok_or_else(|| crate::error::Error::Internal {
        op: "planning the model".into(),
        message: format!("the buffer {what} was not planned"),
    })
}

fn prefix(t: &GpuTensor, rows: usize, cols: usize) -> Result<GpuTensor> {
    t.view(0, rows * cols)
}

impl Net {
    /// The buffers and steps of `cfg` at capacity `cap` rows, over the
    /// parameters laid out as `layout` (built once, from the model).
    pub fn new(
        ctx: &GpuContext,
        cfg: &ModelConfig,
        layout: &ParamLayout,
        cap: usize,
        mode: Mode,
        seed: u64,
    ) -> Result<Self> {
        cfg.validate()?;
        let layers = cfg.layers();
        let layout = layout.clone();
        let d = cfg.input_dim;
        let c = cfg.code_dim();
        let train = mode == Mode::Train;
        let zeros = |name: &str, n: usize| ctx.zeros(name, n);
        let mut z = Vec::new();
        let mut a = Vec::new();
        let mut mask = Vec::new();
        let mut ad = Vec::new();
        let mut da = Vec::new();
        let mut dz = Vec::new();
        let mut dad = Vec::new();
        let mut scratch = Vec::new();
        for l in &layers {
            scratch.push(
                planner(l.kind)
                    .scratch(ctx, l, cap)
                    .into_iter()
                    .enumerate()
                    .map(|(i, words)| zeros(&format!("scratch{}.{i}", l.index), words))
                    .collect::<Result<Vec<_>>>()?,
            );
            let n = cap * l.outputs;
            let keep = keeps_pre_activation(l);
            z.push(if keep {
                Some(zeros(&format!("z{}", l.index), n)?)
            } else {
                None
            });
            a.push(zeros(&format!("a{}", l.index), n)?);
            let drop = has_dropout(cfg, l, mode);
            mask.push(if drop {
                Some(zeros(&format!("mask{}", l.index), n)?)
            } else {
                None
            });
            ad.push(if drop {
                Some(zeros(&format!("ad{}", l.index), n)?)
            } else {
                None
            });
            dad.push(if drop && train {
                Some(zeros(&format!("dad{}", l.index), n)?)
            } else {
                None
            });
            if train {
                // The VAE head's gradient comes straight from vae_backward.
                let needs_da = l.role != Role::VaeHead;
                da.push(if needs_da {
                    Some(zeros(&format!("da{}", l.index), n)?)
                } else {
                    None
                });
                let identity = l.act == Activation::Identity && l.role != Role::VaeHead;
                dz.push(if identity || fuses_act_grad(ctx, cfg, l) {
                    None
                } else {
                    Some(zeros(&format!("dz{}", l.index), n)?)
                });
            } else {
                da.push(None);
                dz.push(None);
            }
        }
        let vae = cfg.variational.is_some();
        let kl = cfg.kl_sparsity.is_some();
        let contractive = cfg.contractive > 0.0;
        let hidden = layers[0].outputs;
        Ok(Net {
            x: zeros("x", cap * d)?,
            xin: if train && cfg.noise.is_some() {
                Some(zeros("x noisy", cap * d)?)
            } else {
                None
            },
            eps: if vae {
                Some(zeros("vae eps", cap * c)?)
            } else {
                None
            },
            zc: if vae {
                Some(zeros("vae z", cap * c)?)
            } else {
                None
            },
            dzc: if vae && train {
                Some(zeros("vae dz", cap * c)?)
            } else {
                None
            },
            rowbuf: zeros("per-sample values", cap)?,
            rowloss: if train {
                Some(zeros("per-sample loss", cap)?)
            } else {
                None
            },
            rowmse: if train && cfg.loss == LossKind::Bce {
                Some(zeros("per-sample mse", cap)?)
            } else {
                None
            },
            partials: zeros("reduce partials", REDUCE_PARTIALS)?,
            metrics: zeros("metrics", slot::COUNT)?,
            rho_hat: if kl { Some(zeros("rho_hat", c)?) } else { None },
            klterms: if kl {
                Some(zeros("kl terms", c)?)
            } else {
                None
            },
            cs: if contractive {
                Some(zeros("contractive s", hidden)?)
            } else {
                None
            },
            fp2: if contractive {
                Some(zeros("contractive fp2", cap * hidden)?)
            } else {
                None
            },
            cvec: if contractive {
                Some(zeros("contractive c", hidden)?)
            } else {
                None
            },
            pen: if contractive {
                Some(zeros("contractive rows", cap)?)
            } else {
                None
            },
            cfg: cfg.clone(),
            layers,
            layout,
            cap,
            mode,
            seed,
            z,
            a,
            mask,
            ad,
            da,
            dz,
            dad,
            scratch,
        })
    }

    fn out_layer(&self) -> usize {
        self.layers.len() - 1
    }

    /// Index of the last encoder layer (the code, or the VAE head).
    pub fn code_layer(&self) -> usize {
        self.layers.iter().filter(|l| l.encoder).count() - 1
    }

    /// Where the input of layer `start` is written for `rows` rows: the
    /// model's input (0), the sampled code a VAE's decoder reads, or the
    /// previous layer's output.
    pub fn input_of(&self, start: usize, rows: usize) -> Result<GpuTensor> {
        if start == 0 {
            return prefix(&self.x, rows, self.cfg.input_dim);
        }
        let cols = self.layers[start].inputs;
        match &self.zc {
            Some(zc) if self.layers[start - 1].role == Role::VaeHead => prefix(zc, rows, cols),
            _ => prefix(&self.a[start - 1], rows, cols),
        }
    }

    /// The code layer's output at `rows` rows and its width (a VAE head's
    /// `[mean | log-variance]`, of which the code is the mean).
    pub fn code(&self, rows: usize) -> Result<(GpuTensor, usize)> {
        let cl = self.code_layer();
        let width = self.layers[cl].outputs;
        Ok((prefix(&self.a[cl], rows, width)?, width))
    }

    /// The model's output (the reconstruction) at `rows` rows.
    pub fn output(&self, rows: usize) -> Result<GpuTensor> {
        let last = self.layers.len() - 1;
        prefix(&self.a[last], rows, self.cfg.input_dim)
    }

    /// The step that writes each of `rows` rows' reconstruction MSE per
    /// value (the anomaly score) into the returned buffer.
    pub fn row_error_step(&self, ctx: &GpuContext, rows: usize) -> Result<(Step, GpuTensor)> {
        let d = self.cfg.input_dim;
        let out = self.rowbuf.view(0, rows)?;
        let step = ops::row_loss(
            ctx,
            Loss::Mse,
            rows,
            d,
            1.0 / d as f32,
            &self.output(rows)?,
            &prefix(&self.x, rows, d)?,
            &out,
        )?;
        Ok((step, out))
    }

    /// The tensor layer `l` reads, at `rows` rows.
    fn layer_input(&self, l: usize, rows: usize) -> Result<GpuTensor> {
        if l == 0 {
            let x = self.xin.as_ref().unwrap_or(&self.x);
            return prefix(x, rows, self.cfg.input_dim);
        }
        let prev = &self.layers[l - 1];
        if prev.role == Role::VaeHead {
            return prefix(need(&self.zc, "zc")?, rows, self.cfg.code_dim());
        }
        let t = self.ad[l - 1].as_ref().unwrap_or(&self.a[l - 1]);
        prefix(t, rows, prev.outputs)
    }

    /// The pre-activation of layer l, or its output when the two coincide.
    fn pre_or_out(&self, l: usize, rows: usize) -> Result<GpuTensor> {
        let t = self.z[l].as_ref().unwrap_or(&self.a[l]);
        prefix(t, rows, self.layers[l].outputs)
    }

    fn out_rows(&self, l: usize, rows: usize) -> Result<GpuTensor> {
        prefix(&self.a[l], rows, self.layers[l].outputs)
    }

    /// Forward from layer `start` (0, or the first decoder layer to decode
    /// codes placed in the previous layer's output) for `rows` rows. With a
    /// counter (the optimizer state), noise and dropout are fresh each step.
    pub fn forward_steps(
        &self,
        ctx: &GpuContext,
        params: &GpuTensor,
        rows: usize,
        start: usize,
        counter: Option<&GpuTensor>,
    ) -> Result<Vec<Step>> {
        let mut steps = Vec::new();
        let d = self.cfg.input_dim;
        if start == 0 {
            if let (Some(noise), Some(xin)) = (self.cfg.noise, &self.xin) {
                let spec = RngSpec {
                    seed: self.seed,
                    stream: stream::NOISE,
                    offset: 0,
                };
                steps.push(ops::noise(
                    ctx,
                    noise,
                    spec,
                    counter,
                    &prefix(&self.x, rows, d)?,
                    &prefix(xin, rows, d)?,
                )?);
            }
        }
        for li in start..self.layers.len() {
            let l = self.layers[li];
            let lp = &self.layout.layers[li];
            let input = self.layer_input(li, rows)?;
            let views = self.layout.layer_views(params, li)?;
            let buffers = self.layout.buffer_view(params, li)?;
            let p = Params {
                tensors: &views,
                transposed: lp.transposed,
                scratch: &self.scratch[li],
                buffers: buffers.as_ref(),
                training: self.mode == Mode::Train,
            };
            let keep = self.z[li].is_some();
            let target = if keep {
                prefix(need(&self.z[li], "z[li]")?, rows, l.outputs)?
            } else {
                self.out_rows(li, rows)?
            };
            let fused = if keep { Activation::Identity } else { l.act };
            steps.extend(planner(l.kind).forward(ctx, &l, rows, &p, &input, fused, &target)?);
            // In training under BCE, everything downstream of the output
            // layer (the fused loss, its gradient and the metrics) reads the
            // logits, so its sigmoid is not computed.
            let unread = self.mode == Mode::Train
                && l.role == Role::Output
                && self.cfg.loss == LossKind::Bce;
            if keep && !unread {
                steps.push(ops::act_forward(
                    ctx,
                    l.act,
                    rows,
                    l.outputs,
                    &target,
                    &self.out_rows(li, rows)?,
                )?);
            }
            if l.role == Role::VaeHead {
                let c = self.cfg.code_dim();
                let eps = prefix(need(&self.eps, "eps")?, rows, c)?;
                if self.mode == Mode::Train {
                    let spec = RngSpec {
                        seed: self.seed,
                        stream: stream::VAE_EPS,
                        offset: 0,
                    };
                    steps.push(ops::random(
                        ctx,
                        RandomFill::Normal {
                            mean: 0.0,
                            std: 1.0,
                        },
                        spec,
                        counter,
                        &eps,
                    )?);
                } else {
                    // Evaluation decodes the mean: z = mu.
                    steps.push(ops::fill(ctx, 0.0, &eps)?);
                }
                let zc = prefix(need(&self.zc, "zc")?, rows, c)?;
                steps.push(ops::vae_reparam(
                    ctx,
                    rows,
                    c,
                    &self.out_rows(li, rows)?,
                    &eps,
                    &zc,
                )?);
            }
            if let (Some(mask), Some(ad)) = (&self.mask[li], &self.ad[li]) {
                let n = rows * l.outputs;
                let spec = RngSpec {
                    seed: self.seed,
                    stream: stream::DROPOUT_BASE + li as u32,
                    offset: 0,
                };
                let mask = prefix(mask, rows, l.outputs)?;
                steps.push(ops::random(
                    ctx,
                    RandomFill::DropoutMask {
                        p: self.cfg.dropout,
                    },
                    spec,
                    counter,
                    &mask,
                )?);
                steps.push(ops::mul(
                    ctx,
                    n,
                    &self.out_rows(li, rows)?,
                    &mask,
                    &prefix(ad, rows, l.outputs)?,
                )?);
            }
        }
        if start == 0 {
            steps.extend(self.code_statistics_steps(ctx, params, rows)?);
        }
        Ok(steps)
    }

    /// Statistics of the code that both the penalty values (metric_steps)
    /// and their gradients (backward_steps) read, computed once per batch:
    /// the unit means rho_hat (KL sparsity); s_j = sum_i W_ji^2 and f'(z)^2
    /// (contractive).
    fn code_statistics_steps(
        &self,
        ctx: &GpuContext,
        params: &GpuTensor,
        rows: usize,
    ) -> Result<Vec<Step>> {
        let mut steps = Vec::new();
        if let Some(rho_hat) = &self.rho_hat {
            let cl = self.code_layer();
            let c = self.layers[cl].outputs;
            steps.push(ops::col_sum(
                ctx,
                rows,
                c,
                1.0 / rows as f32,
                0.0,
                &self.out_rows(cl, rows)?,
                None,
                rho_hat,
            )?);
        }
        if let (Some(s), Some(fp2)) = (&self.cs, &self.fp2) {
            let l0 = &self.layers[0];
            let Some(weight) = self.layout.layers[0].weight() else {
                return Err(crate::error::Error::InvalidArgument(
                    "the contractive penalty needs a Linear first layer".into(),
                ));
            };
            let w = self.layout.view(params, weight)?;
            steps.push(ops::contractive_row_sq(ctx, l0.outputs, l0.inputs, &w, s)?);
            steps.push(ops::contractive_fp2(
                ctx,
                l0.act,
                rows,
                l0.outputs,
                &self.out_rows(0, rows)?,
                &prefix(fp2, rows, l0.outputs)?,
            )?);
        }
        Ok(steps)
    }

    /// In training, the reconstruction term and the MSE and BCE metrics, all
    /// summed from the loss kernel's per-row outputs: the loss rows (scaled
    /// by `row_scale`) give the reconstruction term, and rescaled to a mean
    /// per feature, the MSE (MSE loss) or the BCE (BCE loss); the BCE kernel's
    /// per-row MSE gives the MSE.
    fn reconstruction_metric_steps(
        &self,
        ctx: &GpuContext,
        rows: usize,
        rowloss: &GpuTensor,
        row_scale: f32,
    ) -> Result<Vec<Step>> {
        let d = self.cfg.input_dim as f32;
        let per_feature = (1.0 / d) / row_scale;
        // The row losses' one sum goes to the loss and to its per-feature
        // metric (BCE or MSE) in one reduction. The per-row MSE buffer
        // exists for BCE models alone (whose output is a sigmoid, as the
        // config's validation requires).
        let per_feature_slot = if self.rowmse.is_some() {
            slot::BCE
        } else {
            slot::MSE
        };
        let mut steps = ops::reduce_to(
            ctx,
            ReduceMode::Sum,
            1.0,
            rowloss,
            &self.partials,
            &self.metrics,
            &[(slot::RECON, 1.0), (per_feature_slot, per_feature)],
        )?;
        if let Some(mse) = &self.rowmse {
            let mse = prefix(mse, rows, 1)?;
            steps.extend(self.accumulate(ctx, ReduceMode::Sum, 1.0, &mse, slot::MSE)?);
        }
        Ok(steps)
    }

    /// `metrics[slot] += scale * reduce(mode, x)`: one dispatch for a
    /// batch of up to 1024 rows, two above.
    fn accumulate(
        &self,
        ctx: &GpuContext,
        mode: ReduceMode,
        scale: f32,
        x: &GpuTensor,
        slot: usize,
    ) -> Result<Vec<Step>> {
        ops::reduce(
            ctx,
            mode,
            scale,
            1.0,
            x,
            &self.partials,
            &self.metrics,
            slot,
        )
    }

    /// Loss, metrics and penalty values for `rows` rows, accumulated into the
    /// metrics buffer (which the caller clears at the start of an epoch).
    pub fn metric_steps(&self, ctx: &GpuContext, rows: usize) -> Result<Vec<Step>> {
        let mut steps = Vec::new();
        let d = self.cfg.input_dim;
        let lo = self.out_layer();
        let x = prefix(&self.x, rows, d)?;
        let logits = self.pre_or_out(lo, rows)?;
        let out = self.out_rows(lo, rows)?;
        let vae = self.cfg.variational.is_some();
        let rowbuf = prefix(&self.rowbuf, rows, 1)?;
        let accumulate = |steps: &mut Vec<Step>,
                          mode: ReduceMode,
                          scale: f32,
                          x: &GpuTensor,
                          slot: usize|
         -> Result<()> {
            steps.extend(self.accumulate(ctx, mode, scale, x, slot)?);
            Ok(())
        };
        let (loss, pred) = match self.cfg.loss {
            LossKind::Bce => (Loss::BceLogits, &logits),
            LossKind::Mse => (Loss::Mse, &out),
        };
        // In training the loss kernel fused with its gradient (backward_steps)
        // supplies the reconstruction term, and with it the MSE and BCE
        // metrics (see reconstruction_metric_steps), except the BCE of an MSE
        // model with a sigmoid output.
        let eval = self.mode == Mode::Eval;
        if eval {
            let recon_scale = if vae { 1.0 } else { 1.0 / d as f32 };
            steps.push(ops::row_loss(
                ctx,
                loss,
                rows,
                d,
                recon_scale,
                pred,
                &x,
                &rowbuf,
            )?);
            accumulate(&mut steps, ReduceMode::Sum, 1.0, &rowbuf, slot::RECON)?;
            steps.push(ops::row_loss(
                ctx,
                Loss::Mse,
                rows,
                d,
                1.0 / d as f32,
                &out,
                &x,
                &rowbuf,
            )?);
            accumulate(&mut steps, ReduceMode::Sum, 1.0, &rowbuf, slot::MSE)?;
        }
        if self.layers[lo].act == Activation::Sigmoid && (eval || self.cfg.loss != LossKind::Bce) {
            steps.push(ops::row_loss(
                ctx,
                Loss::BceLogits,
                rows,
                d,
                1.0 / d as f32,
                &logits,
                &x,
                &rowbuf,
            )?);
            accumulate(&mut steps, ReduceMode::Sum, 1.0, &rowbuf, slot::BCE)?;
        }

        let cl = self.code_layer();
        let c = self.cfg.code_dim();
        let code = self.out_rows(cl, rows)?;
        if self.cfg.l1 > 0.0 {
            accumulate(
                &mut steps,
                ReduceMode::SumAbs,
                self.cfg.l1,
                &code,
                slot::PENALTY,
            )?;
        }
        if let (Some(k), Some(rho_hat), Some(terms)) =
            (self.cfg.kl_sparsity, &self.rho_hat, &self.klterms)
        {
            steps.push(ops::kl_loss(ctx, c, k.rho, k.beta, rho_hat, terms)?);
            // The batch penalty applies to each of its rows.
            accumulate(
                &mut steps,
                ReduceMode::Sum,
                rows as f32,
                terms,
                slot::PENALTY,
            )?;
        }
        if self.cfg.contractive > 0.0 {
            let l0 = &self.layers[0];
            let (s, fp2, pen) = (
                need(&self.cs, "cs")?,
                need(&self.fp2, "fp2")?,
                need(&self.pen, "pen")?,
            );
            let fp2 = prefix(fp2, rows, l0.outputs)?;
            let pen = prefix(pen, rows, 1)?;
            steps.push(ops::matmul(
                ctx,
                &MatmulSpec::new(rows, 1, l0.outputs, false, false),
                &fp2,
                s,
                None,
                &pen,
            )?);
            accumulate(
                &mut steps,
                ReduceMode::Sum,
                self.cfg.contractive,
                &pen,
                slot::PENALTY,
            )?;
        }
        if let Some(v) = self.cfg.variational {
            steps.push(ops::vae_kl_rows(ctx, rows, c, 1.0, &code, &rowbuf)?);
            accumulate(&mut steps, ReduceMode::Sum, 1.0, &rowbuf, slot::KL)?;
            accumulate(&mut steps, ReduceMode::Sum, v.beta, &rowbuf, slot::PENALTY)?;
        }
        Ok(steps)
    }

    /// Loss gradient and backward pass for `rows` rows: every parameter
    /// gradient is written (the first writer overwrites, so no clearing).
    pub fn backward_steps(
        &self,
        ctx: &GpuContext,
        params: &GpuTensor,
        grads: &GpuTensor,
        rows: usize,
    ) -> Result<Vec<Step>> {
        let mut steps = Vec::new();
        let d = self.cfg.input_dim;
        let lo = self.out_layer();
        let vae = self.cfg.variational.is_some();
        let x = prefix(&self.x, rows, d)?;
        let grad_scale = if vae {
            1.0 / rows as f32
        } else {
            1.0 / (rows * d) as f32
        };
        let lout = self.layers[lo];
        // The loss gradient and the per-sample loss in one pass.
        let row_scale = if vae { 1.0 } else { 1.0 / d as f32 };
        let rowloss = prefix(need(&self.rowloss, "rowloss")?, rows, 1)?;
        match self.cfg.loss {
            LossKind::Bce => {
                let dz = prefix(need(&self.dz[lo], "dz[lo]")?, rows, d)?;
                steps.push(ops::loss_fused(
                    ctx,
                    Loss::BceLogits,
                    rows,
                    d,
                    grad_scale,
                    row_scale,
                    &self.pre_or_out(lo, rows)?,
                    &x,
                    &dz,
                    &rowloss,
                    self.rowmse
                        .as_ref()
                        .map(|t| prefix(t, rows, 1))
                        .transpose()?
                        .as_ref(),
                )?);
            }
            LossKind::Mse => {
                let da = prefix(need(&self.da[lo], "da[lo]")?, rows, d)?;
                steps.push(ops::loss_fused(
                    ctx,
                    Loss::Mse,
                    rows,
                    d,
                    grad_scale,
                    row_scale,
                    &self.out_rows(lo, rows)?,
                    &x,
                    &da,
                    &rowloss,
                    None,
                )?);
                if let Some(dz) = &self.dz[lo] {
                    let dz = prefix(dz, rows, d)?;
                    steps.push(ops::act_backward(
                        ctx,
                        lout.act,
                        rows,
                        d,
                        &self.pre_or_out(lo, rows)?,
                        &self.out_rows(lo, rows)?,
                        &da,
                        &dz,
                    )?);
                }
            }
        }

        steps.extend(self.reconstruction_metric_steps(ctx, rows, &rowloss, row_scale)?);

        let mut written = vec![false; self.layout.entries.len()];
        for li in (0..self.layers.len()).rev() {
            let l = self.layers[li];
            let lp = &self.layout.layers[li];
            let dzl = self.grad_pre(li, rows)?;
            let gate = self.act_gate(li, rows)?;
            let dz = Grad {
                t: &dzl,
                gate: gate.as_ref().map(|(act, g)| (*act, g)),
            };
            let input = self.layer_input(li, rows)?;
            let views = self.layout.layer_views(params, li)?;
            let buffers = self.layout.buffer_view(params, li)?;
            let p = Params {
                tensors: &views,
                transposed: lp.transposed,
                scratch: &self.scratch[li],
                buffers: buffers.as_ref(),
                training: self.mode == Mode::Train,
            };
            let grad_views = self.layout.layer_views(grads, li)?;
            let g = Params {
                tensors: &grad_views,
                transposed: lp.transposed,
                scratch: &[],
                buffers: None,
                training: true,
            };
            // A tied weight's gradient is written by its mirror first (the
            // decoder is planned before the encoder): add to it.
            let accumulate = lp.weight().is_some_and(|i| written[i]);
            for &(_, i) in &lp.params {
                written[i] = true;
            }
            let (w, gw) = (p.get("weight"), g.get("weight"));
            steps.extend(
                planner(l.kind).param_grads(ctx, &l, rows, &p, &input, &dz, &g, accumulate)?,
            );
            if li == 0 && self.cfg.contractive > 0.0 {
                let (Some(w), Some(gw)) = (w, gw) else {
                    return Err(crate::error::Error::InvalidArgument(
                        "the contractive penalty needs a Linear first layer".into(),
                    ));
                };
                steps.push(ops::contractive_wgrad(
                    ctx,
                    rows,
                    l.outputs,
                    l.inputs,
                    self.cfg.contractive,
                    w,
                    need(&self.cvec, "cvec")?,
                    gw,
                )?);
            }
            if li == 0 {
                break;
            }

            // Gradient w.r.t. this layer's input, into the previous layer.
            let prev = self.layers[li - 1];
            let target = if prev.role == Role::VaeHead {
                prefix(need(&self.dzc, "dzc")?, rows, self.cfg.code_dim())?
            } else if let Some(dad) = &self.dad[li - 1] {
                prefix(dad, rows, prev.outputs)?
            } else {
                prefix(need(&self.da[li - 1], "da[li - 1]")?, rows, prev.outputs)?
            };
            steps.extend(planner(l.kind).input_grad(ctx, &l, rows, &p, &input, &dz, &target)?);
            steps.extend(self.to_pre_activation(ctx, li - 1, rows, &target)?);
        }

        Ok(steps)
    }

    /// Layer l's activation and gate when its activation gradient is fused
    /// (see [`fuses_act_grad`]): then [`Net::grad_pre`] returns da, and its
    /// consumers multiply by f'(gate) as they load it.
    fn act_gate(&self, l: usize, rows: usize) -> Result<Option<(Activation, GpuTensor)>> {
        let spec = &self.layers[l];
        if self.dz[l].is_some() || spec.act == Activation::Identity {
            return Ok(None);
        }
        let gate = if spec.act.gate_is_output() {
            self.out_rows(l, rows)?
        } else {
            self.pre_or_out(l, rows)?
        };
        Ok(Some((spec.act, gate)))
    }

    /// The gradient w.r.t. layer l's pre-activation, or w.r.t. its output
    /// when the activation gradient is fused (see [`Net::act_gate`]).
    fn grad_pre(&self, l: usize, rows: usize) -> Result<GpuTensor> {
        let t = match &self.dz[l] {
            Some(dz) => dz,
            None => need(&self.da[l], "da[l]")?,
        };
        prefix(t, rows, self.layers[l].outputs)
    }

    /// From the gradient w.r.t. layer l's (dropped-out) output to the
    /// gradient w.r.t. its pre-activation, with the code's penalties added.
    fn to_pre_activation(
        &self,
        ctx: &GpuContext,
        li: usize,
        rows: usize,
        incoming: &GpuTensor,
    ) -> Result<Vec<Step>> {
        let mut steps = Vec::new();
        let l = self.layers[li];
        let n = rows * l.outputs;
        if l.role == Role::VaeHead {
            let c = self.cfg.code_dim();
            let beta = self.cfg.variational.map_or(1.0, |v| v.beta);
            let eps = prefix(need(&self.eps, "eps")?, rows, c)?;
            let dhead = prefix(need(&self.dz[li], "dz[li]")?, rows, l.outputs)?;
            steps.push(ops::vae_backward(
                ctx,
                rows,
                c,
                beta,
                &self.out_rows(li, rows)?,
                &eps,
                incoming,
                &dhead,
            )?);
            return Ok(steps);
        }
        let da = prefix(need(&self.da[li], "da[li]")?, rows, l.outputs)?;
        if let Some(mask) = &self.mask[li] {
            steps.push(ops::mul(
                ctx,
                n,
                incoming,
                &prefix(mask, rows, l.outputs)?,
                &da,
            )?);
        }
        let y = self.out_rows(li, rows)?;
        if l.role == Role::Code {
            if self.cfg.l1 > 0.0 {
                steps.push(ops::l1_grad(
                    ctx,
                    rows,
                    l.outputs,
                    self.cfg.l1 / rows as f32,
                    &y,
                    &da,
                )?);
            }
            if let (Some(k), Some(rho_hat)) = (self.cfg.kl_sparsity, &self.rho_hat) {
                steps.push(ops::kl_grad(
                    ctx, rows, l.outputs, k.rho, k.beta, rho_hat, &da,
                )?);
            }
        }
        if let Some(dz) = &self.dz[li] {
            let dz = prefix(dz, rows, l.outputs)?;
            steps.push(ops::act_backward(
                ctx,
                l.act,
                rows,
                l.outputs,
                &self.pre_or_out(li, rows)?,
                &y,
                &da,
                &dz,
            )?);
        }
        if li == 0 && self.cfg.contractive > 0.0 {
            let (s, fp2, cvec) = (
                need(&self.cs, "cs")?,
                need(&self.fp2, "fp2")?,
                need(&self.cvec, "cvec")?,
            );
            let fp2 = prefix(fp2, rows, l.outputs)?;
            steps.push(ops::contractive_dz(
                ctx,
                l.act,
                rows,
                l.outputs,
                self.cfg.contractive,
                &y,
                s,
                &self.grad_pre(li, rows)?,
            )?);
            steps.push(ops::col_sum(
                ctx, rows, l.outputs, 1.0, 0.0, &fp2, None, cvec,
            )?);
        }
        Ok(steps)
    }
}
