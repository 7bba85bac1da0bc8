//! An f64 twin of every kernel family in `shaders/`, one file each, written
//! for clarity rather than speed, plus the f64 twin of each layer kind
//! (`dense.rs`), of a whole training step (`trainer.rs`) and of an epoch of
//! them with the f32 tolerance (`epoch.rs`). The tests run
//! each kernel and its twin on the same random inputs; the gradient twins
//! are themselves checked against finite differences.
//!
//! Layouts are row-major, as on the GPU. Inputs are f32 (what the GPU saw),
//! widened to f64 before any arithmetic. Every function is re-exported
//! here, so `reference::matmul` names the matmul's twin.

pub mod bounds;
pub mod contractive;
pub mod conv;
pub mod conv_layer;
pub mod dense;
pub mod elementwise;
pub mod epoch;
pub mod gather;
pub mod layer;
pub mod loss;
pub mod masked;
pub mod matmul;
pub mod norm;
pub mod norm_layer;
pub mod optim;
pub mod penalty;
pub mod pool;
pub mod pool_layer;
pub mod recurrent;
pub mod reduce;
pub mod residual;
pub mod rng;
pub mod shuffle;
pub mod softmax;
pub mod sparse;
pub mod swap_axes;
pub mod trainer;
pub mod vae;
pub mod widen;

pub use contractive::*;
pub use conv::*;
pub use elementwise::*;
pub use gather::*;
pub use loss::*;
pub use matmul::*;
pub use norm::*;
pub use optim::*;
pub use penalty::*;
pub use pool::*;
pub use reduce::*;
pub use rng::*;
pub use shuffle::*;
pub use softmax::*;
pub use swap_axes::*;
pub use vae::*;

use crate::model::LayerKind;
use conv_layer::{Conv, ConvTranspose};
use dense::{Dense, StepDense};
use layer::LayerTwin;
use norm_layer::BatchNorm;
use pool_layer::{AvgPool, MaxPool, Permute, Reshape, Upsample};
use recurrent::Recurrent;
use residual::Residual;

/// The f64 twin of each layer kind, one line per kind.
pub fn twin(kind: LayerKind) -> &'static dyn LayerTwin {
    match kind {
        LayerKind::Dense => &Dense,
        LayerKind::StepDense => &StepDense,
        LayerKind::Conv(_) => &Conv,
        LayerKind::ConvTranspose(_) => &ConvTranspose,
        LayerKind::MaxPool(_) => &MaxPool,
        LayerKind::AvgPool(_) => &AvgPool,
        LayerKind::Upsample { .. } | LayerKind::Repeat { .. } => &Upsample,
        LayerKind::Reshape { .. } => &Reshape,
        LayerKind::Permute => &Permute,
        LayerKind::BatchNorm(_) => &BatchNorm,
        LayerKind::Residual(_) => &Residual,
        LayerKind::Recurrent(_) => &Recurrent,
    }
}
