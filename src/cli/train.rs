//! `wgae train`: the model and training options from flags or a TOML
//! config, the data (built-in synthetic digits when none is given), a
//! progress bar, checkpoints, `--resume`, and the model file and report
//! written at the end.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use wgae::data::windows::WindowLayout;
use wgae::data::{synthetic, Source};
use wgae::model::{LossKind, Missing};
use wgae::train::{ConfigFile, History};
use wgae::{io, Autoencoder, Trainer};

use crate::cli::data::{self, host_budget, Opened};
use crate::cli::progress::fit_with_progress;
use crate::cli::resume::{check_resumed_data, data_notes, refuse_other_model, resume_changes};
use crate::cli::series;
pub use crate::cli::train_config::TrainArgs;
use crate::cli::train_config::{model_config, train_config};
use crate::cli::train_finish::{after_divergence, finish, Kept};
use crate::cli::train_report::REPORT_FILES;
use crate::cli::{mib, open_gpu_within, same_file, Scale};

pub fn train(a: TrainArgs) -> wgae::Result<()> {
    refuse_idle_flags(&a)?;
    if let Some(done) = ratings_modes(&a) {
        return done;
    }
    // Outputs are checked before any training, so a refusal costs nothing.
    let checkpoint_path = check_outputs(&a)?;
    // One GPU context for the whole command (a checkpoint's layout depends on it).
    let ctx = open_gpu_within(a.gpu_memory, a.host_memory)?;
    let resume = match &a.resume {
        Some(p) => Some((io::load_checkpoint(&ctx, p)?, p.clone())),
        None => None,
    };
    let file = match &a.config {
        Some(p) => Some(read_config(p)?),
        None => None,
    };
    let budget = host_budget(a.host_memory);
    // A pipe is spooled to a temporary file first, which lives as long as
    // its rows are read.
    let spool = |p: Option<&Path>| p.map(|p| data::DataPath::new(p, budget)).transpose();
    let (data_path, val_path) = (spool(a.data.as_deref())?, spool(a.val.as_deref())?);
    let masked = masks_missing(&a, resume.as_ref().map(|r| &r.0), file.as_ref());
    let (mut data, mut window) = open_data(&a, data_path.as_ref(), masked, budget)?;
    let (model, file) = settings(&a, resume.as_ref(), file, &data)?;
    let notes = data_notes(a.data.as_deref(), a.limit, data.rows());
    if let Some((ck, ck_path)) = &resume {
        check_resumed_data(&ck.notes, &notes, ck_path)?;
    }
    let mut val = val_path
        .as_ref()
        .map(|p| open_file(&a, p, None, masked, budget).map_err(|e| p.name_errors(e)))
        .transpose()?
        .map(|(v, _)| v);
    if let Some(w) = &mut window {
        (data, val) = window_layout(&model, w, data, val);
    }
    if model.is_layered() {
        (data, val) = channels_first(&a, &model, data, val, data_path.as_ref(), budget)?;
    }
    let sample_dims = sample_dims_of(&data, &model);
    let mut t = train_config(&a, file.map(|f| f.train), val.is_some());
    check_train_settings(&a, resume.as_ref(), &t)?;
    let transform = scale(&a, &model, &t, &mut data, val.as_mut())?;
    let show = !a.quiet && std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
    if show {
        // About twenty progress updates per epoch, each a small read-back.
        t.log_every_steps = Some((data.rows() / t.batch_size.max(1) / 20).max(1));
    }
    let (data, labels) = data.into_source()?;
    // (Windows are cut from the series as they are read: the series counts.)
    let mapped = data.is_mapped() && data.series().f32_bytes() > budget;
    let val = val.map(Opened::into_source).transpose()?;
    let val_source = val.as_ref().map(|v| &v.0);
    let mut trainer = open_trainer(&a, &ctx, resume.as_ref(), &model, &t, &data, val_source)?;
    trainer.set_checkpoint_sink(checkpoint_path.map(|path| {
        Box::new(
            move |ck: &wgae::train::Checkpoint, layout: &wgae::train::ParamLayout| {
                io::save_checkpoint_noted(&path, ck, layout, true, &notes)
            },
        ) as wgae::train::CheckpointSink
    }));
    if !a.quiet {
        print_plan(&ctx, &model, &trainer, &t, &data, mapped.then_some(budget));
    }
    // Ctrl-C stops training within a few steps, back at the last whole
    // epoch; a second Ctrl-C quits at once (see `interrupt`).
    trainer.set_interrupt(Some(crate::cli::interrupt::flag()));
    let started = std::time::Instant::now();
    let kept = Kept {
        transform,
        sample_dims,
        window,
    };
    let history = fit_or_explain(&a, &mut trainer, &data, show, &kept)?;
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
        return Err(nothing_trained(&history, &trainer));
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
    let interrupted = history
        .interrupted
        .then(|| interrupted_note(&a, &trainer, &t));
    // The trainer's buffers (data, gradients, optimizer state) go before
    // the final scoring plans its own.
    let model = trainer.into_model();
    let last = last.clone();
    finish(
        &a, &model, streamed, &history, &last, train_part, held_out, kept, seconds,
    )?;
    match interrupted {
        Some(what) => Err(wgae::Error::Interrupted(what)),
        None => Ok(()),
    }
}

