//! Writes the random draws of a wgae training run, so that another framework
//! can train from the same ones: each seed's initial weights (a model file,
//! PyTorch's names and layouts) and its batch order (the shuffled row indices
//! of every epoch, an `epochs x rows` .npy of f32). `scripts/
//! compare_conv_quality.py --paired DIR` reads them.
//!
//!     cargo run --release --example export_draws -- CONFIG ROWS EPOCHS SEEDS DIR
//!     cargo run --release --example export_draws -- examples/configs/conv.toml 8000 10 1-8 draws

use std::path::Path;

use wgae::train::ConfigFile;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [config, rows, epochs, seeds, dir] = args.as_slice() else {
        return Err("usage: export_draws CONFIG ROWS EPOCHS FIRST-LAST DIR".into());
    };
    let cfg = ConfigFile::from_toml(&std::fs::read_to_string(config)?)?.model;
    let (rows, epochs): (usize, u32) = (rows.parse()?, epochs.parse()?);
    let (first, last) = seeds.split_once('-').unwrap_or((seeds, seeds));
    let (first, last): (u64, u64) = (first.parse()?, last.parse()?);
    std::fs::create_dir_all(dir)?;
    let ctx = wgae::GpuContext::new()?;
    for seed in first..=last {
        // The trainer draws its initial weights from its seed, as here.
        let model = wgae::Autoencoder::new(&ctx, &cfg, seed)?;
        let path = Path::new(dir).join(format!("init{seed}.safetensors"));
        wgae::io::save_model(&path, &model, &wgae::io::ModelExtras::default(), true)?;
        // Epoch e's order is the permutation the GPU shuffle draws (its f64
        // twin, which the tests hold to the GPU's, index for index).
        let order: Vec<f32> = (0..epochs)
            .flat_map(|e| wgae::reference::permute(rows, seed, e))
            .map(|i| i as f32)
            .collect();
        let bytes = wgae::io::npy_bytes(&order, epochs as usize, rows);
        std::fs::write(Path::new(dir).join(format!("order{seed}.npy")), bytes)?;
        println!("seed {seed}: init{seed}.safetensors, order{seed}.npy");
    }
    Ok(())
}
