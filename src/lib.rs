//! wgae: autoencoders trained and run on any GPU through WebGPU compute shaders.
//!
//! The crate is organised by the way a batch travels, and dependencies run
//! one way down this list: [`op`], the vocabulary (activations, noises,
//! losses, optimizers), which depends on nothing GPU; [`gpu`], the device
//! (adapters, tensors, pipelines, steps); [`kernels`], one module per WGSL
//! file with the builders that turn tensors into steps; [`model`], the
//! description and its layer kinds; [`plan`], the model compiled once into
//! steps, layer by layer; [`train`] and [`infer`], the trainer and
//! inference through that plan; [`io`], the files. The CLI sits on top.
//! [`reference`](mod@reference) holds an f64 twin of every kernel family and
//! of a whole training step, used by the tests. [`data`] loads datasets and
//! [`report`] draws pictures; neither touches the GPU.
//!
//! The library emits `tracing` events and never installs a subscriber.

pub mod atomic;
pub mod data;
#[cfg(feature = "env")]
pub mod env;
pub mod error;
pub mod gpu;
pub mod infer;
pub mod io;
pub mod kernels;
pub mod model;
pub mod op;
pub mod plan;
pub mod points;
pub mod reference;
pub mod report;
pub mod toml_text;
pub mod train;

pub use data::{Dataset, Rows};
pub use error::{Error, Result};
pub use gpu::{GpuContext, GpuTensor, Step};
pub use infer::{Autoencoder, Precision};
pub use model::{ModelConfig, Variant};
pub use op::{Activation, LossKind};
pub use train::{Control, EpochReport, History, TrainConfig, Trainer};

/// The README's code, compiled as a doctest so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
