//! Shared by the examples: MNIST when it is around (WGAE_MNIST_DIR, default
//! ../shared/data/mnist), otherwise the built-in synthetic digits.
#![allow(dead_code)]

use wgae::data::{idx, synthetic, Dataset};
use wgae::EpochReport;

pub fn digits(n: usize) -> Dataset {
    let dir = mnist_dir();
    match idx::load_mnist(&dir, "train").or_else(|_| idx::load_mnist(&dir, "t10k")) {
        Ok(d) => {
            println!(
                "data: MNIST from {} ({} of {} images)",
                dir.display(),
                n.min(d.rows),
                d.rows
            );
            d.take(n)
        }
        Err(_) => {
            println!("data: {n} built-in synthetic digits (set WGAE_MNIST_DIR for MNIST)");
            synthetic::digits(n, 7)
        }
    }
}

pub fn epochs(default: usize) -> usize {
    std::env::var("EPOCHS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn print_epoch(r: &EpochReport) -> wgae::Control {
    let mut line = format!("epoch {:>2}: loss {:.4}", r.epoch, r.train_loss);
    if let Some(v) = r.val_loss {
        line += &format!("  val {v:.4}");
    }
    if let Some(e) = r.elbo {
        line += &format!("  elbo {e:.1}");
    }
    println!("{line}  ({:.0} samples/s)", r.samples_per_sec);
    wgae::Control::Continue
}

/// The MNIST directory: `WGAE_MNIST_DIR`, or `../shared/data/mnist`.
pub fn mnist_dir() -> std::path::PathBuf {
    std::env::var_os("WGAE_MNIST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from("../shared/data/mnist"))
}
