//! Planning pooling and upsampling layers, channels-first planes:
//!
//! ```text
//!   x     (rows, c, h, w)     the layer's input
//!   y     (rows, c, oh, ow)   output
//!   idx   (rows, c, oh, ow)   max pooling's argmax (u32), kept for backward
//! ```
//!
//! None has parameters or an activation of its own.

use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GpuTensor, Step};
use crate::kernels::pool::{
    avgpool_backward, avgpool_forward, maxpool_backward, maxpool_forward, upsample_backward,
    upsample_forward,
};
use crate::kernels::PoolGeom;
use crate::model::{LayerKind, LayerSpec};
use crate::op::Activation;
use crate::plan::layer::{Grad, LayerPlan, Params};

/// Max pooling's planning code.
pub struct MaxPool;
/// Average pooling's planning code.
pub struct AvgPool;
/// Nearest-neighbour upsampling's planning code.
pub struct Upsample;

/// The pooling geometry of layer `l` over `rows` samples.
pub fn geom(l: &LayerSpec, rows: usize) -> Result<PoolGeom> {
    let [c, h, w] = l.in_shape;
    let [_, oh, ow] = l.out_shape;
    match l.kind {
        LayerKind::MaxPool(win) | LayerKind::AvgPool(win) => Ok(PoolGeom {
            n: rows,
            c,
            h,
            w,
            oh,
            ow,
            kh: win.kh,
            kw: win.kw,
            sh: win.sh,
            sw: win.sw,
            ph: win.ph,
            pw: win.pw,
        }),
        LayerKind::Upsample { fh, fw, .. } => Ok(PoolGeom::upsample(rows, c, h, w, fh, fw)),
        other => Err(Error::Internal {
            op: format!("planning layer {}", l.index),
            message: format!("{} is not a pooling layer", other.name()),
        }),
    }
}

/// Pooling has no activation of its own (the description refuses one).
fn identity(l: &LayerSpec, act: Activation) -> Result<()> {
    if act != Activation::Identity {
        return Err(Error::InvalidArgument(format!(
            "layer {} ({}) takes no activation",
            l.index,
            l.kind.name()
        )));
    }
    Ok(())
}

fn plain<'a>(l: &LayerSpec, dz: &Grad<'a>) -> Result<&'a GpuTensor> {
    if dz.gate.is_some() {
        return Err(Error::Internal {
            op: format!("planning layer {} ({})", l.index, l.kind.name()),
            message: "a pooling layer's gradient cannot carry an activation gate".into(),
        });
    }
    Ok(dz.t)
}

impl LayerPlan for MaxPool {
    fn scratch(&self, _ctx: &GpuContext, l: &LayerSpec, cap: usize) -> Vec<usize> {
        vec![cap * l.outputs]
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
        identity(l, act)?;
        Ok(vec![maxpool_forward(
            ctx,
            &geom(l, rows)?,
            input,
            target,
            p.scratch(l, 0)?,
        )?])
    }

    fn input_grad(
        &self,
        ctx: &GpuContext,
        l: &LayerSpec,
        rows: usize,
        p: &Params,
        dz: &Grad,
        target: &GpuTensor,
    ) -> Result<Vec<Step>> {
        Ok(vec![maxpool_backward(
            ctx,
            &geom(l, rows)?,
            plain(l, dz)?,
            p.scratch(l, 0)?,
            target,
        )?])
    }
}

impl LayerPlan for AvgPool {
    fn forward(
        &self,
        ctx: &GpuContext,
        l: &LayerSpec,
        rows: usize,
        _p: &Params,
        input: &GpuTensor,
        act: Activation,
        target: &GpuTensor,
    ) -> Result<Vec<Step>> {
        identity(l, act)?;
        Ok(vec![avgpool_forward(ctx, &geom(l, rows)?, input, target)?])
    }

    fn input_grad(
        &self,
        ctx: &GpuContext,
        l: &LayerSpec,
        rows: usize,
        _p: &Params,
        dz: &Grad,
        target: &GpuTensor,
    ) -> Result<Vec<Step>> {
        Ok(vec![avgpool_backward(
            ctx,
            &geom(l, rows)?,
            plain(l, dz)?,
            target,
        )?])
    }
}

impl LayerPlan for Upsample {
    fn forward(
        &self,
        ctx: &GpuContext,
        l: &LayerSpec,
        rows: usize,
        _p: &Params,
        input: &GpuTensor,
        act: Activation,
        target: &GpuTensor,
    ) -> Result<Vec<Step>> {
        identity(l, act)?;
        Ok(vec![upsample_forward(ctx, &geom(l, rows)?, input, target)?])
    }

    fn input_grad(
        &self,
        ctx: &GpuContext,
        l: &LayerSpec,
        rows: usize,
        _p: &Params,
        dz: &Grad,
        target: &GpuTensor,
    ) -> Result<Vec<Step>> {
        Ok(vec![upsample_backward(
            ctx,
            &geom(l, rows)?,
            plain(l, dz)?,
            target,
        )?])
    }
}
