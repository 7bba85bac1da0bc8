//! What `wgae train` keeps when training ends: the model file (with the
//! final error statistics and code statistics), the report and the summary
//! line; after a divergence, the last finite weights.

use wgae::data::Source;
use wgae::train::History;
use wgae::{io, report, Autoencoder, Precision, Trainer};

use crate::cli::data;
use crate::cli::train_config::TrainArgs;
use crate::cli::train_report::{write_report, REPORT_ROWS};

/// What the model file keeps of the data beside the weights: the input
/// transform, a sample's stored dimensions, and the windows of a series.
pub struct Kept {
    pub transform: Option<(Vec<f32>, Vec<f32>)>,
    pub sample_dims: Option<Vec<usize>>,
    pub window: Option<io::WindowInfo>,
}

/// After a divergence: `--save` keeps the last finite weights (never NaN),
/// and the error stands, saying to scale data too large for f32 sums
/// (which diverges at any rate) instead of lowering the rate.
pub fn after_divergence(
    a: &TrainArgs,
    trainer: &Trainer,
    data: &Source,
    kept: &Kept,
    e: wgae::Error,
) -> wgae::Error {
    let saved = (|| -> wgae::Result<()> {
        let Some(p) = &a.save else { return Ok(()) };
        let extras = io::ModelExtras {
            code_stats: Some(io::CodeStats::of_source(
                trainer.model(),
                &data.slice(0, trainer.train_rows()),
            )?),
            transform: kept.transform.clone(),
            sample_dims: kept.sample_dims.clone(),
            train_errors: None,
            window: kept.window.clone(),
            ratings: None,
        };
        io::save_model(p, trainer.model(), &extras, a.force)?;
        let when = match trainer.epochs_done() {
            0 => "the initial weights".to_string(),
            n => format!("those after epoch {n}"),
        };
        eprintln!("saved the last finite weights ({when}) to {}", p.display());
        Ok(())
    })();
    if let Err(s) = saved {
        return s;
    }
    match (data.max_abs(), &e) {
        (Ok(largest), wgae::Error::Diverged { epoch, loss, .. }) if largest > 1e6 => {
            wgae::Error::InvalidArgument(format!(
                "training diverged in epoch {epoch} (the loss was {loss}): the data holds \
                 values up to {largest:e}{}, which float32 arithmetic overflows at any \
                 learning rate; scale it (--scale standard) and train again",
                if kept.transform.is_some() {
                    " even after --scale"
                } else {
                    ""
                }
            ))
        }
        _ => e,
    }
}

/// After training: the model file, the report, and the summary line (or
/// JSON), from the final model's error and codes on the training rows,
/// read block by block.
#[allow(clippy::too_many_arguments)]
pub fn finish(
    a: &TrainArgs,
    model_ref: &Autoencoder,
    streamed: bool,
    history: &History,
    last: &wgae::EpochReport,
    train_part: (Source, Option<Vec<u32>>),
    held_out: Option<(Source, Option<Vec<u32>>)>,
    kept: Kept,
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
            transform: kept.transform,
            sample_dims: kept.sample_dims.clone(),
            train_errors,
            window: kept.window.clone(),
            ratings: None,
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
        // Windows of a series are not pictures.
        let pic = report::Picture::of(kept.sample_dims.as_deref(), shown.cols)
            .filter(|_| kept.window.is_none());
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
