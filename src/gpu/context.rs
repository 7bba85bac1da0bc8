//! The GPU context: the opened [`Device`], the pipeline cache, and the
//! choices that plan the work on it (which matmul kernels, whether
//! activation gradients are fused, the loss kernels' lanes, the loop guard).
//! A `GpuContext` is a handle: cloning it is cheap and shares the device, so
//! models and trainers keep their own clone and live as long as they like.
//!
//! Adapter choice: a hardware GPU first (discrete, then integrated, then
//! virtual), a software rasterizer (lavapipe, WARP) last with a warning.
//! `WGAE_ADAPTER=<part of the name>` and `WGAE_BACKEND=vulkan|metal|dx12|gl`
//! override it. The device is opened with the adapter's own limits rather than
//! WebGPU's 128/256 MiB defaults, and with subgroups, shader-f16 and timestamp
//! queries where the adapter has them.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytemuck::Pod;

use crate::error::{Error, Result};
use crate::gpu::adapter::{self, is_software};
use crate::gpu::device::Device;
use crate::gpu::pipeline::{self, Kernel, PipelineCache, Step};
use crate::gpu::{profile, tensor, GpuTensor};
use crate::op::Tile;

/// Invocations per row the per-row loss kernels are built for (loss.wgsl's
/// `ROW_WG`): 64 on GPUs, 8 (one SIMD group) on CPU adapters, where every
/// level of the row's tree sum is a barrier that suspends each SIMD group of
/// the workgroup (BENCHMARKS.md: the fused loss pass in half the time).
pub const ROW_LANES: [u32; 2] = [8, 64];

/// How to pick an adapter, which kernels to run on it and within which
/// limits. `wgae::env::context_options` (feature `env`) reads them from
/// `WGAE_ADAPTER`, `WGAE_BACKEND`, `WGAE_MATMUL`, `WGAE_TUNE`,
/// `WGAE_SUBGROUPS`, `WGAE_LOOP_BOUNDING` and the rest; how a model is
/// planned is its own [`PlanOptions`](crate::plan::PlanOptions).
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
    /// matmul, see `kernels::matmul::kernel_for`).
    pub matmul_tile: Option<Tile>,
    /// Whether each matmul shape gets the kernel measured fastest for it
    /// (see `kernels::matmul::tune`); by default on hardware GPUs, and never
    /// when `matmul_direct` or `matmul_tile` fix the kernel.
    pub tune: Option<bool>,
    /// Whether the direct matmul may share A through subgroup shuffles
    /// where the adapter has subgroups of 8 lanes or more (default: yes).
    pub subgroups: Option<bool>,
    /// Whether wgpu adds its guard against endless loops to every loop of
    /// every kernel (default: no; see [`GpuContext::loop_bounding`]).
    pub loop_bounding: Option<bool>,
    /// Invocations per row of the per-row loss kernels, 8 or 64 (default: 8
    /// on CPU adapters, 64 on GPUs; see [`ROW_LANES`]).
    pub row_lanes: Option<u32>,
    /// The most bytes wgae puts in one buffer of a resident dataset, below
    /// the adapter's storage binding limit (`WGAE_MAX_BINDING`): to test, on
    /// any adapter, data split over several buffers.
    pub max_binding: Option<u64>,
    /// The most bytes of GPU buffers wgae may hold at once
    /// (`WGAE_GPU_MEMORY`, `--gpu-memory`): an allocation beyond it is an
    /// error naming the sizes, and training streams a dataset that would
    /// not fit beside the model. `None`: only the adapter's limits.
    pub gpu_memory: Option<u64>,
    /// Stream training data from the host even where it would fit on the
    /// GPU (`WGAE_STREAM=1`): to compare streamed with resident training.
    pub stream: Option<bool>,
    /// The most bytes per buffer of the streaming ring (`WGAE_STREAM_SLOT`;
    /// default `train::stream::SLOT_BYTES`): tests use small slots to
    /// stream small data in many chunks.
    pub stream_slot: Option<u64>,
}

