//! Planning batch normalization layers, channels-first (a flat vector's
//! features are its channels, with one value each):
//!
//! ```text
//!   x        (rows, c, s)   the layer's input, s = h * w
//!   y        (rows, c, s)   act(gamma * xhat + beta)
//!   stats    (2c)           scratch: the batch's mean and variance, kept for backward
//!   sum_dyx  (c)            scratch: sum dy * xhat, for the input's gradient
//!   sum_dy   (c)            scratch: sum dy
//!   buffers                 running_mean (c), running_var (c), num_batches_tracked
//! ```
//!
//! A training pass normalizes by the batch's statistics and moves the running
//! ones toward them; an evaluation pass normalizes by the running ones. The
//! gradients are those of the batch statistics (the backward pass follows a
//! training pass). The weight's and the bias's gradients are the two sums;
//! the input's gradient computes them again into scratch, so that it depends
//! on nothing the gradient arena holds.

use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GpuTensor, Step};
use crate::kernels::norm::{bn_apply, bn_dx, bn_grad_sums, bn_running, bn_stats};
use crate::kernels::{NormGeom, StatsAt};
use crate::model::{LayerKind, LayerSpec, Norm};
use crate::op::Activation;
use crate::plan::layer::{Grad, LayerPlan, Params};
use crate::plan::options::PlanOptions;

/// The planning code of BatchNorm1d and BatchNorm2d.
pub struct BatchNorm;

/// Layer `l`'s constants and its geometry over `rows` samples.
fn geom(l: &LayerSpec, rows: usize) -> Result<(Norm, NormGeom)> {
    let LayerKind::BatchNorm(norm) = l.kind else {
        return Err(Error::Internal {
            op: format!("planning layer {}", l.index),
            message: format!("{} is not a batch normalization", l.kind.name()),
        });
    };
    let [c, h, w] = l.in_shape;
    Ok((
        norm,
        NormGeom {
            n: rows,
            c,
            s: h * w,
            eps: norm.eps,
        },
    ))
}

/// The backward pass reads the batch statistics of a training pass.
fn training_only(l: &LayerSpec, p: &Params) -> Result<()> {
    if !p.training {
        return Err(Error::Internal {
            op: format!("planning layer {} ({})", l.index, l.kind.name()),
            message: "a backward pass needs a training pass's batch statistics".into(),
        });
    }
    Ok(())
}

/// Where the running statistics lie in the layer's buffers.
fn running_at(at: &[usize]) -> StatsAt {
    StatsAt {
        mean: at[0],
        var: at[1],
    }
}

impl LayerPlan for BatchNorm {
    fn scratch(
        &self,
        _ctx: &GpuContext,
        _opts: &PlanOptions,
        l: &LayerSpec,
        _cap: usize,
    ) -> Vec<usize> {
        let c = l.in_shape[0];
        vec![2 * c, c, c]
    }

    fn forward(
        &self,
        ctx: &GpuContext,
        l: &LayerSpec,
        rows: usize,
        p: &Params,
        input: &GpuTensor,
        act: Activation,
        target: &GpuTensor,
    ) -> Result<Vec<Step>> {
        let (norm, g) = geom(l, rows)?;
        let (gamma, beta) = (p.weight(l)?, p.bias(l)?);
        let buffers = p.buffers(l)?;
        if buffers.at.len() != 3 {
            return Err(Error::Internal {
                op: format!("planning layer {} ({})", l.index, l.kind.name()),
                message: format!("{} buffers bound, 3 expected", buffers.at.len()),
            });
        }
        if !p.training {
            return Ok(vec![bn_apply(
                ctx,
                &g,
                input,
                &buffers.t,
                running_at(&buffers.at),
                gamma,
                beta,
                act,
                target,
            )?]);
        }
        let stats = p.scratch(l, 0)?;
        Ok(vec![
            bn_stats(ctx, &g, input, stats)?,
            bn_running(
                ctx,
                &g,
                norm.momentum,
                stats,
                &buffers.t,
                running_at(&buffers.at),
                buffers.at[2],
            )?,
            bn_apply(
                ctx,
                &g,
                input,
                stats,
                StatsAt::batch(g.c),
                gamma,
                beta,
                act,
                target,
            )?,
        ])
    }

    fn param_grads(
        &self,
        ctx: &GpuContext,
        l: &LayerSpec,
        rows: usize,
        p: &Params,
        input: &GpuTensor,
        dz: &Grad,
        g: &Params,
        _accumulate: bool,
    ) -> Result<Vec<Step>> {
        training_only(l, p)?;
        let (_, geo) = geom(l, rows)?;
        Ok(vec![bn_grad_sums(
            ctx,
            &geo,
            input,
            dz.plain(l)?,
            p.scratch(l, 0)?,
            g.weight(l)?,
            g.bias(l)?,
        )?])
    }

    fn input_grad(
        &self,
        ctx: &GpuContext,
        l: &LayerSpec,
        rows: usize,
        p: &Params,
        input: &GpuTensor,
        dz: &Grad,
        target: &GpuTensor,
    ) -> Result<Vec<Step>> {
        training_only(l, p)?;
        let (_, geo) = geom(l, rows)?;
        let dz = dz.plain(l)?;
        let (stats, sum_dyx, sum_dy) = (p.scratch(l, 0)?, p.scratch(l, 1)?, p.scratch(l, 2)?);
        Ok(vec![
            bn_grad_sums(ctx, &geo, input, dz, stats, sum_dyx, sum_dy)?,
            bn_dx(
                ctx,
                &geo,
                input,
                dz,
                stats,
                p.weight(l)?,
                sum_dyx,
                sum_dy,
                target,
            )?,
        ])
    }
}
