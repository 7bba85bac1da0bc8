//! The loss of a model whose missing entries are masked out of it
//! (`missing = "mask"`): the mean over the observed entries. In training
//! the batch's observed entries are counted on the GPU and the gradient is
//! that of the mean over all of them (each observed entry weighs the same,
//! as AutoRec's sum); each row's loss, which the metrics and the anomaly
//! score report, is the mean over the row's own observed entries.

use crate::error::Result;
use crate::gpu::{GpuContext, GpuTensor, Step};
use crate::kernels::{self as ops, Loss, ReduceMode};
use crate::model::LossKind;
use crate::plan::buffers::{need, prefix, slot, Masked, Mode};
use crate::plan::Net;

impl Net {
    /// [`Net::loss_steps`] for a masked model.
    pub(crate) fn masked_loss_steps(
        &self,
        ctx: &GpuContext,
        rows: usize,
        m: &Masked,
    ) -> Result<Vec<Step>> {
        let b = &self.b;
        let d = b.cfg.input_dim;
        let lo = b.out_layer();
        let x = b.input(rows)?;
        let mask = prefix(&m.mask, rows, d)?;
        let (loss, pred) = self.loss_on(rows)?;
        let out = b.out(lo, rows)?;
        // Each row's MSE over its observed entries into `to`, summed into
        // the MSE metric.
        let row_mse = |to: &GpuTensor| -> Result<Vec<Step>> {
            let mut steps = vec![ops::masked_row_loss(
                ctx,
                Loss::Mse,
                rows,
                d,
                1.0,
                &out,
                &x,
                &mask,
                to,
            )?];
            steps.extend(b.accumulate(ctx, ReduceMode::Sum, 1.0, to, slot::MSE)?);
            Ok(steps)
        };
        if b.mode == Mode::Eval {
            let rowbuf = prefix(&b.rowbuf, rows, 1)?;
            let mut steps = vec![ops::masked_row_loss(
                ctx, loss, rows, d, 1.0, &pred, &x, &mask, &rowbuf,
            )?];
            steps.extend(b.accumulate(ctx, ReduceMode::Sum, 1.0, &rowbuf, slot::RECON)?);
            steps.extend(row_mse(&rowbuf)?);
            return Ok(steps);
        }
        let rowloss = prefix(need(&self.loss.rowloss, "rowloss")?, rows, 1)?;
        let grad = match b.cfg.loss {
            LossKind::Bce => prefix(need(&b.layer[lo].grad_pre, "the output's dz")?, rows, d)?,
            LossKind::Mse => b.grad_out(lo, rows)?,
        };
        let mut steps = ops::reduce(
            ctx,
            ReduceMode::Sum,
            1.0,
            0.0,
            &mask,
            &b.partials,
            &m.count,
            0,
        )?;
        steps.push(ops::masked_loss_fused(
            ctx, loss, rows, d, 1.0, &pred, &x, &mask, &m.count, &grad, &rowloss,
        )?);
        steps.extend(self.output_act_grad(ctx, rows, &grad)?);
        let per_feature = match b.cfg.loss {
            LossKind::Bce => slot::BCE,
            LossKind::Mse => slot::MSE,
        };
        steps.extend(ops::reduce_to(
            ctx,
            ReduceMode::Sum,
            1.0,
            &rowloss,
            &b.partials,
            &b.metrics,
            &[(slot::RECON, 1.0), (per_feature, 1.0)],
        )?);
        if let Some(mse) = &self.loss.rowmse {
            // Under BCE, the output's MSE over the observed entries.
            steps.extend(row_mse(&prefix(mse, rows, 1)?)?);
        }
        Ok(steps)
    }

    /// [`Net::row_error_step`] for a masked model: each row's MSE over its
    /// observed entries.
    pub(crate) fn masked_row_error(
        &self,
        ctx: &GpuContext,
        rows: usize,
        mask: &GpuTensor,
    ) -> Result<(Step, GpuTensor)> {
        let b = &self.b;
        let out = b.rowbuf.view(0, rows)?;
        let step = ops::masked_row_loss(
            ctx,
            Loss::Mse,
            rows,
            b.cfg.input_dim,
            1.0,
            &self.output(rows)?,
            &b.input(rows)?,
            mask,
            &out,
        )?;
        Ok((step, out))
    }
}