/// The shared state behind a [`GpuContext`] handle.
struct Inner {
    dev: Device,
    pipelines: PipelineCache,
    /// Use the matmul without workgroup memory (CPU adapters).
    matmul_direct: bool,
    matmul_tile: Option<Tile>,
    subgroup_matmul: bool,
    loop_bounding: bool,
    row_lanes: u32,
    autotune: bool,
    max_binding: Option<u64>,
    stream: bool,
    stream_slot: Option<u64>,
    /// Per-context state of the layers above (the matmul tuning table), by type.
    extensions: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

/// A device and queue, the adapter they came from, the pipeline cache and
/// the plan's choices. Cloning is cheap (a reference count) and every clone
/// is the same context. `Send + Sync`: a context may be shared between
/// threads; wgpu orders the work submitted from each.
#[derive(Clone)]
pub struct GpuContext(Arc<Inner>);

impl std::fmt::Debug for GpuContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuContext")
            .field("adapter", &self.adapter_info().name)
            .field("backend", &self.adapter_info().backend)
            .finish_non_exhaustive()
    }
}

/// The device's own methods (limits, error scopes, waiting) on the context.
impl std::ops::Deref for GpuContext {
    type Target = Device;
    fn deref(&self) -> &Device {
        &self.0.dev
    }
}

impl GpuContext {
    /// The best adapter, with the default options. (The library reads no
    /// environment variable; `wgae::env::context_options` is how the CLI,
    /// the tests and Python honour `WGAE_ADAPTER` and the rest.)
    pub fn new() -> Result<Self> {
        Self::with_options(&ContextOptions::default())
    }

    /// The context `opts` ask for (blocking: the CLI, the tests, Python).
    pub fn with_options(opts: &ContextOptions) -> Result<Self> {
        crate::gpu::block::resolve("opening the GPU", Self::with_options_async(opts))
    }

    /// [`Self::with_options`] as a future: the adapter and the device are
    /// asked for without blocking, as a browser needs.
    pub async fn with_options_async(opts: &ContextOptions) -> Result<Self> {
        if let Some(l) = opts.row_lanes {
            if !ROW_LANES.contains(&l) {
                return Err(Error::InvalidArgument(format!(
                    "row_lanes: {l} invocations per row; the loss kernels take {ROW_LANES:?}"
                )));
            }
        }
        let name = opts.adapter.as_deref();
        // The native APIs first; GL only when none of them has an adapter
        // (probing GL is slow, and EGL prints warnings on headless machines).
        let mut _inst = adapter::instance(Some(opts.backends.unwrap_or(wgpu::Backends::PRIMARY)));
        let mut adapters = adapter::candidates(&_inst).await;
        if !adapters
            .iter()
            .any(|a| adapter::matches(name, &a.get_info()))
            && opts.backends.is_none()
        {
            let all = adapter::instance(Some(wgpu::Backends::all()));
            let more = adapter::candidates(&all).await;
            // Keep the native list when GL adds nothing: an adapter name
            // that matches none is then named as such, with the ones there
            // are, not taken for a machine without a driver.
            if !more.is_empty() {
                (_inst, adapters) = (all, more);
            }
        }
        if adapters.is_empty() {
            return Err(Error::NoAdapter(
                "wgpu found no adapter on any backend. Install a GPU driver, or Mesa's \
                 software Vulkan driver: apt-get install mesa-vulkan-drivers libvulkan1"
                    .into(),
            ));
        }
        adapters.sort_by_key(|a| adapter::rank(&a.get_info()));
        let names: Vec<String> = adapters
            .iter()
            .map(|a| {
                let i = a.get_info();
                format!("{} ({:?})", i.name, i.backend)
            })
            .collect();
        let chosen = adapters
            .into_iter()
            .find(|a| adapter::matches(name, &a.get_info()))
            .ok_or_else(|| {
                Error::NoAdapter(format!(
                    "no adapter name contains '{}'; available: {}",
                    name.unwrap_or(""),
                    names.join(", ")
                ))
            })?;
        let info = chosen.get_info();
        if is_software(&info) {
            tracing::warn!(
                adapter = %info.name,
                "using a software adapter: correct but slow; no hardware GPU was found (see `wgae info`)"
            );
        }
        let features = adapter::wanted_features(chosen.features());
        let (device, queue) = adapter::open_device(&chosen, features).await?;
        let mut dev = Device::new(device, queue, info, true);
        dev.memory_limit = opts.gpu_memory;
        Ok(Self::assemble(dev, opts))
    }

