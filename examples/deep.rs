//! A deep (stacked) autoencoder, 784-128-64-32-64-128-784, and its
//! reconstructions as a picture.
//!
//!     cargo run --release --example deep

#[path = "common/mod.rs"]
mod common;

use wgae::{report, GpuContext, ModelConfig, TrainConfig, Trainer};

fn main() -> wgae::Result<()> {
    let ctx = GpuContext::new()?;
    let data = common::digits(6000);
    let (train, test) = data.split_validation(0.1)?;
    let model = ModelConfig::dense(784, &[128, 64, 32]);
    let t = TrainConfig {
        epochs: common::epochs(8),
        batch_size: 128,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(&ctx, &model, &t, &train, Some(&test))?;
    trainer.fit(common::print_epoch, |_| {})?;
    let sample = test.take(10);
    let rec = trainer.model().reconstruct(&sample)?;
    let out = std::path::Path::new("deep_reconstructions.png");
    report::save_reconstructions(out, &sample.data, &rec, 28, 10)?;
    println!("originals above reconstructions: {}", out.display());
    Ok(())
}
