//! The GPU layer: context (adapter, device, errors), tensors in GPU buffers,
//! the kernel registry with its pipeline cache, and the ops that turn a kernel
//! plus buffers into a ready-to-record [`Step`].

pub mod context;
pub mod kernels;
pub mod ops;
pub mod profile;
pub mod tensor;
pub mod tune;

pub use context::{AdapterSummary, ContextOptions, GpuContext};
pub use kernels::{Kernel, Operand, Tile};
pub use ops::{Activation, Step};
pub use tensor::GpuTensor;
pub use tune::{MatmulShape, Tuning};