    /// Wraps a device and queue the caller already owns (embedding wgae in
    /// another wgpu program). wgae leaves the caller's uncaptured-error and
    /// device-lost handlers alone and catches its own errors with error scopes.
    pub fn from_device(device: wgpu::Device, queue: wgpu::Queue) -> Result<Self> {
        let info = device.adapter_info();
        let opts = ContextOptions::default();
        let mut dev = Device::new(device, queue, info, false);
        dev.memory_limit = opts.gpu_memory;
        Ok(Self::assemble(dev, &opts))
    }

    fn assemble(dev: Device, opts: &ContextOptions) -> Self {
        let software = dev.is_software();
        let matmul_direct = opts.matmul_direct.unwrap_or(software);
        let row_lanes = opts.row_lanes.unwrap_or(if software { 8 } else { 64 });
        // On software adapters the rule is measured (BENCHMARKS.md: the
        // direct kernels win at every shape), so timing the others at each
        // plan would only cost time.
        let forced = opts.matmul_direct.is_some() || opts.matmul_tile.is_some();
        // A browser cannot wait for the timings (and its timers are coarse).
        let autotune = !forced
            && opts
                .tune
                .unwrap_or(!software && !cfg!(target_arch = "wasm32"));
        let subgroup_matmul = opts.subgroups.unwrap_or(true) && dev.has_subgroups();
        tracing::info!(
            adapter = %dev.adapter_name(),
            backend = ?dev.adapter_info().backend,
            max_storage_binding = dev.limits().max_storage_buffer_binding_size,
            autotune,
            "GPU context ready"
        );
        Self(Arc::new(Inner {
            dev,
            pipelines: PipelineCache::default(),
            matmul_direct,
            matmul_tile: opts.matmul_tile,
            subgroup_matmul,
            loop_bounding: opts.loop_bounding.unwrap_or(false),
            row_lanes,
            autotune,
            max_binding: opts.max_binding,
            stream: opts.stream.unwrap_or(false),
            stream_slot: opts.stream_slot,
            extensions: Mutex::new(HashMap::new()),
        }))
    }

    // ------------------------------------------------------------ the plan

    /// The most bytes one buffer of a resident dataset may hold: the
    /// adapter's storage binding and buffer limits, or less where the
    /// options cap it (`ContextOptions::max_binding`).
    pub fn dataset_binding_limit(&self) -> u64 {
        let l = self.limits();
        let adapter = l.max_storage_buffer_binding_size.min(l.max_buffer_size);
        self.0.max_binding.map_or(adapter, |cap| cap.min(adapter))
    }

    /// Whether training streams its data even where it fits on the GPU
    /// (`ContextOptions::stream`).
    pub fn force_stream(&self) -> bool {
        self.0.stream
    }

    /// The cap on a streaming slot's bytes (`ContextOptions::stream_slot`).
    pub fn stream_slot(&self) -> Option<u64> {
        self.0.stream_slot
    }

    /// Whether matmuls use the variant without workgroup memory: on software
    /// adapters, or as `WGAE_MATMUL=direct|tiled` says.
    pub fn matmul_direct(&self) -> bool {
        self.0.matmul_direct
    }

