//! The `wgae` command line. Thin: it parses flags and calls the library.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use wgae::gpu::context::{list_adapters, ContextOptions};

#[derive(Parser)]
#[command(
    name = "wgae",
    version,
    about = "Autoencoders on any GPU through WebGPU"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List every GPU adapter, its limits, and the one wgae would use.
    Info,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Info => info(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes / (1024 * 1024))
}

fn info() -> wgae::Result<()> {
    let opts = ContextOptions::from_env()?;
    let (adapters, chosen) = list_adapters(&opts);
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
            Ok(())
        }
        None => Err(wgae::Error::NoAdapter(format!(
            "no adapter name contains '{}'",
            opts.adapter.unwrap_or_default()
        ))),
    }
}
