//! What the plan measures besides the loss: the BCE of a sigmoid output
//! that the loss did not give, and each variant's penalty, summed into the
//! metrics buffer.

use crate::error::Result;
use crate::gpu::{GpuContext, GpuTensor, Step};
use crate::kernels::{self as ops, Activation, Loss, ReduceMode};
use crate::model::LossKind;
use crate::plan::buffers::{prefix, slot, Mode};
use crate::plan::Net;

impl Net {
    /// Metrics and penalty values for `rows` rows, accumulated into the
    /// metrics buffer (which the caller clears at the start of an epoch).
    pub fn metric_steps(
        &self,
        ctx: &GpuContext,
        params: &GpuTensor,
        rows: usize,
    ) -> Result<Vec<Step>> {
        let b = &self.b;
        let d = b.cfg.input_dim;
        let lo = b.out_layer();
        let mut steps = Vec::new();
        // Training under BCE has it from the loss already.
        let eval = b.mode == Mode::Eval;
        if b.layers[lo].act == Activation::Sigmoid && (eval || b.cfg.loss != LossKind::Bce) {
            let rowbuf = prefix(&b.rowbuf, rows, 1)?;
            steps.push(ops::row_loss(
                ctx,
                Loss::BceLogits,
                rows,
                d,
                1.0 / d as f32,
                &b.pre_or_out(lo, rows)?,
                &b.input(rows)?,
                &rowbuf,
            )?);
            steps.extend(b.accumulate(ctx, ReduceMode::Sum, 1.0, &rowbuf, slot::BCE)?);
        }
        let pass = self.pass(ctx, params, rows);
        steps.extend(self.each(|v| v.metrics(&pass))?);
        Ok(steps)
    }
}
