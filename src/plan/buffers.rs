//! The buffers a planned model keeps at a capacity of `cap` rows, one
//! struct per layer, and what every phase reads from them: a layer's
//! output, pre-activation and gradients at the pass's row count, and the
//! metrics buffer that losses and penalties add into. The variants
//! (`plan/variants/`) keep their own buffers beside these.

use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GpuTensor, Step};
use crate::kernels::{self as ops, ReduceMode};
use crate::model::{LayerSpec, LossKind, ModelConfig, Role};

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

/// What the plan keeps for one layer of `outputs` values per row.
pub struct LayerBuffers {
    /// (cap, outputs) The pre-activation, where the plan keeps it (the
    /// output layer's logits, gelu's input, a residual sum); otherwise the
    /// activation is fused into the layer's product.
    pub pre: Option<GpuTensor>,
    /// (cap, outputs) The output, after the activation.
    pub out: GpuTensor,
    /// (cap, outputs) Training: the gradient w.r.t. the output (none where a
    /// variant writes the pre-activation's gradient itself: a VAE's head).
    pub grad_out: Option<GpuTensor>,
    /// (cap, outputs) Training: the gradient w.r.t. the pre-activation,
    /// where it is written out (none for an identity activation, or where
    /// the kernels that read it apply f'(z) as they load `grad_out`).
    pub grad_pre: Option<GpuTensor>,
    /// What the layer's kind keeps from forward to backward and its
    /// temporaries (max pooling's argmax, im2col matrices).
    pub scratch: Vec<GpuTensor>,
}

/// The model's layers and their buffers, and the metrics they add into.
pub struct Buffers {
    pub cfg: ModelConfig,
    pub layers: Vec<LayerSpec>,
    pub cap: usize,
    pub mode: Mode,
    pub seed: u64,
    /// (cap, D) The input rows (with missing entries 0, for a masked model).
    pub x: GpuTensor,
    /// A masked model's batch as written (missing entries `MISSING`), its
    /// mask and its count of observed entries.
    pub masked: Option<Masked>,
    pub layer: Vec<LayerBuffers>,
    /// (cap) Per-row values, reused by each metric in turn.
    pub rowbuf: GpuTensor,
    /// The reductions' partial sums.
    pub partials: GpuTensor,
    /// (slot::COUNT) Sums over the epoch's rows (see [`slot`]).
    pub metrics: GpuTensor,
}

/// What a model whose missing entries are masked out of the loss keeps.
///
/// ```text
///   raw    (cap, D)  the batch as written, MISSING where missing
///   mask   (cap, D)  1 observed, 0 missing
///   count  (1)       training: the batch's observed entries
/// ```
pub struct Masked {
    pub raw: GpuTensor,
    pub mask: GpuTensor,
    pub count: GpuTensor,
}

impl Masked {
    pub fn new(ctx: &GpuContext, cap: usize, d: usize) -> Result<Self> {
        Ok(Self {
            raw: ctx.zeros("x as written", cap * d)?,
            mask: ctx.zeros("observed mask", cap * d)?,
            count: ctx.zeros("observed count", 1)?,
        })
    }
}

/// The loss's per-row buffers.
pub struct LossBuffers {
    /// (cap) Training: each row's loss term.
    pub rowloss: Option<GpuTensor>,
    /// (cap) Training under BCE: each row's MSE.
    pub rowmse: Option<GpuTensor>,
}

impl LossBuffers {
    pub fn new(ctx: &GpuContext, cfg: &ModelConfig, cap: usize, mode: Mode) -> Result<Self> {
        let train = mode == Mode::Train;
        Ok(Self {
            rowloss: if train {
                Some(ctx.zeros("per-sample loss", cap)?)
            } else {
                None
            },
            rowmse: if train && cfg.loss == LossKind::Bce {
                Some(ctx.zeros("per-sample mse", cap)?)
            } else {
                None
            },
        })
    }

    /// Whether the loss writes layer `l`'s pre-activation gradient itself
    /// (the output layer under BCE, from its logits).
    pub fn writes_output_grad_pre(cfg: &ModelConfig, l: &LayerSpec) -> bool {
        l.role == Role::Output && cfg.loss == LossKind::Bce
    }
}

/// A buffer the plan made for this model and mode (a VAE's code, a kept
/// pre-activation); its absence is a planning bug, reported as one.
pub fn need<'a>(t: &'a Option<GpuTensor>, what: &str) -> Result<&'a GpuTensor> {
    t.as_ref().ok_or_else(|| Error::Internal {
        op: "planning the model".into(),
        message: format!("the buffer {what} was not planned"),
    })
}

/// The first `rows` rows of `cols` values.
pub fn prefix(t: &GpuTensor, rows: usize, cols: usize) -> Result<GpuTensor> {
    t.view(0, rows * cols)
}

impl Buffers {
    /// Index of the last encoder layer (the code, or the VAE head).
    pub fn code_layer(&self) -> usize {
        self.layers.iter().filter(|l| l.encoder).count() - 1
    }

    /// Index of the output layer.
    pub fn out_layer(&self) -> usize {
        self.layers.len() - 1
    }

    /// Layer l's output at `rows` rows.
    pub fn out(&self, l: usize, rows: usize) -> Result<GpuTensor> {
        prefix(&self.layer[l].out, rows, self.layers[l].outputs)
    }

    /// The pre-activation of layer l, or its output when the two coincide.
    pub fn pre_or_out(&self, l: usize, rows: usize) -> Result<GpuTensor> {
        let b = &self.layer[l];
        prefix(
            b.pre.as_ref().unwrap_or(&b.out),
            rows,
            self.layers[l].outputs,
        )
    }

    /// The gradient w.r.t. layer l's output at `rows` rows.
    pub fn grad_out(&self, l: usize, rows: usize) -> Result<GpuTensor> {
        let t = need(&self.layer[l].grad_out, "grad_out")?;
        prefix(t, rows, self.layers[l].outputs)
    }

    /// The gradient w.r.t. layer l's pre-activation, or w.r.t. its output
    /// when the activation gradient is fused (or the identity).
    pub fn grad_pre(&self, l: usize, rows: usize) -> Result<GpuTensor> {
        let b = &self.layer[l];
        let t = match &b.grad_pre {
            Some(t) => t,
            None => need(&b.grad_out, "grad_out")?,
        };
        prefix(t, rows, self.layers[l].outputs)
    }

    /// The input rows.
    pub fn input(&self, rows: usize) -> Result<GpuTensor> {
        prefix(&self.x, rows, self.cfg.input_dim)
    }

    /// Where a batch is written at full capacity: the input rows, or a
    /// masked model's rows as read (unmasked into the input by the first
    /// step).
    pub fn batch(&self) -> &GpuTensor {
        self.masked.as_ref().map_or(&self.x, |m| &m.raw)
    }

    /// A masked model's mask at `rows` rows.
    pub fn mask(&self, rows: usize) -> Result<Option<GpuTensor>> {
        self.masked
            .as_ref()
            .map(|m| prefix(&m.mask, rows, self.cfg.input_dim))
            .transpose()
    }

    /// `metrics[slot] += scale * reduce(mode, x)`: one dispatch for a batch
    /// of up to 1024 rows, two above.
    pub fn accumulate(
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
}