/// `--implicit` and `--rows`: interactions and ratings, trained by their
/// own modules; `None` for rows of samples.
fn ratings_modes(a: &TrainArgs) -> Option<wgae::Result<()>> {
    if a.implicit {
        if a.rows == Some(wgae::data::ratings::RowsAre::Items) {
            return Some(Err(wgae::Error::InvalidArgument(
                "--implicit ranks items for each user, so its rows are users; drop --rows items"
                    .into(),
            )));
        }
        return Some(
            crate::cli::ratings::refuse_other_flags(a).and_then(|_| crate::cli::implicit::train(a)),
        );
    }
    if a.k.is_some() {
        return Some(Err(wgae::Error::InvalidArgument(
            "--k is the k of recall@k for --implicit; add --implicit or leave --k out".into(),
        )));
    }
    a.rows.map(|rows| crate::cli::ratings::train(a, rows))
}

/// Whether missing entries are read (and masked) rather than refused:
/// `--missing mask`, or the checkpoint's or config's model.
fn masks_missing(
    a: &TrainArgs,
    resume: Option<&wgae::train::Checkpoint>,
    file: Option<&ConfigFile>,
) -> bool {
    match a.missing {
        Some(m) => m == Missing::Mask,
        None => resume
            .map(|ck| &ck.model)
            .or(file.map(|f| &f.model))
            .is_some_and(|m| m.missing == Missing::Mask),
    }
}

/// A sample's shape, kept in the model file so that later commands read
/// and draw the data as training did: the data's own, or the model's.
fn sample_dims_of(data: &Opened, model: &wgae::ModelConfig) -> Option<Vec<usize>> {
    match (data.dims(), model.is_layered()) {
        (Some(d), _) => Some(d),
        (None, true) => {
            model
                .sample_shape()
                .ok()
                .map(|[c, h, w]| if c == 1 { vec![h, w] } else { vec![c, h, w] })
        }
        (None, false) => None,
    }
}

