//! A variational autoencoder with a 2-D code: the ELBO per epoch, the code
//! space coloured by digit, and samples decoded from the prior.
//!
//!     cargo run --release --example variational

#[path = "common/mod.rs"]
mod common;

use wgae::{report, GpuContext, ModelConfig, TrainConfig, Trainer};

fn main() -> wgae::Result<()> {
    let ctx = GpuContext::new()?;
    let data = common::digits(6000);
    let model = ModelConfig::dense(784, &[256, 2]).variational(1.0);
    let t = TrainConfig {
        epochs: common::epochs(10),
        batch_size: 128,
        lr: 2e-3,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(&ctx, &model, &t, &data, None)?;
    trainer.fit(common::print_epoch, |_| {})?;
    let vae = trainer.model();
    let few = data.take(2000);
    let codes = vae.encode(&few)?;
    let pts: Vec<(f32, f32)> = codes.chunks(2).map(|c| (c[0], c[1])).collect();
    report::save_scatter(
        "vae_codes.png".as_ref(),
        &pts,
        few.labels.as_deref(),
        "VAE code means",
        ("z1", "z2"),
    )?;
    let samples = vae.sample_prior(40, 3)?;
    let images: Vec<&[f32]> = samples.chunks(784).collect();
    report::save_grid("vae_samples.png".as_ref(), &images, 28, 10, 3)?;
    println!("wrote vae_codes.png and vae_samples.png");
    Ok(())
}
