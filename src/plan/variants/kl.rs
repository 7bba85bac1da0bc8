//! KL sparsity on a sigmoid code (Ng's sparse autoencoder): the batch's
//! mean activation per unit, rho_hat, is pulled toward rho by `beta *
//! KL(rho || rho_hat)`, a penalty that applies to each row of the batch.
//!
//! ```text
//!   rho_hat, terms   (c)
//! ```

use crate::error::Result;
use crate::gpu::{GpuContext, GpuTensor, Step};
use crate::kernels::{self as ops, ReduceMode};
use crate::model::KlSparsity;
use crate::plan::buffers::slot;
use crate::plan::variants::hooks::{Pass, Variant};

pub struct KlSparse {
    k: KlSparsity,
    rho_hat: GpuTensor,
    terms: GpuTensor,
}

impl KlSparse {
    pub fn new(ctx: &GpuContext, k: KlSparsity, c: usize) -> Result<Self> {
        Ok(Self {
            k,
            rho_hat: ctx.zeros("rho_hat", c)?,
            terms: ctx.zeros("kl terms", c)?,
        })
    }
}

impl Variant for KlSparse {
    fn statistics(&self, p: &Pass) -> Result<Vec<Step>> {
        let cl = p.b.code_layer();
        let c = p.b.layers[cl].outputs;
        Ok(vec![ops::col_sum(
            p.ctx,
            p.rows,
            c,
            1.0 / p.rows as f32,
            0.0,
            &p.b.out(cl, p.rows)?,
            None,
            &self.rho_hat,
        )?])
    }

    fn metrics(&self, p: &Pass) -> Result<Vec<Step>> {
        let c = p.b.layers[p.b.code_layer()].outputs;
        let (rho, beta) = (self.k.rho, self.k.beta);
        let mut steps = vec![ops::kl_loss(
            p.ctx,
            c,
            rho,
            beta,
            &self.rho_hat,
            &self.terms,
        )?];
        // The batch penalty applies to each of its rows.
        let rows = p.rows as f32;
        steps.extend(p.b.accumulate(p.ctx, ReduceMode::Sum, rows, &self.terms, slot::PENALTY)?);
        Ok(steps)
    }

    fn add_output_grad(&self, p: &Pass, l: usize) -> Result<Vec<Step>> {
        if l != p.b.code_layer() {
            return Ok(Vec::new());
        }
        let width = p.b.layers[l].outputs;
        let (rho, beta) = (self.k.rho, self.k.beta);
        let da = p.b.grad_out(l, p.rows)?;
        Ok(vec![ops::kl_grad(
            p.ctx,
            p.rows,
            width,
            rho,
            beta,
            &self.rho_hat,
            &da,
        )?])
    }
}
