//! One error type for the whole crate. Variants carry the op and the shapes
//! involved, so a message says what went wrong and where.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no usable GPU adapter: {0}")]
    NoAdapter(String),

    #[error("could not open a device on adapter '{adapter}': {message}")]
    RequestDevice { adapter: String, message: String },

    #[error("GPU validation error in {op}: {message}")]
    Validation { op: String, message: String },

    #[error("GPU out of memory in {op}: reduce the batch size or the model width")]
    OutOfMemory { op: String },

    /// `what` names the buffer for a debugger; the message speaks of
    /// sizes only (a buffer's internal name means nothing to a user).
    #[error(
        "the model, its batch and its data need more GPU memory than the {} MiB wgae may use \
         (`gpu_memory`, WGAE_GPU_MEMORY): {} MiB are in use and {} KiB more are needed; raise \
         the cap, or use a smaller batch or model",
        limit.div_ceil(1 << 20), used >> 20, bytes.div_ceil(1 << 10)
    )]
    MemoryBudget {
        what: String,
        bytes: u64,
        used: u64,
        limit: u64,
    },

    #[error("GPU internal error in {op}: {message}")]
    Internal { op: String, message: String },

    #[error("the GPU device was lost ({reason}): {message}")]
    DeviceLost { reason: String, message: String },

    #[error("{op}: {detail}")]
    Shape { op: &'static str, detail: String },

    #[error(
        "{op}: {what} needs {bytes} bytes but adapter '{adapter}' allows at most {limit} bytes \
         per {limit_name}; use a smaller batch or model, or a GPU with a larger limit"
    )]
    TooLarge {
        op: &'static str,
        what: String,
        bytes: u64,
        limit: u64,
        limit_name: &'static str,
        adapter: String,
    },

    #[error("reading a buffer back from the GPU failed: {0}")]
    Readback(String),

    #[error(
        "training diverged in epoch {epoch}: the loss was {loss} after step {step} of {steps}{}; \
         the model holds the last finite weights, from before that epoch. Lower the learning \
         rate (`lr`), clip the gradients (`clip_norm`){}",
        if *restores > 0 { format!(", after {restores} restores at a halved rate") } else { String::new() },
        if *restores > 0 { "" } else { ", or let wgae halve the rate and go on (`on_divergence` restore)" }
    )]
    Diverged {
        epoch: usize,
        step: usize,
        steps: usize,
        loss: f64,
        restores: u32,
    },

    /// A GPU failure during training, with what was kept and how to go on.
    #[error(
        "{error}; the last checkpoint, {checkpoint}, is intact: resume with --resume {checkpoint}"
    )]
    TrainingFailed {
        error: Box<Error>,
        checkpoint: String,
    },

    /// Stopped by the user (Ctrl-C); the message says what was kept.
    #[error("interrupted: {0}")]
    Interrupted(String),

    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
}

impl Error {
    pub(crate) fn shape(op: &'static str, detail: impl Into<String>) -> Self {
        Error::Shape {
            op,
            detail: detail.into(),
        }
    }
}
