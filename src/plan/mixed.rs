//! Mixed-precision inference planned by the same layer code as training:
//! layers `start..end` with f16 activations between them and the last
//! layer's output in f32. Dense layers have f16 copies of their weights and
//! plan their own f16 product (`LayerPlan::forward_f16`), with the
//! activation in the product's epilogue. The other kinds (convolutions,
//! pooling, batch normalization, reshaping) have no f16 kernel yet: each
//! widens its f16 input to f32, runs its f32 forward pass (evaluation mode,
//! f32 weights) and narrows its output to f16 again, so activations are
//! stored as f16 throughout and the arithmetic is f32.
//!
//! ```text
//!   x16        (cap, inputs of layer start)   f16, two per word
//!   w16[l]     (the weight's shape)           f16 copy of a Dense weight
//!   act16[l]   (cap, outputs_l)               f16, for start <= l < end - 1
//!   in32[l], out32[l]                         f32 staging of a kind without f16
//!   out        (cap, outputs of layer end-1)  f32
//! ```

use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GpuTensor, Step};
use crate::kernels::{self as ops, MatmulOut};
use crate::model::{LayerKind, LayerSpec, ModelConfig};
use crate::plan::layer::Params;
use crate::plan::planner;
use crate::plan::{ParamLayout, PlanOptions};

/// How a layer runs in mixed precision.
enum Mixed {
    /// Its own f16 product, over this f16 copy of its weight.
    F16 { weight16: GpuTensor },
    /// Its f32 pass between casts: the widened input, the output (none for
    /// the last layer, which writes `out`) and the kind's scratch buffers.
    F32 {
        in32: GpuTensor,
        out32: Option<GpuTensor>,
        scratch: Vec<GpuTensor>,
        /// A residual block's end: its block's input, widened.
        skip32: Option<GpuTensor>,
        /// A kind that keeps its pre-activation (a residual block's end,
        /// whose activation follows the sum): the sum.
        pre32: Option<GpuTensor>,
    },
}

/// Buffers of the mixed-precision forward pass at capacity `cap` rows.
pub struct MixedNet {
    layers: Vec<LayerSpec>,
    start: usize,
    mixed: Vec<Mixed>,
    x16: GpuTensor,
    acts16: Vec<GpuTensor>,
    out: GpuTensor,
}

impl MixedNet {
    /// Buffers for layers `start..end` of `cfg`, and the steps that fill the
    /// f16 weight copies from `params` (run them once before the forward).
    pub fn new(
        ctx: &GpuContext,
        cfg: &ModelConfig,
        (layout, opts): (&ParamLayout, &PlanOptions),
        params: &GpuTensor,
        cap: usize,
        (start, end): (usize, usize),
    ) -> Result<(Self, Vec<Step>)> {
        ctx.require_f16("f16 inference")?;
        let layers = cfg.layers();
        if start >= end || end > layers.len() {
            return Err(Error::Internal {
                op: "planning f16 inference".into(),
                message: format!("layers {start}..{end} of {}", layers.len()),
            });
        }
        let mut mixed = Vec::new();
        let mut casts = Vec::new();
        for (li, l) in layers.iter().enumerate().take(end).skip(start) {
            let weight = layout.layers[li]
                .weight()
                .filter(|_| l.kind == LayerKind::Dense);
            mixed.push(match weight {
                Some(weight) => {
                    let w = layout.view(params, weight)?;
                    let w16 = ctx.zeros("weight f16", ops::f16_words(w.len()))?;
                    casts.push(ops::to_f16(ctx, w.len(), &w, &w16)?);
                    Mixed::F16 { weight16: w16 }
                }
                None => Mixed::F32 {
                    in32: ctx.zeros("f16 staging input", cap * l.inputs)?,
                    out32: if li + 1 < end {
                        Some(ctx.zeros("f16 staging output", cap * l.outputs)?)
                    } else {
                        None
                    },
                    scratch: planner(l.kind)
                        .scratch(ctx, opts, l, cap)
                        .into_iter()
                        .map(|words| ctx.zeros("f16 staging scratch", words))
                        .collect::<Result<_>>()?,
                    skip32: match l.skip() {
                        Some(k) if li - k.body < start => {
                            return Err(Error::Internal {
                                op: "planning f16 inference".into(),
                                message: format!("layers {start}..{end} split a residual block"),
                            })
                        }
                        Some(k) => Some(ctx.zeros(
                            "f16 staging block input",
                            cap * k.from.iter().product::<usize>(),
                        )?),
                        None => None,
                    },
                    pre32: if planner(l.kind).keeps_pre_activation() {
                        Some(ctx.zeros("f16 staging pre-activation", cap * l.outputs)?)
                    } else {
                        None
                    },
                },
            });
        }
        let x16 = ctx.zeros("input f16", ops::f16_words(cap * layers[start].inputs))?;
        let acts16 = (start..end - 1)
            .map(|li| ctx.zeros("activation f16", ops::f16_words(cap * layers[li].outputs)))
            .collect::<Result<_>>()?;
        let out = ctx.zeros("output", cap * layers[end - 1].outputs)?;
        Ok((
            Self {
                layers: layers[start..end].to_vec(),
                start,
                mixed,
                x16,
                acts16,
                out,
            },
            casts,
        ))
    }

