//! `wgae train --rows items|users`: AutoRec (Sedhain et al., 2015) on a
//! ratings file. The ratings (user, item, rating) are split at random into
//! training and held-out ones (`--test-split`, 0.1 by default, seeded by
//! `--seed`), laid out as a rating matrix whose rows are items (I-AutoRec)
//! or users (U-AutoRec), with the unrated cells missing, and learned by a
//! masked model: by default one sigmoid hidden layer of 500 and a linear
//! output (the model flags change them), trained on the whole matrix at once
//! (Adam 0.01, 150 epochs, weight decay 2e-3, unless the flags say
//! otherwise). The held-out ratings' RMSE and MAE
//! are reported after every epoch and at the end, the predictions clipped
//! to the training ratings' range; a row with no training rating predicts
//! their mean. With `--early-stop N`, a share of the training ratings
//! (`--val-split`, 0.05 by default) chooses the epoch: training stops after
//! N epochs without a better RMSE there, and the best weights are kept.
//!
//! The matrix is kept sparse (its ratings, `data::sparse::Csr`): on the GPU
//! where its entries fit (each batch's dense rows gathered there), streamed
//! otherwise or under `--gpu-memory`, so that memory grows with the ratings
//! rather than with users x items. The default batch is the whole matrix
//! where its dense rows take at most [`WHOLE_BATCH_BYTES`] (and 1/64
//! of `--gpu-memory`), and as many rows as fit in that otherwise.

use wgae::data::ratings::{Ratings, RowsAre};
use wgae::data::{Source, MISSING};
use wgae::model::Missing;
use wgae::{io, Activation, Autoencoder, Control, LossKind, ModelConfig, Trainer};

use crate::cli::data::host_budget;
use crate::cli::ratings_eval::{held_out_errors, mean_of, range_of};
use crate::cli::train_config::{model_config, train_config, TrainArgs};
use crate::cli::{open_gpu_within, plan_options};

/// The most bytes the default batch's dense rows take: the whole matrix
/// in one batch up to this (MovieLens-100K's 1,682 x 943 takes 6 MiB).
pub const WHOLE_BATCH_BYTES: u64 = 64 << 20;

