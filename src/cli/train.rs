//! `wgae train`: the model and training options from flags or a TOML
//! config, the data (built-in synthetic digits when none is given), a
//! progress bar, checkpoints, `--resume`, and the model file and report
//! written at the end.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use wgae::data::{files, synthetic, Dataset, Source};
use wgae::model::{LossKind, Variant};
use wgae::train::{ConfigFile, History, OptimizerName, ScheduleName, TrainConfig};
use wgae::{io, report, Activation, Autoencoder, Control, ModelConfig, Precision, Trainer};

use crate::cli::data::{self, host_budget, Opened};
use crate::cli::generate::generate_samples;
use crate::cli::{mib, open_gpu_within, Scale};

#[derive(Args)]
pub struct TrainArgs {
    /// Training data: an IDX file (.gz or raw), .npy, CSV, or a folder of images.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Override format detection: idx, npy, csv, images.
    #[arg(long)]
    pub format: Option<files::Format>,
    /// Encoder widths from the input to the code, e.g. 784,128,32 (the
    /// decoder mirrors them). The first must match the data's width.
    #[arg(long, value_delimiter = ',')]
    pub arch: Option<Vec<usize>>,
    /// Hidden-layer activation: relu, leaky_relu[:slope], sigmoid, tanh, gelu, identity.
    #[arg(long)]
    pub act: Option<Activation>,
    /// Code-layer activation (default: --act).
    #[arg(long)]
    pub code_act: Option<Activation>,
    /// Output activation: sigmoid or identity.
    #[arg(long)]
    pub out_act: Option<Activation>,
    /// Reconstruction loss: bce or mse.
    #[arg(long)]
    pub loss: Option<LossKind>,
    /// plain, sparse, kl-sparse, denoising, contractive, vae.
    #[arg(long)]
    pub variant: Option<Variant>,
    /// L1 activity penalty on the code.
    #[arg(long)]
    pub l1: Option<f32>,
    /// KL sparsity target (with --beta).
    #[arg(long)]
    pub rho: Option<f32>,
    /// KL sparsity weight, or the VAE's KL weight.
    #[arg(long)]
    pub beta: Option<f32>,
    /// Contractive penalty weight.
    #[arg(long)]
    pub contractive: Option<f32>,
    /// Input noise for denoising: gaussian:STD, mask:P, salt-pepper:P.
    #[arg(long)]
    pub noise: Option<wgae::op::Noise>,
    /// Tie the decoder's weights to the encoder's.
    #[arg(long)]
    pub tied: bool,
    /// Dropout probability on hidden layers during training, in [0, 1).
    #[arg(long)]
    pub dropout: Option<f32>,
    /// L2 weight decay (decoupled for adamw).
    #[arg(long)]
    pub weight_decay: Option<f32>,
    /// Clip gradients to this global norm.
    #[arg(long)]
    pub clip_norm: Option<f32>,
    /// adam, adamw, sgd, momentum, nesterov, rmsprop.
    #[arg(long)]
    pub optimizer: Option<OptimizerName>,
    /// Learning rate (default 1e-3).
    #[arg(long)]
    pub lr: Option<f32>,
    /// constant, step, cosine.
    #[arg(long)]
    pub schedule: Option<ScheduleName>,
    /// Linear learning-rate warm-up over this many steps.
    #[arg(long)]
    pub warmup: Option<u32>,
    /// Epochs in all (default 10; with --resume, the total to reach).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Batch size (default 256).
    #[arg(long)]
    pub batch: Option<usize>,
    /// Use only the first N samples.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Hold out this fraction for validation (default 0.1 without --val).
    #[arg(long, conflicts_with = "val")]
    pub val_split: Option<f32>,
    /// A separate validation set.
    #[arg(long)]
    pub val: Option<PathBuf>,
    /// Stop after N epochs without improvement and restore the best weights.
    #[arg(long)]
    pub early_stop: Option<usize>,
    /// Seed for weights, shuffling and noise (default 42): the same seed gives
    /// the same weights on the same device.
    #[arg(long)]
    pub seed: Option<u64>,
    /// A TOML file with [model] and [train] tables; flags override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Rescale the features: none (as loaded; images are already in [0, 1]),
    /// unit (each column to [0, 1]) or standard (zero mean, unit variance).
    /// The model file keeps the transform and applies it to later data.
    #[arg(long, default_value = "none")]
    pub scale: Scale,
    /// Read image folders as RGB (three values per pixel) instead of grayscale.
    #[arg(long)]
    pub rgb: bool,
    /// Samples of built-in synthetic digits when no --data is given.
    #[arg(long, default_value_t = 10_000)]
    pub synthetic: usize,
    /// Save the trained model (safetensors, PyTorch names and layout).
    #[arg(long)]
    pub save: Option<PathBuf>,
    /// Write a checkpoint (model + optimizer state) here after every epoch.
    #[arg(long)]
    pub checkpoint_dir: Option<PathBuf>,
    /// Continue training from a checkpoint (same data; --epochs may extend
    /// it). Checkpoints go on being written to the same file, or to
    /// --checkpoint-dir.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Write pictures here: reconstructions, loss curves, the code space, samples.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Overwrite existing outputs.
    #[arg(long)]
    pub force: bool,
    /// End with one JSON line of results on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress bar or per-epoch lines.
    #[arg(long)]
    pub quiet: bool,
    /// When the loss becomes NaN or infinite: stop (with the last finite
    /// weights), or restore them, halve the learning rate and go on.
    #[arg(long)]
    pub on_divergence: Option<wgae::train::OnDivergence>,
    /// With --on-divergence restore: the most restores before stopping (default 3).
    #[arg(long)]
    pub max_restores: Option<u32>,
    /// The most GPU memory wgae may use, e.g. 512M or 2G: data that does
    /// not fit beside the model is streamed from host memory.
    #[arg(long, value_parser = parse_size)]
    pub gpu_memory: Option<u64>,
    /// The most data to hold in host memory (default: half of what is
    /// available): a larger .npy or raw IDX file is read from disk as
    /// training needs it.
    #[arg(long, value_parser = parse_size)]
    pub host_memory: Option<u64>,
}

