//! Every kernel against its f64 reference on fresh random inputs at odd shapes,
//! with outputs poisoned beforehand; every gradient reference against finite
//! differences. Tolerances are `atol + rtol * |ref|` from f32 rounding.
//!
//! One test binary, one module per kernel family (as `src/kernels/` and
//! `src/reference/` have one file each), sharing `tests/common`'s helpers
//! to upload, run, read back and compare.

#[path = "../common/mod.rs"]
mod common;

mod activations;
mod conv;
mod dispatch;
mod elementwise;
mod gather;
mod loss;
mod masked;
mod matmul;
mod norm;
mod optim_rng;
mod penalty;
mod recurrent;
mod reduce;
mod sparse;
mod swap_axes;
mod train;

use wgae::Activation;

pub(crate) const ACTS: [Activation; 7] = [
    Activation::Identity,
    Activation::Relu,
    Activation::LeakyRelu(0.1),
    Activation::Sigmoid,
    Activation::Tanh,
    Activation::Gelu,
    Activation::Softmax,
];

/// Odd shapes, never only tile multiples, plus the 1000x777 case.
pub(crate) const SHAPES: [(usize, usize); 6] =
    [(1, 1), (1, 7), (7, 33), (65, 127), (127, 65), (1000, 777)];