    /// Where the input goes, as f16 packed two per word.
    pub fn input(&self) -> &GpuTensor {
        &self.x16
    }

    /// The last layer's output for `rows` rows.
    pub fn output(&self, rows: usize) -> Result<GpuTensor> {
        let width = self.layers.last().map_or(0, |l| l.outputs);
        self.out.view(0, rows * width)
    }

    /// The forward pass for `rows` rows: a step per Dense layer, the casts
    /// and the f32 pass of each other layer.
    pub fn forward_steps(
        &self,
        ctx: &GpuContext,
        layout: &ParamLayout,
        params: &GpuTensor,
        rows: usize,
    ) -> Result<Vec<Step>> {
        let mut steps = Vec::new();
        let last = self.layers.len() - 1;
        for (i, l) in self.layers.iter().enumerate() {
            let li = self.start + i;
            let lp = &layout.layers[li];
            let views = layout.layer_views(params, li)?;
            let input = if i == 0 {
                &self.x16
            } else {
                &self.acts16[i - 1]
            };
            match &self.mixed[i] {
                Mixed::F16 { weight16 } => {
                    // The f16 copy stands in for the weight.
                    let views16: Vec<_> = views
                        .iter()
                        .map(|(n, t)| (*n, if *n == "weight" { weight16 } else { t }.clone()))
                        .collect();
                    let p = Params {
                        tensors: &views16,
                        transposed: lp.transposed,
                        scratch: &[],
                        buffers: None,
                        skip: None,
                        training: false,
                    };
                    let target = if i == last {
                        MatmulOut::F32(&self.out)
                    } else {
                        MatmulOut::F16(&self.acts16[i])
                    };
                    steps.push(planner(l.kind).forward_f16(ctx, l, rows, &p, input, target)?);
                }
                Mixed::F32 {
                    in32,
                    out32,
                    scratch,
                    skip32,
                    pre32,
                } => {
                    let buffers = layout.buffer_view(params, li)?;
                    let skip = match (skip32, l.skip()) {
                        (Some(t), Some(k)) => {
                            let n = rows * k.from.iter().product::<usize>();
                            let first = li - k.body - self.start;
                            let source = match first {
                                0 => &self.x16,
                                f => &self.acts16[f - 1],
                            };
                            let t = t.view(0, n)?;
                            steps.push(ops::to_f32(ctx, n, source, &t)?);
                            Some(t)
                        }
                        _ => None,
                    };
                    let p = Params {
                        tensors: &views,
                        transposed: lp.transposed,
                        scratch,
                        buffers: buffers.as_ref(),
                        skip: skip.as_ref(),
                        training: false,
                    };
                    let (n_in, n_out) = (rows * l.inputs, rows * l.outputs);
                    let x = in32.view(0, n_in)?;
                    steps.push(ops::to_f32(ctx, n_in, input, &x)?);
                    let y = match out32 {
                        Some(t) => t.view(0, n_out)?,
                        None => self.out.view(0, n_out)?,
                    };
                    let plan = planner(l.kind);
                    match pre32 {
                        Some(pre) => {
                            let pre = pre.view(0, n_out)?;
                            let identity = crate::op::Activation::Identity;
                            steps.extend(plan.forward(ctx, l, rows, &p, &x, identity, &pre)?);
                            steps.push(ops::act_forward(ctx, l.act, rows, l.outputs, &pre, &y)?);
                        }
                        None => steps.extend(plan.forward(ctx, l, rows, &p, &x, l.act, &y)?),
                    }
                    if i != last {
                        steps.push(ops::to_f16(ctx, n_out, &y, &self.acts16[i])?);
                    }
                }
            }
        }
        Ok(steps)
    }
}