/// A size flag: bytes, or a number with K, M, G or T.
pub fn parse_size(s: &str) -> Result<u64, String> {
    wgae::data::memory::parse_size(s)
}

pub fn train(a: TrainArgs) -> wgae::Result<()> {
    if a.limit == Some(0) {
        return Err(wgae::Error::InvalidArgument(
            "--limit 0 would keep no samples; give at least 1, or leave --limit out".into(),
        ));
    }
    if a.rgb && a.data.as_deref().is_none_or(|p| !p.is_dir()) {
        return Err(wgae::Error::InvalidArgument(
            "--rgb reads a folder of images in colour, and --data is not a folder (a file \
             keeps its own channels)"
                .into(),
        ));
    }
    // A flag that is given takes effect or is refused: 0 is how a config
    // turns clipping off, never something to ask for.
    if a.clip_norm == Some(0.0) {
        return Err(wgae::Error::InvalidArgument(
            "--clip-norm 0 would clip nothing; leave the flag out, or give a positive norm".into(),
        ));
    }
    // Outputs are checked before any training, so a refusal costs nothing.
    let checkpoint_path = check_outputs(&a)?;
    // One GPU context for the whole command (a checkpoint's layout depends on it).
    let ctx = open_gpu_within(a.gpu_memory, a.host_memory)?;
    let resume = match &a.resume {
        Some(p) => Some((io::load_checkpoint(&ctx, p)?, p.clone())),
        None => None,
    };
    let mut file = match &a.config {
        Some(p) => Some(read_config(p)?),
        None => None,
    };
    let budget = host_budget(a.host_memory);
    // A pipe is spooled to a temporary file first, which lives as long as
    // its rows are read.
    let data_path = a
        .data
        .as_deref()
        .map(|p| data::DataPath::new(p, budget))
        .transpose()?;
    let val_path = a
        .val
        .as_deref()
        .map(|p| data::DataPath::new(p, budget))
        .transpose()?;
    let mut data = match &data_path {
        Some(p) => {
            data::open(p.path(), a.format, a.limit, a.rgb, budget).map_err(|e| p.name_errors(e))?
        }
        None => {
            let n = a.limit.unwrap_or(a.synthetic);
            wgae::data::memory::check_host(&format!("--synthetic {n}"), n as u128 * 784, 4)?;
            if !a.quiet {
                eprintln!("no --data: training on {n} built-in synthetic digits (28x28)");
            }
            Opened::Memory(synthetic::digits(n, 2024))
        }
    };
    // Model: checkpoint, or config file, then flags. A resumed run
    // continues the checkpoint's model: a config or flags may repeat it,
    // not change it; a config's training settings apply (with a warning
    // where they change the run, below).
    if let Some((ck, ck_path)) = &resume {
        if let Some(f) = &file {
            let theirs = model_config(&a, Some(f), data.cols(), true)?;
            let what = format!(
                "--config {}",
                a.config.as_deref().unwrap_or(Path::new("")).display()
            );
            refuse_other_model(&ck.model, &theirs, ck_path, &what)?;
        }
        file = Some(ConfigFile {
            model: ck.model.clone(),
            train: file.map_or_else(|| ck.train.clone(), |f| f.train),
        });
    }
    let model = model_config(&a, file.as_ref(), data.cols(), resume.is_some())?;
    if let Some((ck, ck_path)) = &resume {
        refuse_other_model(&ck.model, &model, ck_path, "the flags")?;
    }
    let notes = data_notes(&a, data.rows());
    if let Some((ck, ck_path)) = &resume {
        check_resumed_data(&ck.notes, &notes, ck_path)?;
    }
    let mut val = match &val_path {
        Some(p) => Some(
            data::open(p.path(), a.format, None, a.rgb, budget).map_err(|e| p.name_errors(e))?,
        ),
        None => None,
    };
    if model.is_layered() {
        // Colour images stored (h, w, c) become channels first.
        let shape = model.sample_shape()?;
        let named = |p: &Option<PathBuf>, e: wgae::Error| match p {
            Some(path) => wgae::Error::File {
                path: path.clone(),
                message: e.to_string(),
            },
            None => e,
        };
        data = match (data.for_shape(shape), &data_path) {
            (Ok(d), _) => d,
            // A mapped file is read as stored: one stored channels-last is
            // loaded (where it fits) and transposed.
            (Err(_), Some(p)) => data::load(p.path(), a.format, a.limit, a.rgb, budget)
                .map_err(|e| p.name_errors(e))?
                .for_shape(shape)
                .map_err(|e| named(&a.data, e))?,
            (Err(e), None) => return Err(e),
        };
        val = val
            .map(|v| v.for_shape(shape))
            .transpose()
            .map_err(|e| named(&a.val, e))?;
    }
    // A sample's shape, kept in the model file so that later commands read
    // and draw the data as training did: the data's own, or the model's.
    let sample_dims = match (data.dims(), model.is_layered()) {
        (Some(d), _) => Some(d),
        (None, true) => {
            model
                .sample_shape()
                .ok()
                .map(|[c, h, w]| if c == 1 { vec![h, w] } else { vec![c, h, w] })
        }
        (None, false) => None,
    };
    let mut t = train_config(&a, file.map(|f| f.train), val.is_some());
    // Warnings show under --quiet too: it quiets progress, not problems.
    if let Some((ck, _)) = &resume {
        let changed = resume_changes(&ck.train, &t);
        if !changed.is_empty() {
            eprintln!(
                "warning: --resume with a changed {}: training goes on, but no longer exactly as \
                 the uninterrupted run would",
                changed.join(", ")
            );
        }
    }
    if a.max_restores.is_some() && t.on_divergence != wgae::train::OnDivergence::Restore {
        return Err(wgae::Error::InvalidArgument(
            "--max-restores counts restores after a divergence, which happen only with \
             --on-divergence restore"
                .into(),
        ));
    }
    // Scaling statistics come from the training rows alone (not the rows
    // the validation split holds out), and apply to every set and, through
    // the model file, to later data.
    let fit_rows =
        wgae::data::validation_cut(data.rows(), t.validation_split).unwrap_or(data.rows());
    let transform = match a.scale {
        Scale::None => None,
        Scale::Unit => Some(data.fit_transform(false, fit_rows)?),
        Scale::Standard => Some(data.fit_transform(true, fit_rows)?),
    };
    if let Some((offset, scale)) = &transform {
        // Held-out rows may fall outside the training rows' range; a BCE
        // model sees them clipped to [0, 1] (and so does every later
        // command through the model file).
        let clip = model.loss == LossKind::Bce && a.scale == Scale::Unit;
        data.apply(offset, scale, clip)?;
        if let Some(v) = &mut val {
            v.apply(offset, scale, clip)?;
        }
    }
    if let (None, Some(m)) = (&transform, data.max_abs_in_memory()) {
        if m > 1e6 {
            eprintln!(
                "warning: the data holds values up to {m:e}; float32 arithmetic on values this \
                 large loses precision or overflows: scale it (--scale standard)"
            );
        }
    }
    let show = !a.quiet && std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
    if show {
        // About twenty progress updates per epoch, each a small read-back.
        t.log_every_steps = Some((data.rows() / t.batch_size.max(1) / 20).max(1));
    }
    let (data, labels) = data.into_source()?;
    let mapped = data.is_mapped() && data.f32_bytes() > budget;
    let val = val.map(Opened::into_source).transpose()?;
    let val_source = val.as_ref().map(|v| &v.0);
    let mut trainer = match &resume {
        Some((ck, path)) => {
            if t.epochs <= ck.epochs_done {
                return Err(wgae::Error::InvalidArgument(format!(
                    "{} has done {} epochs and --epochs asks for {} in all, so there is nothing \
                     to train; give --epochs above {}",
                    path.display(),
                    ck.epochs_done,
                    t.epochs,
                    ck.epochs_done
                )));
            }
            if !a.quiet {
                eprintln!(
                    "resuming {} after epoch {} of {}{}",
                    path.display(),
                    ck.epochs_done,
                    t.epochs,
                    if a.checkpoint_dir.is_none() {
                        "; its checkpoint is replaced after every epoch"
                    } else {
                        ""
                    }
                );
            }
            Trainer::resume_source(&ctx, ck, &t, &data, val_source)?
        }
        None => Trainer::from_source(
            Autoencoder::new(&ctx, &model, t.seed)?,
            &t,
            &data,
            val_source,
        )?,
    };
    trainer.set_checkpoint_sink(checkpoint_path.map(|path| {
        Box::new(
            move |ck: &wgae::train::Checkpoint, layout: &wgae::train::ParamLayout| {
                io::save_checkpoint_noted(&path, ck, layout, true, &notes)
            },
        ) as wgae::train::CheckpointSink
    }));
    if !a.quiet {
        if model.is_layered() {
            eprint!("{}", model.summary());
        }
        eprintln!(
            "model {}: {} parameters; {} training rows, batch {}, {} steps/epoch, {} dispatches/step; adapter {}",
            // Every width, the decoder's too: 784-128-32-128-784.
            model.arch_name(),
            model.parameter_count(),
            trainer.train_rows(),
            t.batch_size.min(trainer.train_rows()),
            trainer.steps_per_epoch(),
            trainer.dispatches_per_step(),
            ctx.adapter_name()
        );
        if mapped {
            eprintln!(
                "the data ({}) is larger than the host budget of {} (--host-memory): it is \
                 read from the file as training needs it",
                mib(data.f32_bytes()),
                mib(budget)
            );
        }
        if trainer.is_streamed() {
            eprintln!(
                "the training set ({}) does not stay on the GPU{}: it is streamed from host \
                 memory in chunks",
                mib(data.slice(0, trainer.train_rows()).stored_bytes()),
                ctx.gpu_memory_cap()
                    .map(|l| format!(" within --gpu-memory {}", mib(l)))
                    .unwrap_or_default()
            );
        }
    }
    // Ctrl-C stops training within a few steps, back at the last whole
    // epoch; a second Ctrl-C quits at once (see `interrupt`).
    trainer.set_interrupt(Some(crate::cli::interrupt::flag()));
    let started = std::time::Instant::now();
    let history = match fit_with_progress(&mut trainer, &data, show, a.quiet, a.json) {
        Ok(h) => h,
        Err(e @ wgae::Error::Diverged { .. }) => {
            // The model went back to its last finite weights: those are
            // what --save keeps (never NaN), and the error still stands.
            if let Some(p) = &a.save {
                let extras = io::ModelExtras {
                    code_stats: Some(io::CodeStats::of_source(
                        trainer.model(),
                        &data.slice(0, trainer.train_rows()),
                    )?),
                    transform: transform.clone(),
                    sample_dims: sample_dims.clone(),
                    train_errors: None,
                };
                io::save_model(p, trainer.model(), &extras, a.force)?;
                let when = match trainer.epochs_done() {
                    0 => "the initial weights".to_string(),
                    n => format!("those after epoch {n}"),
                };
                eprintln!("saved the last finite weights ({when}) to {}", p.display());
            }
            // Data too large for f32 sums diverges at any rate: say so.
            let mut largest = 0f32;
            data.for_each_block(|_, b| {
                largest = b.iter().fold(largest, |m, v| m.max(v.abs()));
                Ok(())
            })?;
            if let (true, wgae::Error::Diverged { epoch, loss, .. }) = (largest > 1e6, &e) {
                return Err(wgae::Error::InvalidArgument(format!(
                    "training diverged in epoch {epoch} (the loss was {loss}): the data holds \
                     values up to {largest:e}{}, which float32 arithmetic overflows at any \
                     learning rate; scale it (--scale standard) and train again",
                    if transform.is_some() {
                        " even after --scale"
                    } else {
                        ""
                    }
                )));
            }
            return Err(e);
        }
        // A lost device or a driver's out-of-memory error mid-run: the
        // checkpoint written after the last whole epoch is what remains.
        Err(
            e @ (wgae::Error::DeviceLost { .. }
            | wgae::Error::OutOfMemory { .. }
            | wgae::Error::Internal { .. }),
        ) if checkpoint_path_of(&a).is_some_and(|p| p.exists()) => {
            return Err(wgae::Error::TrainingFailed {
                error: Box::new(e),
                checkpoint: checkpoint_path_of(&a).unwrap().display().to_string(),
            });
        }
        Err(e) => return Err(e),
    };
    let seconds = started.elapsed().as_secs_f64();
    if !a.quiet {
        for (epoch, step, loss, factor) in &history.restores {
            eprintln!(
                "the loss was {loss} in epoch {epoch} (step {step}): trained the epoch again from \
                 the weights before it, at a halved learning rate (x{factor} of --lr)"
            );
        }
    }
    let Some(last) = history.epochs.last() else {
        if history.interrupted {
            return Err(wgae::Error::Interrupted(format!(
                "Ctrl-C during epoch {}: no epoch finished, so nothing was saved{}",
                trainer.epochs_done() + 1,
                if trainer.epochs_done() > 0 {
                    " (the checkpoint keeps the epochs it had)"
                } else {
                    ""
                }
            )));
        }
        return Err(wgae::Error::InvalidArgument(format!(
            "nothing to train: the checkpoint already has {} epochs; raise --epochs",
            trainer.epochs_done()
        )));
    };
    let train_rows = trainer.train_rows();
    let held_out = match val {
        Some(v) => Some(v),
        None => (t.validation_split > 0.0).then(|| {
            (
                data.slice(train_rows, data.rows()),
                labels
                    .as_ref()
                    .map(|l| l[train_rows.min(l.len())..].to_vec()),
            )
        }),
    };
    let train_part = (data.slice(0, train_rows), labels);
    let streamed = trainer.is_streamed();
    let interrupted = history.interrupted.then(|| {
        let done = trainer.epochs_done();
        let ck = checkpoint_path_of(&a);
        format!(
            "Ctrl-C during epoch {}: the model holds the weights after epoch {done}{}{}",
            done + 1,
            a.save
                .as_ref()
                .map(|p| format!(", saved to {}", p.display()))
                .unwrap_or_default(),
            match (ck, done) {
                (Some(ck), 1..) => format!(
                    "; resume with --resume {} --epochs {}",
                    ck.display(),
                    t.epochs
                ),
                _ => String::new(),
            }
        )
    });
    // The trainer's buffers (data, gradients, optimizer state) go before
    // the final scoring plans its own.
    let model = trainer.into_model();
    let last = last.clone();
    finish(
        &a,
        &model,
        streamed,
        &history,
        &last,
        train_part,
        held_out,
        (transform, sample_dims),
        seconds,
    )?;
    match interrupted {
        Some(what) => Err(wgae::Error::Interrupted(what)),
        None => Ok(()),
    }
}

