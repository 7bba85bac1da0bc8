//! What the f64 trainer asks of a layer kind's twin: adding a kind is its
//! twin's file (like `dense.rs`) and one line in [`crate::reference::twin`].

use crate::model::LayerSpec;

/// A layer's parameters as laid out in the arena (empty for a kind without
/// any); `transposed`: a tied layer's mirrored weight; its buffers in order
/// (batch normalization's running statistics); `training`: a training pass
/// rather than an evaluation one.
pub struct Weights<'a> {
    pub w: &'a [f64],
    pub b: &'a [f64],
    pub transposed: bool,
    pub buffers: Vec<&'a [f64]>,
    pub training: bool,
}

/// A layer kind's f64 twin.
pub trait LayerTwin: Sync {
    /// The pre-activation (rows, outputs) of `x` (rows, inputs).
    fn forward(&self, l: &LayerSpec, x: &[f64], p: &Weights, rows: usize) -> Vec<f64>;

    /// Adds the weight gradient into `gw` and writes the bias gradient
    /// into `gb`, from the input `x` and the pre-activation's gradient `dz`
    /// (nothing for a kind without parameters).
    #[allow(clippy::too_many_arguments)]
    fn param_grads(
        &self,
        _l: &LayerSpec,
        _x: &[f64],
        _dz: &[f64],
        _rows: usize,
        _transposed: bool,
        _gw: &mut [f64],
        _gb: &mut [f64],
    ) {
    }

    /// The layer's buffers after a training pass over `x`, in order (none
    /// for a kind without buffers).
    fn updated_buffers(
        &self,
        _l: &LayerSpec,
        _p: &Weights,
        _x: &[f64],
        _rows: usize,
    ) -> Vec<Vec<f64>> {
        Vec::new()
    }

    /// The gradient w.r.t. the input (rows, inputs), from the forward
    /// pass's input `x` (max pooling finds its argmax again).
    fn input_grad(
        &self,
        l: &LayerSpec,
        p: &Weights,
        x: &[f64],
        dz: &[f64],
        rows: usize,
    ) -> Vec<f64>;
}
