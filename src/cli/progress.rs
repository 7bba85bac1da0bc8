//! Training as `wgae train` shows it: a progress bar, a line per epoch,
//! and a loud warning when the loss explodes but stays finite (a NaN is
//! caught as a divergence by the trainer).

use indicatif::{ProgressBar, ProgressStyle};
use wgae::data::Source;
use wgae::train::History;
use wgae::{Control, Precision, Trainer};

/// Trains with a progress bar (`show`) and a line per epoch (unless
/// `quiet`; on stderr with `json`, whose summary takes stdout).
pub fn fit_with_progress(
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
