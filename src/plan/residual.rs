//! Planning a residual block's end, `z = body + x` or `z = body + proj(x)`,
//! with `x` the block's input (which the plan keeps alive: it is the
//! output of the layer before the block) and the projection planned by its
//! own kind's code (a Dense or 1x1 convolution layer):
//!
//! ```text
//!   body, z, dz  (rows, outputs)   the body's output, the sum, its gradient
//!   x, dx        (rows, from)      the block's input and its gradient
//!   scratch      the projection's own, then dx_proj (cap, from)
//! ```
//!
//! forward: the shortcut into z (the projection, or a copy), then z +=
//! body; the plan applies the block's activation in a pass of its own.
//! backward: the body's gradient is dz (a copy); the projection's parameter
//! gradients; and, once the block's first layer has written dx, dx += dz or
//! dx += proj^T(dz).

use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GpuTensor, Step};
use crate::kernels as ops;
use crate::model::{LayerSpec, Projection};
use crate::op::Activation;
use crate::plan::conv::{Conv, ConvTranspose};
use crate::plan::dense::Dense;
use crate::plan::layer::{Grad, LayerPlan, Params};
use crate::plan::options::PlanOptions;

/// The residual block's planning code.
pub struct Residual;

/// The projection as a layer of its own, and its kind's planning code
/// (none for the identity).
fn projection(l: &LayerSpec) -> Option<(LayerSpec, &'static dyn LayerPlan)> {
    let pl = l.projection()?;
    let plan: &'static dyn LayerPlan = match l.skip()?.proj {
        Projection::Identity => return None,
        Projection::Dense => &Dense,
        Projection::Conv(_) => &Conv,
        Projection::ConvTranspose(_) => &ConvTranspose,
    };
    Some((pl, plan))
}

/// The projection's parameters (or gradients) under its kind's names.
fn renamed(p: &Params) -> Vec<(&'static str, GpuTensor)> {
    [("weight", "proj.weight"), ("bias", "proj.bias")]
        .into_iter()
        .filter_map(|(own, name)| Some((own, p.get(name)?.clone())))
        .collect()
}

/// The projection's view of the layer's scratch: all but the last buffer
/// (the projected input gradient).
fn proj_scratch<'a>(l: &LayerSpec, p: &Params<'a>) -> Result<&'a [GpuTensor]> {
    match p.scratch.split_last() {
        Some((_, rest)) => Ok(rest),
        None => Err(Error::Internal {
            op: format!("planning layer {} (Residual)", l.index),
            message: "its scratch buffers were not bound".into(),
        }),
    }
}

/// The projection's parameters (`tensors`, under its kind's names) with
/// its scratch, for its kind's planning code.
fn proj_params<'a>(
    l: &LayerSpec,
    p: &Params<'a>,
    tensors: &'a [(&'static str, GpuTensor)],
) -> Result<Params<'a>> {
    Ok(Params {
        tensors,
        scratch: proj_scratch(l, p)?,
        skip: None,
        ..*p
    })
}

impl LayerPlan for Residual {
    /// The projection's scratch, then its input gradient's buffer.
    fn scratch(
        &self,
        ctx: &GpuContext,
        opts: &PlanOptions,
        l: &LayerSpec,
        cap: usize,
    ) -> Vec<usize> {
        match projection(l) {
            Some((pl, plan)) => {
                let mut s = plan.scratch(ctx, opts, &pl, cap);
                s.push(cap * pl.inputs);
                s
            }
            None => Vec::new(),
        }
    }

    fn keeps_pre_activation(&self) -> bool {
        true
    }

    fn forward(
        &self,
        ctx: &GpuContext,
        l: &LayerSpec,
        rows: usize,
        p: &Params,
        body: &GpuTensor,
        act: Activation,
        target: &GpuTensor,
    ) -> Result<Vec<Step>> {
        if act != Activation::Identity {
            return Err(Error::Internal {
                op: format!("planning layer {} (Residual)", l.index),
                message: "its activation must follow the sum, in a pass of its own".into(),
            });
        }
        let x = p.skip(l)?;
        let n = rows * l.outputs;
        let mut steps = match projection(l) {
            Some((pl, plan)) => {
                let tensors = renamed(p);
                let pp = proj_params(l, p, &tensors)?;
                plan.forward(ctx, &pl, rows, &pp, x, Activation::Identity, target)?
            }
            None => vec![ops::axpby(ctx, n, 1.0, x, 0.0, target)?],
        };
        steps.push(ops::axpby(ctx, n, 1.0, body, 1.0, target)?);
        Ok(steps)
    }

    fn param_grads(
        &self,
        ctx: &GpuContext,
        l: &LayerSpec,
        rows: usize,
        p: &Params,
        _body: &GpuTensor,
        dz: &Grad,
        g: &Params,
        _accumulate: bool,
    ) -> Result<Vec<Step>> {
        let Some((pl, plan)) = projection(l) else {
            return Ok(Vec::new());
        };
        let (tensors, grads) = (renamed(p), renamed(g));
        let pp = proj_params(l, p, &tensors)?;
        let gp = Params {
            tensors: &grads,
            ..*g
        };
        let dz = Grad {
            t: dz.plain(l)?,
            gate: None,
        };
        plan.param_grads(ctx, &pl, rows, &pp, p.skip(l)?, &dz, &gp, false)
    }

    /// The body's gradient is the sum's.
    fn input_grad(
        &self,
        ctx: &GpuContext,
        l: &LayerSpec,
        rows: usize,
        _p: &Params,
        _body: &GpuTensor,
        dz: &Grad,
        target: &GpuTensor,
    ) -> Result<Vec<Step>> {
        let n = rows * l.outputs;
        Ok(vec![ops::axpby(ctx, n, 1.0, dz.plain(l)?, 0.0, target)?])
    }

    fn skip_grad(
        &self,
        ctx: &GpuContext,
        l: &LayerSpec,
        rows: usize,
        p: &Params,
        dz: &Grad,
        target: &GpuTensor,
    ) -> Result<Vec<Step>> {
        let dz = dz.plain(l)?;
        let Some((pl, plan)) = projection(l) else {
            return Ok(vec![ops::axpby(
                ctx,
                rows * l.outputs,
                1.0,
                dz,
                1.0,
                target,
            )?]);
        };
        let n = rows * pl.inputs;
        let tensors = renamed(p);
        let pp = proj_params(l, p, &tensors)?;
        let dx = p
            .scratch(l, p.scratch.len().saturating_sub(1))?
            .view(0, n)?;
        let grad = Grad { t: dz, gate: None };
        let mut steps = plan.input_grad(ctx, &pl, rows, &pp, p.skip(l)?, &grad, &dx)?;
        steps.push(ops::axpby(ctx, n, 1.0, &dx, 1.0, target)?);
        Ok(steps)
    }
}