/// Where this run writes its checkpoint: --checkpoint-dir, or the file it
/// resumed from.
fn checkpoint_path_of(a: &TrainArgs) -> Option<PathBuf> {
    match (&a.checkpoint_dir, &a.resume) {
        (Some(d), _) => Some(d.join("checkpoint.safetensors")),
        (None, Some(r)) => Some(r.clone()),
        (None, None) => None,
    }
}

/// After training: the model file, the report, and the summary line (or
/// JSON), from the final model's error and codes on the training rows,
/// read block by block.
#[allow(clippy::too_many_arguments)]
fn finish(
    a: &TrainArgs,
    model_ref: &Autoencoder,
    streamed: bool,
    history: &History,
    last: &wgae::EpochReport,
    train_part: (Source, Option<Vec<u32>>),
    held_out: Option<(Source, Option<Vec<u32>>)>,
    (transform, sample_dims): Kept,
    seconds: f64,
) -> wgae::Result<()> {
    let (quiet, force, json) = (a.quiet, a.force, a.json);
    if history.stopped_early && !quiet {
        eprintln!(
            "early stopping: restored the weights of epoch {}",
            history.best_epoch.unwrap_or(0)
        );
    }
    // The final model's reconstruction error on the training data.
    let (train_src, train_labels) = &train_part;
    // (One score per row, 4 bytes each, kept for their median and MAD.)
    let mut errors = Vec::with_capacity(train_src.rows());
    model_ref.reconstruction_error_source(train_src, Precision::F32, |_, s| {
        errors.extend_from_slice(s);
        Ok(())
    })?;
    let recon_mse = errors.iter().map(|&v| f64::from(v)).sum::<f64>() / train_src.rows() as f64;
    let train_errors = io::ErrorStats::of(&errors);
    drop(errors);
    let samples_per_sec = history
        .epochs
        .iter()
        .map(|e| e.samples_per_sec)
        .sum::<f64>()
        / history.epochs.len() as f64;
    let stats = io::CodeStats::of_source(model_ref, train_src)?;
    if let Some(p) = &a.save {
        let extras = io::ModelExtras {
            code_stats: Some(stats.clone()),
            transform,
            sample_dims: sample_dims.clone(),
            train_errors,
        };
        io::save_model(p, model_ref, &extras, force)?;
        if !quiet {
            eprintln!("saved the model to {}", p.display());
        }
    }
    if let Some(dir) = &a.report {
        let (src, labels) = held_out.as_ref().unwrap_or(&train_part);
        let shown = data::head(src, labels.as_deref(), REPORT_ROWS)?;
        let _ = train_labels;
        let pic = report::Picture::of(sample_dims.as_deref(), shown.cols);
        let written = write_report(dir, model_ref, history, &shown, pic, &stats, force)?;
        if !quiet {
            eprintln!(
                "wrote the report to {}/ ({}){}",
                dir.display().to_string().trim_end_matches('/'),
                written.join(", "),
                if pic.is_none() {
                    "; the samples are not images, so there are no pictures of them"
                } else {
                    ""
                }
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
            "adapter": model_ref.context().adapter_name(),
            "streamed": streamed,
        });
        println!("{out}");
    } else if !quiet {
        println!(
            "done in {seconds:.1} s: final reconstruction MSE per pixel on the training data {recon_mse:.5}; {samples_per_sec:.0} samples/s"
        );
    }
    Ok(())
}

