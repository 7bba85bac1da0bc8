//! The classic Keras autoencoder on MNIST: 784-32-784, relu code, sigmoid
//! output, binary cross-entropy, Adam, batch 256.
//!
//!     cargo run --release --example mnist_autoencoder
//!
//! Reads MNIST from WGAE_MNIST_DIR (default ../shared/data/mnist): the
//! training split when present, else the 10,000-image test split.

mod common;

use wgae::data::idx;
use wgae::{Control, GpuContext, ModelConfig, TrainConfig, Trainer};

fn main() -> wgae::Result<()> {
    let ctx = GpuContext::new()?;
    let dir = common::mnist_dir();
    let data = idx::load_mnist(&dir, "train").or_else(|_| idx::load_mnist(&dir, "t10k"))?;
    let epochs = std::env::var("EPOCHS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    println!(
        "adapter: {}; {} images of {} pixels",
        ctx.adapter_name(),
        data.rows,
        data.cols
    );
    let (train, val) = data.split_validation(0.2)?;
    let model = ModelConfig::dense(784, &[32]);
    let tcfg = TrainConfig {
        epochs,
        batch_size: 256,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(&ctx, &model, &tcfg, &train, Some(&val))?;
    trainer.fit(
        |r| {
            println!(
                "epoch {:>2}: loss {:.4}  val {:.4}  mse/pixel {:.4}  {:.0} samples/s",
                r.epoch,
                r.train_loss,
                r.val_loss.unwrap_or(f64::NAN),
                r.recon_mse,
                r.samples_per_sec
            );
            Control::Continue
        },
        |_| {},
    )?;
    Ok(())
}
