//! Adapters: which ones wgpu sees, how they rank (hardware before software,
//! discrete before integrated, native APIs before GL), and opening a device
//! with the adapter's own limits.

use crate::error::{Error, Result};

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
pub fn rank(info: &wgpu::AdapterInfo) -> (u8, u8) {
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

pub fn instance(backends: Option<wgpu::Backends>) -> wgpu::Instance {
    quiet_window_system();
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = backends.unwrap_or(wgpu::Backends::all());
    wgpu::Instance::new(desc)
}

/// On a machine without a display session, drivers' window-system code
/// (Mesa's Wayland and EGL probes) prints "error: XDG_RUNTIME_DIR is
/// invalid or not set" twice at start-up, which reads as wgae failing.
/// wgae computes and draws nothing on screen, so where the variable is
/// missing or names no folder, it points it at a private folder of its own
/// (`$TMPDIR/wgae-runtime-UID`, mode 0700) before the first instance is
/// made, once per process.
fn quiet_window_system() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let valid =
            std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| std::path::Path::new(&d).is_dir());
        #[cfg(unix)]
        if !valid {
            use std::os::unix::fs::{DirBuilderExt, MetadataExt};
            let uid = std::fs::metadata("/proc/self").map_or(0, |m| m.uid());
            let dir = std::env::temp_dir().join(format!("wgae-runtime-{uid}"));
            // Made now, or by an earlier run; used only if it is ours.
            let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
            let ours = std::fs::metadata(&dir).is_ok_and(|m| m.is_dir() && m.uid() == uid);
            if ours {
                // Before any thread of wgae's exists; the drivers read it.
                std::env::set_var("XDG_RUNTIME_DIR", &dir);
            }
        }
        #[cfg(not(unix))]
        let _ = valid;
    });
}

fn summarize(adapter: &wgpu::Adapter) -> AdapterSummary {
    AdapterSummary {
        info: adapter.get_info(),
        limits: adapter.limits(),
        features: adapter.features(),
    }
}

/// Every adapter wgpu can see, best first, and the index of the one
/// `GpuContext::with_options` would use (None if the options match none).
pub fn list_adapters(
    name: Option<&str>,
    backends: Option<wgpu::Backends>,
) -> (Vec<AdapterSummary>, Option<usize>) {
    let inst = instance(backends);
    let mut adapters = crate::gpu::block::now(candidates(&inst)).unwrap_or_default();
    adapters.sort_by_key(|a| rank(&a.get_info()));
    let summaries: Vec<AdapterSummary> = adapters.iter().map(summarize).collect();
    let chosen = summaries.iter().position(|s| matches(name, &s.info));
    (summaries, chosen)
}

/// The adapters `inst` offers: every one natively; in a browser, the one
/// WebGPU gives (it lists none).
pub async fn candidates(inst: &wgpu::Instance) -> Vec<wgpu::Adapter> {
    #[cfg(target_arch = "wasm32")]
    {
        let opts = wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            ..Default::default()
        };
        inst.request_adapter(&opts).await.into_iter().collect()
    }
    #[cfg(not(target_arch = "wasm32"))]
    inst.enumerate_adapters(wgpu::Backends::all()).await
}

/// Whether the adapter's name contains `name` (any adapter when `None`).
pub fn matches(name: Option<&str>, info: &wgpu::AdapterInfo) -> bool {
    match name {
        Some(want) => info
            .name
            .to_ascii_lowercase()
            .contains(&want.to_ascii_lowercase()),
        None => true,
    }
}

/// Optional features wgae uses when present.
pub fn wanted_features(available: wgpu::Features) -> wgpu::Features {
    let wanted =
        wgpu::Features::SUBGROUP | wgpu::Features::SHADER_F16 | wgpu::Features::TIMESTAMP_QUERY;
    wanted & available
}

pub async fn open_device(
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
    match adapter.request_device(&desc(full.clone())).await {
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
            adapter
                .request_device(&desc(limits))
                .await
                .map_err(|e| Error::RequestDevice {
                    adapter: info.name.clone(),
                    message: e.to_string(),
                })
        }
    }
}
