//! What the planner asks of a layer kind: adding a kind is its planning
//! file (like `dense.rs`) and one line in [`crate::plan::planner`].

use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GpuTensor, Step};
use crate::kernels::MatmulOut;
use crate::model::LayerSpec;
use crate::op::Activation;
use crate::plan::layout::BufferView;
use crate::plan::options::PlanOptions;

/// A layer's parameters (or their gradients) as the plan binds them, and
/// its scratch buffers (max pooling's argmax, a convolution's im2col
/// matrices), as its kind asked for them.
pub struct Params<'a> {
    /// The parameters (or gradients) by the names the kind declares.
    pub tensors: &'a [(&'static str, GpuTensor)],
    /// The weight is a tied mirror's, used transposed.
    pub transposed: bool,
    pub scratch: &'a [GpuTensor],
    /// The layer's buffers (batch normalization's running statistics).
    pub buffers: Option<&'a BufferView>,
    /// The input of the layer's residual block, at the pass's rows (a
    /// block's end reads it; other kinds have none).
    pub skip: Option<&'a GpuTensor>,
    /// A training pass (batch statistics, buffers updated) rather than an
    /// evaluation one.
    pub training: bool,
}

impl<'a> Params<'a> {
    /// The tensor named `name`, if the layer has it (a bias may be off).
    pub fn get(&self, name: &str) -> Option<&'a GpuTensor> {
        self.tensors
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| t)
    }

    /// The tensor named `name`, or an error naming the layer (a plan bug,
    /// not a user's).
    pub fn named(&self, l: &LayerSpec, name: &str) -> Result<&'a GpuTensor> {
        self.get(name).ok_or_else(|| missing(l, name))
    }

    /// The weight (see [`Self::named`]).
    pub fn weight(&self, l: &LayerSpec) -> Result<&'a GpuTensor> {
        self.named(l, "weight")
    }

    /// The bias (see [`Self::named`]).
    pub fn bias(&self, l: &LayerSpec) -> Result<&'a GpuTensor> {
        self.named(l, "bias")
    }

    /// Scratch buffer `i`.
    pub fn scratch(&self, l: &LayerSpec, i: usize) -> Result<&'a GpuTensor> {
        self.scratch
            .get(i)
            .ok_or_else(|| missing(l, "scratch buffer"))
    }

    /// The layer's buffers.
    pub fn buffers(&self, l: &LayerSpec) -> Result<&'a BufferView> {
        self.buffers.ok_or_else(|| missing(l, "buffers"))
    }

    /// The input of the layer's residual block.
    pub fn skip(&self, l: &LayerSpec) -> Result<&'a GpuTensor> {
        self.skip.ok_or_else(|| missing(l, "block input"))
    }
}

fn missing(l: &LayerSpec, what: &str) -> Error {
    Error::Internal {
        op: format!("planning layer {} ({})", l.index, l.kind.name()),
        message: format!("its {what} was not bound"),
    }
}

/// The gradient a backward step reads: w.r.t. the pre-activation, or w.r.t.
/// the output with `f'(gate)` applied as it is loaded.
pub struct Grad<'a> {
    pub t: &'a GpuTensor,
    pub gate: Option<(Activation, &'a GpuTensor)>,
}

impl<'a> Grad<'a> {
    /// The gradient as stored, for kinds whose kernels apply no activation
    /// gate (the plan writes dz for them: `LayerPlan::fuses_act_grad`).
    pub fn plain(&self, l: &LayerSpec) -> Result<&'a GpuTensor> {
        if self.gate.is_some() {
            return Err(Error::Internal {
                op: format!("planning layer {} ({})", l.index, l.kind.name()),
                message: "its gradient cannot carry a fused activation gate".into(),
            });
        }
        Ok(self.t)
    }
}

/// A layer kind's planning code. Shapes, for `rows` rows: the input
/// (rows, inputs), the output and its gradients (rows, outputs).
pub trait LayerPlan: Sync {
    /// The lengths (in 32-bit words) of the scratch buffers the kind keeps
    /// at a capacity of `cap` rows: what its forward pass leaves for its
    /// backward pass, and its temporaries. None by default.
    fn scratch(
        &self,
        _ctx: &GpuContext,
        _opts: &PlanOptions,
        _l: &LayerSpec,
        _cap: usize,
    ) -> Vec<usize> {
        Vec::new()
    }

    /// Whether the plan must keep its pre-activation and apply the
    /// activation in a pass of its own (a residual block's end, whose sum
    /// precedes it). Other kinds may fuse the activation into `forward`.
    fn keeps_pre_activation(&self) -> bool {
        false
    }

    /// Whether its backward kernels can apply the activation gradient as
    /// they load dz (`Grad::gate`); otherwise the plan writes dz first.
    fn fuses_act_grad(&self) -> bool {
        false
    }

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
    ) -> Result<Vec<Step>>;

    /// The same in mixed precision: f16 input and parameters, the layer's
    /// activation fused, f16 or f32 output. Only Dense has an f16 kernel;
    /// `plan::mixed` runs the other kinds' f32 pass between casts.
    fn forward_f16(
        &self,
        _ctx: &GpuContext,
        l: &LayerSpec,
        _rows: usize,
        _p: &Params,
        _input16: &GpuTensor,
        _target: MatmulOut,
    ) -> Result<Step> {
        Err(Error::Internal {
            op: format!("planning layer {} ({})", l.index, l.kind.name()),
            message: "the kind has no f16 kernel (mixed precision runs it in f32 between \
                      casts)"
                .into(),
        })
    }

    /// The parameter gradients into `g` (views of the gradient arena laid
    /// out as `p`): the weight's added to it when `accumulate` (a tied
    /// weight gathers two layers' gradients). Kinds without parameters plan
    /// nothing.
    #[allow(clippy::too_many_arguments)]
    fn param_grads(
        &self,
        _ctx: &GpuContext,
        _l: &LayerSpec,
        _rows: usize,
        _p: &Params,
        _input: &GpuTensor,
        _dz: &Grad,
        _g: &Params,
        _accumulate: bool,
    ) -> Result<Vec<Step>> {
        Ok(Vec::new())
    }

    /// The gradient w.r.t. the layer's input, into `target`, from the
    /// forward pass's `input` and the gradient `dz`.
    #[allow(clippy::too_many_arguments)]
    fn input_grad(
        &self,
        ctx: &GpuContext,
        l: &LayerSpec,
        rows: usize,
        p: &Params,
        input: &GpuTensor,
        dz: &Grad,
        target: &GpuTensor,
    ) -> Result<Vec<Step>>;

    /// A residual block's end: adds the gradient w.r.t. the block's input
    /// (`p.skip`) along the shortcut into `target`, which the block's first
    /// layer has just written. Other kinds plan nothing.
    #[allow(clippy::too_many_arguments)]
    fn skip_grad(
        &self,
        _ctx: &GpuContext,
        _l: &LayerSpec,
        _rows: usize,
        _p: &Params,
        _dz: &Grad,
        _target: &GpuTensor,
    ) -> Result<Vec<Step>> {
        Ok(Vec::new())
    }
}
