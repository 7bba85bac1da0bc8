//! L1 sparsity on the code: the penalty `l1 * sum |code|` per row, and its
//! gradient `l1 / rows * sign(code)` added to the code's output gradient.

use crate::error::Result;
use crate::gpu::Step;
use crate::kernels::{self as ops, ReduceMode};
use crate::plan::buffers::slot;
use crate::plan::variants::hooks::{Pass, Variant};

pub struct L1 {
    pub weight: f32,
}

impl Variant for L1 {
    fn metrics(&self, p: &Pass) -> Result<Vec<Step>> {
        let code = p.b.out(p.b.code_layer(), p.rows)?;
        p.b.accumulate(p.ctx, ReduceMode::SumAbs, self.weight, &code, slot::PENALTY)
    }

    fn add_output_grad(&self, p: &Pass, l: usize) -> Result<Vec<Step>> {
        if l != p.b.code_layer() {
            return Ok(Vec::new());
        }
        let width = p.b.layers[l].outputs;
        Ok(vec![ops::l1_grad(
            p.ctx,
            p.rows,
            width,
            self.weight / p.rows as f32,
            &p.b.out(l, p.rows)?,
            &p.b.grad_out(l, p.rows)?,
        )?])
    }
}