    /// Whether the direct matmul shares A through subgroup shuffles: where
    /// the adapter has subgroups of 8 lanes or more, unless
    /// `WGAE_SUBGROUPS=0` or the options say otherwise.
    pub fn subgroup_matmul(&self) -> bool {
        self.0.subgroup_matmul
    }

    /// The tile shape forced by `WGAE_MATMUL=tiled16|tiled64|tiled128|tiled64v|tiled128v` or the
    /// options, if any.
    pub fn matmul_tile(&self) -> Option<Tile> {
        self.0.matmul_tile
    }

    /// Whether each matmul shape gets the kernel measured fastest for it
    /// (`kernels::matmul::tune`): by default on hardware adapters, unless
    /// `WGAE_MATMUL` fixes the kernel; `WGAE_TUNE=1|0` overrides.
    pub fn autotune(&self) -> bool {
        self.0.autotune
    }

    /// Whether the kernels are compiled with wgpu's guard against endless
    /// loops (`WGAE_LOOP_BOUNDING=1`). By default they are not: the guard is
    /// a 64-bit countdown tested on every iteration of every loop, which
    /// also keeps the compiler from unrolling the loops over a register
    /// block (a third of the instructions of a lavapipe training step,
    /// BENCHMARKS.md). Every loop in `shaders/` ends by construction (the
    /// safety comment where gpu/pipeline.rs compiles them says why), so the
    /// guard is never what stops one.
    pub fn loop_bounding(&self) -> bool {
        self.0.loop_bounding
    }

    /// Invocations per row of the per-row loss kernels (8 or 64).
    pub fn row_lanes(&self) -> u32 {
        self.0.row_lanes
    }

