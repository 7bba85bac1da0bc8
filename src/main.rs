//! The `wgae` command line. Thin: it parses flags and calls the library.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use wgae::data::{files, synthetic, Dataset};
use wgae::gpu::{list_adapters, ContextOptions};
use wgae::kernels::matmul::{self as mm, tune};
use wgae::model::{LossKind, Variant};
use wgae::train::{Autoencoder, History};
use wgae::train::{ConfigFile, OptimizerName, ScheduleName};
use wgae::{io, report, Activation, Control, GpuContext, ModelConfig, Precision, Trainer};

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
    /// Measure training and inference throughput on this GPU.
    Bench {
        /// Layer widths from the input to the code (default: 784,32 and, on a
        /// hardware GPU, 4096,1024,256).
        #[arg(long, value_delimiter = ',')]
        arch: Option<Vec<usize>>,
        /// Batch size (default 256 for 784,32 and 1024 for the wide model).
        #[arg(long)]
        batch: Option<usize>,
        /// Timed training steps per configuration.
        #[arg(long, default_value_t = 40)]
        steps: usize,
        /// One JSON line per configuration.
        #[arg(long)]
        json: bool,
        /// Also time every dispatch of one training step on the GPU
        /// (timestamp queries), to see where a step's time goes.
        #[arg(long)]
        profile: bool,
        /// Instead, time single matmuls: sizes N (for NxNxN) or MxNxK, comma
        /// separated, e.g. 1024,4096 or 256x784x32. Every layout, every f32
        /// kernel (the plans' choice marked *), and (with shader-f16) f16.
        #[arg(long, value_delimiter = ',')]
        matmul: Option<Vec<String>>,
    },
    /// Write the code of every sample to FILE.npy or FILE.csv.
    Encode {
        #[command(flatten)]
        input: ModelData,
        #[command(flatten)]
        output: Output,
    },
    /// A PNG grid of samples (top) above their reconstructions (bottom).
    Reconstruct {
        #[command(flatten)]
        input: ModelData,
        #[command(flatten)]
        output: Output,
        /// How many samples.
        #[arg(long, default_value_t = 10)]
        n: usize,
    },
    /// A PNG grid of generated samples: decoded draws from the prior for a VAE,
    /// otherwise from the distribution of the training codes.
    Generate {
        /// A model file written by `wgae train --save`.
        #[arg(long)]
        model: PathBuf,
        #[command(flatten)]
        output: Output,
        /// How many samples.
        #[arg(long, default_value_t = 40)]
        n: usize,
        /// Seed of the random codes.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Anomaly scores (per-sample reconstruction error) to a CSV, flagging those
    /// above a threshold (the given one, or a percentile of the scores).
    Anomaly {
        #[command(flatten)]
        input: ModelData,
        #[command(flatten)]
        output: Output,
        /// Flag scores above this percentile of all scores (default 95).
        #[arg(long, conflicts_with = "threshold")]
        percentile: Option<f64>,
        /// Flag scores above this value.
        #[arg(long)]
        threshold: Option<f32>,
    },
}

/// A saved model and data to run it on.
#[derive(Args)]
struct ModelData {
    /// A model file written by `wgae train --save`.
    #[arg(long)]
    model: PathBuf,
    /// The data: IDX, .npy, CSV, or a folder of images, as many features per
    /// sample as the model's input.
    #[arg(long)]
    data: PathBuf,
    /// Override format detection: idx, npy, csv, images.
    #[arg(long)]
    format: Option<files::Format>,
    /// Inference arithmetic: f32, or f16 (mixed precision: f16 weights and
    /// activations, f32 sums; needs an adapter with shader-f16, see `wgae info`).
    #[arg(long, default_value = "f32", value_parser = parse_precision)]
    precision: Precision,
}

impl ModelData {
    /// The model, and the data in the model's scaling.
    fn load(&self, ctx: &GpuContext) -> wgae::Result<(Autoencoder, Dataset)> {
        let m = io::load_model(ctx, &self.model)?;
        let ds = load_for(&m, &self.model, &self.data, self.format)?;
        Ok((m, ds))
    }
}

fn parse_precision(s: &str) -> Result<Precision, String> {
    s.parse().map_err(|e: wgae::Error| e.to_string())
}

