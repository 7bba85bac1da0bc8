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
//!
//! Two algorithms give the same sums in other orders: direct loops over the
//! window (`conv_forward`, `conv_dx`, `conv_dw`), or im2col and the tuned
//! matmul (the default where the im2col matrix fits a storage binding;
//! `PlanOptions::conv_im2col` false, or `WGAE_CONV=direct` in the CLI, forces the loops). With im2col, for the convolution
//! `G` (the layer's own, or for a transposed layer the one it transposes),
//! K = c*kh*kw and P = rows*oh*ow:
//!
//! ```text
//!   scratch[0]  col   (K, P)   im2col of G's input
//!   scratch[1]  t     (o, P)   G's output (or its gradient) with the batch
//!                              axis inside the channel axis (to_cnhw)
//!   scratch[2]  dcol  (K, P)   a product's columns, for col2im
//!   Conv           forward  col = im2col(x); t = W.col; y = act(from_cnhw(t) + b)
//!                  params   t = to_cnhw(dz); dW = t.col^T (col from forward); db
//!                  input    dcol = W^T.t (t from params); dx = col2im(dcol)
//!   ConvTranspose  forward  t = to_cnhw(x); dcol = W^T.t; y = act(col2im(dcol) + b)
//!                  params   col = im2col(dz); dW = t.col^T (t from forward); db
//!                  input    t = W.col (col from params); dx = from_cnhw(t)
//! ```
//! The planner plans each layer's parameter gradients before its input
//! gradient, and a step's forward before both, which these rely on.

use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GpuTensor, Step};
use crate::kernels::conv::{
    col2im, conv_db, conv_dw, conv_dx, conv_forward, from_cnhw, im2col, to_cnhw,
};
use crate::kernels::{matmul, ConvGeom, MatmulSpec};
use crate::model::{LayerKind, LayerSpec, Shape, Window};
use crate::op::Activation;
use crate::plan::layer::{Grad, LayerPlan, Params};
use crate::plan::options::PlanOptions;

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

/// The convolution a layer computes or transposes, over `rows` samples.
fn the_conv(l: &LayerSpec, rows: usize, win: Window) -> ConvGeom {
    match l.kind {
        LayerKind::ConvTranspose(_) => geom(rows, l.out_shape, l.in_shape, win),
        _ => geom(rows, l.in_shape, l.out_shape, win),
    }
}

/// The im2col buffers' lengths at capacity `cap`: none (direct loops) unless
/// the plan asks for im2col and its matrix fits a storage binding.
fn im2col_scratch(ctx: &GpuContext, opts: &PlanOptions, l: &LayerSpec, cap: usize) -> Vec<usize> {
    let Ok(win) = window(l) else {
        return Vec::new();
    };
    let g = the_conv(l, cap, win);
    let limit = ctx
        .limits()
        .max_storage_buffer_binding_size
        .min(ctx.limits().max_buffer_size);
    if !opts.im2col() || (g.col_len().max(g.output_len()) as u64) * 4 > limit {
        return Vec::new();
    }
    vec![g.col_len(), g.output_len(), g.col_len()]
}

/// The products of the im2col path, for `rows` rows of `g`.
fn w_times_col(g: &ConvGeom) -> MatmulSpec {
    let (k, p) = (g.c * g.kh * g.kw, g.n * g.oh * g.ow);
    MatmulSpec::new(g.o, p, k, false, false)
}

fn t_times_col_t(g: &ConvGeom) -> MatmulSpec {
    let (k, p) = (g.c * g.kh * g.kw, g.n * g.oh * g.ow);
    MatmulSpec::new(g.o, k, p, false, true)
}

fn w_t_times_t(g: &ConvGeom) -> MatmulSpec {
    let (k, p) = (g.c * g.kh * g.kw, g.n * g.oh * g.ow);
    MatmulSpec::new(k, p, g.o, true, false)
}