    /// The context's instance of `T` (created on first use): per-context
    /// state kept by the layers above the device, such as the matmul tuning
    /// table, without the device knowing their types.
    pub fn extension<T: Default + Send + Sync + 'static>(&self) -> Arc<T> {
        let mut map = self.0.extensions.lock().unwrap_or_else(|p| p.into_inner());
        let any = map
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Arc::new(T::default()))
            .clone();
        any.downcast::<T>()
            .expect("extensions are stored under their own type id")
    }

    // ------------------------------------------------------------- tensors

    /// A new tensor holding `data` (f32, u32 or any 4-byte Pod).
    pub fn upload<T: Pod>(&self, label: &str, data: &[T]) -> Result<GpuTensor> {
        tensor::upload(self, label, data)
    }

    /// A new tensor holding `data` rounded to f16 (round to nearest even),
    /// two values per 4-byte word: the operand of the mixed-precision ops.
    pub fn upload_f16(&self, label: &str, data: &[f32]) -> Result<GpuTensor> {
        tensor::upload_f16(self, label, data)
    }

    /// A new tensor of `len` zeros.
    pub fn zeros(&self, label: &str, len: usize) -> Result<GpuTensor> {
        tensor::zeros(self, label, len)
    }

    /// Overwrites the tensor with `data` (queued; ordered before later submissions).
    pub fn write<T: Pod>(&self, t: &GpuTensor, data: &[T]) -> Result<()> {
        tensor::write(self, t, data)
    }

    /// Copies the tensor back to the host as f32 (waits for the GPU).
    pub fn read(&self, t: &GpuTensor) -> Result<Vec<f32>> {
        tensor::read(self, t)
    }

    /// [`Self::read`] as a future (a browser's read-back).
    pub async fn read_async(&self, t: &GpuTensor) -> Result<Vec<f32>> {
        tensor::read_async(self, t).await
    }

    /// Copies the tensor back to the host as u32 (waits for the GPU).
    pub fn read_u32(&self, t: &GpuTensor) -> Result<Vec<u32>> {
        tensor::read_u32(self, t)
    }

    /// Reads `n` f16 values back as f32 (waits for the GPU).
    pub fn read_f16(&self, t: &GpuTensor, n: usize) -> Result<Vec<f32>> {
        tensor::read_f16(self, t, n)
    }

    /// Bytes in the storage buffers wgae has allocated and not yet freed
    /// (tensors, arenas, datasets; not the small uniform buffers of steps).
    pub fn live_bytes(&self) -> u64 {
        tensor::live_bytes(self)
    }

    /// The cap on the GPU memory wgae may use (`ContextOptions::gpu_memory`).
    pub fn gpu_memory_cap(&self) -> Option<u64> {
        self.memory_limit
    }

    /// Bytes wgae may still allocate under the `gpu_memory` cap; `None`
    /// without a cap.
    pub fn memory_left(&self) -> Option<u64> {
        self.memory_limit
            .map(|l| l.saturating_sub(tensor::live_bytes(self)))
    }

    // ----------------------------------------------------- kernels and steps

    /// The pipeline of `kernel`, built once and cached.
    pub fn pipeline(&self, kernel: &Kernel) -> Result<wgpu::ComputePipeline> {
        self.0
            .pipelines
            .pipeline(self, kernel, self.0.loop_bounding)
    }

    /// A step of `kernel`: `params` as the uniform at binding 0, `tensors`
    /// at their bindings, dispatched as `groups` workgroups.
    pub fn step<P: Pod>(
        &self,
        kernel: &Kernel,
        label: String,
        params: &P,
        tensors: &[(u32, &GpuTensor)],
        groups: [u32; 3],
    ) -> Result<Step> {
        let pipeline = self.pipeline(kernel)?;
        pipeline::bind(self, pipeline, label, params, tensors, groups)
    }

    /// A small zeroed tensor bound where a kernel's optional input is absent.
    pub fn dummy(&self) -> Result<GpuTensor> {
        self.0.pipelines.dummy(self)
    }

    /// Records whatever `record` puts into one compute pass, in one command
    /// buffer, and submits it; wgpu errors come back as `Err` naming `label`.
    pub fn record_pass(
        &self,
        label: &str,
        record: impl FnOnce(&mut wgpu::ComputePass<'_>),
    ) -> Result<()> {
        pipeline::record_pass(self, label, record).map(|_| ())
    }

    /// [`Self::record_pass`], returning the submission so that a caller
    /// can wait for it alone ([`Device::wait_for`]).
    pub fn submit_pass(
        &self,
        label: &str,
        record: impl FnOnce(&mut wgpu::ComputePass<'_>),
    ) -> Result<wgpu::SubmissionIndex> {
        pipeline::record_pass(self, label, record)
    }

    /// Records `steps` in order into one compute pass and submits it. Does not
    /// wait; use [`Device::wait`] or a read-back for that.
    pub fn run(&self, steps: &[&Step]) -> Result<()> {
        self.record_pass("wgae run", |pass| {
            for s in steps {
                s.record(pass);
            }
        })
    }

    /// Runs `steps` and waits for them to finish.
    pub fn run_wait(&self, steps: &[&Step]) -> Result<()> {
        self.run(steps)?;
        self.wait()
    }

    /// Runs `steps` once, in order, and returns each one's GPU time in
    /// seconds. An adapter without timestamp queries gets an error saying so.
    pub fn profile(&self, steps: &[&Step]) -> Result<Vec<f64>> {
        profile::profile(self, steps)
    }

    /// Copies `from` into `to` (the same length) on the GPU.
    pub fn copy(&self, from: &GpuTensor, to: &GpuTensor) -> Result<()> {
        if from.len() != to.len() {
            return Err(Error::shape(
                "copy",
                format!("{} values into a tensor of {}", from.len(), to.len()),
            ));
        }
        self.scoped("copying a tensor", || {
            let mut enc = self
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("wgae copy"),
                });
            enc.copy_buffer_to_buffer(
                from.buffer(),
                from.offset(),
                to.buffer(),
                to.offset(),
                from.size_bytes(),
            );
            self.queue.submit([enc.finish()]);
        })
    }
}