/// What the model file keeps of the data beside the weights: the input
/// transform and a sample's stored dimensions.
type Kept = (Option<(Vec<f32>, Vec<f32>)>, Option<Vec<usize>>);

/// Rows of the held-out data a report draws from (its code-space plot
/// shows up to this many).
const REPORT_ROWS: usize = 2000;

/// Refuses outputs that exist (unless `--force`) and makes the folders, so
/// that a refusal comes before any training; returns the checkpoint's path.
fn check_outputs(a: &TrainArgs) -> wgae::Result<Option<PathBuf>> {
    let force = a.force;
    let checkpoint_path = match &a.checkpoint_dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|e| wgae::Error::File {
                path: d.clone(),
                message: format!("cannot create: {e}"),
            })?;
            let p = d.join("checkpoint.safetensors");
            // Resuming from the checkpoint in this folder replaces it.
            let own = a.resume.as_deref().is_some_and(|r| same_file(r, &p));
            io::check_writable(&p, force || own)?;
            Some(p)
        }
        // A resumed run goes on writing its checkpoint where it came from.
        None => match &a.resume {
            Some(r) => {
                wgae::data::bounded::check_kind(r)?;
                io::check_writable(r, true)?;
                Some(r.clone())
            }
            None => None,
        },
    };
    // After the checkpoint folder exists, so that --save may point into it.
    if let Some(p) = &a.save {
        if checkpoint_path.as_deref().is_some_and(|c| same_file(c, p)) {
            return Err(wgae::Error::File {
                path: p.clone(),
                message: "is where the checkpoints go (--checkpoint-dir, or the --resume file); \
                          --save the model under another name"
                    .into(),
            });
        }
        io::check_writable(p, force)?;
    }
    if let Some(d) = &a.report {
        if d.exists() && !d.is_dir() {
            return Err(wgae::Error::File {
                path: d.clone(),
                message: "--report takes a folder for the pictures, and this is a file".into(),
            });
        }
        std::fs::create_dir_all(d).map_err(|e| wgae::Error::File {
            path: d.clone(),
            message: format!("cannot create: {e}"),
        })?;
        for f in REPORT_FILES {
            io::check_writable(&d.join(f), force)?;
        }
    }
    Ok(checkpoint_path)
}

