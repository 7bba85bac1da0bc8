//! The GPU context: which adapter, which device, and how wgpu's failures come
//! back as `Result`s.
//!
//! Adapter choice: a hardware GPU first (discrete, then integrated, then
//! virtual), a software rasterizer (lavapipe, WARP) last with a warning.
//! `WGAE_ADAPTER=<part of the name>` and `WGAE_BACKEND=vulkan|metal|dx12|gl`
//! override it. The device is opened with the adapter's own limits rather than
//! WebGPU's 128/256 MiB defaults, and with subgroups, shader-f16 and timestamp
//! queries where the adapter has them.

use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::gpu::kernels::{KernelCache, Tile};
use crate::gpu::tune::TuneTable;

/// How to pick an adapter and plan its work. [`ContextOptions::from_env`]
/// reads `WGAE_ADAPTER`, `WGAE_BACKEND`, `WGAE_MATMUL`, `WGAE_TUNE`,
/// `WGAE_SUBGROUPS`, `WGAE_FUSE_ACT_GRAD` and `WGAE_LOOP_BOUNDING`.
#[derive(Clone, Debug, Default)]
pub struct ContextOptions {
    /// Case-insensitive part of the adapter name that must match.
    pub adapter: Option<String>,
    /// Restrict to these backends (all when `None`).
    pub backends: Option<wgpu::Backends>,
    /// Whether matmuls use the direct kernels (no workgroup memory) instead
    /// of the tiled ones; by default on CPU adapters only.
    pub matmul_direct: Option<bool>,
    /// Force one tile shape for the tiled kernel (by default chosen per
    /// matmul, see [`GpuContext::matmul_kernel_for`]).
    pub matmul_tile: Option<Tile>,
    /// Whether each matmul shape gets the kernel measured fastest for it
    /// (see [`crate::gpu::tune`]); by default on hardware GPUs, and never
    /// when `matmul_direct` or `matmul_tile` fix the kernel.
    pub tune: Option<bool>,
    /// Whether the direct matmul may share A through subgroup shuffles
    /// where the adapter has subgroups of 8 lanes or more (default: yes).
    pub subgroups: Option<bool>,
    /// Whether backward matmuls fuse the activation gradient into their
    /// prologue; by default wherever the tiled kernel runs (see
    /// [`GpuContext::fuse_act_grad`]).
    pub fuse_act_grad: Option<bool>,
    /// Whether wgpu adds its guard against endless loops to every loop of
    /// every kernel (default: no; see [`GpuContext::loop_bounding`]).
    pub loop_bounding: Option<bool>,
    /// Invocations per row of the per-row loss kernels, 8 or 64 (default: 8
    /// on CPU adapters, 64 on GPUs; see [`crate::gpu::kernels::ROW_LANES`]).
    pub row_lanes: Option<u32>,
}

/// `1|on|true` or `0|off|false` from an environment variable.
fn env_flag(name: &str) -> Result<Option<bool>> {
    match std::env::var(name).ok().as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some("1" | "on" | "true") => Ok(Some(true)),
        Some("0" | "off" | "false") => Ok(Some(false)),
        Some(other) => Err(Error::InvalidArgument(format!(
            "{name}: '{other}' is not on or off (1/0)"
        ))),
    }
}