/// Warns of settings a resumed run changes, and refuses settings that
/// would do nothing.
fn check_train_settings(
    a: &TrainArgs,
    resume: Option<&(wgae::train::Checkpoint, PathBuf)>,
    t: &wgae::TrainConfig,
) -> wgae::Result<()> {
    // Warnings show under --quiet too: it quiets progress, not problems.
    if let Some((ck, _)) = resume {
        let changed = resume_changes(&ck.train, t);
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
    Ok(())
}

/// `--scale`: the statistics of the training rows alone (not the rows the
/// validation split holds out), applied to every set and, through the model
/// file, to later data.
fn scale(
    a: &TrainArgs,
    model: &wgae::ModelConfig,
    t: &wgae::TrainConfig,
    data: &mut Opened,
    val: Option<&mut Opened>,
) -> wgae::Result<Option<(Vec<f32>, Vec<f32>)>> {
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
        if let Some(v) = val {
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
    Ok(transform)
}

/// The trainer: resumed from a checkpoint, or a new model's.
fn open_trainer(
    a: &TrainArgs,
    ctx: &wgae::GpuContext,
    resume: Option<&(wgae::train::Checkpoint, PathBuf)>,
    model: &wgae::ModelConfig,
    t: &wgae::TrainConfig,
    data: &Source,
    val: Option<&Source>,
) -> wgae::Result<Trainer> {
    let plan = crate::cli::plan_options()?;
    let Some((ck, path)) = resume else {
        let m = Autoencoder::new(ctx, model, t.seed)?.with_plan_options(plan);
        return Trainer::from_source(m, t, data, val);
    };
    if t.epochs <= ck.epochs_done {
        return Err(wgae::Error::InvalidArgument(format!(
            "{} has done {} epochs and --epochs asks for {} in all, so there is nothing to \
             train; give --epochs above {}",
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
    let m = Autoencoder::from_params(ctx, &ck.model, &ck.params)?.with_plan_options(plan);
    Trainer::from_source(m, t, data, val)?.resumed(ck)
}

/// The layer table and the run's sizes; where the data is read from its
/// file (`mapped`: above this host budget) or streamed to the GPU, says so.
fn print_plan(
    ctx: &wgae::GpuContext,
    model: &wgae::ModelConfig,
    trainer: &Trainer,
    t: &wgae::TrainConfig,
    data: &Source,
    mapped: Option<u64>,
) {
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
    if let Some(w) = data.window() {
        eprintln!(
            "samples: windows of {} steps x {} channels ({} layout) at stride {}, cut from \
             the series as they are read",
            w.len,
            w.channels,
            w.layout.name(),
            w.stride
        );
    }
    if let Some(budget) = mapped {
        eprintln!(
            "the data ({}) is larger than the host budget of {} (--host-memory): it is read \
             from the file as training needs it",
            mib(data.series().f32_bytes()),
            mib(budget)
        );
    }
    if trainer.is_streamed() {
        eprintln!(
            "the training set ({}) does not stay on the GPU{}: it is streamed from host memory \
             in chunks",
            mib(data.slice(0, trainer.train_rows()).stored_bytes()),
            ctx.gpu_memory_cap()
                .map(|l| format!(" within --gpu-memory {}", mib(l)))
                .unwrap_or_default()
        );
    }
}

/// Training with its progress bar; a divergence or a failure mid-run is
/// explained with what was kept (the last finite weights, the checkpoint).
fn fit_or_explain(
    a: &TrainArgs,
    trainer: &mut Trainer,
    data: &Source,
    show: bool,
    kept: &Kept,
) -> wgae::Result<History> {
    match fit_with_progress(trainer, data, show, a.quiet, a.json) {
        Ok(h) => Ok(h),
        Err(e @ wgae::Error::Diverged { .. }) => Err(after_divergence(a, trainer, data, kept, e)),
        // A lost device or a driver's out-of-memory error mid-run: the
        // checkpoint written after the last whole epoch is what remains.
        Err(
            e @ (wgae::Error::DeviceLost { .. }
            | wgae::Error::OutOfMemory { .. }
            | wgae::Error::Internal { .. }),
        ) => match checkpoint_path_of(a).filter(|p| p.exists()) {
            Some(ck) => Err(wgae::Error::TrainingFailed {
                error: Box::new(e),
                checkpoint: ck.display().to_string(),
            }),
            None => Err(e),
        },
        Err(e) => Err(e),
    }
}

/// Why no epoch finished: Ctrl-C in the first, or a checkpoint that had
/// them all.
fn nothing_trained(history: &History, trainer: &Trainer) -> wgae::Error {
    if history.interrupted {
        return wgae::Error::Interrupted(format!(
            "Ctrl-C during epoch {}: no epoch finished, so nothing was saved{}",
            trainer.epochs_done() + 1,
            if trainer.epochs_done() > 0 {
                " (the checkpoint keeps the epochs it had)"
            } else {
                ""
            }
        ));
    }
    wgae::Error::InvalidArgument(format!(
        "nothing to train: the checkpoint already has {} epochs; raise --epochs",
        trainer.epochs_done()
    ))
}

/// What Ctrl-C left: the weights after the last whole epoch, where they
/// were saved, and how to resume.
fn interrupted_note(a: &TrainArgs, trainer: &Trainer, t: &wgae::TrainConfig) -> String {
    let done = trainer.epochs_done();
    let ck = checkpoint_path_of(a);
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
}

/// Refuses flags that would do nothing (a flag takes effect or is refused).
fn refuse_idle_flags(a: &TrainArgs) -> wgae::Result<()> {
    if a.limit == Some(0) {
        return Err(wgae::Error::InvalidArgument(
            "--limit 0 would keep no samples; give at least 1, or leave --limit out".into(),
        ));
    }
    a.series.refuse_without_window(a.series.window.is_some())?;
    if (a.test_split.is_some() || a.test.is_some()) && a.rows.is_none() {
        return Err(wgae::Error::InvalidArgument(
            "--test-split and --test hold out ratings, which --rows items|users reads; for \
             rows of samples, --val-split or --val holds some out"
                .into(),
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
    Ok(())
}

/// The training data: `--data` (spooled first if a pipe), or built-in
/// synthetic digits; with `--window`, the windows of a series and what the
/// model file keeps of them.
fn open_data(
    a: &TrainArgs,
    path: Option<&data::DataPath>,
    masked: bool,
    budget: u64,
) -> wgae::Result<(Opened, Option<wgae::io::WindowInfo>)> {
    Ok(match path {
        Some(p) => open_file(a, p, a.limit, masked, budget).map_err(|e| p.name_errors(e))?,
        None => {
            if a.series.window.is_some() {
                return Err(wgae::Error::InvalidArgument(
                    "--window cuts windows from a series given with --data".into(),
                ));
            }
            let n = a.limit.unwrap_or(a.synthetic);
            wgae::data::memory::check_host(&format!("--synthetic {n}"), n as u128 * 784, 4)?;
            if !a.quiet {
                eprintln!("no --data: training on {n} built-in synthetic digits (28x28)");
            }
            (Opened::Memory(synthetic::digits(n, 2024)), None)
        }
    })
}

/// A data file as training reads it: its samples, or with `--window` the
/// windows of the series it holds (laid out step after step until the
/// model says otherwise, see [`window_layout`]).
fn open_file(
    a: &TrainArgs,
    p: &data::DataPath,
    limit: Option<usize>,
    masked: bool,
    budget: u64,
) -> wgae::Result<(Opened, Option<wgae::io::WindowInfo>)> {
    let Some(len) = a.series.window else {
        return Ok((
            data::open(p.path(), a.format, limit, a.rgb, masked, budget)?,
            None,
        ));
    };
    let s = series::open(p.path(), a.format, &a.series, limit, budget)?;
    let (source, info) = series::windows_of(&s, len, a.series.stride(), WindowLayout::Time)?;
    Ok((
        Opened::Mapped {
            source,
            labels: None,
        },
        Some(info),
    ))
}

/// The windows laid out as `model` reads them (channels first for a
/// Conv1d model).
fn window_layout(
    model: &wgae::ModelConfig,
    info: &mut wgae::io::WindowInfo,
    data: Opened,
    val: Option<Opened>,
) -> (Opened, Option<Opened>) {
    let mut relayout = |o: Opened| match o {
        Opened::Mapped { source, labels } => {
            let layout = source
                .window()
                .map_or(info.layout, |w| series::layout_for(model, &w));
            info.layout = layout;
            Opened::Mapped {
                source: source.with_window_layout(layout),
                labels,
            }
        }
        other => other,
    };
    let data = relayout(data);
    let val = val.map(relayout);
    (data, val)
}

/// The model, and the config its training settings come from: the
/// checkpoint's or config file's, then the flags. A resumed run continues
/// the checkpoint's model: a config or flags may repeat it, not change it;
/// a config's training settings apply (with a warning where they change
/// the run).
fn settings(
    a: &TrainArgs,
    resume: Option<&(wgae::train::Checkpoint, PathBuf)>,
    mut file: Option<ConfigFile>,
    data: &Opened,
) -> wgae::Result<(wgae::ModelConfig, Option<ConfigFile>)> {
    if let Some((ck, ck_path)) = resume {
        if let Some(f) = &file {
            let theirs = model_config(a, Some(f), data.cols(), true)?;
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
    let model = model_config(a, file.as_ref(), data.cols(), resume.is_some())?;
    if let Some((ck, ck_path)) = resume {
        refuse_other_model(&ck.model, &model, ck_path, "the flags")?;
    }
    Ok((model, file))
}

/// The data and validation set as a layered model reads them: channels
/// first (colour images stored (h, w, c) are loaded and transposed).
fn channels_first(
    a: &TrainArgs,
    model: &wgae::ModelConfig,
    data: Opened,
    val: Option<Opened>,
    path: Option<&data::DataPath>,
    budget: u64,
) -> wgae::Result<(Opened, Option<Opened>)> {
    let shape = model.sample_shape()?;
    let named = |p: &Option<PathBuf>, e: wgae::Error| match p {
        Some(path) => wgae::Error::File {
            path: path.clone(),
            message: e.to_string(),
        },
        None => e,
    };
    let data = match (data.for_shape(shape), path) {
        (Ok(d), _) => d,
        // A mapped file is read as stored: one stored channels-last is
        // loaded (where it fits) and transposed.
        (Err(_), Some(p)) => data::load(
            p.path(),
            a.format,
            a.limit,
            a.rgb,
            model.missing == Missing::Mask,
            budget,
        )
        .map_err(|e| p.name_errors(e))?
        .for_shape(shape)
        .map_err(|e| named(&a.data, e))?,
        (Err(e), None) => return Err(e),
    };
    let val = val
        .map(|v| v.for_shape(shape))
        .transpose()
        .map_err(|e| named(&a.val, e))?;
    Ok((data, val))
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

/// A TOML config file, with errors naming it.
pub fn read_config(p: &Path) -> wgae::Result<ConfigFile> {
    let text =
        wgae::data::bounded::read_text_capped(p, wgae::data::bounded::CONFIG_CAP, "TOML config")?;
    ConfigFile::from_toml(&text).map_err(|e| wgae::Error::File {
        path: p.to_path_buf(),
        message: e.to_string(),
    })
}
