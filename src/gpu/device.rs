//! The opened device: the wgpu device and queue, what the adapter is and
//! allows, and how wgpu's failures come back as `Result`s (error scopes, the
//! uncaptured-error handler, the device-lost callback). Everything above it
//! (tensors, pipelines, the context) goes through [`Device::scoped`].

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::gpu::adapter::is_software;

type SharedError = Arc<Mutex<Option<Error>>>;
type SharedLoss = Arc<Mutex<Option<(String, String)>>>;

/// A wgpu device and queue with the adapter they came from. `Send + Sync`:
/// wgpu's device and queue may be used from any thread, and the error slots
/// are behind mutexes.
pub struct Device {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    limits: wgpu::Limits,
    features: wgpu::Features,
    /// First error reported outside an error scope.
    uncaptured: SharedError,
    /// Reason and message once the device is lost.
    lost: SharedLoss,
    /// Bytes of live storage buffers (see `tensor::live_bytes`).
    pub(crate) live_bytes: Arc<AtomicU64>,
    /// The most bytes of storage buffers wgae may hold (`ContextOptions::gpu_memory`).
    pub(crate) memory_limit: Option<u64>,
}

impl Device {
    /// Wraps an opened device. With `own_handlers`, wgae installs the
    /// uncaptured-error and device-lost handlers; a device the caller owns
    /// keeps the caller's, and wgae relies on its error scopes alone.
    pub fn new(
        device: wgpu::Device,
        queue: wgpu::Queue,
        info: wgpu::AdapterInfo,
        own_handlers: bool,
    ) -> Self {
        let uncaptured: SharedError = Arc::new(Mutex::new(None));
        let lost: SharedLoss = Arc::new(Mutex::new(None));
        if own_handlers {
            let slot = uncaptured.clone();
            device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
                tracing::error!(error = %e, "uncaptured wgpu error");
                let mut s = slot.lock().unwrap_or_else(|p| p.into_inner());
                if s.is_none() {
                    *s = Some(convert_error("GPU work", e));
                }
            }));
            let slot = lost.clone();
            device.set_device_lost_callback(move |reason, message| {
                // Dropping the device at exit is not a failure worth reporting.
                if reason == wgpu::DeviceLostReason::Destroyed {
                    return;
                }
                tracing::error!(?reason, %message, "GPU device lost");
                let mut s = slot.lock().unwrap_or_else(|p| p.into_inner());
                *s = Some((format!("{reason:?}"), message));
            });
        }
        let limits = device.limits();
        let features = device.features();
        Self {
            device,
            queue,
            info,
            limits,
            features,
            uncaptured,
            lost,
            live_bytes: Arc::new(AtomicU64::new(0)),
            memory_limit: None,
        }
    }

    pub fn adapter_info(&self) -> &wgpu::AdapterInfo {
        &self.info
    }

    pub fn adapter_name(&self) -> &str {
        &self.info.name
    }

    pub fn limits(&self) -> &wgpu::Limits {
        &self.limits
    }

    pub fn features(&self) -> wgpu::Features {
        self.features
    }

    pub fn is_software(&self) -> bool {
        is_software(&self.info)
    }

    /// Whether the adapter has subgroup operations with at least 8 lanes
    /// (what the subgroup matmul needs).
    pub fn has_subgroups(&self) -> bool {
        self.features.contains(wgpu::Features::SUBGROUP) && self.info.subgroup_min_size >= 8
    }

    /// Whether the adapter runs f16 arithmetic and storage in shaders.
    pub fn has_f16(&self) -> bool {
        self.features.contains(wgpu::Features::SHADER_F16)
    }

    /// An error naming the adapter when it lacks shader-f16.
    pub fn require_f16(&self, what: &str) -> Result<()> {
        if self.has_f16() {
            return Ok(());
        }
        Err(Error::InvalidArgument(format!(
            "{what}: adapter '{}' has no shader-f16 support, so f16 precision is not available \
             here; use f32 (`precision` f32)",
            self.info.name
        )))
    }

    /// Whether the adapter writes timestamps around compute passes.
    pub fn has_timestamps(&self) -> bool {
        self.features.contains(wgpu::Features::TIMESTAMP_QUERY)
    }

    /// An error naming the adapter when it has no timestamp queries.
    pub fn require_timestamps(&self, what: &str) -> Result<()> {
        if self.has_timestamps() {
            return Ok(());
        }
        Err(Error::InvalidArgument(format!(
            "{what}: adapter '{}' has no timestamp queries, so GPU time per dispatch cannot be \
             measured here; `wgae bench` without --profile still times whole steps",
            self.adapter_name()
        )))
    }

    /// Returns (and clears) an error reported outside any error scope; reports
    /// the loss of the device every time, since it is permanent.
    pub fn check(&self) -> Result<()> {
        if let Some((reason, message)) = self.lost.lock().unwrap_or_else(|p| p.into_inner()).clone()
        {
            return Err(Error::DeviceLost { reason, message });
        }
        match self
            .uncaptured
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Runs `f` inside validation, out-of-memory and internal error scopes and
    /// turns anything they catch into an `Err` naming `op`.
    /// In a browser the scopes would answer on its event loop, after the
    /// work: errors reach the uncaptured-error handler instead, and the
    /// next check reports them.
    pub fn scoped<T>(&self, op: &str, f: impl FnOnce() -> T) -> Result<T> {
        self.check()?;
        if cfg!(target_arch = "wasm32") {
            let out = f();
            self.check()?;
            return Ok(out);
        }
        let internal = self.device.push_error_scope(wgpu::ErrorFilter::Internal);
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let out = f();
        let now = crate::gpu::block::now;
        let errors = [
            now(validation.pop()).flatten(),
            now(oom.pop()).flatten(),
            now(internal.pop()).flatten(),
        ];
        if let Some(e) = errors.into_iter().flatten().next() {
            return Err(convert_error(op, e));
        }
        self.check()?;
        Ok(out)
    }

    /// Blocks until all submitted work is done.
    pub fn wait(&self) -> Result<()> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Internal {
                op: "device poll".into(),
                message: e.to_string(),
            })?;
        self.check()
    }

    /// Blocks until the submission `index` (and those before it) is done.
    pub fn wait_for(&self, index: wgpu::SubmissionIndex) -> Result<()> {
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(index),
                timeout: None,
            })
            .map_err(|e| Error::Internal {
                op: "device poll".into(),
                message: e.to_string(),
            })?;
        self.check()
    }

    /// Checks that one storage binding of `bytes` fits this adapter.
    pub fn check_binding_size(&self, op: &'static str, what: &str, bytes: u64) -> Result<()> {
        let limit = self
            .limits
            .max_storage_buffer_binding_size
            .min(self.limits.max_buffer_size);
        if bytes > limit {
            return Err(Error::TooLarge {
                op,
                what: what.to_string(),
                bytes,
                limit,
                limit_name: "storage buffer binding",
                adapter: self.info.name.clone(),
            });
        }
        Ok(())
    }
}

pub fn convert_error(op: &str, e: wgpu::Error) -> Error {
    match e {
        wgpu::Error::OutOfMemory { .. } => Error::OutOfMemory { op: op.to_string() },
        wgpu::Error::Validation {
            description,
            source,
        } => {
            // wgpu's description can be a bare "Validation Error"; the
            // causes say what failed.
            let mut message = description.trim_end().to_string();
            let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(source.as_ref());
            let mut said = false;
            while let Some(c) = cause {
                let text = c.to_string();
                if !text.is_empty() && !message.contains(&text) {
                    message = format!("{message}: {text}");
                    said = true;
                }
                cause = c.source();
            }
            if !said {
                message = format!("{message}: {source:?}");
            }
            // A lost device fails every call this way.
            if message.contains("lost") || message.contains("destroyed") {
                return Error::DeviceLost {
                    reason: op.to_string(),
                    message,
                };
            }
            Error::Validation {
                op: op.to_string(),
                message,
            }
        }
        wgpu::Error::Internal { description, .. } => Error::Internal {
            op: op.to_string(),
            message: description,
        },
    }
}