pub fn train(a: &TrainArgs, rows: RowsAre) -> wgae::Result<()> {
    let Some(path) = &a.data else {
        return Err(wgae::Error::InvalidArgument(
            "--rows reads a ratings file given with --data (user, item, rating per line)".into(),
        ));
    };
    refuse_other_flags(a)?;
    let ratings = read_ratings(path, false, host_budget(a.host_memory))?;
    let seed = a.seed.unwrap_or(42);
    let (train, test) = held_out(a, &ratings, seed)?;
    // With --early-stop, a share of the training ratings chooses the epoch.
    let (fit_part, val) = match a.early_stop {
        Some(_) => {
            let share = a.val_split.unwrap_or(0.05);
            let (f, v) = split_both(&train, share, seed ^ 0x5EED, "--val-split", "choose")?;
            (f, Some(v))
        }
        None => (train, None),
    };
    let source = Source::sparse(fit_part.csr(rows, MISSING)?);
    let (n_rows, n_cols) = (source.rows(), source.cols());
    if !a.quiet {
        eprintln!(
            "{} ratings of {} users and {} items{}; {} for training{}, {} held out; rows are {}",
            ratings.len(),
            ratings.users.len(),
            ratings.items.len(),
            match ratings.duplicates {
                0 => String::new(),
                n => format!(" ({n} pairs rated twice: the last rating kept)"),
            },
            fit_part.len(),
            val.as_ref().map_or(String::new(), |v| format!(
                ", {} to choose the epoch",
                v.len()
            )),
            test.len(),
            if rows == RowsAre::Items {
                "items (I-AutoRec)"
            } else {
                "users (U-AutoRec)"
            }
        );
    }
    let cfg = autorec_model(a, n_cols)?;
    let ctx = open_gpu_within(a.gpu_memory, a.host_memory)?;
    let t = autorec_train_config(a, n_rows, n_cols, ctx.gpu_memory_cap());
    let m = Autoencoder::new(&ctx, &cfg, t.seed)?.with_plan_options(plan_options()?);
    let mut trainer = Trainer::from_source(m, &t, &source, None)?;
    trainer.set_interrupt(Some(crate::cli::interrupt::flag()));
    if !a.quiet {
        eprintln!(
            "the {n_rows} x {n_cols} matrix's ratings {}; {} rows a batch",
            if trainer.is_streamed() {
                "are streamed"
            } else {
                "stay sparse on the GPU"
            },
            t.batch_size
        );
    }
    let sets = Sets {
        source: &source,
        fit: &fit_part,
        val: val.as_ref(),
        test: &test,
        rows,
    };
    let best = fit_epochs(a, &mut trainer, &sets, t.epochs)?;
    let mut model = trainer.into_model();
    if let Some((epoch, params)) = best {
        model = Autoencoder::from_params(&ctx, &cfg, &params)?.with_plan_options(plan_options()?);
        if !a.quiet {
            eprintln!(
                "early stopping: the weights of epoch {epoch} (the best on the chosen share)"
            );
        }
    }
    let e = held_out_errors(&model, sets.source, sets.fit, rows, &test)?;
    if let Some(p) = &a.save {
        let (lo, hi) = range_of(&fit_part);
        let info = io::RatingsInfo {
            rows: if rows == RowsAre::Items {
                "items"
            } else {
                "users"
            }
            .into(),
            users: ratings.users.clone(),
            items: ratings.items.clone(),
            min: lo,
            max: hi,
            mean: mean_of(&fit_part) as f32,
        };
        let extras = io::ModelExtras {
            ratings: Some(info),
            ..Default::default()
        };
        io::save_model(p, &model, &extras, a.force)?;
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

/// (the training ratings, the held-out ones): `--test FILE` in `ratings`'
/// ID space (unknown IDs left out and counted), or a seeded split.
fn held_out(a: &TrainArgs, ratings: &Ratings, seed: u64) -> wgae::Result<(Ratings, Ratings)> {
    let Some(p) = &a.test else {
        return split_both(
            ratings,
            a.test_split.unwrap_or(0.1),
            seed,
            "--test-split",
            "hold out",
        );
    };
    let (test, dropped) = ratings.reindexed(&read_ratings(p, false, host_budget(a.host_memory))?);
    if dropped > 0 && !a.quiet {
        eprintln!(
            "{}: {dropped} ratings of users or items not in --data are left out",
            p.display()
        );
    }
    if test.is_empty() {
        return Err(wgae::Error::File {
            path: p.clone(),
            message: "none of its ratings is of a user and an item in --data".into(),
        });
    }
    Ok((ratings.clone(), test))
}

/// `r` split by `flag`'s seeded `share` into (kept, held out), refused
/// where either part is empty (too few ratings, or a share near 0 or 1):
/// an error measured on no ratings would read as 0.
pub fn split_both(
    r: &Ratings,
    share: f32,
    seed: u64,
    flag: &str,
    what: &str,
) -> wgae::Result<(Ratings, Ratings)> {
    let (keep, out) = r.split(share, seed).map_err(|_| {
        wgae::Error::InvalidArgument(format!("{flag} {share}: give a share above 0 and below 1"))
    })?;
    if keep.is_empty() || out.is_empty() {
        let test_file = if flag == "--test-split" {
            ", or the held-out ratings with --test FILE"
        } else {
            ""
        };
        return Err(wgae::Error::InvalidArgument(format!(
            "{flag} {share} of {} ratings leaves {} to train on and {} to {what}; give more \
             ratings or another {flag}{test_file}",
            r.len(),
            keep.len(),
            out.len(),
        )));
    }
    Ok((keep, out))
}

/// How AutoRec trains: the flags, and where they leave them its defaults:
/// the whole matrix (`rows` x `cols`) in one batch (or the rows that fit in
/// [`WHOLE_BATCH_BYTES`], and in 1/64 of a GPU memory `cap`), Adam at
/// 0.01 for 150 epochs, L2 weight decay 2e-3 (0.898 on MovieLens-100K;
/// BENCHMARKS.md).
fn autorec_train_config(
    a: &TrainArgs,
    rows: usize,
    cols: usize,
    cap: Option<u64>,
) -> wgae::TrainConfig {
    let mut t = train_config(a, None, true);
    t.validation_split = 0.0;
    t.early_stopping = None;
    if a.batch.is_none() {
        // A step holds several dense batches (input, mask, output, gradient).
        let bytes = cap.map_or(WHOLE_BATCH_BYTES, |c| WHOLE_BATCH_BYTES.min(c / 64));
        let fit = (bytes / (cols as u64 * 4)).max(1) as usize;
        t.batch_size = rows.min(fit);
    }
    if a.lr.is_none() {
        t.lr = 0.01;
    }
    if a.epochs.is_none() {
        t.epochs = 150;
    }
    if a.weight_decay.is_none() {
        t.weight_decay = 2e-3;
    }
    t
}

/// The rating matrix and the ratings it was built from, the share that
/// chooses the epoch, and the held-out ones.
struct Sets<'a> {
    source: &'a Source,
    fit: &'a Ratings,
    val: Option<&'a Ratings>,
    test: &'a Ratings,
    rows: RowsAre,
}

/// Trains epoch by epoch, printing the held-out ratings' RMSE and MAE after
/// each; with `--early-stop N`, stops after N epochs without a better RMSE
/// on the chosen share and returns the best epoch's weights.
fn fit_epochs(
    a: &TrainArgs,
    trainer: &mut Trainer,
    s: &Sets,
    epochs: usize,
) -> wgae::Result<Option<(usize, Vec<f32>)>> {
    let (mut best, mut best_rmse, mut since) = (None, f64::INFINITY, 0usize);
    while trainer.epochs_done() < epochs {
        let h = trainer.fit(|_| Control::Stop, |_| {})?;
        let Some(report) = h.epochs.last() else { break };
        let e = held_out_errors(trainer.model(), s.source, s.fit, s.rows, s.test)?;
        let chosen = s
            .val
            .map(|v| held_out_errors(trainer.model(), s.source, s.fit, s.rows, v))
            .transpose()?;
        if a.json {
            println!(
                "{{\"epoch\":{},\"train_loss\":{},\"test_rmse\":{},\"test_mae\":{}{}}}",
                report.epoch,
                report.train_loss,
                e.rmse,
                e.mae,
                chosen
                    .as_ref()
                    .map_or(String::new(), |c| format!(",\"val_rmse\":{}", c.rmse))
            );
        } else if !a.quiet {
            eprintln!(
                "epoch {:3}: loss {:.5}  held-out RMSE {:.4}  MAE {:.4}{}",
                report.epoch,
                report.train_loss,
                e.rmse,
                e.mae,
                chosen.as_ref().map_or(String::new(), |c| format!(
                    "  chosen-share RMSE {:.4}",
                    c.rmse
                ))
            );
        }
        if h.interrupted {
            return Err(wgae::Error::Interrupted(format!(
                "training stopped after epoch {}; nothing was saved",
                trainer.epochs_done()
            )));
        }
        if let (Some(c), Some(patience)) = (chosen, a.early_stop) {
            if c.rmse < best_rmse {
                (best_rmse, since) = (c.rmse, 0);
                best = Some((report.epoch, trainer.model().params_host()?));
            } else {
                since += 1;
                if since >= patience {
                    break;
                }
            }
        }
    }
    Ok(best)
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
pub fn refuse_other_flags(a: &TrainArgs) -> wgae::Result<()> {
    if a.val_split.is_some() && a.early_stop.is_none() {
        return Err(wgae::Error::InvalidArgument(
            "--val-split with --rows is the share of training ratings that chooses the epoch \
             for --early-stop; add --early-stop N, or leave --val-split out"
                .into(),
        ));
    }
    let given = [
        ("--config", a.config.is_some()),
        ("--resume", a.resume.is_some()),
        ("--window", a.series.window.is_some()),
        ("--val", a.val.is_some()),
        ("--scale", a.scale != crate::cli::Scale::None),
        ("--limit", a.limit.is_some()),
        ("--format", a.format.is_some()),
        ("--rgb", a.rgb),
        ("--report", a.report.is_some()),
        ("--checkpoint-dir", a.checkpoint_dir.is_some()),
    ];
    match given.iter().find(|(_, on)| *on) {
        Some((flag, _)) => Err(wgae::Error::InvalidArgument(format!(
            "{flag} does not apply with --rows or --implicit (ratings or interactions, held \
             out by --test-split); leave it out"
        ))),
        None => Ok(()),
    }
}

/// The ratings (or, with `implicit`, interactions) at `path`: a pipe is
/// spooled first within `budget` bytes (`--host-memory`), and a file
/// larger than `budget` is refused before it is read, so that a device, an
/// endless pipe or a file beyond memory ends in an error naming it.
pub fn read_ratings(path: &std::path::Path, implicit: bool, budget: u64) -> wgae::Result<Ratings> {
    let held = crate::cli::data::DataPath::new(path, budget)?;
    let size = std::fs::metadata(held.path()).map_or(0, |m| m.len());
    if size > budget {
        return Err(wgae::Error::File {
            path: path.to_path_buf(),
            message: format!(
                "its {} MiB are more than the host budget of {} MiB (--host-memory)",
                size >> 20,
                budget >> 20
            ),
        });
    }
    Ratings::load_within(held.path(), implicit, budget).map_err(|e| held.name_errors(e))
}
