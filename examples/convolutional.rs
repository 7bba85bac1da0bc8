//! The Keras blog's convolutional autoencoder on MNIST, built in Rust (the
//! same model as examples/configs/conv.toml): three conv + max-pool stages
//! down to a 4x4x8 code, three conv + upsample stages back, sigmoid output,
//! BCE, Adam, batch 128. Writes the originals above their reconstructions to
//! conv_reconstructions.png.
//!
//!     cargo run --release --example convolutional
//!
//! MNIST from WGAE_MNIST_DIR (default ../shared/data/mnist), else synthetic
//! digits; N=4000 images by default (N=..., EPOCHS=... to change).

mod common;

use wgae::model::{LayerDesc, Padding};
use wgae::{report, GpuContext, ModelConfig, TrainConfig, Trainer};

fn main() -> wgae::Result<()> {
    let ctx = GpuContext::new()?;
    let n = std::env::var("N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000);
    let data = common::digits(n);
    let (train, val) = data.split_validation(0.2)?;
    let conv = |filters| LayerDesc::conv2d(filters, 3, Padding::same());
    let pool = || LayerDesc::max_pool2d(2, Padding::same());
    let model = ModelConfig::layered(
        &[1, 28, 28],
        vec![conv(16), pool(), conv(8), pool(), conv(8), pool()],
        vec![
            conv(8),
            LayerDesc::upsample2d(2),
            conv(8),
            LayerDesc::upsample2d(2),
            LayerDesc::conv2d(16, 3, Padding::default()),
            LayerDesc::upsample2d(2),
            conv(1),
        ],
    );
    print!("{}", model.summary());
    let tcfg = TrainConfig {
        epochs: common::epochs(5),
        batch_size: 128,
        ..TrainConfig::default()
    };
    println!("adapter: {}", ctx.adapter_name());
    let mut trainer = Trainer::new(&ctx, &model, &tcfg, &train, Some(&val))?;
    let history = trainer.fit(common::print_epoch, |_| {})?;
    if let Some(last) = history.epochs.last() {
        println!(
            "validation BCE per pixel after {} epochs: {:.4}",
            last.epoch,
            last.val_loss.unwrap_or(f64::NAN)
        );
    }
    let shown = val.take(10);
    let rec = trainer.model().reconstruct(&shown)?;
    report::save_reconstructions(
        std::path::Path::new("conv_reconstructions.png"),
        &shown.data,
        &rec,
        28,
        shown.rows,
    )?;
    println!("wrote conv_reconstructions.png (originals above reconstructions)");
    Ok(())
}
