//! Mixed-precision inference: the same trained model run in f32 and in f16
//! (f16 weights and activations, f32 sums), compared for speed and for how
//! far the f16 results land from the f32 ones. Needs an adapter with
//! shader-f16 (`wgae info` says; lavapipe has it).
//!
//!     cargo run --release --example mixed_precision

#[path = "common/mod.rs"]
mod common;

use std::time::Instant;

use wgae::{GpuContext, ModelConfig, Precision, TrainConfig, Trainer};

fn main() -> wgae::Result<()> {
    let ctx = GpuContext::new()?;
    if !ctx.has_f16() {
        eprintln!(
            "adapter '{}' has no shader-f16, so there is no f16 to compare; try another \
             adapter (wgae info)",
            ctx.adapter_name()
        );
        return Ok(());
    }
    let data = common::digits(6000);
    let (train, test) = data.split_validation(0.2)?;
    let model = ModelConfig::dense(784, &[128, 32]);
    let t = TrainConfig {
        epochs: common::epochs(5),
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(&ctx, &model, &t, &train, None)?;
    trainer.fit(common::print_epoch, |_| {})?;
    let ae = trainer.model();

    let mut results = Vec::new();
    for precision in [Precision::F32, Precision::F16] {
        ae.reconstruct_with(&test, precision)?; // warm-up: pipelines, buffers
        let t0 = Instant::now();
        let rec = ae.reconstruct_with(&test, precision)?;
        let rate = test.rows as f64 / t0.elapsed().as_secs_f64();
        let scores = ae.reconstruction_error_with(&test, precision)?;
        let codes = ae.encode_with(&test, precision)?;
        let mean = scores.iter().map(|&s| f64::from(s)).sum::<f64>() / scores.len() as f64;
        println!(
            "{}: {rate:>8.0} samples/s, mean reconstruction MSE/pixel {mean:.6}",
            precision.name()
        );
        results.push((rec, codes, mean));
    }
    let max_diff = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max)
    };
    let (r32, c32, m32) = &results[0];
    let (r16, c16, m16) = &results[1];
    let code_scale = c32.iter().map(|v| v.abs()).fold(0.0f32, f32::max);
    println!("f16 against f32:");
    println!(
        "  reconstructions: largest difference {:.2e} (pixels in [0, 1])",
        max_diff(r32, r16)
    );
    println!(
        "  codes:           largest difference {:.2e} (codes reach {code_scale:.2})",
        max_diff(c32, c16)
    );
    println!(
        "  mean score:      {:.2e} relative",
        (m16 - m32).abs() / m32
    );
    Ok(())
}
