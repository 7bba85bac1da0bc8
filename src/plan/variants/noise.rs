//! Input noise (a denoising autoencoder): in training the first layer reads
//! a corrupted copy of the input, fresh each step; the loss compares the
//! output with the clean input.
//!
//! ```text
//!   noisy  (cap, D)
//! ```

use crate::error::Result;
use crate::gpu::{GpuContext, GpuTensor, Step};
use crate::kernels::{self as ops, Noise, RngSpec};
use crate::plan::buffers::prefix;
use crate::plan::stream;
use crate::plan::variants::hooks::{Pass, Variant};

pub struct InputNoise {
    kind: Noise,
    noisy: GpuTensor,
}

impl InputNoise {
    pub fn new(ctx: &GpuContext, kind: Noise, cap: usize, d: usize) -> Result<Self> {
        Ok(Self {
            kind,
            noisy: ctx.zeros("x noisy", cap * d)?,
        })
    }
}

impl Variant for InputNoise {
    fn input(&self, l: usize) -> Option<&GpuTensor> {
        (l == 0).then_some(&self.noisy)
    }

    fn before_layers(&self, p: &Pass, counter: Option<&GpuTensor>) -> Result<Vec<Step>> {
        let spec = RngSpec {
            seed: p.b.seed,
            stream: stream::NOISE,
            offset: 0,
        };
        let d = p.b.cfg.input_dim;
        Ok(vec![ops::noise(
            p.ctx,
            self.kind,
            spec,
            counter,
            &p.b.input(p.rows)?,
            &prefix(&self.noisy, p.rows, d)?,
        )?])
    }
}