impl ContextOptions {
    pub fn from_env() -> Result<Self> {
        let adapter = std::env::var("WGAE_ADAPTER")
            .ok()
            .filter(|s| !s.trim().is_empty());
        let backends = match std::env::var("WGAE_BACKEND") {
            Ok(s) if !s.trim().is_empty() => Some(parse_backend(&s)?),
            _ => None,
        };
        // (direct, forced tile) from WGAE_MATMUL.
        let (matmul_direct, matmul_tile) =
            match std::env::var("WGAE_MATMUL").ok().as_deref().map(str::trim) {
                None | Some("") => (None, None),
                Some("direct") => (Some(true), None),
                // The tiled kernels with the tile shape chosen per matmul, or forced.
                Some("tiled") => (Some(false), None),
                Some("tiled64") => (Some(false), Some(Tile::T64)),
                Some("tiled128") => (Some(false), Some(Tile::T128)),
                Some("tiled128v") => (Some(false), Some(Tile::T128V)),
                Some("tiled64v") => (Some(false), Some(Tile::T64V)),
                Some("tiled16") => (Some(false), Some(Tile::T16)),
                Some(other) => {
                    return Err(Error::InvalidArgument(format!(
                        "WGAE_MATMUL: unknown kernel '{other}' (expected tiled, tiled16, tiled64, \
                         tiled128, tiled64v, tiled128v or direct)"
                    )))
                }
            };
        Ok(Self {
            adapter,
            backends,
            matmul_direct,
            matmul_tile,
            tune: env_flag("WGAE_TUNE")?,
            subgroups: env_flag("WGAE_SUBGROUPS")?,
            fuse_act_grad: env_flag("WGAE_FUSE_ACT_GRAD")?,
            loop_bounding: env_flag("WGAE_LOOP_BOUNDING")?,
            row_lanes: None,
        })
    }
}

/// Parses `vulkan|metal|dx12|gl` (several may be joined with commas).
pub fn parse_backend(s: &str) -> Result<wgpu::Backends> {
    let mut out = wgpu::Backends::empty();
    for part in s.split(',') {
        out |= match part.trim().to_ascii_lowercase().as_str() {
            "vulkan" | "vk" => wgpu::Backends::VULKAN,
            "metal" | "mtl" => wgpu::Backends::METAL,
            "dx12" | "d3d12" => wgpu::Backends::DX12,
            "gl" | "gles" | "opengl" => wgpu::Backends::GL,
            other => {
                return Err(Error::InvalidArgument(format!(
                    "WGAE_BACKEND: unknown backend '{other}' (expected vulkan, metal, dx12 or gl)"
                )))
            }
        };
    }
    Ok(out)
}

/// What `wgae info` prints about one adapter.
#[derive(Clone, Debug)]
pub struct AdapterSummary {
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    pub features: wgpu::Features,
}

impl AdapterSummary {
    pub fn is_software(&self) -> bool {
        is_software(&self.info)
    }
}

/// A software rasterizer: lavapipe/llvmpipe, SwiftShader, WARP.
pub fn is_software(info: &wgpu::AdapterInfo) -> bool {
    let name = info.name.to_ascii_lowercase();
    info.device_type == wgpu::DeviceType::Cpu
        || [
            "llvmpipe",
            "lavapipe",
            "swiftshader",
            "warp",
            "basic render",
        ]
        .iter()
        .any(|s| name.contains(s))
}

/// Lower is better: hardware before software, discrete before integrated, and
/// native APIs before GL.
fn rank(info: &wgpu::AdapterInfo) -> (u8, u8) {
    let ty = if is_software(info) {
        4
    } else {
        match info.device_type {
            wgpu::DeviceType::DiscreteGpu => 0,
            wgpu::DeviceType::IntegratedGpu => 1,
            wgpu::DeviceType::VirtualGpu => 2,
            wgpu::DeviceType::Other => 3,
            wgpu::DeviceType::Cpu => 4,
        }
    };
    let api = match info.backend {
        wgpu::Backend::Vulkan | wgpu::Backend::Metal | wgpu::Backend::Dx12 => 0,
        _ => 1,
    };
    (ty, api)
}

fn instance(backends: Option<wgpu::Backends>) -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = backends.unwrap_or(wgpu::Backends::all());
    wgpu::Instance::new(desc)
}

fn summarize(adapter: &wgpu::Adapter) -> AdapterSummary {
    AdapterSummary {
        info: adapter.get_info(),
        limits: adapter.limits(),
        features: adapter.features(),
    }
}

