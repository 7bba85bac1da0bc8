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
use crate::plan::options::PlanOptions;

/// The planning code of max and average pooling and nearest-neighbour
/// upsampling: the same shape of pass, a different kernel.
pub struct Pooling;

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
        // The vector as one row of an image, upsampled `times` rows down.
        LayerKind::Repeat { times } => Ok(PoolGeom::upsample(rows, 1, 1, l.inputs, times, 1)),
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

/// The max pooling layer keeps each window's argmax for its gradient.
fn is_max(l: &LayerSpec) -> bool {
    matches!(l.kind, LayerKind::MaxPool(_))
}

impl LayerPlan for Pooling {
    fn scratch(
        &self,
        _ctx: &GpuContext,
        _opts: &PlanOptions,
        l: &LayerSpec,
        cap: usize,
    ) -> Vec<usize> {
        if is_max(l) {
            vec![cap * l.outputs]
        } else {
            Vec::new()
        }
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
        let g = geom(l, rows)?;
        Ok(vec![match l.kind {
            LayerKind::MaxPool(_) => maxpool_forward(ctx, &g, input, target, p.scratch(l, 0)?)?,
            LayerKind::AvgPool(_) => avgpool_forward(ctx, &g, input, target)?,
            _ => upsample_forward(ctx, &g, input, target)?,
        }])
    }

    fn input_grad(
        &self,
        ctx: &GpuContext,
        l: &LayerSpec,
        rows: usize,
        p: &Params,
        _input: &GpuTensor,
        dz: &Grad,
        target: &GpuTensor,
    ) -> Result<Vec<Step>> {
        let (g, dz) = (geom(l, rows)?, dz.plain(l)?);
        Ok(vec![match l.kind {
            LayerKind::MaxPool(_) => maxpool_backward(ctx, &g, dz, p.scratch(l, 0)?, target)?,
            LayerKind::AvgPool(_) => avgpool_backward(ctx, &g, dz, target)?,
            _ => upsample_backward(ctx, &g, dz, target)?,
        }])
    }
}
