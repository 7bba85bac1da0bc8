//! The backward pass: each layer's parameter and input gradients, with the
//! variants' terms (dropout, the VAE head, the code's penalties, the
//! contractive penalty) added where they enter.

use crate::error::Result;
use crate::gpu::{GpuContext, GpuTensor, Step};
use crate::kernels::{self as ops, Activation, Loss};
use crate::model::{LossKind, Role};
use crate::plan::layer::{Grad, Params};
use crate::plan::{need, planner, prefix, Mode, Net};

impl Net {
    /// Loss gradient and backward pass for `rows` rows: every parameter
    /// gradient is written (the first writer overwrites, so no clearing).
    pub fn backward_steps(
        &self,
        ctx: &GpuContext,
        params: &GpuTensor,
        grads: &GpuTensor,
        rows: usize,
    ) -> Result<Vec<Step>> {
        let mut steps = Vec::new();
        let d = self.cfg.input_dim;
        let lo = self.out_layer();
        let vae = self.cfg.variational.is_some();
        let x = prefix(&self.x, rows, d)?;
        let grad_scale = if vae {
            1.0 / rows as f32
        } else {
            1.0 / (rows * d) as f32
        };
        let lout = self.layers[lo];
        // The loss gradient and the per-sample loss in one pass.
        let row_scale = if vae { 1.0 } else { 1.0 / d as f32 };
        let rowloss = prefix(need(&self.rowloss, "rowloss")?, rows, 1)?;
        match self.cfg.loss {
            LossKind::Bce => {
                let dz = prefix(need(&self.dz[lo], "dz[lo]")?, rows, d)?;
                steps.push(ops::loss_fused(
                    ctx,
                    Loss::BceLogits,
                    rows,
                    d,
                    grad_scale,
                    row_scale,
                    &self.pre_or_out(lo, rows)?,
                    &x,
                    &dz,
                    &rowloss,
                    self.rowmse
                        .as_ref()
                        .map(|t| prefix(t, rows, 1))
                        .transpose()?
                        .as_ref(),
                )?);
            }
            LossKind::Mse => {
                let da = prefix(need(&self.da[lo], "da[lo]")?, rows, d)?;
                steps.push(ops::loss_fused(
                    ctx,
                    Loss::Mse,
                    rows,
                    d,
                    grad_scale,
                    row_scale,
                    &self.out_rows(lo, rows)?,
                    &x,
                    &da,
                    &rowloss,
                    None,
                )?);
                if let Some(dz) = &self.dz[lo] {
                    let dz = prefix(dz, rows, d)?;
                    steps.push(ops::act_backward(
                        ctx,
                        lout.act,
                        rows,
                        d,
                        &self.pre_or_out(lo, rows)?,
                        &self.out_rows(lo, rows)?,
                        &da,
                        &dz,
                    )?);
                }
            }
        }

        steps.extend(self.reconstruction_metric_steps(ctx, rows, &rowloss, row_scale)?);

        let mut written = vec![false; self.layout.entries.len()];
        for li in (0..self.layers.len()).rev() {
            let l = self.layers[li];
            let lp = &self.layout.layers[li];
            let dzl = self.grad_pre(li, rows)?;
            let gate = self.act_gate(li, rows)?;
            let dz = Grad {
                t: &dzl,
                gate: gate.as_ref().map(|(act, g)| (*act, g)),
            };
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
            let grad_views = self.layout.layer_views(grads, li)?;
            let g = Params {
                tensors: &grad_views,
                transposed: lp.transposed,
                scratch: &[],
                buffers: None,
                skip: None,
                training: true,
            };
            // A tied weight's gradient is written by its mirror first (the
            // decoder is planned before the encoder): add to it.
            let accumulate = lp.weight().is_some_and(|i| written[i]);
            for &(_, i) in &lp.params {
                written[i] = true;
            }
            let (w, gw) = (p.get("weight"), g.get("weight"));
            steps.extend(
                planner(l.kind).param_grads(ctx, &l, rows, &p, &input, &dz, &g, accumulate)?,
            );
            if li == 0 && self.cfg.contractive > 0.0 {
                let (Some(w), Some(gw)) = (w, gw) else {
                    return Err(crate::error::Error::InvalidArgument(
                        "the contractive penalty needs a Linear first layer".into(),
                    ));
                };
                steps.push(ops::contractive_wgrad(
                    ctx,
                    rows,
                    l.outputs,
                    l.inputs,
                    self.cfg.contractive,
                    w,
                    need(&self.cvec, "cvec")?,
                    gw,
                )?);
            }
            if li == 0 {
                break;
            }

            // Gradient w.r.t. this layer's input, into the previous layer.
            let prev = self.layers[li - 1];
            let target = if prev.role == Role::VaeHead {
                prefix(need(&self.dzc, "dzc")?, rows, self.cfg.code_dim())?
            } else if let Some(dad) = &self.dad[li - 1] {
                prefix(dad, rows, prev.outputs)?
            } else {
                prefix(need(&self.da[li - 1], "da[li - 1]")?, rows, prev.outputs)?
            };
            steps.extend(planner(l.kind).input_grad(ctx, &l, rows, &p, &input, &dz, &target)?);
            steps.extend(self.shortcut_grads(ctx, params, li, rows, &target)?);
            steps.extend(self.to_pre_activation(ctx, li - 1, rows, &target)?);
        }

        Ok(steps)
    }

