//! The host graph: a model planned once, for a batch capacity, into GPU
//! buffers and a fixed list of [`Step`]s. Nothing here runs per training
//! step: the trainer records these steps again and again, in the data's
//! order: forward ([`Net::forward_steps`]), the loss
//! ([`Net::loss_steps`]), backward ([`Net::backward_steps`]), the metrics
//! ([`Net::metric_steps`]), then the optimizer.
//!
//! The planner walks the model's layers and asks each layer's kind to plan
//! its own products (`dense.rs` for Dense; one file per kind, registered in
//! [`planner`]); around them it plans what every layer shares (its buffers,
//! `buffers.rs`; its activation). What a variant adds (input noise,
//! dropout, a VAE's code, the sparsity and contractive penalties) is that
//! variant's module under `variants/`, called at fixed points; this file
//! names none of them.

mod backward;
pub mod buffers;
pub mod conv;
pub mod dense;
mod forward;
pub mod layer;
pub mod layout;
mod loss;
mod masked_loss;
mod metrics;
pub mod mixed;
pub mod norm;
pub mod options;
pub mod permute;
pub mod pool;
pub mod recurrent;
pub mod reshape;
pub mod residual;
pub mod stream;
pub mod variants;

/// The planning code of each layer kind, one line per kind.
pub fn planner(kind: LayerKind) -> &'static dyn LayerPlan {
    match kind {
        LayerKind::Dense => &Dense,
        LayerKind::StepDense => &StepDense,
        LayerKind::Conv(_) => &Conv,
        LayerKind::ConvTranspose(_) => &ConvTranspose,
        LayerKind::MaxPool(_)
        | LayerKind::AvgPool(_)
        | LayerKind::Upsample { .. }
        | LayerKind::Repeat { .. } => &Pooling,
        LayerKind::Reshape { .. } => &Reshape,
        LayerKind::Permute => &permute::Permute,
        LayerKind::BatchNorm(_) => &BatchNorm,
        LayerKind::Residual(_) => &Residual,
        LayerKind::Recurrent(_) => &Recurrent,
    }
}

use crate::error::Result;
use crate::gpu::{GpuContext, GpuTensor, Step};
use crate::kernels::{Activation, REDUCE_PARTIALS};
use crate::model::{LayerKind, LayerSpec, ModelConfig, Role};
use buffers::{prefix, Buffers, LayerBuffers, LossBuffers, Masked};
pub use buffers::{slot, Mode};
use conv::{Conv, ConvTranspose};
use dense::{Dense, StepDense};
use layer::{LayerPlan, Params};
use layout::BufferView;
pub use layout::ParamLayout;
use norm::BatchNorm;
pub use options::PlanOptions;
use pool::Pooling;
use recurrent::Recurrent;
use reshape::Reshape;
use residual::Residual;
use variants::hooks::{Pass, Variant};

/// The planned model at capacity `cap` rows: its buffers, its variants'
/// and its loss's.
pub struct Net {
    b: Buffers,
    layout: ParamLayout,
    variants: Vec<Box<dyn Variant>>,
    loss: LossBuffers,
}

/// A layer's views of an arena, its buffers and its block's input, which
/// its [`Params`] borrow.
struct Bound {
    views: Vec<(&'static str, GpuTensor)>,
    buffers: Option<BufferView>,
    skip: Option<GpuTensor>,
    transposed: bool,
}

impl Bound {
    /// The parameters as the layer's kind reads them, with its scratch.
    fn params<'a>(&'a self, scratch: &'a [GpuTensor], mode: Mode) -> Params<'a> {
        Params {
            tensors: &self.views,
            transposed: self.transposed,
            scratch,
            buffers: self.buffers.as_ref(),
            skip: self.skip.as_ref(),
            training: mode == Mode::Train,
        }
    }

    /// The same views as a gradient arena's (no buffers, scratch or block
    /// input).
    fn grads(&self) -> Params<'_> {
        Params {
            tensors: &self.views,
            transposed: self.transposed,
            scratch: &[],
            buffers: None,
            skip: None,
            training: true,
        }
    }
}

