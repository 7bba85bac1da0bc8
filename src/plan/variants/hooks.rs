//! What the plan asks of a variant (input noise, dropout, a VAE's code, L1
//! and KL sparsity, the contractive penalty): each owns its buffers and adds
//! its steps at these points of the forward pass, the metrics and the
//! backward pass. Every hook plans nothing by default.

use crate::error::Result;
use crate::gpu::{GpuContext, GpuTensor, Step};
use crate::model::LayerSpec;
use crate::plan::buffers::Buffers;
use crate::plan::layout::ParamLayout;

/// One pass over `rows` rows: the model's buffers and its parameters.
pub struct Pass<'a> {
    pub ctx: &'a GpuContext,
    pub b: &'a Buffers,
    pub layout: &'a ParamLayout,
    pub params: &'a GpuTensor,
    pub rows: usize,
}

/// A variant's steps, in the order the plan runs them.
pub trait Variant: Send + Sync {
    /// Whether it writes layer `l`'s pre-activation gradient itself (a
    /// VAE's head), so that the layer keeps no output gradient.
    fn owns_grad(&self, _l: &LayerSpec) -> bool {
        false
    }

    /// Whether it adds to layer `l`'s pre-activation gradient, which is then
    /// written out rather than fused into the kernels that read it.
    fn adds_pre_grad(&self, _l: &LayerSpec) -> bool {
        false
    }

    /// What layer `l` reads instead of the previous layer's output (or the
    /// input rows), at full capacity.
    fn input(&self, _l: usize) -> Option<&GpuTensor> {
        None
    }

    /// Forward, before the first layer (with the optimizer state as the
    /// step counter, so draws are fresh each step).
    fn before_layers(&self, _p: &Pass, _counter: Option<&GpuTensor>) -> Result<Vec<Step>> {
        Ok(Vec::new())
    }

    /// Forward, once layer `l` has written its output.
    fn after_layer(&self, _p: &Pass, _l: usize, _counter: Option<&GpuTensor>) -> Result<Vec<Step>> {
        Ok(Vec::new())
    }

    /// Forward, after the last layer: statistics of the batch that both
    /// the penalty's value and its gradient read.
    fn statistics(&self, _p: &Pass) -> Result<Vec<Step>> {
        Ok(Vec::new())
    }

    /// The penalty's value, added into the metrics buffer.
    fn metrics(&self, _p: &Pass) -> Result<Vec<Step>> {
        Ok(Vec::new())
    }

    /// Where the gradient w.r.t. layer `l`'s input goes instead of the
    /// previous layer's output gradient, at full capacity.
    fn grad_target(&self, _l: usize) -> Option<&GpuTensor> {
        None
    }

    /// Backward: from the gradient that layer `l`'s consumers wrote
    /// (`incoming`, at the pass's rows) to its output gradient, or (for a
    /// variant that owns it) its pre-activation gradient.
    fn output_grad(&self, _p: &Pass, _l: usize, _incoming: &GpuTensor) -> Result<Vec<Step>> {
        Ok(Vec::new())
    }

    /// Backward: the penalty's gradient added to layer `l`'s output gradient.
    fn add_output_grad(&self, _p: &Pass, _l: usize) -> Result<Vec<Step>> {
        Ok(Vec::new())
    }

    /// Backward: the penalty's gradient added to layer `l`'s pre-activation
    /// gradient.
    fn add_pre_grad(&self, _p: &Pass, _l: usize) -> Result<Vec<Step>> {
        Ok(Vec::new())
    }

    /// Backward: the penalty's gradient added to layer `l`'s parameter
    /// gradients in `grads`.
    fn add_param_grads(&self, _p: &Pass, _l: usize, _grads: &GpuTensor) -> Result<Vec<Step>> {
        Ok(Vec::new())
    }
}
