//! Planning convolutions (`Conv`: Conv1d, Conv2d) and transposed
//! convolutions (`ConvTranspose`), channels-first:
//!
//! ```text
//!   x    (rows, c, h, w)     the layer's input
//!   W    (o, c, kh, kw)      Conv; (c_in, c_out, kh, kw) ConvTranspose
//!   y    (rows, o, oh, ow)   output (z before the activation)
//!   dz   (rows, o, oh, ow)   gradient w.r.t. z
//! ```
//!
//! A transposed convolution is the input gradient of the convolution that
//! maps its output's shape to its input's shape: its forward pass is that
//! convolution's `conv_dx`, its input gradient that convolution's forward,
//! its weight gradient that convolution's `conv_dw` with x and dy exchanged.

use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GpuTensor, Step};
use crate::kernels::conv::{conv_db, conv_dw, conv_dx, conv_forward};
use crate::kernels::ConvGeom;
use crate::model::{LayerKind, LayerSpec, Shape, Window};
use crate::op::Activation;
use crate::plan::layer::{Grad, LayerPlan, Params};

/// Convolution's planning code.
pub struct Conv;

/// Transposed convolution's planning code.
pub struct ConvTranspose;

pub fn window(l: &LayerSpec) -> Result<Window> {
    match l.kind {
        LayerKind::Conv(w) | LayerKind::ConvTranspose(w) => Ok(w),
        other => Err(Error::Internal {
            op: format!("planning layer {}", l.index),
            message: format!("{} is not a convolution", other.name()),
        }),
    }
}

/// The convolution from `input` to `output` over `rows` samples.
pub fn geom(rows: usize, input: Shape, output: Shape, w: Window) -> ConvGeom {
    ConvGeom {
        n: rows,
        c: input[0],
        h: input[1],
        w: input[2],
        o: output[0],
        oh: output[1],
        ow: output[2],
        kh: w.kh,
        kw: w.kw,
        sh: w.sh,
        sw: w.sw,
        ph: w.ph,
        pw: w.pw,
        dh: w.dh,
        dw: w.dw,
    }
}

/// A convolution's dz must come written: its kernels apply no gate.
fn plain<'a>(l: &LayerSpec, dz: &Grad<'a>) -> Result<&'a GpuTensor> {
    if dz.gate.is_some() {
        return Err(Error::Internal {
            op: format!("planning layer {} ({})", l.index, l.kind.name()),
            message: "a convolution's gradient cannot carry a fused activation gate".into(),
        });
    }
    Ok(dz.t)
}

fn no_tying(l: &LayerSpec, accumulate: bool) -> Result<()> {
    if accumulate {
        return Err(Error::InvalidArgument(format!(
            "layer {} ({}): tied weights are for Linear layers",
            l.index,
            l.kind.name()
        )));
    }
    Ok(())
}

impl LayerPlan for Conv {
    fn forward(
        &self,
        ctx: &GpuContext,
        l: &LayerSpec,
        rows: usize,
        p: &Params,
        input: &GpuTensor,
        act: Activation,
        target: &GpuTensor,
    ) -> Result<Step> {
        let g = geom(rows, l.in_shape, l.out_shape, window(l)?);
        conv_forward(ctx, &g, input, p.weight(l)?, Some(p.bias(l)?), act, target)
    }

    fn param_grads(
        &self,
        ctx: &GpuContext,
        l: &LayerSpec,
        rows: usize,
        _p: &Params,
        input: &GpuTensor,
        dz: &Grad,
        g: &Params,
        accumulate: bool,
    ) -> Result<Vec<Step>> {
        no_tying(l, accumulate)?;
        let geo = geom(rows, l.in_shape, l.out_shape, window(l)?);
        let dz = plain(l, dz)?;
        Ok(vec![
            conv_dw(ctx, &geo, input, dz, g.weight(l)?)?,
            conv_db(ctx, &geo, dz, g.bias(l)?)?,
        ])
    }

    fn input_grad(
        &self,
        ctx: &GpuContext,
        l: &LayerSpec,
        rows: usize,
        p: &Params,
        dz: &Grad,
        target: &GpuTensor,
    ) -> Result<Step> {
        let g = geom(rows, l.in_shape, l.out_shape, window(l)?);
        conv_dx(
            ctx,
            &g,
            plain(l, dz)?,
            p.weight(l)?,
            None,
            Activation::Identity,
            target,
        )
    }
}

impl LayerPlan for ConvTranspose {
    fn forward(
        &self,
        ctx: &GpuContext,
        l: &LayerSpec,
        rows: usize,
        p: &Params,
        input: &GpuTensor,
        act: Activation,
        target: &GpuTensor,
    ) -> Result<Step> {
        // The convolution from the output's shape to the input's.
        let g = geom(rows, l.out_shape, l.in_shape, window(l)?);
        conv_dx(ctx, &g, input, p.weight(l)?, Some(p.bias(l)?), act, target)
    }

    fn param_grads(
        &self,
        ctx: &GpuContext,
        l: &LayerSpec,
        rows: usize,
        _p: &Params,
        input: &GpuTensor,
        dz: &Grad,
        g: &Params,
        accumulate: bool,
    ) -> Result<Vec<Step>> {
        no_tying(l, accumulate)?;
        let geo = geom(rows, l.out_shape, l.in_shape, window(l)?);
        let dz = plain(l, dz)?;
        // The bias gradient sums dz, shaped as the output.
        let over_output = ConvGeom {
            o: l.out_shape[0],
            oh: l.out_shape[1],
            ow: l.out_shape[2],
            ..geo
        };
        Ok(vec![
            conv_dw(ctx, &geo, dz, input, g.weight(l)?)?,
            conv_db(ctx, &over_output, dz, g.bias(l)?)?,
        ])
    }

    fn input_grad(
        &self,
        ctx: &GpuContext,
        l: &LayerSpec,
        rows: usize,
        p: &Params,
        dz: &Grad,
        target: &GpuTensor,
    ) -> Result<Step> {
        let g = geom(rows, l.out_shape, l.in_shape, window(l)?);
        conv_forward(
            ctx,
            &g,
            plain(l, dz)?,
            p.weight(l)?,
            None,
            Activation::Identity,
            target,
        )
    }
}
