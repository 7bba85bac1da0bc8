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

mod backward;
pub mod conv;
pub mod dense;
mod forward;
pub mod layer;
pub mod layout;
mod metrics;
pub mod mixed;
pub mod norm;
pub mod pool;
pub mod reshape;
pub mod residual;
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
        LayerKind::Residual(_) => &Residual,
    }
}

use crate::error::Result;
use crate::gpu::{GpuContext, GpuTensor, Step};
use crate::kernels::{self as ops, Activation, Loss, REDUCE_PARTIALS};
use crate::model::LayerKind;
use crate::model::{LayerSpec, LossKind, ModelConfig, Role};
use conv::{Conv, ConvTranspose};
use dense::Dense;
use layer::LayerPlan;
pub use layout::ParamLayout;
use norm::BatchNorm;
use pool::Pooling;
use reshape::Reshape;
use residual::Residual;

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
    l.role == Role::Output || !l.act.gate_may_be_output() || planner(l.kind).keeps_pre_activation()
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

    /// The input of layer l's residual block at `rows` rows, for a block's
    /// end (none for other layers).
    fn block_input(&self, l: usize, rows: usize) -> Result<Option<GpuTensor>> {
        self.layers[l]
            .skip()
            .map(|k| self.layer_input(l - k.body, rows))
            .transpose()
    }

    /// The pre-activation of layer l, or its output when the two coincide.
    fn pre_or_out(&self, l: usize, rows: usize) -> Result<GpuTensor> {
        let t = self.z[l].as_ref().unwrap_or(&self.a[l]);
        prefix(t, rows, self.layers[l].outputs)
    }

    fn out_rows(&self, l: usize, rows: usize) -> Result<GpuTensor> {
        prefix(&self.a[l], rows, self.layers[l].outputs)
    }
}
