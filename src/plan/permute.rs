//! Planning `Permute`: each sequence's two axes swapped, `[a, 1, b]` to
//! `[b, 1, a]` (`kernels::swap_axes`); its input gradient is the swap back.

use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GpuTensor, Step};
use crate::kernels::swap_axes;
use crate::model::LayerSpec;
use crate::op::Activation;
use crate::plan::layer::{Grad, LayerPlan, Params};

/// Permute's planning code.
pub struct Permute;

impl LayerPlan for Permute {
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
                "layer {} (Permute) takes no activation",
                l.index
            )));
        }
        let [a, _, b] = l.in_shape;
        Ok(vec![swap_axes(ctx, rows, a, b, input, target)?])
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
        let [a, _, b] = l.in_shape;
        Ok(vec![swap_axes(ctx, rows, b, a, dz.plain(l)?, target)?])
    }
}
