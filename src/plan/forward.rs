//! The forward pass: each layer's product and activation, with the
//! variants' steps before the first layer, after each layer and after the
//! last (the statistics their penalties read).

use crate::error::Result;
use crate::gpu::{GpuContext, GpuTensor, Step};
use crate::kernels::{self as ops, Activation};
use crate::model::{LossKind, Role};
use crate::plan::buffers::{prefix, Mode};
use crate::plan::{planner, Net};

impl Net {
    /// Forward from layer `start` (0, or the first decoder layer to decode
    /// codes placed in its input) for `rows` rows. With a counter (the
    /// optimizer state), noise and dropout are fresh each step.
    pub fn forward_steps(
        &self,
        ctx: &GpuContext,
        params: &GpuTensor,
        rows: usize,
        start: usize,
        counter: Option<&GpuTensor>,
    ) -> Result<Vec<Step>> {
        let pass = self.pass(ctx, params, rows);
        let mut steps = Vec::new();
        if let (0, Some(m)) = (start, &self.b.masked) {
            // The rows as read into the input (missing entries 0) and the mask.
            let d = self.b.cfg.input_dim;
            steps.push(ops::unmask(
                ctx,
                rows,
                d,
                &prefix(&m.raw, rows, d)?,
                &self.b.input(rows)?,
                &prefix(&m.mask, rows, d)?,
            )?);
        }
        if start == 0 {
            steps.extend(self.each(|v| v.before_layers(&pass, counter))?);
        }
        for li in start..self.b.layers.len() {
            steps.extend(self.layer_forward(ctx, params, li, rows)?);
            steps.extend(self.each(|v| v.after_layer(&pass, li, counter))?);
        }
        if start == 0 {
            steps.extend(self.each(|v| v.statistics(&pass))?);
        }
        Ok(steps)
    }

    /// Layer `li`'s product into its pre-activation, or into its output
    /// with the activation fused; then the activation where it is a pass
    /// of its own.
    fn layer_forward(
        &self,
        ctx: &GpuContext,
        params: &GpuTensor,
        li: usize,
        rows: usize,
    ) -> Result<Vec<Step>> {
        let l = self.b.layers[li];
        let lb = &self.b.layer[li];
        let input = self.layer_input(li, rows)?;
        let bound = self.bind(params, li, rows)?;
        let p = bound.params(&lb.scratch, self.b.mode);
        let out = self.b.out(li, rows)?;
        let Some(pre) = &lb.pre else {
            return planner(l.kind).forward(ctx, &l, rows, &p, &input, l.act, &out);
        };
        let pre = prefix(pre, rows, l.outputs)?;
        let mut steps =
            planner(l.kind).forward(ctx, &l, rows, &p, &input, Activation::Identity, &pre)?;
        // In training under BCE, everything downstream of the output layer
        // (the fused loss, its gradient and the metrics) reads the logits,
        // so its sigmoid is not computed.
        let unread = self.b.mode == Mode::Train
            && l.role == Role::Output
            && self.b.cfg.loss == LossKind::Bce;
        if !unread {
            steps.push(ops::act_forward(ctx, l.act, rows, l.outputs, &pre, &out)?);
        }
        Ok(steps)
    }
}
