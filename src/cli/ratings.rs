//! `wgae train --rows items|users`: AutoRec (Sedhain et al., 2015) on a
//! ratings file. The ratings (user, item, rating) are split at random into
//! training and held-out ones (`--test-split`, 0.1 by default, seeded by
//! `--seed`), laid out as a rating matrix whose rows are items (I-AutoRec)
//! or users (U-AutoRec), with the unrated cells missing, and learned by a
//! masked model: by default one sigmoid hidden layer of 500 and a linear
//! output (`--arch` and `--act` change them). The held-out ratings' RMSE
//! and MAE are reported at the end, the predictions clipped to the training
//! ratings' range; a row with no training rating predicts their mean.
//!
//! The matrix is held dense here (MovieLens-100K's is 6 MiB); keeping it
//! sparse on the GPU is the missing-values issue's next step.

use std::io::IsTerminal;

use wgae::data::ratings::{Ratings, RowsAre};
use wgae::data::Source;
use wgae::model::Missing;
use wgae::{io, Activation, Autoencoder, LossKind, ModelConfig, Precision, Trainer};

use crate::cli::data::host_budget;
use crate::cli::progress::fit_with_progress;
use crate::cli::train_config::{model_config, train_config, TrainArgs};
use crate::cli::{open_gpu_within, plan_options};

/// The held-out ratings' errors.
struct Errors {
    rmse: f64,
    mae: f64,
    cold: usize,
}

pub fn train(a: &TrainArgs, rows: RowsAre) -> wgae::Result<()> {
    let Some(path) = &a.data else {
        return Err(wgae::Error::InvalidArgument(
            "--rows reads a ratings file given with --data (user, item, rating per line)".into(),
        ));
    };
    refuse_other_flags(a)?;
    let ratings = Ratings::load(path)?;
    let split = a.test_split.unwrap_or(0.1);
    let seed = a.seed.unwrap_or(42);
    let (train, test) = ratings.split(split, seed)?;
    let ds = train.dense(rows, host_budget(a.host_memory))?;
    if !a.quiet {
        eprintln!(
            "{} ratings of {} users and {} items{}; {} for training, {} held out; rows are {}",
            ratings.len(),
            ratings.users.len(),
            ratings.items.len(),
            match ratings.duplicates {
                0 => String::new(),
                n => format!(" ({n} pairs rated twice: the last rating kept)"),
            },
            train.len(),
            test.len(),
            if rows == RowsAre::Items {
                "items (I-AutoRec)"
            } else {
                "users (U-AutoRec)"
            }
        );
    }
    let model = autorec_model(a, ds.cols)?;
    let mut t = train_config(a, None, true);
    t.validation_split = 0.0;
    let show = !a.quiet && std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
    if show {
        // About twenty progress updates per epoch.
        t.log_every_steps = Some((ds.rows / t.batch_size.max(1) / 20).max(1));
    }
    let ctx = open_gpu_within(a.gpu_memory, a.host_memory)?;
    let m = Autoencoder::new(&ctx, &model, t.seed)?.with_plan_options(plan_options()?);
    let source = Source::memory(ds.data.clone(), ds.rows, ds.cols)?;
    let mut trainer = Trainer::from_source(m, &t, &source, None)?;
    trainer.set_interrupt(Some(crate::cli::interrupt::flag()));
    fit_with_progress(&mut trainer, &source, show, a.quiet, a.json)?;
    let model = trainer.into_model();
    let e = held_out_errors(&model, &ds, &train, &test, rows)?;
    if let Some(p) = &a.save {
        io::save_model(p, &model, &io::ModelExtras::default(), a.force)?;
    }
    println!(
        "held-out ratings ({}): RMSE {:.4}, MAE {:.4}{}",
        test.len(),
        e.rmse,
        e.mae,
        match e.cold {
            0 => String::new(),
            n => format!(" ({n} of them in rows with no training rating: the mean predicted)"),
        }
    );
    Ok(())
}

