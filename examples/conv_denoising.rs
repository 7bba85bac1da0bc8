//! The Keras blog's convolutional denoising autoencoder
//! (examples/configs/conv_denoising.toml): trained on MNIST digits with
//! Gaussian noise (std 0.5) made on the GPU, against the clean digits. Writes
//! noisy inputs above their denoised reconstructions to conv_denoising.png.
//!
//!     cargo run --release --example conv_denoising
//!
//! N=... images (default 3000), EPOCHS=... (default 5); batch 32 and Adam
//! at 2e-3 here, for a short run.

mod common;

use wgae::kernels::Noise;
use wgae::train::ConfigFile;
use wgae::{reference, report, Dataset, GpuContext, Trainer};

fn main() -> wgae::Result<()> {
    let ctx = GpuContext::new()?;
    let file = ConfigFile::from_toml(include_str!("configs/conv_denoising.toml"))?;
    print!("{}", file.model.summary());
    let n = std::env::var("N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let data = common::digits(n);
    let (train, test) = data.split_validation(0.1)?;
    // Smaller batches than the config's (more steps per image) and a
    // higher rate, so that a few epochs on a few thousand images already
    // denoise; the config's settings are for a full run.
    let t = wgae::TrainConfig {
        epochs: common::epochs(5),
        batch_size: 32,
        lr: 2e-3,
        ..file.train
    };
    let mut trainer = Trainer::new(&ctx, &file.model, &t, &train, None)?;
    trainer.fit(common::print_epoch, |_| {})?;
    // The same noise as in training, drawn on the host, clamped to [0, 1].
    let sample = test.take(10);
    let noisy: Vec<f32> = reference::noise(Noise::Gaussian(0.5), 123, 0, 0, &sample.data)
        .iter()
        .map(|&v| v.clamp(0.0, 1.0) as f32)
        .collect();
    let noisy = Dataset::new(noisy, sample.rows, 784, None)?;
    let clean = trainer.model().reconstruct(&noisy)?;
    let mse = |a: &[f32]| {
        a.iter()
            .zip(&sample.data)
            .map(|(x, y)| f64::from(x - y).powi(2))
            .sum::<f64>()
            / a.len() as f64
    };
    println!(
        "MSE to the clean digits: noisy input {:.4}, denoised {:.4}",
        mse(&noisy.data),
        mse(&clean)
    );
    report::save_reconstructions(
        std::path::Path::new("conv_denoising.png"),
        &noisy.data,
        &clean,
        28,
        sample.rows,
    )?;
    println!("wrote conv_denoising.png (noisy inputs above their denoised reconstructions)");
    Ok(())
}
