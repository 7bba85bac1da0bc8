//! What the f64 trainer asks of a layer kind's twin, and which twin answers
//! for each kind: adding a kind is its twin's file (like `dense.rs`) and one
//! line in [`twin`].

use crate::model::{LayerKind, LayerSpec};
use crate::reference::dense::Dense;

/// A layer kind's f64 twin. `w` and `b` are the layer's parameters as laid
/// out in the arena; `transposed`: a tied layer's mirrored weight.
pub trait LayerTwin: Sync {
    /// The pre-activation (rows, outputs) of `x` (rows, inputs).
    fn forward(
        &self,
        l: &LayerSpec,
        x: &[f64],
        w: &[f64],
        b: &[f64],
        rows: usize,
        transposed: bool,
    ) -> Vec<f64>;

    /// Adds the weight gradient into `gw` and writes the bias gradient
    /// into `gb`, from the input `x` and the pre-activation's gradient `dz`.
    #[allow(clippy::too_many_arguments)]
    fn param_grads(
        &self,
        l: &LayerSpec,
        x: &[f64],
        dz: &[f64],
        rows: usize,
        transposed: bool,
        gw: &mut [f64],
        gb: &mut [f64],
    );

    /// The gradient w.r.t. the input (rows, inputs).
    fn input_grad(
        &self,
        l: &LayerSpec,
        w: &[f64],
        dz: &[f64],
        rows: usize,
        transposed: bool,
    ) -> Vec<f64>;
}

/// The f64 twin of each layer kind, one line per kind.
pub fn twin(kind: LayerKind) -> &'static dyn LayerTwin {
    match kind {
        LayerKind::Dense => &Dense,
    }
}