/// AutoRec's model unless the flags say otherwise: `cols`-500-`cols`,
/// sigmoid hidden, linear output, MSE over the rated cells; the model flags
/// (`--arch`, `--act`, `--dropout`, `--noise`, ...) apply on top.
fn autorec_model(a: &TrainArgs, cols: usize) -> wgae::Result<ModelConfig> {
    let mut base = ModelConfig::dense(cols, &[500])
        .act(Activation::Sigmoid)
        .code_act(Activation::Sigmoid)
        .out_act(Activation::Identity)
        .loss(LossKind::Mse);
    base.missing = Missing::Mask;
    let file = wgae::train::ConfigFile {
        model: base,
        train: Default::default(),
    };
    let mut m = model_config(a, Some(&file), cols, false).map_err(|e| match e {
        wgae::Error::InvalidArgument(msg) if msg.contains("--arch") => {
            wgae::Error::InvalidArgument(format!(
                "--arch must start at the rating matrix's width, {cols} (one value per column), \
                 e.g. --arch {cols},500"
            ))
        }
        e => e,
    })?;
    if a.missing == Some(Missing::Refuse) {
        return Err(wgae::Error::InvalidArgument(
            "--missing refuse: a rating matrix is mostly missing; --rows masks the unrated \
             cells"
                .into(),
        ));
    }
    m.missing = Missing::Mask;
    m.validate()?;
    Ok(m)
}

/// Flags that have no meaning for ratings: refused, naming each.
fn refuse_other_flags(a: &TrainArgs) -> wgae::Result<()> {
    let given = [
        ("--config", a.config.is_some()),
        ("--resume", a.resume.is_some()),
        ("--window", a.series.window.is_some()),
        ("--val", a.val.is_some()),
        ("--val-split", a.val_split.is_some()),
        ("--early-stop", a.early_stop.is_some()),
        ("--scale", a.scale != crate::cli::Scale::None),
        ("--limit", a.limit.is_some()),
        ("--format", a.format.is_some()),
        ("--rgb", a.rgb),
        ("--report", a.report.is_some()),
        ("--checkpoint-dir", a.checkpoint_dir.is_some()),
    ];
    match given.iter().find(|(_, on)| *on) {
        Some((flag, _)) => Err(wgae::Error::InvalidArgument(format!(
            "{flag} does not apply with --rows (AutoRec on a ratings file, its held-out \
             ratings given by --test-split); leave it out"
        ))),
        None => Ok(()),
    }
}

/// The held-out ratings' RMSE and MAE: each predicted by the model's
/// reconstruction of its row (from the row's training ratings), clipped to
/// the training ratings' range.
fn held_out_errors(
    model: &Autoencoder,
    ds: &wgae::Dataset,
    train: &Ratings,
    test: &Ratings,
    rows: RowsAre,
) -> wgae::Result<Errors> {
    let rec = model.reconstruct_with(ds, Precision::F32)?;
    let (lo, hi) = train
        .rating
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &r| {
            (l.min(r), h.max(r))
        });
    let mean = train.rating.iter().map(|&r| f64::from(r)).sum::<f64>() / train.len() as f64;
    let mut rated = vec![false; ds.rows];
    for k in 0..train.len() {
        rated[train.cell(k, rows).0] = true;
    }
    let (mut se, mut ae, mut cold) = (0.0, 0.0, 0usize);
    for k in 0..test.len() {
        let (r, c) = test.cell(k, rows);
        let p = if rated[r] {
            f64::from(rec[r * ds.cols + c].clamp(lo, hi))
        } else {
            cold += 1;
            mean
        };
        let d = p - f64::from(test.rating[k]);
        se += d * d;
        ae += d.abs();
    }
    let n = test.len().max(1) as f64;
    Ok(Errors {
        rmse: (se / n).sqrt(),
        mae: ae / n,
        cold,
    })
}
