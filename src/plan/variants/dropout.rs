//! Dropout on hidden and code layers in training: each step draws a fresh
//! inverted-dropout mask per layer, the next layer reads the masked output,
//! and the gradient goes back through the same mask.
//!
//! ```text
//!   mask[l], dropped[l], grad_dropped[l]   (cap, outputs_l)
//! ```

use crate::error::Result;
use crate::gpu::{GpuContext, GpuTensor, Step};
use crate::kernels::{self as ops, RandomFill, RngSpec};
use crate::model::{LayerSpec, Role};
use crate::plan::buffers::prefix;
use crate::plan::stream;
use crate::plan::variants::hooks::{Pass, Variant};

/// One layer's dropout buffers.
struct Dropped {
    mask: GpuTensor,
    /// The masked output, which the next layer reads.
    dropped: GpuTensor,
    /// The gradient w.r.t. the masked output.
    grad_dropped: GpuTensor,
}

pub struct Dropout {
    p: f32,
    layer: Vec<Option<Dropped>>,
}

impl Dropout {
    pub fn new(ctx: &GpuContext, p: f32, layers: &[LayerSpec], cap: usize) -> Result<Self> {
        let layer = layers
            .iter()
            .map(|l| {
                if !matches!(l.role, Role::Hidden | Role::Code) {
                    return Ok(None);
                }
                let n = cap * l.outputs;
                let i = l.index;
                Ok(Some(Dropped {
                    mask: ctx.zeros(&format!("mask{i}"), n)?,
                    dropped: ctx.zeros(&format!("ad{i}"), n)?,
                    grad_dropped: ctx.zeros(&format!("dad{i}"), n)?,
                }))
            })
            .collect::<Result<_>>()?;
        Ok(Self { p, layer })
    }

    /// The dropout of the layer before `l`.
    fn before(&self, l: usize) -> Option<&Dropped> {
        l.checked_sub(1).and_then(|k| self.layer[k].as_ref())
    }
}

impl Variant for Dropout {
    fn input(&self, l: usize) -> Option<&GpuTensor> {
        self.before(l).map(|d| &d.dropped)
    }

    fn after_layer(&self, p: &Pass, l: usize, counter: Option<&GpuTensor>) -> Result<Vec<Step>> {
        let Some(d) = &self.layer[l] else {
            return Ok(Vec::new());
        };
        let width = p.b.layers[l].outputs;
        let spec = RngSpec {
            seed: p.b.seed,
            stream: stream::DROPOUT_BASE + l as u32,
            offset: 0,
        };
        let mask = prefix(&d.mask, p.rows, width)?;
        Ok(vec![
            ops::random(
                p.ctx,
                RandomFill::DropoutMask { p: self.p },
                spec,
                counter,
                &mask,
            )?,
            ops::mul(
                p.ctx,
                p.rows * width,
                &p.b.out(l, p.rows)?,
                &mask,
                &prefix(&d.dropped, p.rows, width)?,
            )?,
        ])
    }

    fn grad_target(&self, l: usize) -> Option<&GpuTensor> {
        self.before(l).map(|d| &d.grad_dropped)
    }

    fn output_grad(&self, p: &Pass, l: usize, incoming: &GpuTensor) -> Result<Vec<Step>> {
        let Some(d) = &self.layer[l] else {
            return Ok(Vec::new());
        };
        let width = p.b.layers[l].outputs;
        Ok(vec![ops::mul(
            p.ctx,
            p.rows * width,
            incoming,
            &prefix(&d.mask, p.rows, width)?,
            &p.b.grad_out(l, p.rows)?,
        )?])
    }
}
