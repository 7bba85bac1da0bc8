//! What the planner asks of a layer kind, and which code answers for each
//! kind: adding a kind is its planning file (like `dense.rs`) and one line in
//! [`planner`].

use crate::error::Result;
use crate::gpu::{GpuContext, GpuTensor, Step};
use crate::kernels::MatmulOut;
use crate::model::{LayerKind, LayerSpec};
use crate::op::Activation;
use crate::plan::dense::Dense;

/// A layer's parameters as the plan binds them.
pub struct Params<'a> {
    pub weight: &'a GpuTensor,
    pub bias: &'a GpuTensor,
    /// The weight is a tied mirror's, used transposed.
    pub transposed: bool,
}

/// The gradient a backward step reads: w.r.t. the pre-activation, or w.r.t.
/// the output with `f'(gate)` applied as it is loaded.
pub struct Grad<'a> {
    pub t: &'a GpuTensor,
    pub gate: Option<(Activation, &'a GpuTensor)>,
}

/// A layer kind's planning code. Shapes, for `rows` rows: the input
/// (rows, inputs), the output and its gradients (rows, outputs).
pub trait LayerPlan: Sync {
    /// `target = act(layer(input))`, with `act` fused into the layer's last
    /// kernel (Identity when the plan applies the activation itself).
    #[allow(clippy::too_many_arguments)]
    fn forward(
        &self,
        ctx: &GpuContext,
        l: &LayerSpec,
        rows: usize,
        p: &Params,
        input: &GpuTensor,
        act: Activation,
        target: &GpuTensor,
    ) -> Result<Step>;

    /// The same in mixed precision: f16 input and parameters, the layer's
    /// activation fused, f16 or f32 output.
    fn forward_f16(
        &self,
        ctx: &GpuContext,
        l: &LayerSpec,
        rows: usize,
        p: &Params,
        input16: &GpuTensor,
        target: MatmulOut,
    ) -> Result<Step>;

    /// The parameter gradients: the weight's into `gw` (added to it when
    /// `accumulate`), the bias's into `gb`.
    #[allow(clippy::too_many_arguments)]
    fn param_grads(
        &self,
        ctx: &GpuContext,
        l: &LayerSpec,
        rows: usize,
        transposed: bool,
        input: &GpuTensor,
        dz: &Grad,
        gw: &GpuTensor,
        accumulate: bool,
        gb: &GpuTensor,
    ) -> Result<Vec<Step>>;

    /// The gradient w.r.t. the layer's input, into `target`.
    fn input_grad(
        &self,
        ctx: &GpuContext,
        l: &LayerSpec,
        rows: usize,
        p: &Params,
        dz: &Grad,
        target: &GpuTensor,
    ) -> Result<Step>;
}

/// The planning code of each layer kind, one line per kind.
pub fn planner(kind: LayerKind) -> &'static dyn LayerPlan {
    match kind {
        LayerKind::Dense => &Dense,
    }
}
