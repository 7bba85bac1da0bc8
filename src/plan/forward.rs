//! The forward pass: input noise, each layer, dropout, and a VAE's sampled
//! code, for a batch of rows.

use crate::error::Result;
use crate::gpu::{GpuContext, GpuTensor, Step};
use crate::kernels::{self as ops, Activation, RandomFill, RngSpec};
use crate::model::{LossKind, Role};
use crate::plan::layer::Params;
use crate::plan::{need, planner, prefix, stream, Mode, Net};

impl Net {
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
            let skip = self.block_input(li, rows)?;
            let p = Params {
                tensors: &views,
                transposed: lp.transposed,
                scratch: &self.scratch[li],
                buffers: buffers.as_ref(),
                skip: skip.as_ref(),
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
}
