//! A variational autoencoder's code: the encoder's head gives `[mu |
//! log-variance]`; in training the decoder reads `z = mu + exp(lv / 2) *
//! eps` with fresh normal `eps` each step, in evaluation `z = mu`. The KL
//! term's gradient joins the decoder's at the head, and its value (times
//! beta) is the penalty.
//!
//! ```text
//!   eps, z, grad_z   (cap, c)    c: the latent width, half the head's
//! ```

use crate::error::Result;
use crate::gpu::{GpuContext, GpuTensor, Step};
use crate::kernels::{self as ops, RandomFill, ReduceMode, RngSpec};
use crate::model::{LayerSpec, Role};
use crate::plan::buffers::{need, prefix, slot, Mode};
use crate::plan::stream;
use crate::plan::variants::hooks::{Pass, Variant};

pub struct Vae {
    beta: f32,
    /// The head's layer.
    head: usize,
    c: usize,
    eps: GpuTensor,
    z: GpuTensor,
    grad_z: Option<GpuTensor>,
}

impl Vae {
    pub fn new(
        ctx: &GpuContext,
        beta: f32,
        layers: &[LayerSpec],
        c: usize,
        cap: usize,
        mode: Mode,
    ) -> Result<Self> {
        Ok(Self {
            beta,
            head: layers
                .iter()
                .position(|l| l.role == Role::VaeHead)
                .unwrap_or(0),
            c,
            eps: ctx.zeros("vae eps", cap * c)?,
            z: ctx.zeros("vae z", cap * c)?,
            grad_z: if mode == Mode::Train {
                Some(ctx.zeros("vae dz", cap * c)?)
            } else {
                None
            },
        })
    }
}

impl Variant for Vae {
    fn owns_grad(&self, l: &LayerSpec) -> bool {
        l.role == Role::VaeHead
    }

    fn input(&self, l: usize) -> Option<&GpuTensor> {
        (l == self.head + 1).then_some(&self.z)
    }

    fn after_layer(&self, p: &Pass, l: usize, counter: Option<&GpuTensor>) -> Result<Vec<Step>> {
        if l != self.head {
            return Ok(Vec::new());
        }
        let eps = prefix(&self.eps, p.rows, self.c)?;
        let draw = if p.b.mode == Mode::Train {
            let spec = RngSpec {
                seed: p.b.seed,
                stream: stream::VAE_EPS,
                offset: 0,
            };
            let normal = RandomFill::Normal {
                mean: 0.0,
                std: 1.0,
            };
            ops::random(p.ctx, normal, spec, counter, &eps)?
        } else {
            // Evaluation decodes the mean: z = mu.
            ops::fill(p.ctx, 0.0, &eps)?
        };
        let z = prefix(&self.z, p.rows, self.c)?;
        let head = p.b.out(l, p.rows)?;
        Ok(vec![
            draw,
            ops::vae_reparam(p.ctx, p.rows, self.c, &head, &eps, &z)?,
        ])
    }

    fn metrics(&self, p: &Pass) -> Result<Vec<Step>> {
        let rows = prefix(&p.b.rowbuf, p.rows, 1)?;
        let head = p.b.out(self.head, p.rows)?;
        let mut steps = vec![ops::vae_kl_rows(p.ctx, p.rows, self.c, 1.0, &head, &rows)?];
        steps.extend(p.b.accumulate(p.ctx, ReduceMode::Sum, 1.0, &rows, slot::KL)?);
        steps.extend(p.b.accumulate(p.ctx, ReduceMode::Sum, self.beta, &rows, slot::PENALTY)?);
        Ok(steps)
    }

    fn grad_target(&self, l: usize) -> Option<&GpuTensor> {
        (l == self.head + 1)
            .then_some(self.grad_z.as_ref())
            .flatten()
    }

    fn output_grad(&self, p: &Pass, l: usize, incoming: &GpuTensor) -> Result<Vec<Step>> {
        if l != self.head {
            return Ok(Vec::new());
        }
        let eps = prefix(&self.eps, p.rows, self.c)?;
        let grad_head = prefix(
            need(&p.b.layer[l].grad_pre, "the VAE head's gradient")?,
            p.rows,
            2 * self.c,
        )?;
        Ok(vec![ops::vae_backward(
            p.ctx,
            p.rows,
            self.c,
            self.beta,
            &p.b.out(l, p.rows)?,
            &eps,
            incoming,
            &grad_head,
        )?])
    }
}