    /// The gradients along the shortcuts of the residual blocks that start
    /// at layer `start`, added into `target` (the gradient w.r.t. its
    /// input, which the layer has just written).
    fn shortcut_grads(
        &self,
        ctx: &GpuContext,
        params: &GpuTensor,
        start: usize,
        rows: usize,
        target: &GpuTensor,
    ) -> Result<Vec<Step>> {
        let mut steps = Vec::new();
        for (j, l) in self.layers.iter().enumerate().skip(start) {
            if l.skip().is_none_or(|k| j - k.body != start) {
                continue;
            }
            let views = self.layout.layer_views(params, j)?;
            let skip = self.block_input(j, rows)?;
            let p = Params {
                tensors: &views,
                transposed: false,
                scratch: &self.scratch[j],
                buffers: None,
                skip: skip.as_ref(),
                training: self.mode == Mode::Train,
            };
            let dzl = self.grad_pre(j, rows)?;
            let gate = self.act_gate(j, rows)?;
            let dz = Grad {
                t: &dzl,
                gate: gate.as_ref().map(|(act, g)| (*act, g)),
            };
            steps.extend(planner(l.kind).skip_grad(ctx, l, rows, &p, &dz, target)?);
        }
        Ok(steps)
    }

    /// Layer l's activation and gate when its activation gradient is fused
    /// (see [`fuses_act_grad`]): then [`Net::grad_pre`] returns da, and its
    /// consumers multiply by f'(gate) as they load it.
    fn act_gate(&self, l: usize, rows: usize) -> Result<Option<(Activation, GpuTensor)>> {
        let spec = &self.layers[l];
        if self.dz[l].is_some() || spec.act == Activation::Identity {
            return Ok(None);
        }
        let gate = if spec.act.gate_is_output() {
            self.out_rows(l, rows)?
        } else {
            self.pre_or_out(l, rows)?
        };
        Ok(Some((spec.act, gate)))
    }

    /// The gradient w.r.t. layer l's pre-activation, or w.r.t. its output
    /// when the activation gradient is fused (see [`Net::act_gate`]).
    fn grad_pre(&self, l: usize, rows: usize) -> Result<GpuTensor> {
        let t = match &self.dz[l] {
            Some(dz) => dz,
            None => need(&self.da[l], "da[l]")?,
        };
        prefix(t, rows, self.layers[l].outputs)
    }

    /// From the gradient w.r.t. layer l's (dropped-out) output to the
    /// gradient w.r.t. its pre-activation, with the code's penalties added.
    fn to_pre_activation(
        &self,
        ctx: &GpuContext,
        li: usize,
        rows: usize,
        incoming: &GpuTensor,
    ) -> Result<Vec<Step>> {
        let mut steps = Vec::new();
        let l = self.layers[li];
        let n = rows * l.outputs;
        if l.role == Role::VaeHead {
            let c = self.cfg.code_dim();
            let beta = self.cfg.variational.map_or(1.0, |v| v.beta);
            let eps = prefix(need(&self.eps, "eps")?, rows, c)?;
            let dhead = prefix(need(&self.dz[li], "dz[li]")?, rows, l.outputs)?;
            steps.push(ops::vae_backward(
                ctx,
                rows,
                c,
                beta,
                &self.out_rows(li, rows)?,
                &eps,
                incoming,
                &dhead,
            )?);
            return Ok(steps);
        }
        let da = prefix(need(&self.da[li], "da[li]")?, rows, l.outputs)?;
        if let Some(mask) = &self.mask[li] {
            steps.push(ops::mul(
                ctx,
                n,
                incoming,
                &prefix(mask, rows, l.outputs)?,
                &da,
            )?);
        }
        let y = self.out_rows(li, rows)?;
        if l.role == Role::Code {
            if self.cfg.l1 > 0.0 {
                steps.push(ops::l1_grad(
                    ctx,
                    rows,
                    l.outputs,
                    self.cfg.l1 / rows as f32,
                    &y,
                    &da,
                )?);
            }
            if let (Some(k), Some(rho_hat)) = (self.cfg.kl_sparsity, &self.rho_hat) {
                steps.push(ops::kl_grad(
                    ctx, rows, l.outputs, k.rho, k.beta, rho_hat, &da,
                )?);
            }
        }
        if let Some(dz) = &self.dz[li] {
            let dz = prefix(dz, rows, l.outputs)?;
            steps.push(ops::act_backward(
                ctx,
                l.act,
                rows,
                l.outputs,
                &self.pre_or_out(li, rows)?,
                &y,
                &da,
                &dz,
            )?);
        }
        if li == 0 && self.cfg.contractive > 0.0 {
            let (s, fp2, cvec) = (
                need(&self.cs, "cs")?,
                need(&self.fp2, "fp2")?,
                need(&self.cvec, "cvec")?,
            );
            let fp2 = prefix(fp2, rows, l.outputs)?;
            steps.push(ops::contractive_dz(
                ctx,
                l.act,
                rows,
                l.outputs,
                self.cfg.contractive,
                &y,
                s,
                &self.grad_pre(li, rows)?,
            )?);
            steps.push(ops::col_sum(
                ctx, rows, l.outputs, 1.0, 0.0, &fp2, None, cvec,
            )?);
        }
        Ok(steps)
    }
}
