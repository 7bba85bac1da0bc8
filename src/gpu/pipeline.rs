//! Compute pipelines and the steps that use them. A [`Shader`] is one WGSL
//! module; a [`Kernel`] is one entry point of it with its override
//! constants (the key pipelines are cached under); a [`Step`] is a pipeline
//! with its bind group and workgroup counts, built once and recorded as often
//! as needed. Which shaders and kernels exist is the kernel families' business
//! (the kernels module above): this layer compiles and binds whatever it is given.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

use bytemuck::Pod;
use wgpu::util::DeviceExt;

use crate::error::{Error, Result};
use crate::gpu::device::Device;
use crate::gpu::tensor::GpuTensor;

/// One WGSL module: a prelude shared by every module, then the file itself
/// (or files, where one builds on another's bindings).
#[derive(Debug)]
pub struct Shader {
    /// The file's name without `.wgsl`.
    pub name: &'static str,
    pub prelude: &'static str,
    pub body: &'static str,
    /// Whether its kernels need shader-f16.
    pub needs_f16: bool,
    /// Whether its kernels need subgroups of at least 8 lanes.
    pub needs_subgroups: bool,
}

impl Shader {
    /// The full WGSL text: the prelude, then the body. The body's `enable`
    /// directives (`enable f16;`) move to the top, where WGSL wants them.
    pub fn source(&self) -> String {
        let (enables, body): (Vec<&str>, Vec<&str>) = self
            .body
            .lines()
            .partition(|l| l.trim_start().starts_with("enable "));
        let mut out = String::new();
        for e in enables {
            out.push_str(e);
            out.push('\n');
        }
        out.push_str(self.prelude);
        out.push('\n');
        out.push_str(&body.join("\n"));
        out.push('\n');
        out
    }
}

/// One entry point of a shader with its pipeline-overridable constants.
#[derive(Clone)]
pub struct Kernel {
    pub shader: &'static Shader,
    pub entry: &'static str,
    /// Override constants by name (every one wgae sets is an integer).
    pub constants: Vec<(&'static str, u32)>,
}

/// `matmul::main{TRANS_A=0, ...}`.
impl std::fmt::Debug for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}::{}", self.shader.name, self.entry)?;
        if !self.constants.is_empty() {
            let c: Vec<String> = self
                .constants
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect();
            write!(f, "{{{}}}", c.join(", "))?;
        }
        Ok(())
    }
}

impl PartialEq for Kernel {
    fn eq(&self, other: &Self) -> bool {
        self.shader.name == other.shader.name
            && self.entry == other.entry
            && self.constants == other.constants
    }
}

impl Eq for Kernel {}

impl Hash for Kernel {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.shader.name.hash(h);
        self.entry.hash(h);
        self.constants.hash(h);
    }
}

impl Kernel {
    pub fn new(shader: &'static Shader, entry: &'static str) -> Self {
        Self {
            shader,
            entry,
            constants: Vec::new(),
        }
    }

    /// The kernel with one more override constant.
    pub fn with(mut self, name: &'static str, value: u32) -> Self {
        self.constants.push((name, value));
        self
    }

    /// The kernel with a flag (0 or 1) as an override constant.
    pub fn flag(self, name: &'static str, on: bool) -> Self {
        self.with(name, u32::from(on))
    }

    pub fn file(&self) -> &'static str {
        self.shader.name
    }

    pub fn entry(&self) -> &'static str {
        self.entry
    }

    /// The override constants as wgpu and naga take them.
    pub fn constants(&self) -> Vec<(&'static str, f64)> {
        self.constants
            .iter()
            .map(|&(n, v)| (n, f64::from(v)))
            .collect()
    }

    pub fn needs_f16(&self) -> bool {
        self.shader.needs_f16
    }

    pub fn needs_subgroups(&self) -> bool {
        self.shader.needs_subgroups
    }
}

/// Shader modules and pipelines, built on first use and kept for the life of
/// the device.
#[derive(Default)]
pub struct PipelineCache {
    modules: Mutex<HashMap<&'static str, wgpu::ShaderModule>>,
    pipelines: Mutex<HashMap<Kernel, wgpu::ComputePipeline>>,
    dummy: Mutex<Option<GpuTensor>>,
}

