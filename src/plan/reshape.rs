//! Planning `Reshape` (and `Flatten`): the same values under another shape.
//! Channels-first tensors flatten in PyTorch's order, so the values do not
//! move; the layer copies them into its own buffer (a small pass) so that
//! every layer owns its output.

use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GpuTensor, Step};
use crate::kernels::axpby;
use crate::model::LayerSpec;
use crate::op::Activation;
use crate::plan::layer::{Grad, LayerPlan, Params};

/// Reshape's planning code.
pub struct Reshape;

impl LayerPlan for Reshape {
    fn forward(
        &self,
        ctx: &GpuContext,
        l: &LayerSpec,
        rows: usize,
        _p: &Params,
        input: &GpuTensor,
        act: Activation,
        target: &GpuTensor,
    ) -> Result<Vec<Step>> {
        if act != Activation::Identity {
            return Err(Error::InvalidArgument(format!(
                "layer {} (Reshape) takes no activation",
                l.index
            )));
        }
        Ok(vec![axpby(ctx, rows * l.outputs, 1.0, input, 0.0, target)?])
    }

    fn input_grad(
        &self,
        ctx: &GpuContext,
        l: &LayerSpec,
        rows: usize,
        _p: &Params,
        _input: &GpuTensor,
        dz: &Grad,
        target: &GpuTensor,
    ) -> Result<Vec<Step>> {
        Ok(vec![axpby(
            ctx,
            rows * l.inputs,
            1.0,
            dz.plain(l)?,
            0.0,
            target,
        )?])
    }
}
