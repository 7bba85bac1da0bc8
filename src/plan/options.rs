//! How a model is planned: choices that change which dispatches a step is
//! made of, never what it computes (every plan trains to the same bits but
//! for the convolution algorithms' summation order). A model carries its
//! own ([`crate::Autoencoder::with_plan_options`]); unset choices take the
//! adapter's defaults.

use crate::gpu::GpuContext;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// Whether each activation gradient dz = da * f'(z) is fused into the
    /// kernels that read it (the backward matmuls' prologue, the bias
    /// gradient's column sum) instead of written in a pass of its own.
    /// Default: wherever the tiled matmul runs.
    pub fuse_act_grad: Option<bool>,
    /// Whether convolutions run as im2col and the tuned matmul (where the
    /// im2col matrix fits a storage binding) rather than by direct loops
    /// over the window. Default: yes.
    pub conv_im2col: Option<bool>,
}

impl PlanOptions {
    /// Whether activation gradients are fused on `ctx`. The direct matmul
    /// rereads each element of A once per lane, so a gate on A would be
    /// evaluated 64 times over: there, writing dz once is cheaper
    /// (BENCHMARKS.md has both measurements).
    pub fn fuses_act_grad(&self, ctx: &GpuContext) -> bool {
        self.fuse_act_grad.unwrap_or(!ctx.matmul_direct())
    }

    /// Whether convolutions may run as im2col.
    pub fn im2col(&self) -> bool {
        self.conv_im2col.unwrap_or(true)
    }

    /// The other plan on `ctx`: each choice flipped (for tests that compare
    /// plans).
    pub fn flipped(&self, ctx: &GpuContext) -> Self {
        Self {
            fuse_act_grad: Some(!self.fuses_act_grad(ctx)),
            conv_im2col: Some(!self.im2col()),
        }
    }
}
