//! Mixed-precision inference planned by the same layer code as training:
//! layers `start..end` with f16 copies of their weights, f16 activations
//! between them and the last layer's output in f32. Each layer's kind plans
//! its own product (`LayerPlan::forward_f16`), with the activation in the
//! product's epilogue.
//!
//! ```text
//!   x16        (cap, inputs of layer start)   f16, two per word
//!   w16[l]     (the weight's shape)           f16 copy of the weight
//!   act16[l]   (cap, outputs_l)               f16, for start <= l < end - 1
//!   out        (cap, outputs of layer end-1)  f32
//! ```

use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GpuTensor, Step};
use crate::kernels::{self as ops, MatmulOut};
use crate::model::{LayerKind, LayerSpec, ModelConfig};
use crate::plan::layer::{planner, Params};
use crate::plan::ParamLayout;

/// Buffers of the mixed-precision forward pass at capacity `cap` rows.
pub struct MixedNet {
    layers: Vec<LayerSpec>,
    start: usize,
    weights16: Vec<GpuTensor>,
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
        layout: &ParamLayout,
        params: &GpuTensor,
        cap: usize,
        (start, end): (usize, usize),
    ) -> Result<(Self, Vec<Step>)> {
        ctx.require_f16("f16 inference")?;
        let layers = cfg.layers();
        let mut weights16 = Vec::new();
        let mut casts = Vec::new();
        for (li, l) in layers.iter().enumerate().take(end).skip(start) {
            let Some(weight) = layout.layers[li]
                .weight
                .filter(|_| l.kind == LayerKind::Dense)
            else {
                return Err(Error::InvalidArgument(format!(
                    "layer {li} ({}): mixed-precision inference covers Linear layers only so \
                     far; use --precision f32",
                    l.kind.name()
                )));
            };
            let w = layout.view(params, weight)?;
            let w16 = ctx.zeros("weight f16", ops::f16_words(w.len()))?;
            casts.push(ops::to_f16(ctx, w.len(), &w, &w16)?);
            weights16.push(w16);
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
                weights16,
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

    /// The forward pass for `rows` rows, one step per layer.
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
            let lp = layout.layers[self.start + i];
            let bias = lp.bias.map(|b| layout.view(params, b)).transpose()?;
            let p = Params {
                weight: Some(&self.weights16[i]),
                bias: bias.as_ref(),
                transposed: lp.transposed,
                scratch: &[],
                buffers: None,
                training: false,
            };
            let input = if i == 0 {
                &self.x16
            } else {
                &self.acts16[i - 1]
            };
            let target = if i == last {
                MatmulOut::F32(&self.out)
            } else {
                MatmulOut::F16(&self.acts16[i])
            };
            steps.push(planner(l.kind).forward_f16(ctx, l, rows, &p, input, target)?);
        }
        Ok(steps)
    }
}
