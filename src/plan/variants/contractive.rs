//! The contractive penalty (Rifai et al.) of a one-layer Dense encoder
//! `h = f(W x + b)`: `lambda * ||J||_F^2 = lambda * sum_j f'(z_j)^2 s_j`
//! per row, with `s_j = sum_i W_ji^2`; its gradient adds to the encoder's
//! pre-activation gradient and, through s, to W's.
//!
//! ```text
//!   s, c        (hidden)        row sums of W^2; column sums of f'(z)^2
//!   fp2         (cap, hidden)   f'(z)^2
//!   rows        (cap)           each row's penalty
//! ```

use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GpuTensor, Step};
use crate::kernels::{self as ops, MatmulSpec, ReduceMode};
use crate::model::LayerSpec;
use crate::plan::buffers::{prefix, slot};
use crate::plan::variants::hooks::{Pass, Variant};

pub struct Contractive {
    lambda: f32,
    s: GpuTensor,
    c: GpuTensor,
    fp2: GpuTensor,
    rows: GpuTensor,
}

impl Contractive {
    pub fn new(ctx: &GpuContext, lambda: f32, hidden: usize, cap: usize) -> Result<Self> {
        Ok(Self {
            lambda,
            s: ctx.zeros("contractive s", hidden)?,
            c: ctx.zeros("contractive c", hidden)?,
            fp2: ctx.zeros("contractive fp2", cap * hidden)?,
            rows: ctx.zeros("contractive rows", cap)?,
        })
    }

    /// The first layer's weight (or its gradient) in `arena`.
    fn weight(p: &Pass, arena: &GpuTensor) -> Result<GpuTensor> {
        let Some(w) = p.layout.layers[0].weight() else {
            return Err(Error::InvalidArgument(
                "the contractive penalty needs a Linear first layer".into(),
            ));
        };
        p.layout.view(arena, w)
    }
}

impl Variant for Contractive {
    fn adds_pre_grad(&self, l: &LayerSpec) -> bool {
        l.index == 0
    }

    fn statistics(&self, p: &Pass) -> Result<Vec<Step>> {
        let l0 = &p.b.layers[0];
        let w = Self::weight(p, p.params)?;
        Ok(vec![
            ops::contractive_row_sq(p.ctx, l0.outputs, l0.inputs, &w, &self.s)?,
            ops::contractive_fp2(
                p.ctx,
                l0.act,
                p.rows,
                l0.outputs,
                &p.b.out(0, p.rows)?,
                &prefix(&self.fp2, p.rows, l0.outputs)?,
            )?,
        ])
    }

    fn metrics(&self, p: &Pass) -> Result<Vec<Step>> {
        let hidden = p.b.layers[0].outputs;
        let fp2 = prefix(&self.fp2, p.rows, hidden)?;
        let rows = prefix(&self.rows, p.rows, 1)?;
        let spec = MatmulSpec::new(p.rows, 1, hidden, false, false);
        let mut steps = vec![ops::matmul(p.ctx, &spec, &fp2, &self.s, None, &rows)?];
        steps.extend(p.b.accumulate(p.ctx, ReduceMode::Sum, self.lambda, &rows, slot::PENALTY)?);
        Ok(steps)
    }

    fn add_pre_grad(&self, p: &Pass, l: usize) -> Result<Vec<Step>> {
        if l != 0 {
            return Ok(Vec::new());
        }
        let l0 = &p.b.layers[0];
        let fp2 = prefix(&self.fp2, p.rows, l0.outputs)?;
        Ok(vec![
            ops::contractive_dz(
                p.ctx,
                l0.act,
                p.rows,
                l0.outputs,
                self.lambda,
                &p.b.out(0, p.rows)?,
                &self.s,
                &p.b.grad_pre(0, p.rows)?,
            )?,
            ops::col_sum(p.ctx, p.rows, l0.outputs, 1.0, 0.0, &fp2, None, &self.c)?,
        ])
    }

    fn add_param_grads(&self, p: &Pass, l: usize, grads: &GpuTensor) -> Result<Vec<Step>> {
        if l != 0 {
            return Ok(Vec::new());
        }
        let l0 = &p.b.layers[0];
        Ok(vec![ops::contractive_wgrad(
            p.ctx,
            p.rows,
            l0.outputs,
            l0.inputs,
            self.lambda,
            &Self::weight(p, p.params)?,
            &self.c,
            &Self::weight(p, grads)?,
        )?])
    }
}