impl PipelineCache {
    /// The pipeline of `kernel`, built once and cached. `loop_bounding`:
    /// whether wgpu guards every loop against running forever.
    pub fn pipeline(
        &self,
        dev: &Device,
        kernel: &Kernel,
        loop_bounding: bool,
    ) -> Result<wgpu::ComputePipeline> {
        if let Some(p) = lock(&self.pipelines).get(kernel) {
            return Ok(p.clone());
        }
        if kernel.needs_f16() {
            dev.require_f16(kernel.entry())?;
        }
        if kernel.needs_subgroups() && !dev.has_subgroups() {
            return Err(Error::InvalidArgument(format!(
                "{}: adapter '{}' has no subgroups of at least 8 lanes; use the direct kernel",
                kernel.entry(),
                dev.adapter_name()
            )));
        }
        let module = self.module(dev, kernel.shader, loop_bounding)?;
        let constants = kernel.constants();
        let label = format!("{}::{}", kernel.file(), kernel.entry());
        let pipeline = dev.scoped(&format!("building pipeline {label}"), || {
            dev.device
                .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(&label),
                    layout: None,
                    module: &module,
                    entry_point: Some(kernel.entry()),
                    compilation_options: wgpu::PipelineCompilationOptions {
                        constants: &constants,
                        // Every kernel writes its workgroup memory before reading it.
                        zero_initialize_workgroup_memory: false,
                    },
                    cache: None,
                })
        })?;
        lock(&self.pipelines).insert(kernel.clone(), pipeline.clone());
        Ok(pipeline)
    }

    fn module(
        &self,
        dev: &Device,
        shader: &'static Shader,
        loop_bounding: bool,
    ) -> Result<wgpu::ShaderModule> {
        if let Some(m) = lock(&self.modules).get(shader.name) {
            return Ok(m.clone());
        }
        let desc = wgpu::ShaderModuleDescriptor {
            label: Some(shader.name),
            source: wgpu::ShaderSource::Wgsl(Cow::Owned(shader.source())),
        };
        // Bounds checks and the guards on integer division stay as wgpu sets
        // them; only the loop guard goes (unless `WGAE_LOOP_BOUNDING=1`).
        let checks = wgpu::ShaderRuntimeChecks {
            force_loop_bounding: loop_bounding,
            ..wgpu::ShaderRuntimeChecks::checked()
        };
        let module = dev.scoped(&format!("compiling shaders/{}.wgsl", shader.name), || {
            // SAFETY: the one promise this drops is that no loop runs
            // forever, and no loop in shaders/ does:
            // - every `for` counts an index by a fixed nonzero step up to a
            //   bound read from the parameters (a matrix dimension, a row
            //   length, a buffer length; all far below u32::MAX, so the
            //   index cannot wrap), or halves a nonzero constant down to 0;
            // - the one `while` (shuffle.wgsl's `permute`) walks the cycle
            //   of a bijection (a Feistel network) from a value below `n`,
            //   which comes back below `n` within the cycle.
            // Workgroup barriers sit only in uniform control flow, so every
            // invocation reaches them. New loops must keep to these rules.
            unsafe { dev.device.create_shader_module_trusted(desc, checks) }
        })?;
        lock(&self.modules).insert(shader.name, module.clone());
        Ok(module)
    }

    /// A small zeroed tensor bound where a kernel's optional input is absent.
    pub fn dummy(&self, dev: &Device) -> Result<GpuTensor> {
        let mut slot = lock(&self.dummy);
        if let Some(t) = slot.as_ref() {
            return Ok(t.clone());
        }
        let t = crate::gpu::tensor::zeros(dev, "wgae unused input", 4)?;
        *slot = Some(t.clone());
        Ok(t)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One ready dispatch.
#[derive(Debug)]
pub struct Step {
    label: String,
    pipeline: wgpu::ComputePipeline,
    bind_group: wgpu::BindGroup,
    groups: [u32; 3],
}

impl Step {
    pub fn label(&self) -> &str {
        &self.label
    }

    pub fn workgroups(&self) -> [u32; 3] {
        self.groups
    }

    /// Records the dispatch into an open compute pass.
    pub fn record(&self, pass: &mut wgpu::ComputePass<'_>) {
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        pass.dispatch_workgroups(self.groups[0], self.groups[1], self.groups[2]);
    }
}

/// Builds a step: uniform parameters at binding 0, `tensors` at their bindings.
pub fn bind<P: Pod>(
    dev: &Device,
    pipeline: wgpu::ComputePipeline,
    label: String,
    params: &P,
    tensors: &[(u32, &GpuTensor)],
    groups: [u32; 3],
) -> Result<Step> {
    let align = u64::from(dev.limits().min_storage_buffer_offset_alignment);
    for (binding, t) in tensors {
        if t.offset() % align != 0 {
            return Err(Error::InvalidArgument(format!(
                "{label}: tensor at binding {binding} starts at byte {} which is not a multiple \
                 of the adapter's storage offset alignment {align}",
                t.offset()
            )));
        }
    }
    let bind_group = dev.scoped(&label, || {
        let uniform = dev
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(&label),
                contents: bytemuck::bytes_of(params),
                usage: wgpu::BufferUsages::UNIFORM,
            });
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: uniform.as_entire_binding(),
        }];
        entries.extend(tensors.iter().map(|(binding, t)| wgpu::BindGroupEntry {
            binding: *binding,
            resource: t.binding(),
        }));
        dev.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(&label),
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        })
    })?;
    Ok(Step {
        label,
        pipeline,
        bind_group,
        groups,
    })
}

/// Records whatever `record` puts into one compute pass, in one command
/// buffer, and submits it; wgpu errors come back as `Err` naming `label`.
pub fn record_pass(
    dev: &Device,
    label: &str,
    record: impl FnOnce(&mut wgpu::ComputePass<'_>),
) -> Result<wgpu::SubmissionIndex> {
    dev.scoped(label, || {
        let mut enc = dev
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(label) });
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(label),
                timestamp_writes: None,
            });
            record(&mut pass);
        }
        dev.queue.submit([enc.finish()])
    })
}
