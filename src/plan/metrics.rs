//! What the plan measures after the forward pass: the loss with its
//! penalties (L1, KL sparsity, contractive, a VAE's KL) and the
//! reconstruction metrics, summed into the metrics buffer.

use crate::error::Result;
use crate::gpu::{GpuContext, GpuTensor, Step};
use crate::kernels::{self as ops, Activation, Loss, MatmulSpec, ReduceMode};
use crate::model::LossKind;
use crate::plan::{need, prefix, slot, Mode, Net};

impl Net {
    /// Statistics of the code that both the penalty values (metric_steps)
    /// and their gradients (backward_steps) read, computed once per batch:
    /// the unit means rho_hat (KL sparsity); s_j = sum_i W_ji^2 and f'(z)^2
    /// (contractive).
    pub(super) fn code_statistics_steps(
        &self,
        ctx: &GpuContext,
        params: &GpuTensor,
        rows: usize,
    ) -> Result<Vec<Step>> {
        let mut steps = Vec::new();
        if let Some(rho_hat) = &self.rho_hat {
            let cl = self.code_layer();
            let c = self.layers[cl].outputs;
            steps.push(ops::col_sum(
                ctx,
                rows,
                c,
                1.0 / rows as f32,
                0.0,
                &self.out_rows(cl, rows)?,
                None,
                rho_hat,
            )?);
        }
        if let (Some(s), Some(fp2)) = (&self.cs, &self.fp2) {
            let l0 = &self.layers[0];
            let Some(weight) = self.layout.layers[0].weight() else {
                return Err(crate::error::Error::InvalidArgument(
                    "the contractive penalty needs a Linear first layer".into(),
                ));
            };
            let w = self.layout.view(params, weight)?;
            steps.push(ops::contractive_row_sq(ctx, l0.outputs, l0.inputs, &w, s)?);
            steps.push(ops::contractive_fp2(
                ctx,
                l0.act,
                rows,
                l0.outputs,
                &self.out_rows(0, rows)?,
                &prefix(fp2, rows, l0.outputs)?,
            )?);
        }
        Ok(steps)
    }

    /// In training, the reconstruction term and the MSE and BCE metrics, all
    /// summed from the loss kernel's per-row outputs: the loss rows (scaled
    /// by `row_scale`) give the reconstruction term, and rescaled to a mean
    /// per feature, the MSE (MSE loss) or the BCE (BCE loss); the BCE kernel's
    /// per-row MSE gives the MSE.
    pub(super) fn reconstruction_metric_steps(
        &self,
        ctx: &GpuContext,
        rows: usize,
        rowloss: &GpuTensor,
        row_scale: f32,
    ) -> Result<Vec<Step>> {
        let d = self.cfg.input_dim as f32;
        let per_feature = (1.0 / d) / row_scale;
        // The row losses' one sum goes to the loss and to its per-feature
        // metric (BCE or MSE) in one reduction. The per-row MSE buffer
        // exists for BCE models alone (whose output is a sigmoid, as the
        // config's validation requires).
        let per_feature_slot = if self.rowmse.is_some() {
            slot::BCE
        } else {
            slot::MSE
        };
        let mut steps = ops::reduce_to(
            ctx,
            ReduceMode::Sum,
            1.0,
            rowloss,
            &self.partials,
            &self.metrics,
            &[(slot::RECON, 1.0), (per_feature_slot, per_feature)],
        )?;
        if let Some(mse) = &self.rowmse {
            let mse = prefix(mse, rows, 1)?;
            steps.extend(self.accumulate(ctx, ReduceMode::Sum, 1.0, &mse, slot::MSE)?);
        }
        Ok(steps)
    }

