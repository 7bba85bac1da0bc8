//! Every shader module and every pipeline of every kernel, compiled by the
//! adapter's own WGSL compiler (Tint in Chromium, naga natively) inside
//! error scopes that are awaited, so that a module the browser refuses is
//! named with the compiler's message.

use std::borrow::Cow;
use std::collections::HashMap;

use wgae::gpu::pipeline::Kernel;
use wgae::GpuContext;

use super::Check;

/// The validation error `f` raised on the device, if any.
async fn scoped<T>(dev: &wgpu::Device, f: impl FnOnce() -> T) -> (T, Option<String>) {
    let scope = dev.push_error_scope(wgpu::ErrorFilter::Validation);
    let out = f();
    let err = scope.pop().await.map(|e| e.to_string());
    (out, err)
}

/// One check per shader module and one per pipeline that failed; kernels
/// the adapter cannot run (f16, subgroups) are named as skipped, as the
/// plan skips them.
pub async fn every_pipeline(ctx: &GpuContext) -> Vec<Check> {
    let dev = &ctx.device;
    let kernels = wgae::kernels::all();
    let mut modules: HashMap<&'static str, Option<wgpu::ShaderModule>> = HashMap::new();
    let mut checks = Vec::new();
    let mut built: HashMap<&'static str, (usize, usize)> = HashMap::new();
    for k in &kernels {
        let name = k.shader.name;
        let skip =
            (k.needs_f16() && !ctx.has_f16()) || (k.needs_subgroups() && !ctx.has_subgroups());
        if skip {
            built.entry(name).or_default().1 += 1;
            continue;
        }
        if !modules.contains_key(name) {
            let (m, err) = scoped(dev, || {
                dev.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(name),
                    source: wgpu::ShaderSource::Wgsl(Cow::Owned(k.shader.source())),
                })
            })
            .await;
            if let Some(e) = err {
                checks.push(Check::fail(format!("compile shaders/{name}.wgsl"), e));
                modules.insert(name, None);
            } else {
                modules.insert(name, Some(m));
            }
        }
        let Some(Some(module)) = modules.get(name) else {
            continue;
        };
        if let Some(e) = build(dev, module, k).await {
            checks.push(Check::fail(format!("pipeline {k:?}"), e));
        } else {
            built.entry(name).or_default().0 += 1;
        }
    }
    let mut names: Vec<_> = built.into_iter().collect();
    names.sort();
    for (name, (ok, skipped)) in names {
        if modules.get(name).is_some_and(Option::is_none) {
            continue;
        }
        let mut c = Check::pass(format!("compile shaders/{name}.wgsl"), 0.0);
        c.detail = format!("{ok} pipelines");
        if skipped > 0 {
            c.detail += &format!(", {skipped} skipped (no f16 or subgroups on this adapter)");
        }
        checks.push(c);
    }
    checks
}

async fn build(dev: &wgpu::Device, module: &wgpu::ShaderModule, k: &Kernel) -> Option<String> {
    let constants = k.constants();
    let label = format!("{k:?}");
    scoped(dev, || {
        dev.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(&label),
            layout: None,
            module,
            entry_point: Some(k.entry()),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants: &constants,
                zero_initialize_workgroup_memory: false,
            },
            cache: None,
        })
    })
    .await
    .1
}
