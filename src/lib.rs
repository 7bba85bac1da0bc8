//! wgae: autoencoders trained and run on any GPU through WebGPU compute shaders.
//!
//! The crate is organised by the way a batch travels: [`gpu`] holds the device
//! context, the WGSL kernel registry and the ops that record dispatches;
//! [`reference`](mod@reference) holds an f64 twin of every kernel, used by the tests.
//!
//! The library emits `tracing` events and never installs a subscriber.

pub mod data;
pub mod error;
pub mod gpu;
pub mod io;
pub mod model;
pub mod reference;
pub mod report;
pub mod train;

pub use data::Dataset;
pub use error::{Error, Result};
pub use gpu::{Activation, GpuContext, GpuTensor, Step};
pub use model::{LossKind, ModelConfig, Variant};
pub use train::{Autoencoder, Control, EpochReport, History, Precision, TrainConfig, Trainer};

/// The README's code, compiled as a doctest so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
