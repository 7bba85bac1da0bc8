//! `wgae info`: every adapter with its limits and features, the one wgae
//! would use, and how it would plan the work there.

use wgae::gpu::list_adapters;
use wgae::kernels::matmul::tune;
use wgae::GpuContext;

use crate::cli::mib;

pub fn info() -> wgae::Result<()> {
    let opts = wgae::env::context_options()?;
    let plan = crate::cli::plan_options()?;
    let (adapters, chosen) = list_adapters(opts.adapter.as_deref(), opts.backends);
    if adapters.is_empty() {
        println!("No GPU adapter found.");
        println!("Install a GPU driver, or Mesa's software Vulkan driver (lavapipe):");
        println!("  apt-get install mesa-vulkan-drivers libvulkan1");
        return Err(wgae::Error::NoAdapter("no adapter on any backend".into()));
    }
    println!("{} adapter(s), best first:\n", adapters.len());
    for (i, a) in adapters.iter().enumerate() {
        let mark = if Some(i) == chosen { "*" } else { " " };
        let l = &a.limits;
        let feat = |f: wgpu::Features, name: &str| {
            if a.features.contains(f) {
                name.to_string()
            } else {
                format!("no {name}")
            }
        };
        println!("{mark} [{i}] {}", a.info.name);
        println!(
            "      backend {:?}, type {:?}{}",
            a.info.backend,
            a.info.device_type,
            if a.is_software() { " (software)" } else { "" }
        );
        println!("      driver {} {}", a.info.driver, a.info.driver_info);
        println!(
            "      max buffer {}, max storage binding {}, workgroup storage {} KiB",
            mib(l.max_buffer_size),
            mib(l.max_storage_buffer_binding_size),
            l.max_compute_workgroup_storage_size / 1024
        );
        println!(
            "      invocations/workgroup {}, workgroups/dimension {}, storage buffers/stage {}",
            l.max_compute_invocations_per_workgroup,
            l.max_compute_workgroups_per_dimension,
            l.max_storage_buffers_per_shader_stage
        );
        println!(
            "      subgroup size {}..{}; {}, {}, {}",
            a.info.subgroup_min_size,
            a.info.subgroup_max_size,
            feat(wgpu::Features::SUBGROUP, "subgroups"),
            feat(wgpu::Features::SHADER_F16, "shader-f16"),
            feat(wgpu::Features::TIMESTAMP_QUERY, "timestamps")
        );
    }
    match chosen {
        Some(i) => {
            println!("\n* wgae would use [{i}] {}", adapters[i].info.name);
            if adapters[i].is_software() {
                println!("  (a software adapter: correct but slow; no hardware GPU was found)");
            }
            println!("  Override with WGAE_ADAPTER=<part of the name> or WGAE_BACKEND=vulkan|metal|dx12|gl.");
            match GpuContext::new() {
                Ok(ctx) => {
                    let matmul = if ctx.autotune() {
                        let names: Vec<_> =
                            tune::candidates(&ctx).iter().map(|k| k.name()).collect();
                        format!(
                            "measured per shape while planning, among {}",
                            names.join(", ")
                        )
                    } else if !ctx.matmul_direct() {
                        match ctx.matmul_tile() {
                            Some(t) => format!("tiled, {t:?} tiles forced"),
                            None => "tiled, fed through vec4 registers (64x64, or 128x128 for large outputs)".into(),
                        }
                    } else if ctx.subgroup_matmul() {
                        "direct, sharing A through subgroups".into()
                    } else {
                        "direct".into()
                    };
                    let grads = if plan.fuses_act_grad(&ctx) {
                        "fused into the backward matmuls"
                    } else {
                        "written by their own pass"
                    };
                    println!("\n  plan: matmul {matmul}; activation gradients {grads};");
                    println!(
                        "        loss rows on {} lanes each; kernels compiled {} wgpu's loop guard;",
                        ctx.row_lanes(),
                        if ctx.loop_bounding() {
                            "with"
                        } else {
                            "without"
                        }
                    );
                    println!(
                        "        convolutions {}",
                        if plan.im2col() {
                            "as im2col and the matmul (direct loops where im2col does not fit)"
                        } else {
                            "by direct loops over the window"
                        }
                    );
                    println!(
                        "  (WGAE_MATMUL, WGAE_TUNE, WGAE_SUBGROUPS, WGAE_FUSE_ACT_GRAD, WGAE_LOOP_BOUNDING \
                         and WGAE_CONV override; see README)"
                    );
                }
                Err(e) => println!("\n  (could not open it to show the plan: {e})"),
            }
            Ok(())
        }
        None => Err(wgae::Error::NoAdapter(format!(
            "no adapter name contains '{}'",
            opts.adapter.unwrap_or_default()
        ))),
    }
}