/// The settings of `now` that differ from the checkpoint's `then` and
/// change what the resumed epochs compute (the epoch count, logging and the
/// divergence policy do not).
fn resume_changes(then: &TrainConfig, now: &TrainConfig) -> Vec<&'static str> {
    let mut v = Vec::new();
    macro_rules! cmp {
        ($($field:ident => $name:literal),*) => { $( if then.$field != now.$field { v.push($name); } )* };
    }
    cmp!(optimizer => "optimizer", lr => "learning rate", batch_size => "batch size",
         validation_split => "validation split", seed => "seed", schedule => "schedule",
         weight_decay => "weight decay", clip_norm => "clipping norm", warmup_steps => "warm-up",
         beta1 => "beta1", beta2 => "beta2", eps => "eps", step_epochs => "step_epochs",
         gamma => "gamma", min_lr => "min_lr", early_stopping => "early stopping",
         min_delta => "min_delta");
    v
}

/// Refuses to resume `ck_path` (whose model is `ours`) as `theirs`, which
/// `what` (a config, flags) describes, naming the settings that differ.
fn refuse_other_model(
    ours: &ModelConfig,
    theirs: &ModelConfig,
    ck_path: &Path,
    what: &str,
) -> wgae::Result<()> {
    if ours == theirs {
        return Ok(());
    }
    let (a, b) = (
        serde_json::to_value(ours).unwrap_or_default(),
        serde_json::to_value(theirs).unwrap_or_default(),
    );
    let keys: Vec<String> = match (a.as_object(), b.as_object()) {
        (Some(a), Some(b)) => a
            .keys()
            .chain(b.keys())
            .filter(|k| a.get(*k) != b.get(*k))
            .cloned()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect(),
        _ => Vec::new(),
    };
    Err(wgae::Error::InvalidArgument(format!(
        "{what} would change the model of {} (in: {}), which --resume continues as it is; \
         drop them to continue it, or train the new model without --resume",
        ck_path.display(),
        if keys.is_empty() {
            "its layers".to_string()
        } else {
            keys.join(", ")
        }
    )))
}
/// What a checkpoint keeps of the data it was trained on: the file (or
/// the built-in digits), its rows after `--limit`, and the limit.
fn data_notes(a: &TrainArgs, rows: usize) -> std::collections::BTreeMap<String, String> {
    let source = match &a.data {
        Some(p) if wgae::data::bounded::is_pipe(p) => "a pipe".to_string(),
        Some(p) => std::fs::canonicalize(p)
            .unwrap_or_else(|_| p.clone())
            .display()
            .to_string(),
        None => "synthetic".to_string(),
    };
    [
        ("data".to_string(), source),
        ("rows".to_string(), rows.to_string()),
        (
            "limit".to_string(),
            a.limit.map_or("none".into(), |l| l.to_string()),
        ),
    ]
    .into_iter()
    .collect()
}