    /// `metrics[slot] += scale * reduce(mode, x)`: one dispatch for a
    /// batch of up to 1024 rows, two above.
    fn accumulate(
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

    /// Loss, metrics and penalty values for `rows` rows, accumulated into the
    /// metrics buffer (which the caller clears at the start of an epoch).
    pub fn metric_steps(&self, ctx: &GpuContext, rows: usize) -> Result<Vec<Step>> {
        let mut steps = Vec::new();
        let d = self.cfg.input_dim;
        let lo = self.out_layer();
        let x = prefix(&self.x, rows, d)?;
        let logits = self.pre_or_out(lo, rows)?;
        let out = self.out_rows(lo, rows)?;
        let vae = self.cfg.variational.is_some();
        let rowbuf = prefix(&self.rowbuf, rows, 1)?;
        let accumulate = |steps: &mut Vec<Step>,
                          mode: ReduceMode,
                          scale: f32,
                          x: &GpuTensor,
                          slot: usize|
         -> Result<()> {
            steps.extend(self.accumulate(ctx, mode, scale, x, slot)?);
            Ok(())
        };
        let (loss, pred) = match self.cfg.loss {
            LossKind::Bce => (Loss::BceLogits, &logits),
            LossKind::Mse => (Loss::Mse, &out),
        };
        // In training the loss kernel fused with its gradient (backward_steps)
        // supplies the reconstruction term, and with it the MSE and BCE
        // metrics (see reconstruction_metric_steps), except the BCE of an MSE
        // model with a sigmoid output.
        let eval = self.mode == Mode::Eval;
        if eval {
            let recon_scale = if vae { 1.0 } else { 1.0 / d as f32 };
            steps.push(ops::row_loss(
                ctx,
                loss,
                rows,
                d,
                recon_scale,
                pred,
                &x,
                &rowbuf,
            )?);
            accumulate(&mut steps, ReduceMode::Sum, 1.0, &rowbuf, slot::RECON)?;
            steps.push(ops::row_loss(
                ctx,
                Loss::Mse,
                rows,
                d,
                1.0 / d as f32,
                &out,
                &x,
                &rowbuf,
            )?);
            accumulate(&mut steps, ReduceMode::Sum, 1.0, &rowbuf, slot::MSE)?;
        }
        if self.layers[lo].act == Activation::Sigmoid && (eval || self.cfg.loss != LossKind::Bce) {
            steps.push(ops::row_loss(
                ctx,
                Loss::BceLogits,
                rows,
                d,
                1.0 / d as f32,
                &logits,
                &x,
                &rowbuf,
            )?);
            accumulate(&mut steps, ReduceMode::Sum, 1.0, &rowbuf, slot::BCE)?;
        }

        let cl = self.code_layer();
        let c = self.cfg.code_dim();
        let code = self.out_rows(cl, rows)?;
        if self.cfg.l1 > 0.0 {
            accumulate(
                &mut steps,
                ReduceMode::SumAbs,
                self.cfg.l1,
                &code,
                slot::PENALTY,
            )?;
        }
        if let (Some(k), Some(rho_hat), Some(terms)) =
            (self.cfg.kl_sparsity, &self.rho_hat, &self.klterms)
        {
            steps.push(ops::kl_loss(ctx, c, k.rho, k.beta, rho_hat, terms)?);
            // The batch penalty applies to each of its rows.
            accumulate(
                &mut steps,
                ReduceMode::Sum,
                rows as f32,
                terms,
                slot::PENALTY,
            )?;
        }
        if self.cfg.contractive > 0.0 {
            let l0 = &self.layers[0];
            let (s, fp2, pen) = (
                need(&self.cs, "cs")?,
                need(&self.fp2, "fp2")?,
                need(&self.pen, "pen")?,
            );
            let fp2 = prefix(fp2, rows, l0.outputs)?;
            let pen = prefix(pen, rows, 1)?;
            steps.push(ops::matmul(
                ctx,
                &MatmulSpec::new(rows, 1, l0.outputs, false, false),
                &fp2,
                s,
                None,
                &pen,
            )?);
            accumulate(
                &mut steps,
                ReduceMode::Sum,
                self.cfg.contractive,
                &pen,
                slot::PENALTY,
            )?;
        }
        if let Some(v) = self.cfg.variational {
            steps.push(ops::vae_kl_rows(ctx, rows, c, 1.0, &code, &rowbuf)?);
            accumulate(&mut steps, ReduceMode::Sum, 1.0, &rowbuf, slot::KL)?;
            accumulate(&mut steps, ReduceMode::Sum, v.beta, &rowbuf, slot::PENALTY)?;
        }
        Ok(steps)
    }
}
