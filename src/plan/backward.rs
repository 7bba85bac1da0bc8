//! The backward pass from the loss's gradient: each layer's parameter and
//! input gradients, the residual shortcuts' gradients, and the variants'
//! terms where they enter.

use crate::error::Result;
use crate::gpu::{GpuContext, GpuTensor, Step};
use crate::kernels::{self as ops, Activation};
use crate::plan::layer::Grad;
use crate::plan::{planner, Net};

impl Net {
    /// The backward pass for `rows` rows, from the gradient the loss wrote
    /// ([`Net::loss_steps`]): every parameter gradient is written (the
    /// first writer overwrites, so no clearing).
    pub fn backward_steps(
        &self,
        ctx: &GpuContext,
        params: &GpuTensor,
        grads: &GpuTensor,
        rows: usize,
    ) -> Result<Vec<Step>> {
        let pass = self.pass(ctx, params, rows);
        let mut steps = Vec::new();
        let mut written = vec![false; self.layout.entries.len()];
        for li in (0..self.b.layers.len()).rev() {
            let l = self.b.layers[li];
            let lp = &self.layout.layers[li];
            let input = self.layer_input(li, rows)?;
            let bound = self.bind(params, li, rows)?;
            let p = bound.params(&self.b.layer[li].scratch, self.b.mode);
            let grad_bound = self.bind_grads(grads, li)?;
            let g = grad_bound.grads();
            let dzl = self.b.grad_pre(li, rows)?;
            let gate = self.act_gate(li, rows)?;
            let dz = Grad {
                t: &dzl,
                gate: gate.as_ref().map(|(act, g)| (*act, g)),
            };
            // A tied weight's gradient is written by its mirror first (the
            // decoder is planned before the encoder): add to it.
            let accumulate = lp.weight().is_some_and(|i| written[i]);
            for &(_, i) in &lp.params {
                written[i] = true;
            }
            let plan = planner(l.kind);
            steps.extend(plan.param_grads(ctx, &l, rows, &p, &input, &dz, &g, accumulate)?);
            steps.extend(self.each(|v| v.add_param_grads(&pass, li, grads))?);
            if li == 0 {
                break;
            }
            // The gradient w.r.t. this layer's input, into the layer before.
            let target = self.input_grad_target(li, rows)?;
            steps.extend(plan.input_grad(ctx, &l, rows, &p, &input, &dz, &target)?);
            steps.extend(self.shortcut_grads(ctx, params, li, rows, &target)?);
            steps.extend(self.to_pre_activation(ctx, params, li - 1, rows, &target)?);
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
        for (j, l) in self.b.layers.iter().enumerate().skip(start) {
            if l.skip().is_none_or(|k| j - k.body != start) {
                continue;
            }
            let bound = self.bind(params, j, rows)?;
            let p = bound.params(&self.b.layer[j].scratch, self.b.mode);
            let dzl = self.b.grad_pre(j, rows)?;
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
    /// (no pre-activation gradient is written): then [`Buffers::grad_pre`]
    /// returns the output's gradient, and its consumers multiply by
    /// f'(gate) as they load it.
    ///
    /// [`Buffers::grad_pre`]: crate::plan::buffers::Buffers::grad_pre
    fn act_gate(&self, l: usize, rows: usize) -> Result<Option<(Activation, GpuTensor)>> {
        let spec = &self.b.layers[l];
        if self.b.layer[l].grad_pre.is_some() || spec.act == Activation::Identity {
            return Ok(None);
        }
        let gate = if spec.act.gate_is_output() {
            self.b.out(l, rows)?
        } else {
            self.b.pre_or_out(l, rows)?
        };
        Ok(Some((spec.act, gate)))
    }

    /// From the gradient its consumers wrote into `incoming` to the
    /// gradient w.r.t. layer l's pre-activation: the variants' steps (a
    /// dropout mask, a VAE head's own gradient), their penalties' terms on
    /// the output, the activation's gradient, their terms on the
    /// pre-activation.
    fn to_pre_activation(
        &self,
        ctx: &GpuContext,
        params: &GpuTensor,
        li: usize,
        rows: usize,
        incoming: &GpuTensor,
    ) -> Result<Vec<Step>> {
        let pass = self.pass(ctx, params, rows);
        let l = self.b.layers[li];
        let lb = &self.b.layer[li];
        let mut steps = self.each(|v| v.output_grad(&pass, li, incoming))?;
        steps.extend(self.each(|v| v.add_output_grad(&pass, li))?);
        if let (Some(_), Some(_)) = (&lb.grad_out, &lb.grad_pre) {
            steps.push(ops::act_backward(
                ctx,
                l.act,
                rows,
                l.outputs,
                &self.b.pre_or_out(li, rows)?,
                &self.b.out(li, rows)?,
                &self.b.grad_out(li, rows)?,
                &self.b.grad_pre(li, rows)?,
            )?);
        }
        steps.extend(self.each(|v| v.add_pre_grad(&pass, li))?);
        Ok(steps)
    }
}