/// Compares the data of a resumed run with the checkpoint's: training on
/// the built-in digits instead of a file is refused; other data, another
/// row count or another `--limit` are warned of.
fn check_resumed_data(
    then: &std::collections::BTreeMap<String, String>,
    now: &std::collections::BTreeMap<String, String>,
    ck_path: &Path,
) -> wgae::Result<()> {
    let get = |m: &std::collections::BTreeMap<String, String>, k: &str| m.get(k).cloned();
    let (Some(was), Some(is)) = (get(then, "data"), get(now, "data")) else {
        return Ok(()); // a checkpoint from before wgae kept its data
    };
    if is == "synthetic" && was != "synthetic" {
        return Err(wgae::Error::InvalidArgument(format!(
            "{} was trained on {was}: give --data {was} to resume it (without --data, wgae \
             trains on built-in synthetic digits)",
            ck_path.display()
        )));
    }
    let mut changed = Vec::new();
    if was != is && was != "a pipe" && is != "a pipe" {
        changed.push(format!("data ({is}, not {was})"));
    }
    if get(then, "limit") != get(now, "limit") {
        changed.push(format!(
            "--limit ({}, not {})",
            get(now, "limit").unwrap_or_default(),
            get(then, "limit").unwrap_or_default()
        ));
    }
    if get(then, "rows") != get(now, "rows") {
        changed.push(format!(
            "number of rows ({}, not {})",
            get(now, "rows").unwrap_or_default(),
            get(then, "rows").unwrap_or_default()
        ));
    }
    if !changed.is_empty() {
        eprintln!(
            "warning: --resume with a changed {}: training goes on, but no longer exactly as \
             the uninterrupted run would",
            changed.join(", ")
        );
    }
    Ok(())
}

