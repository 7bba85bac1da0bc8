//! The `wgae` command line. Thin: it parses flags and calls the library.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use wgae::data::{files, synthetic, Dataset};
use wgae::gpu::context::{list_adapters, ContextOptions};
use wgae::model::{LossKind, Variant};
use wgae::train::{ConfigFile, OptimizerName, ScheduleName};
use wgae::{Activation, Control, GpuContext, ModelConfig, Trainer};

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
    /// Train an autoencoder (on built-in synthetic digits when no --data is given).
    Train(Box<TrainArgs>),
}

#[derive(Args)]
struct TrainArgs {
    /// Training data: an IDX file (.gz or raw), .npy, CSV, or a folder of images.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Override format detection: idx, npy, csv, images.
    #[arg(long)]
    format: Option<files::Format>,
    /// Encoder widths from the input to the code, e.g. 784,128,32 (the
    /// decoder mirrors them). The first must match the data's width.
    #[arg(long, value_delimiter = ',')]
    arch: Option<Vec<usize>>,
    /// Hidden-layer activation: relu, leaky_relu[:slope], sigmoid, tanh, gelu, identity.
    #[arg(long)]
    act: Option<Activation>,
    /// Code-layer activation (default: --act).
    #[arg(long)]
    code_act: Option<Activation>,
    /// Output activation: sigmoid or identity.
    #[arg(long)]
    out_act: Option<Activation>,
    /// Reconstruction loss: bce or mse.
    #[arg(long)]
    loss: Option<LossKind>,
    /// plain, sparse, kl-sparse, denoising, contractive, vae.
    #[arg(long)]
    variant: Option<Variant>,
    /// L1 activity penalty on the code.
    #[arg(long)]
    l1: Option<f32>,
    /// KL sparsity target (with --beta).
    #[arg(long)]
    rho: Option<f32>,
    /// KL sparsity weight, or the VAE's KL weight.
    #[arg(long)]
    beta: Option<f32>,
    /// Contractive penalty weight.
    #[arg(long)]
    contractive: Option<f32>,
    /// Input noise for denoising: gaussian:STD, mask:P, salt-pepper:P.
    #[arg(long)]
    noise: Option<wgae::gpu::ops::Noise>,
    /// Tie the decoder's weights to the encoder's.
    #[arg(long)]
    tied: bool,
    #[arg(long)]
    dropout: Option<f32>,
    #[arg(long)]
    weight_decay: Option<f32>,
    /// Clip gradients to this global norm.
    #[arg(long)]
    clip_norm: Option<f32>,
    /// adam, adamw, sgd, momentum, nesterov, rmsprop.
    #[arg(long)]
    optimizer: Option<OptimizerName>,
    #[arg(long)]
    lr: Option<f32>,
    /// constant, step, cosine.
    #[arg(long)]
    schedule: Option<ScheduleName>,
    #[arg(long)]
    warmup: Option<u32>,
    #[arg(long)]
    epochs: Option<usize>,
    #[arg(long)]
    batch: Option<usize>,
    /// Use only the first N samples.
    #[arg(long)]
    limit: Option<usize>,
    /// Hold out this fraction for validation (default 0.1 without --val).
    #[arg(long, conflicts_with = "val")]
    val_split: Option<f32>,
    /// A separate validation set.
    #[arg(long)]
    val: Option<PathBuf>,
    /// Stop after N epochs without improvement and restore the best weights.
    #[arg(long)]
    early_stop: Option<usize>,
    #[arg(long)]
    seed: Option<u64>,
    /// A TOML file with [model] and [train] tables; flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Samples of built-in synthetic digits when no --data is given.
    #[arg(long, default_value_t = 10_000)]
    synthetic: usize,
    /// End with one JSON line of results on stdout.
    #[arg(long)]
    json: bool,
    /// No progress bar or per-epoch lines.
    #[arg(long)]
    quiet: bool,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Info => info(),
        Command::Train(args) => train(*args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Opens the GPU; the library itself warns when it falls back to a software adapter.
fn open_gpu() -> wgae::Result<GpuContext> {
    GpuContext::new()
}

fn load_data(
    path: &std::path::Path,
    format: Option<files::Format>,
    limit: Option<usize>,
) -> wgae::Result<Dataset> {
    let ds = files::load(path, format)?;
    Ok(match limit {
        Some(n) => ds.take(n),
        None => ds,
    })
}

fn train(a: TrainArgs) -> wgae::Result<()> {
    let mut file = match &a.config {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| wgae::Error::File {
                path: p.clone(),
                message: format!("cannot read: {e}"),
            })?;
            Some(ConfigFile::from_toml(&text).map_err(|e| wgae::Error::File {
                path: p.clone(),
                message: e.to_string(),
            })?)
        }
        None => None,
    };
    let data = match &a.data {
        Some(p) => load_data(p, a.format, a.limit)?,
        None => {
            let n = a.limit.unwrap_or(a.synthetic);
            if !a.quiet {
                eprintln!("no --data: training on {n} built-in synthetic digits (28x28)");
            }
            synthetic::digits(n, 2024)
        }
    };

