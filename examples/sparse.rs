//! Sparse autoencoders: an L1 activity penalty and KL sparsity, each against a
//! plain model with the same seed, comparing the mean code activation.
//!
//!     cargo run --release --example sparse

#[path = "common/mod.rs"]
mod common;

use wgae::{Activation, Control, GpuContext, ModelConfig, TrainConfig, Trainer};

fn mean_activation(
    ctx: &GpuContext,
    cfg: &ModelConfig,
    t: &TrainConfig,
    data: &wgae::Dataset,
) -> wgae::Result<f64> {
    let mut trainer = Trainer::new(ctx, cfg, t, data, None)?;
    trainer.fit(|_| Control::Continue, |_| {})?;
    let codes = trainer.model().encode(data)?;
    Ok(codes.iter().map(|v| f64::from(v.abs())).sum::<f64>() / codes.len() as f64)
}

fn main() -> wgae::Result<()> {
    let ctx = GpuContext::new()?;
    let data = common::digits(3000);
    let t = TrainConfig {
        epochs: common::epochs(5),
        batch_size: 128,
        ..TrainConfig::default()
    };
    let relu = ModelConfig::dense(784, &[64]);
    let plain = mean_activation(&ctx, &relu, &t, &data)?;
    let l1 = mean_activation(&ctx, &relu.clone().l1(1e-3), &t, &data)?;
    println!("relu code, mean |h|: plain {plain:.4}, L1 (1e-3) {l1:.4}");
    let sig = relu.code_act(Activation::Sigmoid);
    let plain = mean_activation(&ctx, &sig, &t, &data)?;
    let kl = mean_activation(&ctx, &sig.clone().kl_sparsity(0.05, 1.0), &t, &data)?;
    println!("sigmoid code, mean h: plain {plain:.4}, KL (rho 0.05) {kl:.4}");
    Ok(())
}