/// Whether two paths name the same file: the same file (both existing),
/// or the same name in the same folder.
fn same_file(a: &Path, b: &Path) -> bool {
    let place = |p: &Path| {
        let dir = match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        Some((std::fs::canonicalize(dir).ok()?, p.file_name()?.to_owned()))
    };
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b || place(a).is_some_and(|x| Some(x) == place(b)),
    }
}

/// A TOML config file, with errors naming it.
pub fn read_config(p: &Path) -> wgae::Result<ConfigFile> {
    let text =
        wgae::data::bounded::read_text_capped(p, wgae::data::bounded::CONFIG_CAP, "TOML config")?;
    ConfigFile::from_toml(&text).map_err(|e| wgae::Error::File {
        path: p.to_path_buf(),
        message: e.to_string(),
    })
}

/// The model: the checkpoint's or config file's (a one-layer 32-wide code
/// by default), then the flags on top, checked against the data.
fn model_config(
    a: &TrainArgs,
    file: Option<&ConfigFile>,
    cols: usize,
    resuming: bool,
) -> wgae::Result<ModelConfig> {
    let mut model = match file.map(|f| f.model.clone()) {
        Some(m) => m,
        None => ModelConfig::dense(cols, &[32]),
    };
    // A resumed run continues the checkpoint's model: --arch may repeat
    // it, not change it.
    let same_arch = a.arch.as_ref().is_some_and(|arch| {
        !model.is_layered()
            && arch.first() == Some(&model.input_dim)
            && arch[1..] == model.encoder[..]
    });
    if resuming && ((a.arch.is_some() && !same_arch) || a.variant.is_some()) {
        return Err(wgae::Error::InvalidArgument(
            "--resume continues the checkpoint's model; drop --arch (or give the checkpoint's \
             own) and --variant"
                .into(),
        ));
    }
    if let Some(arch) = &a.arch {
        if model.is_layered() {
            return Err(wgae::Error::InvalidArgument(
                "--arch sets Dense widths, but this config's model is a list of layers \
                 (encoder_layers); drop --arch, or edit the layers in the config"
                    .into(),
            ));
        }
        if arch.len() < 2 {
            return Err(wgae::Error::InvalidArgument(format!(
                "--arch needs the input width and at least the code width, e.g. {},32",
                cols
            )));
        }
        model.input_dim = arch[0];
        model.encoder = arch[1..].to_vec();
    }
    if model.is_layered() && model.input_dim != cols {
        return Err(wgae::Error::InvalidArgument(format!(
            "the data has {} values per sample but the model's input_shape {:?} holds {}; \
             change input_shape in the config to the data's shape",
            cols,
            model.input_shape.as_deref().unwrap_or(&[]),
            model.input_dim
        )));
    }
    if model.input_dim != cols {
        return Err(wgae::Error::InvalidArgument(format!(
            "the data has {} features per sample but the architecture starts at {}; use --arch {},...",
            cols, model.input_dim, cols
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
    }
    // --beta weighs whichever KL term the model has, however it came (the
    // variant's default rho, --rho, a config, --variant vae); with none, it
    // would do nothing, so it is refused.
    if let Some(b) = a.beta {
        if model.variational.is_some() {
            model = model.variational(b);
        } else if let Some(k) = model.kl_sparsity {
            model = model.kl_sparsity(k.rho, b);
        } else {
            return Err(wgae::Error::InvalidArgument(
                "--beta weighs a KL term, and this model has none: add --variant kl-sparse (or \
                 --rho) for KL sparsity, or --variant vae"
                    .into(),
            ));
        }
    }
    model.validate()?;
    Ok(model)
}

/// How to train: the config file's settings (or the defaults), then the
/// flags; a validation split of 0.1 unless one is given or a validation set.
fn train_config(a: &TrainArgs, file: Option<TrainConfig>, has_val: bool) -> TrainConfig {
    let mut t = file.unwrap_or_default();
    macro_rules! set {
        ($($flag:ident => $field:ident),*) => { $( if let Some(v) = a.$flag { t.$field = v; } )* };
    }
    set!(epochs => epochs, batch => batch_size, optimizer => optimizer, lr => lr, weight_decay => weight_decay,
         clip_norm => clip_norm, schedule => schedule, warmup => warmup_steps, seed => seed,
         on_divergence => on_divergence, max_restores => max_restores);
    if let Some(p) = a.early_stop {
        t.early_stopping = Some(p);
    }
    t.validation_split = match (a.val_split, has_val) {
        (Some(f), _) => f,
        (None, false) if t.validation_split == 0.0 => 0.1,
        _ => t.validation_split,
    };
    if has_val {
        t.validation_split = 0.0;
    }
    t
}

/// Trains with a progress bar (`show`) and a line per epoch (unless
/// `quiet`; on stderr with `json`, whose summary takes stdout).
fn fit_with_progress(
    trainer: &mut Trainer,
    source: &Source,
    show: bool,
    quiet: bool,
    json: bool,
) -> wgae::Result<History> {
    let steps = trainer.steps_per_epoch();
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
    // The reference for an explosion: the reconstruction error per value
    // the run started from, on up to 1024 training rows.
    let mut sum = 0f64;
    let head = source.slice(0, trainer.train_rows().min(1024));
    trainer
        .model()
        .reconstruction_error_source(&head, Precision::F32, |_, s| {
            sum += s.iter().map(|&v| f64::from(v)).sum::<f64>();
            Ok(())
        })?;
    let start = sum / head.rows().max(1) as f64;
    let mut warned = false;
    trainer.fit(
        |r| {
            if let Some(b) = &bar {
                b.finish_and_clear();
                b.reset();
            }
            // A loss that explodes but stays finite is not caught as a
            // divergence: say so, loudly, once.
            if !warned && start > 0.0 && r.recon_mse > EXPLODED * start {
                warned = true;
                eprintln!(
                    "warning: the reconstruction error per value rose from {start:.3e} at the \
                     start to {:.3e} in epoch {}: training is blowing up. Lower the learning \
                     rate (--lr), clip the gradients (--clip-norm), or scale the data (--scale \
                     standard)",
                    r.recon_mse, r.epoch
                );
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
    )
}

/// How far above the starting reconstruction error an epoch's must rise
/// to be called an explosion.
const EXPLODED: f64 = 1e4;

pub const REPORT_FILES: [&str; 5] = [
    "reconstructions.png",
    "loss.png",
    "codes.png",
    "samples.png",
    "history.csv",
];

/// Writes the report's files into `dir` and returns their names: the
/// pictures of samples only where `pic` says how they make one.
pub fn write_report(
    dir: &std::path::Path,
    model: &Autoencoder,
    history: &History,
    shown: &Dataset,
    pic: Option<report::Picture>,
    stats: &io::CodeStats,
    force: bool,
) -> wgae::Result<Vec<&'static str>> {
    let mut written = Vec::new();
    if let Some(pic) = pic {
        let n = shown.rows.min(10);
        let sample = shown.take(n);
        let rec = model.reconstruct(&sample)?;
        report::save_picture_pairs(&dir.join("reconstructions.png"), &sample.data, &rec, pic, n)?;
        written.push("reconstructions.png");
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
    written.extend(["loss.png", "codes.png"]);
    if let Some(pic) = pic {
        let samples = generate_samples(model, Some(stats), 40, 1)?;
        let imgs: Vec<&[f32]> = samples.chunks(pic.values()).collect();
        report::save_picture_grid(&dir.join("samples.png"), &imgs, pic, 10, 3)?;
        written.push("samples.png");
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
    io::write_atomic(&dir.join("history.csv"), csv.as_bytes(), force)?;
    written.push("history.csv");
    Ok(written)
}