    // Model: config file, then flags.
    let mut model = match file.as_mut().map(|f| f.model.clone()) {
        Some(m) => m,
        None => ModelConfig::dense(data.cols, &[32]),
    };
    if let Some(arch) = &a.arch {
        if arch.len() < 2 {
            return Err(wgae::Error::InvalidArgument(format!(
                "--arch needs the input width and at least the code width, e.g. {},32",
                data.cols
            )));
        }
        model.input_dim = arch[0];
        model.encoder = arch[1..].to_vec();
    }
    if model.input_dim != data.cols {
        return Err(wgae::Error::InvalidArgument(format!(
            "the data has {} features per sample but the architecture starts at {}; use --arch {},...",
            data.cols, model.input_dim, data.cols
        )));
    }
    if let Some(v) = a.act {
        model.act = v;
    }
    if let Some(v) = a.code_act {
        model.code_act = Some(v);
    }
    if let Some(v) = a.out_act {
        model.out_act = v;
    }
    if let Some(v) = a.loss {
        model.loss = v;
        if v == LossKind::Mse && a.out_act.is_none() && a.config.is_none() {
            // The usual regression setup; BCE keeps its sigmoid.
            model.out_act = Activation::Identity;
        }
    }
    if a.tied {
        model.tied = true;
    }
    if let Some(v) = a.dropout {
        model.dropout = v;
    }
    if let Some(v) = a.noise {
        model.noise = Some(v);
    }
    if let Some(v) = a.l1 {
        model.l1 = v;
    }
    if let Some(rho) = a.rho {
        model = model.kl_sparsity(rho, a.beta.unwrap_or(1.0));
    }
    if let Some(v) = a.contractive {
        model.contractive = v;
    }
    if let Some(v) = a.variant {
        model = model.with_variant(v);
        if v == Variant::Vae {
            if let Some(b) = a.beta {
                model = model.variational(b);
            }
        }
    }
    model.validate()?;

    let mut t = file.map(|f| f.train).unwrap_or_default();
    macro_rules! set {
        ($($flag:ident => $field:ident),*) => { $( if let Some(v) = a.$flag { t.$field = v; } )* };
    }
    set!(epochs => epochs, batch => batch_size, optimizer => optimizer, lr => lr, weight_decay => weight_decay,
         clip_norm => clip_norm, schedule => schedule, warmup => warmup_steps, seed => seed);
    if let Some(p) = a.early_stop {
        t.early_stopping = Some(p);
    }
    let val = match &a.val {
        Some(p) => Some(load_data(p, a.format, None)?),
        None => None,
    };
    t.validation_split = match (a.val_split, &val) {
        (Some(f), _) => f,
        (None, None) if t.validation_split == 0.0 => 0.1,
        _ => t.validation_split,
    };
    if val.is_some() {
        t.validation_split = 0.0;
    }