/// Where a command writes its result.
#[derive(Args)]
struct Output {
    /// The output file.
    #[arg(long)]
    out: PathBuf,
    /// Overwrite the output if it exists.
    #[arg(long)]
    force: bool,
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
    noise: Option<wgae::op::Noise>,
    /// Tie the decoder's weights to the encoder's.
    #[arg(long)]
    tied: bool,
    /// Dropout probability on hidden layers during training, in [0, 1).
    #[arg(long)]
    dropout: Option<f32>,
    /// L2 weight decay (decoupled for adamw).
    #[arg(long)]
    weight_decay: Option<f32>,
    /// Clip gradients to this global norm.
    #[arg(long)]
    clip_norm: Option<f32>,
    /// adam, adamw, sgd, momentum, nesterov, rmsprop.
    #[arg(long)]
    optimizer: Option<OptimizerName>,
    /// Learning rate (default 1e-3).
    #[arg(long)]
    lr: Option<f32>,
    /// constant, step, cosine.
    #[arg(long)]
    schedule: Option<ScheduleName>,
    /// Linear learning-rate warm-up over this many steps.
    #[arg(long)]
    warmup: Option<u32>,
    /// Epochs in all (default 10; with --resume, the total to reach).
    #[arg(long)]
    epochs: Option<usize>,
    /// Batch size (default 256).
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
    /// Seed for weights, shuffling and noise (default 42): the same seed gives
    /// the same weights on the same device.
    #[arg(long)]
    seed: Option<u64>,
    /// A TOML file with [model] and [train] tables; flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Rescale the features: none (as loaded; images are already in [0, 1]),
    /// unit (each column to [0, 1]) or standard (zero mean, unit variance).
    /// The model file keeps the transform and applies it to later data.
    #[arg(long, default_value = "none")]
    scale: Scale,
    /// Read image folders as RGB (three values per pixel) instead of grayscale.
    #[arg(long)]
    rgb: bool,
    /// Samples of built-in synthetic digits when no --data is given.
    #[arg(long, default_value_t = 10_000)]
    synthetic: usize,
    /// Save the trained model (safetensors, PyTorch names and layout).
    #[arg(long)]
    save: Option<PathBuf>,
    /// Write a checkpoint (model + optimizer state) here after every epoch.
    #[arg(long)]
    checkpoint_dir: Option<PathBuf>,
    /// Continue training from a checkpoint (same data; --epochs may extend it).
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Write pictures here: reconstructions, loss curves, the code space, samples.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Overwrite existing outputs.
    #[arg(long)]
    force: bool,
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
        Command::Bench {
            arch,
            batch,
            steps,
            json,
            profile,
            matmul,
        } => match matmul {
            Some(sizes) => bench_matmul(&sizes, json),
            None => bench(arch, batch, steps, json, profile),
        },
        Command::Encode {
            input: i,
            output: o,
        } => encode(&i, &o.out, o.force),
        Command::Reconstruct {
            input: i,
            output: o,
            n,
        } => reconstruct(&i, &o.out, n, o.force),
        Command::Generate {
            model,
            output: o,
            n,
            seed,
        } => generate(&model, n, &o.out, seed, o.force),
        Command::Anomaly {
            input: i,
            output: o,
            percentile,
            threshold,
        } => anomaly(&i, percentile, threshold, &o.out, o.force),
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Scale {
    None,
    Unit,
    Standard,
}

fn load_data(
    path: &std::path::Path,
    format: Option<files::Format>,
    limit: Option<usize>,
    rgb: bool,
) -> wgae::Result<Dataset> {
    let ds = if rgb && path.is_dir() {
        files::load_images(path, None, true)?
    } else {
        files::load(path, format)?
    };
    Ok(match limit {
        Some(n) => ds.take(n),
        None => ds,
    })
}

fn train(a: TrainArgs) -> wgae::Result<()> {
    // Outputs are checked before any training, so a refusal costs nothing.
    let force = a.force;
    if let Some(p) = &a.save {
        io::check_writable(p, force)?;
    }
    let checkpoint_path = match &a.checkpoint_dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|e| wgae::Error::File {
                path: d.clone(),
                message: format!("cannot create: {e}"),
            })?;
            let p = d.join("checkpoint.safetensors");
            io::check_writable(&p, force)?;
            Some(p)
        }
        None => None,
    };
    if let Some(d) = &a.report {
        std::fs::create_dir_all(d).map_err(|e| wgae::Error::File {
            path: d.clone(),
            message: format!("cannot create: {e}"),
        })?;
        for f in REPORT_FILES {
            io::check_writable(&d.join(f), force)?;
        }
    }
    // One GPU context for the whole command (a checkpoint's layout depends on it).
    let ctx = open_gpu()?;
    let resume = match &a.resume {
        Some(p) => Some((io::load_checkpoint(&ctx, p)?, p.clone())),
        None => None,
    };
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
        Some(p) => load_data(p, a.format, a.limit, a.rgb)?,
        None => {
            let n = a.limit.unwrap_or(a.synthetic);
            if !a.quiet {
                eprintln!("no --data: training on {n} built-in synthetic digits (28x28)");
            }
            synthetic::digits(n, 2024)
        }
    };

    let mut data = data;
    let transform = match a.scale {
        Scale::None => None,
        Scale::Unit => Some(data.scale_unit()),
        Scale::Standard => Some(data.standardize()),
    };
    // Model: checkpoint, or config file, then flags.
    if let Some((ck, _)) = &resume {
        file = Some(ConfigFile {
            model: ck.model.clone(),
            train: ck.train.clone(),
        });
    }
    let mut model = match file.as_mut().map(|f| f.model.clone()) {
        Some(m) => m,
        None => ModelConfig::dense(data.cols, &[32]),
    };
    if resume.is_some() && (a.arch.is_some() || a.variant.is_some()) {
        return Err(wgae::Error::InvalidArgument(
            "--resume continues the checkpoint's model; drop --arch and --variant".into(),
        ));
    }
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
        Some(p) => Some(load_data(p, a.format, None, a.rgb)?),
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

    let show = !a.quiet && std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
    if show {
        // About twenty progress updates per epoch, each a small read-back.
        t.log_every_steps = Some((data.rows / t.batch_size.max(1) / 20).max(1));
    }
    let mut trainer = match &resume {
        Some((ck, path)) => {
            if !a.quiet {
                eprintln!(
                    "resuming {} after epoch {} of {}",
                    path.display(),
                    ck.epochs_done,
                    t.epochs
                );
            }
            Trainer::resume(&ctx, ck, &t, &data, val.as_ref())?
        }
        None => Trainer::new(&ctx, &model, &t, &data, val.as_ref())?,
    };
    trainer.set_checkpoint_sink(checkpoint_path.map(|path| {
        Box::new(
            move |ck: &wgae::train::Checkpoint, layout: &wgae::train::ParamLayout| {
                io::save_checkpoint(&path, ck, layout, true)
            },
        ) as wgae::train::CheckpointSink
    }));
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
    let Some(last) = history.epochs.last() else {
        return Err(wgae::Error::InvalidArgument(format!(
            "nothing to train: the checkpoint already has {} epochs; raise --epochs",
            trainer.epochs_done()
        )));
    };
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
    let model_ref = trainer.model();
    let codes = model_ref.encode(&train_part)?;
    let stats = io::CodeStats::of(&codes, model_ref.config().code_dim());
    if let Some(p) = &a.save {
        let extras = io::ModelExtras {
            code_stats: Some(stats.clone()),
            transform: transform.clone(),
        };
        io::save_model(p, model_ref, &extras, force)?;
        if !quiet {
            eprintln!("saved the model to {}", p.display());
        }
    }
    if let Some(dir) = &a.report {
        let shown = val
            .clone()
            .or_else(|| (t.validation_split > 0.0).then(|| data.slice(train_rows, data.rows)))
            .unwrap_or_else(|| train_part.clone());
        write_report(dir, model_ref, &history, &shown, &stats, force)?;
        if !quiet {
            eprintln!(
                "wrote the report to {}/ ({})",
                dir.display(),
                REPORT_FILES.join(", ")
            );
        }
    }
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
                    let grads = if ctx.fuse_act_grad() {
                        "fused into the backward matmuls"
                    } else {
                        "written by their own pass"
                    };
                    println!("\n  plan: matmul {matmul}; activation gradients {grads};");
                    println!(
                        "        loss rows on {} lanes each; kernels compiled {} wgpu's loop guard",
                        ctx.row_lanes(),
                        if ctx.loop_bounding() {
                            "with"
                        } else {
                            "without"
                        }
                    );
                    println!(
                        "  (WGAE_MATMUL, WGAE_TUNE, WGAE_SUBGROUPS, WGAE_FUSE_ACT_GRAD and WGAE_LOOP_BOUNDING \
                         override; see README)"
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

const REPORT_FILES: [&str; 5] = [
    "reconstructions.png",
    "loss.png",
    "codes.png",
    "samples.png",
    "history.csv",
];

fn write_report(
    dir: &std::path::Path,
    model: &Autoencoder,
    history: &History,
    shown: &Dataset,
    stats: &io::CodeStats,
    force: bool,
) -> wgae::Result<()> {
    let side = report::square_side(shown.cols);
    if let Some(side) = side {
        let n = shown.rows.min(10);
        let sample = shown.take(n);
        let rec = model.reconstruct(&sample)?;
        report::save_reconstructions(
            &dir.join("reconstructions.png"),
            &sample.data,
            &rec,
            side,
            n,
        )?;
    }
    let train: Vec<f64> = history.epochs.iter().map(|e| e.train_loss).collect();
    let val: Option<Vec<f64>> = history.epochs.iter().map(|e| e.val_loss).collect();
    report::save_loss_curve(
        &dir.join("loss.png"),
        &train,
        val.as_deref(),
        "loss per epoch",
    )?;
    let few = shown.take(2000);
    let codes = model.encode(&few)?;
    let c = model.config().code_dim();
    let pts = report::pca_2d(&codes, few.rows, c);
    let (title, axes) = if c == 2 {
        ("codes", ("code 1", "code 2"))
    } else {
        ("codes, first two principal components", ("PC 1", "PC 2"))
    };
    report::save_scatter(
        &dir.join("codes.png"),
        &pts,
        few.labels.as_deref(),
        title,
        axes,
    )?;
    if let Some(side) = side {
        let samples = generate_samples(model, Some(stats), 40, 1)?;
        let imgs: Vec<&[f32]> = samples.chunks(side * side).collect();
        report::save_grid(&dir.join("samples.png"), &imgs, side, 10, 3)?;
    }
    let mut csv =
        String::from("epoch,train_loss,val_loss,recon_mse,recon_bce,elbo,samples_per_sec\n");
    let opt = |v: Option<f64>| v.map_or(String::new(), |x| x.to_string());
    for e in &history.epochs {
        csv += &format!(
            "{},{},{},{},{},{},{}\n",
            e.epoch,
            e.train_loss,
            opt(e.val_loss),
            e.recon_mse,
            opt(e.recon_bce),
            opt(e.elbo),
            e.samples_per_sec
        );
    }
    io::write_atomic(&dir.join("history.csv"), csv.as_bytes(), force)
}

/// Decoded samples: from the prior for a VAE, otherwise from a diagonal
/// Gaussian fitted to the training codes, clipped to their range.
fn generate_samples(
    model: &Autoencoder,
    stats: Option<&io::CodeStats>,
    n: usize,
    seed: u64,
) -> wgae::Result<Vec<f32>> {
    if model.config().variational.is_some() {
        return model.sample_prior(n, seed);
    }
    let stats = stats.ok_or_else(|| {
        wgae::Error::InvalidArgument(
            "this model file has no statistics of its training codes (it was not saved by `wgae train --save`), so there is nothing to sample from".into(),
        )
    })?;
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let c = stats.mean.len();
    let mut codes = Vec::with_capacity(n * c);
    for _ in 0..n {
        for j in 0..c {
            // Box-Muller from two uniforms.
            let (u1, u2): (f64, f64) = (rng.random_range(1e-12..1.0), rng.random());
            let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            let v = f64::from(stats.mean[j]) + f64::from(stats.std[j]) * z;
            codes.push((v as f32).clamp(stats.min[j], stats.max[j]));
        }
    }
    model.decode(&codes, n)
}

/// Data for a saved model: loaded, checked against its width, and put through
/// the input transform it was trained with.
fn load_for(
    model: &Autoencoder,
    model_path: &std::path::Path,
    data: &std::path::Path,
    format: Option<files::Format>,
) -> wgae::Result<Dataset> {
    let mut ds = files::load(data, format)?;
    let want = model.config().input_dim;
    if ds.cols != want {
        return Err(wgae::Error::File {
            path: data.to_path_buf(),
            message: format!(
                "{} features per sample, but the model expects {want}",
                ds.cols
            ),
        });
    }
    if let Some((offset, scale)) = io::load_extras(model_path)?.transform {
        ds.apply_transform(&offset, &scale);
    }
    Ok(ds)
}

fn encode(input: &ModelData, out: &std::path::Path, force: bool) -> wgae::Result<()> {
    io::check_writable(out, force)?;
    let ctx = open_gpu()?;
    let (m, ds) = input.load(&ctx)?;
    let codes = m.encode_with(&ds, input.precision)?;
    let c = m.config().code_dim();
    let bytes = match out.extension().and_then(|e| e.to_str()) {
        Some("npy") => io::npy_bytes(&codes, ds.rows, c),
        Some("csv") => {
            let header: Vec<String> = (0..c).map(|j| format!("code{j}")).collect();
            io::csv_bytes(&header, &codes, c)
        }
        _ => {
            return Err(wgae::Error::File {
                path: out.to_path_buf(),
                message: "the output must end in .npy or .csv".into(),
            });
        }
    };
    io::write_atomic(out, &bytes, force)?;
    println!(
        "wrote {} codes of {} values to {}",
        ds.rows,
        c,
        out.display()
    );
    Ok(())
}

fn reconstruct(
    input: &ModelData,
    out: &std::path::Path,
    n: usize,
    force: bool,
) -> wgae::Result<()> {
    io::check_writable(out, force)?;
    let ctx = open_gpu()?;
    let (m, ds) = input.load(&ctx)?;
    let side = report::square_side(ds.cols).ok_or_else(|| wgae::Error::File {
        path: input.data.clone(),
        message: format!(
            "{} features are not a square image, so there is no picture to draw; use `wgae anomaly` for the errors",
            ds.cols
        ),
    })?;
    let sample = ds.take(n.max(1));
    let rec = m.reconstruct_with(&sample, input.precision)?;
    report::save_reconstructions(out, &sample.data, &rec, side, sample.rows)?;
    println!(
        "wrote {} originals (top) and reconstructions (bottom) to {}",
        sample.rows,
        out.display()
    );
    Ok(())
}

fn generate(
    model: &std::path::Path,
    n: usize,
    out: &std::path::Path,
    seed: u64,
    force: bool,
) -> wgae::Result<()> {
    io::check_writable(out, force)?;
    let ctx = open_gpu()?;
    let m = io::load_model(&ctx, model)?;
    let side = report::square_side(m.config().input_dim).ok_or_else(|| {
        wgae::Error::InvalidArgument(format!(
            "the model's {} outputs are not a square image",
            m.config().input_dim
        ))
    })?;
    let extras = io::load_extras(model)?;
    let samples = generate_samples(&m, extras.code_stats.as_ref(), n.max(1), seed)?;
    let imgs: Vec<&[f32]> = samples.chunks(side * side).collect();
    report::save_grid(out, &imgs, side, 10.min(imgs.len()), 3)?;
    println!(
        "wrote {} generated samples to {}",
        imgs.len(),
        out.display()
    );
    Ok(())
}

fn anomaly(
    input: &ModelData,
    percentile: Option<f64>,
    threshold: Option<f32>,
    out: &std::path::Path,
    force: bool,
) -> wgae::Result<()> {
    io::check_writable(out, force)?;
    if let Some(p) = percentile {
        if !(0.0..=100.0).contains(&p) {
            return Err(wgae::Error::InvalidArgument(format!(
                "--percentile {p} must be between 0 and 100"
            )));
        }
    }
    let ctx = open_gpu()?;
    let (m, ds) = input.load(&ctx)?;
    let scores = m.reconstruction_error_with(&ds, input.precision)?;
    let cut = match threshold {
        Some(t) => t,
        None => {
            let p = percentile.unwrap_or(95.0);
            let mut sorted = scores.clone();
            sorted.sort_by(f32::total_cmp);
            let k = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
            sorted[k]
        }
    };
    let mut csv = String::from(if ds.labels.is_some() {
        "index,score,anomaly,label\n"
    } else {
        "index,score,anomaly\n"
    });
    let mut flagged = 0;
    for (i, s) in scores.iter().enumerate() {
        let a = u8::from(*s > cut);
        flagged += usize::from(a);
        csv += &format!("{i},{s},{a}");
        if let Some(l) = &ds.labels {
            csv += &format!(",{}", l[i]);
        }
        csv.push('\n');
    }
    io::write_atomic(out, csv.as_bytes(), force)?;
    println!(
        "{flagged} of {} samples score above {cut:.6} (reconstruction MSE per feature); scores written to {}",
        scores.len(),
        out.display()
    );
    Ok(())
}

/// Parses `N` or `MxNxK`.
fn parse_size(s: &str) -> wgae::Result<(usize, usize, usize)> {
    let bad = || {
        wgae::Error::InvalidArgument(format!(
            "--matmul: '{s}' is not a size (N for NxNxN, or MxNxK)"
        ))
    };
    let d: Vec<usize> = s
        .split('x')
        .map(|v| v.trim().parse().map_err(|_| bad()))
        .collect::<wgae::Result<_>>()?;
    match d[..] {
        [n] if n > 0 => Ok((n, n, n)),
        [m, n, k] if m > 0 && n > 0 && k > 0 => Ok((m, n, k)),
        _ => Err(bad()),
    }
}

/// Times single matmuls: warm-up, then repeats for about half a second, with
/// the device waited on inside the timed region.
fn bench_matmul(sizes: &[String], json: bool) -> wgae::Result<()> {
    use wgae::kernels::{self as ops, MatmulOut, MatmulSpec};
    let sizes: Vec<_> = sizes
        .iter()
        .map(|s| parse_size(s))
        .collect::<wgae::Result<_>>()?;
    let ctx = open_gpu()?;
    let time = |step: &wgae::Step| -> wgae::Result<f64> {
        ctx.run_wait(&[step])?;
        let mut reps = 1usize;
        loop {
            let t0 = std::time::Instant::now();
            for _ in 0..reps {
                ctx.run(&[step])?;
            }
            ctx.wait()?;
            let dt = t0.elapsed().as_secs_f64();
            if dt > 0.5 || reps >= 1 << 16 {
                return Ok(dt / reps as f64);
            }
            reps *= 2;
        }
    };
    for (m, n, k) in sizes {
        let a = ctx.upload("a", &vec![0.5f32; m * k])?;
        let b = ctx.upload("b", &vec![0.25f32; k * n])?;
        let c = ctx.zeros("c", m * n)?;
        let halves = if ctx.has_f16() {
            Some((
                ctx.upload_f16("a16", &vec![0.5f32; m * k])?,
                ctx.upload_f16("b16", &vec![0.25f32; k * n])?,
            ))
        } else {
            None
        };
        for (layout, ta, tb) in [
            ("A.B", false, false),
            ("At.B", true, false),
            ("A.Bt", false, true),
        ] {
            let spec = MatmulSpec::new(m, n, k, ta, tb);
            // Every f32 kernel, the plan's choice marked, then f16.
            let chosen = mm::kernel_for(&ctx, &spec, None);
            let mut runs = Vec::new();
            for kernel in tune::candidates(&ctx) {
                let step = ops::matmul_with(&ctx, kernel, &spec, &a, &b, None, &c)?;
                runs.push(("f32", kernel == chosen, step));
            }
            if let Some((a16, b16)) = &halves {
                let step = ops::matmul_f16(&ctx, &spec, a16, b16, None, MatmulOut::F32(&c))?;
                runs.push(("f16", false, step));
            }
            for (precision, is_chosen, step) in runs {
                let secs = time(&step)?;
                let gflops = spec.flops() / secs / 1e9;
                if json {
                    println!(
                        "{}",
                        serde_json::json!({
                            "matmul": format!("{m}x{n}x{k}"),
                            "layout": layout,
                            "precision": precision,
                            "kernel": step.label(),
                            "chosen": is_chosen,
                            "ms": secs * 1e3,
                            "gflops": gflops,
                            "loop_bounding": ctx.loop_bounding(),
                            "adapter": ctx.adapter_name(),
                        })
                    );
                } else {
                    println!(
                        "{m}x{n}x{k} {layout:5} {precision}{}: {:9.3} ms  {gflops:9.1} GFLOP/s  ({})",
                        if is_chosen { "*" } else { " " },
                        secs * 1e3,
                        step.label()
                    );
                }
            }
        }
    }
    if !json {
        println!(
            "* the f32 kernel wgae's plans use for this shape ({})",
            if ctx.autotune() {
                "measured while planning"
            } else {
                "fixed rule; WGAE_TUNE=1 measures instead"
            }
        );
    }
    Ok(())
}

/// The GPU time of each dispatch of one step, with its share of the total.
fn print_profile(dispatches: &[(String, f64)]) {
    let total: f64 = dispatches.iter().map(|(_, t)| t).sum();
    println!(
        "  profile    one step, {} dispatches, {:.1} us of GPU time in all (each in a pass of its own):",
        dispatches.len(),
        total * 1e6
    );
    for (label, secs) in dispatches {
        println!(
            "    {:>10.1} us {:5.1}%  {label}",
            secs * 1e6,
            100.0 * secs / total.max(f64::MIN_POSITIVE)
        );
    }
}

/// How many of a step's dispatches ran each matmul kernel, from labels like
/// `matmul[A.Bt*f'(A),64,vec4](256x32x784)` (kernel `64,vec4`), most used first.
fn matmul_kernels(labels: &[&str]) -> Vec<(String, usize)> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for label in labels {
        let Some(inner) = label
            .strip_prefix("matmul[")
            .and_then(|rest| rest.split(']').next())
        else {
            continue;
        };
        let kernel = inner.split_once(',').map_or(inner, |(_, k)| k).to_string();
        match counts.iter_mut().find(|(k, _)| *k == kernel) {
            Some((_, n)) => *n += 1,
            None => counts.push((kernel, 1)),
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    counts
}

fn bench(
    arch: Option<Vec<usize>>,
    batch: Option<usize>,
    steps: usize,
    json: bool,
    profile: bool,
) -> wgae::Result<()> {
    let ctx = open_gpu()?;
    // Refused before the timing runs, not after.
    if profile {
        ctx.require_timestamps("--profile")?;
    }
    let configs: Vec<(Vec<usize>, usize)> = match arch {
        Some(a) => {
            if a.len() < 2 {
                return Err(wgae::Error::InvalidArgument(
                    "--arch needs the input width and the code width, e.g. 784,32".into(),
                ));
            }
            vec![(a, batch.unwrap_or(256))]
        }
        None => {
            let mut v = vec![(vec![784, 32], batch.unwrap_or(256))];
            if ctx.is_software() {
                eprintln!("note: skipping the wide 4096-1024-256 model on a software adapter (minutes per step); give --arch to run it");
            } else {
                v.push((vec![4096, 1024, 256], batch.unwrap_or(1024)));
            }
            v
        }
    };
    let steps = steps.max(4);
    for (arch, batch) in configs {
        let model = ModelConfig::dense(arch[0], &arch[1..]);
        // Uniform data, four batches resident; whole epochs of four steps.
        let per_epoch = 4;
        let rows = batch * per_epoch;
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let data = Dataset::new(
            (0..rows * arch[0]).map(|_| rng.random::<f32>()).collect(),
            rows,
            arch[0],
            None,
        )?;
        let epochs = steps.div_ceil(per_epoch);
        let t = wgae::TrainConfig {
            epochs: epochs + 1,
            batch_size: batch,
            validation_split: 0.0,
            ..Default::default()
        };
        let before = ctx.live_bytes();
        let mut trainer = Trainer::new(&ctx, &model, &t, &data, None)?;
        let memory = ctx.live_bytes() - before;
        let history = trainer.fit(|_| Control::Continue, |_| {})?;
        // The first epoch warms up (pipeline creation, first submission).
        let timed: f64 = history.epochs[1..].iter().map(|e| e.seconds).sum();
        let n_steps = (epochs * per_epoch) as f64;
        let flops = model.train_flops_per_sample() * batch as f64;
        // Inference: encode + decode (a reconstruction) of the resident rows.
        let m = trainer.model();
        m.reconstruct(&data)?;
        let t0 = std::time::Instant::now();
        let rec32 = m.reconstruct(&data)?;
        let infer = rows as f64 / t0.elapsed().as_secs_f64();
        // Mixed precision, where the adapter has f16: speed, and distance from f32.
        let f16 = if ctx.has_f16() {
            m.reconstruct_with(&data, Precision::F16)?;
            let t0 = std::time::Instant::now();
            let rec16 = m.reconstruct_with(&data, Precision::F16)?;
            let speed = rows as f64 / t0.elapsed().as_secs_f64();
            let diffs = rec16
                .iter()
                .zip(&rec32)
                .map(|(a, b)| f64::from((a - b).abs()));
            let (max, sum) = diffs.fold((0.0f64, 0.0), |(m, s), d| (m.max(d), s + d));
            Some((speed, max, sum / rec32.len() as f64))
        } else {
            None
        };
        let name = arch
            .iter()
            .map(|w| w.to_string())
            .collect::<Vec<_>>()
            .join("-");
        let name = format!(
            "{name}-{}",
            arch[1..arch.len() - 1]
                .iter()
                .rev()
                .chain(std::iter::once(&arch[0]))
                .map(|w| w.to_string())
                .collect::<Vec<_>>()
                .join("-")
        );
        let steps_per_sec = n_steps / timed;
        let kernels = matmul_kernels(&trainer.step_labels());
        // After the timing: one more step, each dispatch timed on the GPU.
        let dispatches = if profile {
            Some(trainer.profile_step()?)
        } else {
            None
        };
        if json {
            println!(
                "{}",
                serde_json::json!({
                    "model": name,
                    "batch": batch,
                    "steps": n_steps,
                    "steps_per_sec": steps_per_sec,
                    "samples_per_sec": steps_per_sec * batch as f64,
                    "flops_per_step": flops,
                    "gflops": flops * steps_per_sec / 1e9,
                    "inference_samples_per_sec": infer,
                    "inference_f16_samples_per_sec": f16.map(|f| f.0),
                    "f16_max_abs_diff": f16.map(|f| f.1),
                    "f16_mean_abs_diff": f16.map(|f| f.2),
                    "gpu_memory_bytes": memory,
                    "dispatches_per_step": trainer.dispatches_per_step(),
                    "matmul_kernels": kernels.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
                    "matmul_kernels_measured": ctx.autotune(),
                    "fused_act_grad": ctx.fuse_act_grad(),
                    "loop_bounding": ctx.loop_bounding(),
                    "profile": dispatches.as_ref().map(|d| d
                        .iter()
                        .map(|(label, secs)| serde_json::json!({"dispatch": label, "us": secs * 1e6}))
                        .collect::<Vec<_>>()),
                    "adapter": ctx.adapter_name(),
                })
            );
        } else {
            println!("{name}, batch {batch}, on {}:", ctx.adapter_name());
            println!("  training   {steps_per_sec:.1} steps/s, {:.0} samples/s ({} timed steps, {} dispatches/step)", steps_per_sec * batch as f64, n_steps, trainer.dispatches_per_step());
            println!(
                "  compute    {:.3} GFLOP/step, {:.2} GFLOP/s (matmuls)",
                flops / 1e9,
                flops * steps_per_sec / 1e9
            );
            println!(
                "  matmuls    {} per step ({}): {}",
                kernels.iter().map(|(_, n)| n).sum::<usize>(),
                if ctx.autotune() {
                    "kernels measured per shape"
                } else {
                    "kernels by the fixed rule"
                },
                kernels
                    .iter()
                    .map(|(k, n)| format!("{n}x {k}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if ctx.loop_bounding() {
                println!("  kernels    compiled with wgpu's loop guard (WGAE_LOOP_BOUNDING=1)");
            }
            println!("  inference  {infer:.0} samples/s (reconstruct, {rows} rows)");
            match f16 {
                Some((speed, max, mean)) => println!(
                    "  f16        {speed:.0} samples/s (mixed-precision reconstruct; |f16 - f32| max {max:.1e}, mean {mean:.1e})"
                ),
                None => println!("  f16        not available (the adapter has no shader-f16)"),
            }
            println!("  memory     {:.1} MiB in GPU buffers (parameters, gradients, moments, activations, data)", memory as f64 / (1024.0 * 1024.0));
            if let Some(d) = &dispatches {
                print_profile(d);
            }
        }
    }
    Ok(())
}