/// Every adapter wgpu can see, best first, and the index of the one
/// [`GpuContext::with_options`] would use (None if the options match none).
pub fn list_adapters(opts: &ContextOptions) -> (Vec<AdapterSummary>, Option<usize>) {
    let inst = instance(opts.backends);
    let mut adapters = pollster::block_on(inst.enumerate_adapters(wgpu::Backends::all()));
    adapters.sort_by_key(|a| rank(&a.get_info()));
    let summaries: Vec<AdapterSummary> = adapters.iter().map(summarize).collect();
    let chosen = summaries.iter().position(|s| matches(opts, &s.info));
    (summaries, chosen)
}

fn matches(opts: &ContextOptions, info: &wgpu::AdapterInfo) -> bool {
    match &opts.adapter {
        Some(want) => info
            .name
            .to_ascii_lowercase()
            .contains(&want.to_ascii_lowercase()),
        None => true,
    }
}

/// Optional features wgae uses when present.
fn wanted_features(available: wgpu::Features) -> wgpu::Features {
    let wanted =
        wgpu::Features::SUBGROUP | wgpu::Features::SHADER_F16 | wgpu::Features::TIMESTAMP_QUERY;
    wanted & available
}

type SharedError = Arc<Mutex<Option<Error>>>;
type SharedLoss = Arc<Mutex<Option<(String, String)>>>;

/// A device and queue, the adapter they came from, and the pipeline cache.
/// Cheap to share by reference; every op takes `&GpuContext`.
pub struct GpuContext {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    limits: wgpu::Limits,
    features: wgpu::Features,
    /// First error reported outside an error scope.
    uncaptured: SharedError,
    /// Reason and message once the device is lost.
    lost: SharedLoss,
    /// Bytes of live storage buffers (see `live_bytes`).
    pub(crate) live_bytes: Arc<std::sync::atomic::AtomicU64>,
    /// Use the matmul without workgroup memory (CPU adapters).
    matmul_direct: bool,
    matmul_tile: Option<Tile>,
    subgroup_matmul: bool,
    fuse_act_grad: bool,
    loop_bounding: bool,
    row_lanes: u32,
    autotune: bool,
    pub(crate) tuning: TuneTable,
    pub(crate) kernels: KernelCache,
}

impl std::fmt::Debug for GpuContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuContext")
            .field("adapter", &self.info.name)
            .field("backend", &self.info.backend)
            .finish_non_exhaustive()
    }
}

impl GpuContext {
    /// The best adapter, honouring `WGAE_ADAPTER` and `WGAE_BACKEND`.
    pub fn new() -> Result<Self> {
        Self::with_options(&ContextOptions::from_env()?)
    }

    pub fn with_options(opts: &ContextOptions) -> Result<Self> {
        if let Some(l) = opts.row_lanes {
            if !crate::gpu::kernels::ROW_LANES.contains(&l) {
                return Err(Error::InvalidArgument(format!(
                    "row_lanes: {l} invocations per row; the loss kernels take {:?}",
                    crate::gpu::kernels::ROW_LANES
                )));
            }
        }
        // The native APIs first; GL only when none of them has an adapter
        // (probing GL is slow, and EGL prints warnings on headless machines).
        let mut inst = instance(Some(opts.backends.unwrap_or(wgpu::Backends::PRIMARY)));
        let mut adapters = pollster::block_on(inst.enumerate_adapters(wgpu::Backends::all()));
        if !adapters.iter().any(|a| matches(opts, &a.get_info())) && opts.backends.is_none() {
            inst = instance(Some(wgpu::Backends::all()));
            adapters = pollster::block_on(inst.enumerate_adapters(wgpu::Backends::all()));
        }
        if adapters.is_empty() {
            return Err(Error::NoAdapter(
                "wgpu found no adapter on any backend. Install a GPU driver, or Mesa's \
                 software Vulkan driver: apt-get install mesa-vulkan-drivers libvulkan1"
                    .into(),
            ));
        }
        adapters.sort_by_key(|a| rank(&a.get_info()));
        let names: Vec<String> = adapters
            .iter()
            .map(|a| {
                let i = a.get_info();
                format!("{} ({:?})", i.name, i.backend)
            })
            .collect();
        let adapter = adapters
            .into_iter()
            .find(|a| matches(opts, &a.get_info()))
            .ok_or_else(|| {
                Error::NoAdapter(format!(
                    "no adapter name contains '{}'; available: {}",
                    opts.adapter.as_deref().unwrap_or(""),
                    names.join(", ")
                ))
            })?;
        let info = adapter.get_info();
        if is_software(&info) {
            tracing::warn!(
                adapter = %info.name,
                "using a software adapter: correct but slow; no hardware GPU was found (see `wgae info`)"
            );
        }
        let features = wanted_features(adapter.features());
        let (device, queue) = open_device(&adapter, features)?;
        Ok(Self::assemble(device, queue, info, true, opts))
    }

