//! A denoising autoencoder: trained on inputs corrupted on the GPU with
//! Gaussian noise, against the clean images. The picture shows noisy inputs,
//! a plain model's reconstructions and the denoising model's.
//!
//!     cargo run --release --example denoising

#[path = "common/mod.rs"]
mod common;

use wgae::kernels::Noise;
use wgae::{reference, report, Control, Dataset, GpuContext, ModelConfig, TrainConfig, Trainer};

fn main() -> wgae::Result<()> {
    let ctx = GpuContext::new()?;
    let data = common::digits(3000);
    let (train, test) = data.split_validation(0.1)?;
    let noise = Noise::Gaussian(0.5);
    let t = TrainConfig {
        epochs: common::epochs(8),
        batch_size: 128,
        lr: 3e-3,
        ..TrainConfig::default()
    };
    let plain = ModelConfig::dense(784, &[256]);
    let mut models = Vec::new();
    for cfg in [plain.clone(), plain.noise(noise)] {
        let mut trainer = Trainer::new(&ctx, &cfg, &t, &train, None)?;
        trainer.fit(|_| Control::Continue, |_| {})?;
        models.push(trainer.into_model());
    }
    // The same kind of noise, drawn on the host from the same generator.
    let sample = test.take(10);
    let noisy: Vec<f32> = reference::noise(noise, 123, 0, 0, &sample.data)
        .iter()
        .map(|&v| v.clamp(0.0, 1.0) as f32)
        .collect();
    let noisy = Dataset::new(noisy, sample.rows, 784, None)?;
    let mut rows: Vec<Vec<f32>> = vec![noisy.data.clone()];
    for (name, m) in ["plain", "denoising"].iter().zip(&models) {
        let rec = m.reconstruct(&noisy)?;
        let mse = rec
            .iter()
            .zip(&sample.data)
            .map(|(a, b)| f64::from(a - b).powi(2))
            .sum::<f64>()
            / rec.len() as f64;
        println!("{name}: MSE to the clean images {mse:.4}");
        rows.push(rec);
    }
    let images: Vec<&[f32]> = rows.iter().flat_map(|r| r.chunks(784)).collect();
    let out = std::path::Path::new("denoising.png");
    report::save_grid(out, &images, 28, 10, 3)?;
    println!("rows: noisy input, plain, denoising: {}", out.display());
    Ok(())
}
