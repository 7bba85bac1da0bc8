//! What the f64 trainer asks of a layer kind's twin: adding a kind is its
//! twin's file (like `dense.rs`) and one line in [`crate::reference::twin`].

use crate::model::LayerSpec;

/// A layer's parameters by the names its kind declares, as laid out in the
/// arena (none for a kind without any); `transposed`: a tied layer's
/// mirrored weight; its buffers in order (batch normalization's running
/// statistics); `training`: a training pass rather than an evaluation one.
pub struct Weights<'a> {
    pub params: Vec<(&'static str, &'a [f64])>,
    pub transposed: bool,
    pub buffers: Vec<&'a [f64]>,
    /// The input of the layer's residual block (for a block's end).
    pub skip: Option<&'a [f64]>,
    pub training: bool,
}

impl<'a> Weights<'a> {
    /// The parameter named `name` (empty if the layer has none: a bias
    /// turned off).
    pub fn get(&self, name: &str) -> &'a [f64] {
        self.params
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(&[][..], |(_, v)| v)
    }
}

/// A layer's parameter gradients by name, each laid out as its parameter;
/// the trainer adds them into the gradient arena (a tied weight gets both
/// layers').
pub type ParamGrads = Vec<(&'static str, Vec<f64>)>;

/// A layer kind's f64 twin.
pub trait LayerTwin: Sync {
    /// The pre-activation (rows, outputs) of `x` (rows, inputs).
    fn forward(&self, l: &LayerSpec, x: &[f64], p: &Weights, rows: usize) -> Vec<f64>;

    /// The gradient of each parameter the layer has (by name), from the
    /// input `x` and the pre-activation's gradient `dz` (none for a kind
    /// without parameters).
    fn param_grads(
        &self,
        _l: &LayerSpec,
        _p: &Weights,
        _x: &[f64],
        _dz: &[f64],
        _rows: usize,
    ) -> ParamGrads {
        Vec::new()
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

    /// A residual block's end: the gradient w.r.t. the block's input along
    /// the shortcut, from the sum's gradient `dz` (none for other kinds).
    fn skip_grad(&self, _l: &LayerSpec, _p: &Weights, _dz: &[f64], _rows: usize) -> Vec<f64> {
        Vec::new()
    }
}