    let ctx = open_gpu()?;
    let show = !a.quiet && std::io::stderr().is_terminal();
    if show {
        // About twenty progress updates per epoch, each a small read-back.
        t.log_every_steps = Some((data.rows / t.batch_size.max(1) / 20).max(1));
    }
    let mut trainer = Trainer::new(&ctx, &model, &t, &data, val.as_ref())?;
    let steps = trainer.steps_per_epoch();
    if !a.quiet {
        eprintln!(
            "model {}-{}-{}: {} parameters; {} training rows, batch {}, {} steps/epoch, {} dispatches/step; adapter {}",
            model.input_dim,
            model.encoder.iter().map(|w| w.to_string()).collect::<Vec<_>>().join("-"),
            model.input_dim,
            model.parameter_count(),
            trainer.train_rows(),
            t.batch_size.min(trainer.train_rows()),
            steps,
            trainer.dispatches_per_step(),
            ctx.adapter_name()
        );
    }
    let bar = if show {
        let b = ProgressBar::new(steps as u64);
        b.set_style(
            ProgressStyle::with_template("epoch {prefix:>3} [{bar:30}] {pos}/{len} steps  {msg}")
                .unwrap()
                .progress_chars("=> "),
        );
        Some(b)
    } else {
        None
    };
    let started = std::time::Instant::now();
    let json = a.json;
    let quiet = a.quiet;
    let history = trainer.fit(
        |r| {
            if let Some(b) = &bar {
                b.finish_and_clear();
                b.reset();
            }
            if !quiet {
                let mut line = format!("epoch {:>3}: loss {:.5}", r.epoch, r.train_loss);
                if let Some(v) = r.val_loss {
                    line += &format!("  val {v:.5}");
                }
                line += &format!("  mse/px {:.5}", r.recon_mse);
                if let Some(b) = r.recon_bce {
                    line += &format!("  bce/px {b:.5}");
                }
                if let Some(e) = r.elbo {
                    line += &format!("  elbo {e:.2}");
                }
                line += &format!("  {:.0} samples/s", r.samples_per_sec);
                if json {
                    eprintln!("{line}");
                } else {
                    println!("{line}");
                }
            }
            Control::Continue
        },
        |p| {
            if let Some(b) = &bar {
                b.set_prefix(p.epoch.to_string());
                b.set_position(p.step as u64);
                b.set_message(format!(
                    "loss {:.5}  {:.0} samples/s",
                    p.loss, p.samples_per_sec
                ));
            }
        },
    )?;
    let seconds = started.elapsed().as_secs_f64();
    let last = history.epochs.last().expect("at least one epoch");
    if history.stopped_early && !quiet {
        eprintln!(
            "early stopping: restored the weights of epoch {}",
            history.best_epoch.unwrap_or(0)
        );
    }
    // The final model's reconstruction error on the training data.
    let train_rows = trainer.train_rows();
    let train_part = data.take(train_rows);
    let scores = trainer.model().reconstruction_error(&train_part)?;
    let recon_mse = scores.iter().map(|&v| f64::from(v)).sum::<f64>() / scores.len() as f64;
    let samples_per_sec = history
        .epochs
        .iter()
        .map(|e| e.samples_per_sec)
        .sum::<f64>()
        / history.epochs.len() as f64;
    if json {
        let out = serde_json::json!({
            "epochs": history.epochs.len(),
            "train_loss": last.train_loss,
            "val_loss": last.val_loss,
            "recon_mse": recon_mse,
            "seconds": seconds,
            "samples_per_sec": samples_per_sec,
            "adapter": ctx.adapter_name(),
        });
        println!("{out}");
    } else if !quiet {
        println!(
            "done in {seconds:.1} s: final reconstruction MSE per pixel on the training data {recon_mse:.5}; {samples_per_sec:.0} samples/s"
        );
    }
    Ok(())
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