    /// Wraps a device and queue the caller already owns (embedding wgae in
    /// another wgpu program). wgae leaves the caller's uncaptured-error and
    /// device-lost handlers alone and catches its own errors with error scopes.
    pub fn from_device(device: wgpu::Device, queue: wgpu::Queue) -> Result<Self> {
        let info = device.adapter_info();
        let opts = ContextOptions::from_env()?;
        Ok(Self::assemble(device, queue, info, false, &opts))
    }

    fn assemble(
        device: wgpu::Device,
        queue: wgpu::Queue,
        info: wgpu::AdapterInfo,
        own_handlers: bool,
        opts: &ContextOptions,
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
        let matmul_direct = opts.matmul_direct.unwrap_or_else(|| is_software(&info));
        // The direct kernel rereads each element of A once per lane, so a
        // gate on A would be evaluated 64 times over: there, writing dz once
        // is cheaper (BENCHMARKS.md has both measurements).
        let fuse_act_grad = opts.fuse_act_grad.unwrap_or(!matmul_direct);
        // On software adapters the rule is measured (BENCHMARKS.md: the
        // direct kernels win at every shape), so timing the others at each
        // plan would only cost time.
        let row_lanes = opts
            .row_lanes
            .unwrap_or(if is_software(&info) { 8 } else { 64 });
        let forced = opts.matmul_direct.is_some() || opts.matmul_tile.is_some();
        let autotune = !forced && opts.tune.unwrap_or(!is_software(&info));
        let subgroup_matmul = opts.subgroups.unwrap_or(true)
            && features.contains(wgpu::Features::SUBGROUP)
            && info.subgroup_min_size >= 8;
        tracing::info!(
            adapter = %info.name,
            backend = ?info.backend,
            max_storage_binding = limits.max_storage_buffer_binding_size,
            autotune,
            "GPU context ready"
        );
        Self {
            kernels: KernelCache::default(),
            device,
            queue,
            info,
            limits,
            features,
            uncaptured,
            lost,
            live_bytes: Arc::new(std::sync::atomic::AtomicU64::new(0)),
            matmul_direct,
            matmul_tile: opts.matmul_tile,
            subgroup_matmul,
            fuse_act_grad,
            loop_bounding: opts.loop_bounding.unwrap_or(false),
            row_lanes,
            autotune,
            tuning: TuneTable::default(),
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
             here; use f32 (--precision f32)",
            self.info.name
        )))
    }

    pub fn is_software(&self) -> bool {
        is_software(&self.info)
    }

    /// Whether matmuls use the variant without workgroup memory: on software
    /// adapters, or as `WGAE_MATMUL=direct|tiled` says.
    pub fn matmul_direct(&self) -> bool {
        self.matmul_direct
    }

    /// Whether the direct matmul shares A through subgroup shuffles: where
    /// the adapter has subgroups of 8 lanes or more, unless
    /// `WGAE_SUBGROUPS=0` or the options say otherwise.
    pub fn subgroup_matmul(&self) -> bool {
        self.subgroup_matmul
    }

    /// The tile shape forced by `WGAE_MATMUL=tiled16|tiled64|tiled128|tiled64v|tiled128v` or the
    /// options, if any.
    pub fn matmul_tile(&self) -> Option<Tile> {
        self.matmul_tile
    }

    /// Whether each matmul shape gets the kernel measured fastest for it
    /// (see [`crate::gpu::tune`]): by default on hardware adapters, unless
    /// `WGAE_MATMUL` fixes the kernel; `WGAE_TUNE=1|0` overrides.
    pub fn autotune(&self) -> bool {
        self.autotune
    }

    /// Whether the kernels are compiled with wgpu's guard against endless
    /// loops (`WGAE_LOOP_BOUNDING=1`). By default they are not: the guard is
    /// a 64-bit countdown tested on every iteration of every loop, which
    /// also keeps the compiler from unrolling the loops over a register
    /// block (a third of the instructions of a lavapipe training step,
    /// BENCHMARKS.md). Every loop in `shaders/` ends by construction (the
    /// safety comment where kernels.rs compiles them says why), so the guard
    /// is never what stops one.
    pub fn loop_bounding(&self) -> bool {
        self.loop_bounding
    }

    /// Invocations per row of the per-row loss kernels (8 or 64).
    pub fn row_lanes(&self) -> u32 {
        self.row_lanes
    }

    /// Whether training fuses each activation gradient dz = da * f'(z) into
    /// the kernels that read it (the backward matmuls' prologue and the bias
    /// gradient) instead of writing dz in a pass of its own: by default
    /// wherever the tiled matmul runs, or as `WGAE_FUSE_ACT_GRAD=1|0` says.
    pub fn fuse_act_grad(&self) -> bool {
        self.fuse_act_grad
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
    pub fn scoped<T>(&self, op: &str, f: impl FnOnce() -> T) -> Result<T> {
        self.check()?;
        let internal = self.device.push_error_scope(wgpu::ErrorFilter::Internal);
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let out = f();
        let errors = [
            pollster::block_on(validation.pop()),
            pollster::block_on(oom.pop()),
            pollster::block_on(internal.pop()),
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

fn open_device(
    adapter: &wgpu::Adapter,
    features: wgpu::Features,
) -> Result<(wgpu::Device, wgpu::Queue)> {
    let info = adapter.get_info();
    let full = adapter.limits();
    let desc = |limits: wgpu::Limits| wgpu::DeviceDescriptor {
        label: Some("wgae"),
        required_features: features,
        required_limits: limits,
        experimental_features: wgpu::ExperimentalFeatures::disabled(),
        memory_hints: wgpu::MemoryHints::Performance,
        trace: wgpu::Trace::Off,
    };
    match pollster::block_on(adapter.request_device(&desc(full.clone()))) {
        Ok(pair) => Ok(pair),
        Err(first) => {
            // Some drivers refuse their own full limit set; fall back to the
            // downlevel defaults with the limits wgae cares about raised.
            tracing::warn!(error = %first, "device with the adapter's full limits refused; retrying");
            let mut limits = wgpu::Limits::downlevel_defaults();
            limits.max_buffer_size = full.max_buffer_size;
            limits.max_storage_buffer_binding_size = full.max_storage_buffer_binding_size;
            limits.max_compute_workgroup_storage_size = full.max_compute_workgroup_storage_size;
            limits.max_compute_invocations_per_workgroup =
                full.max_compute_invocations_per_workgroup;
            limits.max_compute_workgroup_size_x = full.max_compute_workgroup_size_x;
            limits.max_compute_workgroup_size_y = full.max_compute_workgroup_size_y;
            limits.max_storage_buffers_per_shader_stage = full.max_storage_buffers_per_shader_stage;
            pollster::block_on(adapter.request_device(&desc(limits))).map_err(|e| {
                Error::RequestDevice {
                    adapter: info.name.clone(),
                    message: e.to_string(),
                }
            })
        }
    }
}

pub(crate) fn convert_error(op: &str, e: wgpu::Error) -> Error {
    match e {
        wgpu::Error::OutOfMemory { .. } => Error::OutOfMemory { op: op.to_string() },
        wgpu::Error::Validation { description, .. } => Error::Validation {
            op: op.to_string(),
            message: description,
        },
        wgpu::Error::Internal { description, .. } => Error::Internal {
            op: op.to_string(),
            message: description,
        },
    }
}
