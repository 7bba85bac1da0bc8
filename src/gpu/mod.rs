//! The GPU device layer: adapters, the opened device and its error
//! handling, tensors in storage buffers, pipelines and steps, timestamps,
//! and the context that holds them. It knows nothing of what the kernels
//! compute: that is the kernels module above it, one module per shader file.

pub mod adapter;
mod block;
pub mod context;
pub mod device;
pub mod pipeline;
pub mod profile;
pub mod tensor;

pub use adapter::{list_adapters, AdapterSummary};
pub(crate) use block::resolve;
pub use context::{ContextOptions, GpuContext, ROW_LANES};
pub use device::Device;
pub use pipeline::{Kernel, Shader, Step};
pub use tensor::GpuTensor;