/// Whether layer `l` keeps its pre-activation: the output layer always (its
/// logits feed BCE), activations whose derivative cannot be read off the
/// output (gelu), and kinds whose activation follows a sum (a residual
/// block's end). Others fuse the activation into the product's epilogue.
fn keeps_pre_activation(l: &LayerSpec) -> bool {
    l.role == Role::Output || !l.act.gate_may_be_output() || planner(l.kind).keeps_pre_activation()
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
        opts: &PlanOptions,
    ) -> Result<Self> {
        cfg.validate()?;
        let layers = cfg.layers();
        let variants = variants::variants(ctx, cfg, &layers, cap, mode)?;
        let loss = LossBuffers::new(ctx, cfg, cap, mode)?;
        let layer = layers
            .iter()
            .map(|l| Self::layer_buffers(ctx, cfg, opts, &variants, l, cap, mode))
            .collect::<Result<_>>()?;
        let masked = match cfg.missing {
            crate::model::Missing::Mask => Some(Masked::new(ctx, cap, cfg.input_dim)?),
            crate::model::Missing::Refuse => None,
        };
        let b = Buffers {
            x: ctx.zeros("x", cap * cfg.input_dim)?,
            masked,
            layer,
            rowbuf: ctx.zeros("per-sample values", cap)?,
            partials: ctx.zeros("reduce partials", REDUCE_PARTIALS)?,
            metrics: ctx.zeros("metrics", slot::COUNT)?,
            cfg: cfg.clone(),
            layers,
            cap,
            mode,
            seed,
        };
        Ok(Net {
            b,
            layout: layout.clone(),
            variants,
            loss,
        })
    }

    /// Layer `l`'s buffers: the pre-activation where it is kept, and in
    /// training the gradients the backward pass writes (see
    /// [`LayerBuffers`]).
    fn layer_buffers(
        ctx: &GpuContext,
        cfg: &ModelConfig,
        opts: &PlanOptions,
        variants: &[Box<dyn Variant>],
        l: &LayerSpec,
        cap: usize,
        mode: Mode,
    ) -> Result<LayerBuffers> {
        let n = cap * l.outputs;
        let i = l.index;
        let zeros = |name: String| ctx.zeros(&name, n);
        let train = mode == Mode::Train;
        let owned = variants.iter().any(|v| v.owns_grad(l));
        let added = variants.iter().any(|v| v.adds_pre_grad(l));
        // The activation gradient dz = da * f'(z) is fused into the kernels
        // that consume it (the backward matmuls' prologue, the bias
        // gradient's column sum) where the kind allows it, unless a variant
        // writes or adds to dz, or the loss kernel writes it from the
        // output's logits.
        let fused = opts.fuses_act_grad(ctx)
            && planner(l.kind).fuses_act_grad()
            && l.act.is_elementwise()
            && !owned
            && !added
            && !LossBuffers::writes_output_grad_pre(cfg, l);
        let identity = l.act == Activation::Identity && !owned;
        Ok(LayerBuffers {
            pre: if keeps_pre_activation(l) {
                Some(zeros(format!("z{i}"))?)
            } else {
                None
            },
            out: zeros(format!("a{i}"))?,
            grad_out: if train && !owned {
                Some(zeros(format!("da{i}"))?)
            } else {
                None
            },
            grad_pre: if train && !identity && !fused {
                Some(zeros(format!("dz{i}"))?)
            } else {
                None
            },
            scratch: planner(l.kind)
                .scratch(ctx, opts, l, cap)
                .into_iter()
                .enumerate()
                .map(|(k, words)| ctx.zeros(&format!("scratch{i}.{k}"), words))
                .collect::<Result<_>>()?,
        })
    }

    /// The capacity in rows.
    pub fn cap(&self) -> usize {
        self.b.cap
    }

    /// The metrics buffer (see [`slot`]), which the caller clears at the
    /// start of an epoch.
    pub fn metrics(&self) -> &GpuTensor {
        &self.b.metrics
    }

    /// Where a batch is written, at full capacity (a masked model's rows
    /// as read, missing entries `MISSING`).
    pub fn input(&self) -> &GpuTensor {
        self.b.batch()
    }

    /// The output layer.
    pub fn output_layer(&self) -> &LayerSpec {
        &self.b.layers[self.b.out_layer()]
    }

    /// Index of the last encoder layer (the code, or the VAE head).
    pub fn code_layer(&self) -> usize {
        self.b.code_layer()
    }

    /// Where the input of layer `start` is written for `rows` rows: the
    /// model's input (0), or what layer `start` reads (the previous layer's
    /// output, a VAE's sampled code).
    pub fn input_of(&self, start: usize, rows: usize) -> Result<GpuTensor> {
        if start == 0 {
            return prefix(self.b.batch(), rows, self.b.cfg.input_dim);
        }
        self.layer_input(start, rows)
    }

    /// The code layer's output at `rows` rows and its width (a VAE head's
    /// `[mean | log-variance]`, of which the code is the mean).
    pub fn code(&self, rows: usize) -> Result<(GpuTensor, usize)> {
        let cl = self.code_layer();
        Ok((self.b.out(cl, rows)?, self.b.layers[cl].outputs))
    }

    /// The model's output (the reconstruction) at `rows` rows.
    pub fn output(&self, rows: usize) -> Result<GpuTensor> {
        self.b.out(self.b.out_layer(), rows)
    }

    /// The tensor layer `l` reads, at `rows` rows: what a variant puts in
    /// its place (noisy input, a dropped-out output, a sampled code), or
    /// the previous layer's output (the input rows for the first).
    fn layer_input(&self, l: usize, rows: usize) -> Result<GpuTensor> {
        let width = self.b.layers[l].inputs;
        if let Some(t) = self.variants.iter().find_map(|v| v.input(l)) {
            return prefix(t, rows, width);
        }
        match l {
            0 => self.b.input(rows),
            _ => prefix(&self.b.layer[l - 1].out, rows, width),
        }
    }

    /// Where the gradient w.r.t. layer `l`'s input goes (l > 0): what a
    /// variant reads back (a dropped-out output's, a sampled code's), or
    /// the previous layer's output gradient.
    fn input_grad_target(&self, l: usize, rows: usize) -> Result<GpuTensor> {
        let width = self.b.layers[l].inputs;
        if let Some(t) = self.variants.iter().find_map(|v| v.grad_target(l)) {
            return prefix(t, rows, width);
        }
        self.b.grad_out(l - 1, rows)
    }

    /// The input of layer l's residual block at `rows` rows, for a block's
    /// end (none for other layers).
    fn block_input(&self, l: usize, rows: usize) -> Result<Option<GpuTensor>> {
        self.b.layers[l]
            .skip()
            .map(|k| self.layer_input(l - k.body, rows))
            .transpose()
    }

    /// Layer `l`'s parameters (or gradients) in `arena`, its buffers and
    /// its block's input, as views for its kind's planning code.
    fn bind(&self, arena: &GpuTensor, l: usize, rows: usize) -> Result<Bound> {
        Ok(Bound {
            views: self.layout.layer_views(arena, l)?,
            buffers: self.layout.buffer_view(arena, l)?,
            skip: self.block_input(l, rows)?,
            transposed: self.layout.layers[l].transposed,
        })
    }

    /// Layer `l`'s views of the gradient arena (which holds no buffers).
    fn bind_grads(&self, grads: &GpuTensor, l: usize) -> Result<Bound> {
        Ok(Bound {
            views: self.layout.layer_views(grads, l)?,
            buffers: None,
            skip: None,
            transposed: self.layout.layers[l].transposed,
        })
    }

    /// A pass over `rows` rows with the parameters `params`, for the
    /// variants' hooks.
    fn pass<'a>(&'a self, ctx: &'a GpuContext, params: &'a GpuTensor, rows: usize) -> Pass<'a> {
        Pass {
            ctx,
            b: &self.b,
            layout: &self.layout,
            params,
            rows,
        }
    }

    /// Every variant's steps from one hook, in order.
    fn each(&self, mut hook: impl FnMut(&dyn Variant) -> Result<Vec<Step>>) -> Result<Vec<Step>> {
        let mut steps = Vec::new();
        for v in &self.variants {
            steps.extend(hook(v.as_ref())?);
        }
        Ok(steps)
    }
}
