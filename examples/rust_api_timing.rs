//! Times training and encoding through the Rust API on the rows of an .npy
//! file, the same work `python/benchmarks/overhead.py` times through Python,
//! so that the two can be put side by side. Prints one JSON line.
//!
//!     cargo run --release --example rust_api_timing -- DATA.npy WIDTHS EPOCHS BATCH
//!     cargo run --release --example rust_api_timing -- x.npy 128,32 3 256

use std::path::Path;
use std::time::Instant;

use wgae::{Control, GpuContext, ModelConfig, TrainConfig, Trainer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [data, widths, epochs, batch] = args.as_slice() else {
        return Err("usage: rust_api_timing DATA.npy WIDTHS EPOCHS BATCH".into());
    };
    let widths: Vec<usize> = widths
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let ds = wgae::data::files::load_npy(Path::new(data))?;
    let ctx = GpuContext::new()?;
    let cfg = ModelConfig::dense(ds.cols, &widths)
        .out_act(wgae::Activation::Identity)
        .loss(wgae::LossKind::Mse);
    let tcfg = TrainConfig {
        epochs: epochs.parse()?,
        batch_size: batch.parse()?,
        seed: 0,
        ..TrainConfig::default()
    };
    // Warm the pipelines up, as the Python side's first call does.
    Trainer::new(
        &ctx,
        &cfg,
        &TrainConfig {
            epochs: 1,
            ..tcfg.clone()
        },
        &ds.take(512),
        None,
    )?
    .fit(|_| Control::Continue, |_| {})?;
    let t0 = Instant::now();
    let mut trainer = Trainer::new(&ctx, &cfg, &tcfg, &ds, None)?;
    trainer.fit(|_| Control::Continue, |_| {})?;
    let fit = t0.elapsed().as_secs_f64();
    let model = trainer.into_model();
    model.encode(&ds)?;
    let t1 = Instant::now();
    let codes = model.encode(&ds)?;
    let encode = t1.elapsed().as_secs_f64();
    println!(
        "{{\"rows\": {}, \"cols\": {}, \"fit_s\": {fit:.4}, \"encode_s\": {encode:.4}, \"code\": {}, \"adapter\": \"{}\"}}",
        ds.rows,
        ds.cols,
        codes.len() / ds.rows,
        ctx.adapter_name()
    );
    Ok(())
}