/// Views of the first `len` words of each im2col buffer.
fn parts<'a>(
    p: &Params<'a>,
    l: &LayerSpec,
    g: &ConvGeom,
) -> Result<(GpuTensor, GpuTensor, GpuTensor)> {
    Ok((
        p.scratch(l, 0)?.view(0, g.col_len())?,
        p.scratch(l, 1)?.view(0, g.output_len())?,
        p.scratch(l, 2)?.view(0, g.col_len())?,
    ))
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
    fn scratch(
        &self,
        ctx: &GpuContext,
        opts: &PlanOptions,
        l: &LayerSpec,
        cap: usize,
    ) -> Vec<usize> {
        im2col_scratch(ctx, opts, l, cap)
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
        let g = geom(rows, l.in_shape, l.out_shape, window(l)?);
        let (w, b) = (p.weight(l)?, p.get("bias"));
        if p.scratch.is_empty() {
            return Ok(vec![conv_forward(ctx, &g, input, w, b, act, target)?]);
        }
        let (col, t, _) = parts(p, l, &g)?;
        Ok(vec![
            im2col(ctx, &g, input, &col)?,
            matmul(ctx, &w_times_col(&g), w, &col, None, &t)?,
            from_cnhw(ctx, &g, &t, b, act, target)?,
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
        accumulate: bool,
    ) -> Result<Vec<Step>> {
        no_tying(l, accumulate)?;
        let geo = geom(rows, l.in_shape, l.out_shape, window(l)?);
        let dz = dz.plain(l)?;
        let db = g
            .get("bias")
            .map(|gb| conv_db(ctx, &geo, dz, gb))
            .transpose()?;
        if p.scratch.is_empty() {
            let dw = conv_dw(ctx, &geo, input, dz, g.weight(l)?)?;
            return Ok([Some(dw), db].into_iter().flatten().collect());
        }
        let (col, t, _) = parts(p, l, &geo)?;
        Ok([
            Some(to_cnhw(ctx, &geo, dz, &t)?),
            Some(matmul(
                ctx,
                &t_times_col_t(&geo),
                &t,
                &col,
                None,
                g.weight(l)?,
            )?),
            db,
        ]
        .into_iter()
        .flatten()
        .collect())
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
        let g = geom(rows, l.in_shape, l.out_shape, window(l)?);
        let (w, dz) = (p.weight(l)?, dz.plain(l)?);
        if p.scratch.is_empty() {
            let id = Activation::Identity;
            return Ok(vec![conv_dx(ctx, &g, dz, w, None, id, target)?]);
        }
        let (_, t, dcol) = parts(p, l, &g)?;
        Ok(vec![
            matmul(ctx, &w_t_times_t(&g), w, &t, None, &dcol)?,
            col2im(ctx, &g, &dcol, None, Activation::Identity, target)?,
        ])
    }
}

impl LayerPlan for ConvTranspose {
    fn scratch(
        &self,
        ctx: &GpuContext,
        opts: &PlanOptions,
        l: &LayerSpec,
        cap: usize,
    ) -> Vec<usize> {
        im2col_scratch(ctx, opts, l, cap)
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
        // The convolution from the output's shape to the input's.
        let g = geom(rows, l.out_shape, l.in_shape, window(l)?);
        let (w, b) = (p.weight(l)?, p.get("bias"));
        if p.scratch.is_empty() {
            return Ok(vec![conv_dx(ctx, &g, input, w, b, act, target)?]);
        }
        let (_, t, dcol) = parts(p, l, &g)?;
        Ok(vec![
            to_cnhw(ctx, &g, input, &t)?,
            matmul(ctx, &w_t_times_t(&g), w, &t, None, &dcol)?,
            col2im(ctx, &g, &dcol, b, act, target)?,
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
        accumulate: bool,
    ) -> Result<Vec<Step>> {
        no_tying(l, accumulate)?;
        let geo = geom(rows, l.out_shape, l.in_shape, window(l)?);
        let dz = dz.plain(l)?;
        // The bias gradient sums dz, shaped as the output.
        let over_output = ConvGeom {
            o: l.out_shape[0],
            oh: l.out_shape[1],
            ow: l.out_shape[2],
            ..geo
        };
        let db = g
            .get("bias")
            .map(|gb| conv_db(ctx, &over_output, dz, gb))
            .transpose()?;
        if p.scratch.is_empty() {
            let dw = conv_dw(ctx, &geo, dz, input, g.weight(l)?)?;
            return Ok([Some(dw), db].into_iter().flatten().collect());
        }
        let (col, t, _) = parts(p, l, &geo)?;
        Ok([
            Some(im2col(ctx, &geo, dz, &col)?),
            Some(matmul(
                ctx,
                &t_times_col_t(&geo),
                &t,
                &col,
                None,
                g.weight(l)?,
            )?),
            db,
        ]
        .into_iter()
        .flatten()
        .collect())
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
        let g = geom(rows, l.out_shape, l.in_shape, window(l)?);
        let (w, dz) = (p.weight(l)?, dz.plain(l)?);
        if p.scratch.is_empty() {
            let id = Activation::Identity;
            return Ok(vec![conv_forward(ctx, &g, dz, w, None, id, target)?]);
        }
        let (col, t, _) = parts(p, l, &g)?;
        Ok(vec![
            matmul(ctx, &w_times_col(&g), w, &col, None, &t)?,
            from_cnhw(ctx, &g, &t, None, Activation::Identity, target)?,
        ])
    }
}
