//! The reconstruction loss, made in one place for every mode. In training
//! one kernel gives each row's loss and the gradient into the output layer
//! (for BCE from the logits, straight into its pre-activation gradient),
//! and the loss's row sums give the loss, MSE and BCE metrics; in
//! evaluation the loss and the MSE are each a row loss summed into the
//! metrics buffer.
//!
//! ```text
//!   rowloss   (cap)   training: each row's loss term
//!   rowmse    (cap)   training under BCE: each row's MSE
//! ```

use crate::error::Result;
use crate::gpu::{GpuContext, GpuTensor, Step};
use crate::kernels::{self as ops, Loss, ReduceMode};
use crate::model::LossKind;
use crate::plan::buffers::{need, prefix, slot, Mode};
use crate::plan::Net;

impl Net {
    /// The loss for `rows` rows, added into the metrics buffer; in
    /// training also its gradient into the output layer, which the
    /// backward pass starts from.
    pub fn loss_steps(&self, ctx: &GpuContext, rows: usize) -> Result<Vec<Step>> {
        if let Some(m) = &self.b.masked {
            return self.masked_loss_steps(ctx, rows, m);
        }
        let b = &self.b;
        let d = b.cfg.input_dim;
        let lo = b.out_layer();
        let x = b.input(rows)?;
        // A VAE's reconstruction term is a sum per row (its ELBO); others
        // take the mean over features.
        let vae = b.cfg.variational.is_some();
        let row_scale = if vae { 1.0 } else { 1.0 / d as f32 };
        let (loss, pred) = self.loss_on(rows)?;
        if b.mode == Mode::Eval {
            let rowbuf = prefix(&b.rowbuf, rows, 1)?;
            let mut steps = vec![ops::row_loss(
                ctx, loss, rows, d, row_scale, &pred, &x, &rowbuf,
            )?];
            steps.extend(b.accumulate(ctx, ReduceMode::Sum, 1.0, &rowbuf, slot::RECON)?);
            let out = b.out(lo, rows)?;
            let mse = Loss::Mse;
            steps.push(ops::row_loss(
                ctx,
                mse,
                rows,
                d,
                1.0 / d as f32,
                &out,
                &x,
                &rowbuf,
            )?);
            steps.extend(b.accumulate(ctx, ReduceMode::Sum, 1.0, &rowbuf, slot::MSE)?);
            return Ok(steps);
        }
        let grad_scale = if vae {
            1.0 / rows as f32
        } else {
            1.0 / (rows * d) as f32
        };
        let rowloss = prefix(need(&self.loss.rowloss, "rowloss")?, rows, 1)?;
        let rowmse = self
            .loss
            .rowmse
            .as_ref()
            .map(|t| prefix(t, rows, 1))
            .transpose()?;
        // Under BCE the kernel writes the gradient w.r.t. the logits; under
        // MSE w.r.t. the output, which the activation's gradient follows.
        let grad = match b.cfg.loss {
            LossKind::Bce => prefix(need(&b.layer[lo].grad_pre, "the output's dz")?, rows, d)?,
            LossKind::Mse => b.grad_out(lo, rows)?,
        };
        let mut steps = vec![ops::loss_fused(
            ctx,
            loss,
            rows,
            d,
            grad_scale,
            row_scale,
            &pred,
            &x,
            &grad,
            &rowloss,
            rowmse.as_ref(),
        )?];
        steps.extend(self.output_act_grad(ctx, rows, &grad)?);
        // The row losses' one sum goes to the loss and to its per-feature
        // metric (BCE or MSE) in one reduction; the BCE kernel's per-row
        // MSE gives the MSE.
        let per_feature = (1.0 / d as f32) / row_scale;
        let per_feature_slot = if rowmse.is_some() {
            slot::BCE
        } else {
            slot::MSE
        };
        steps.extend(ops::reduce_to(
            ctx,
            ReduceMode::Sum,
            1.0,
            &rowloss,
            &b.partials,
            &b.metrics,
            &[(slot::RECON, 1.0), (per_feature_slot, per_feature)],
        )?);
        if let Some(mse) = &rowmse {
            steps.extend(b.accumulate(ctx, ReduceMode::Sum, 1.0, mse, slot::MSE)?);
        }
        Ok(steps)
    }
}

impl Net {
    /// The loss kernel's loss and what it compares with the input: the
    /// output layer's logits under BCE, its output under MSE.
    pub(crate) fn loss_on(&self, rows: usize) -> Result<(Loss, GpuTensor)> {
        let (b, lo) = (&self.b, self.b.out_layer());
        Ok(match b.cfg.loss {
            LossKind::Bce => (Loss::BceLogits, b.pre_or_out(lo, rows)?),
            LossKind::Mse => (Loss::Mse, b.out(lo, rows)?),
        })
    }

    /// Under MSE, where the output layer's pre-activation gradient is
    /// written out: that gradient from the output's `grad` (BCE's kernel
    /// writes it itself).
    pub(crate) fn output_act_grad(
        &self,
        ctx: &GpuContext,
        rows: usize,
        grad: &GpuTensor,
    ) -> Result<Option<Step>> {
        let b = &self.b;
        let (lo, d) = (b.out_layer(), b.cfg.input_dim);
        let (LossKind::Mse, Some(dz)) = (b.cfg.loss, &b.layer[lo].grad_pre) else {
            return Ok(None);
        };
        Ok(Some(ops::act_backward(
            ctx,
            b.layers[lo].act,
            rows,
            d,
            &b.pre_or_out(lo, rows)?,
            &b.out(lo, rows)?,
            grad,
            &prefix(dz, rows, d)?,
        )?))
    }

    /// The step that writes each of `rows` rows' reconstruction MSE per
    /// value (the anomaly score) into the returned buffer.
    pub fn row_error_step(&self, ctx: &GpuContext, rows: usize) -> Result<(Step, GpuTensor)> {
        if let Some(mask) = self.b.mask(rows)? {
            return self.masked_row_error(ctx, rows, &mask);
        }
        let b = &self.b;
        let d = b.cfg.input_dim;
        let out = b.rowbuf.view(0, rows)?;
        let step = ops::row_loss(
            ctx,
            Loss::Mse,
            rows,
            d,
            1.0 / d as f32,
            &self.output(rows)?,
            &b.input(rows)?,
            &out,
        )?;
        Ok((step, out))
    }
}
