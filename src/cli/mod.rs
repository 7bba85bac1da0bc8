//! The commands of the `wgae` binary, one file each; `main.rs` parses the
//! flags and calls them. This file holds what several commands share: a
//! saved model with data to run it on, where a result goes, the GPU, and
//! loading data.

pub mod anomaly;
pub mod bench;
pub mod encode;
pub mod generate;
pub mod info;
pub mod reconstruct;
pub mod train;

use std::path::PathBuf;

use clap::Args;
use wgae::data::{files, Dataset};
use wgae::{io, Autoencoder, GpuContext, Precision};

/// A saved model and data to run it on.
#[derive(Args)]
pub struct ModelData {
    /// A model file written by `wgae train --save`.
    #[arg(long)]
    pub model: PathBuf,
    /// The data: IDX, .npy, CSV, or a folder of images, as many features per
    /// sample as the model's input.
    #[arg(long)]
    pub data: PathBuf,
    /// Override format detection: idx, npy, csv, images.
    #[arg(long)]
    pub format: Option<files::Format>,
    /// Inference arithmetic: f32, or f16 (mixed precision: f16 weights and
    /// activations, f32 sums; needs an adapter with shader-f16, see `wgae info`).
    #[arg(long, default_value = "f32", value_parser = parse_precision)]
    pub precision: Precision,
}

impl ModelData {
    /// The model, and the data in the model's scaling.
    pub fn load(&self, ctx: &GpuContext) -> wgae::Result<(Autoencoder, Dataset)> {
        let m = io::load_model(ctx, &self.model)?;
        let ds = load_for(&m, &self.model, &self.data, self.format)?;
        Ok((m, ds))
    }
}

pub fn parse_precision(s: &str) -> Result<Precision, String> {
    s.parse().map_err(|e: wgae::Error| e.to_string())
}

/// Where a command writes its result.
#[derive(Args)]
pub struct Output {
    /// The output file.
    #[arg(long)]
    pub out: PathBuf,
    /// Overwrite the output if it exists.
    #[arg(long)]
    pub force: bool,
}

/// Opens the GPU; the library itself warns when it falls back to a software adapter.
pub fn open_gpu() -> wgae::Result<GpuContext> {
    GpuContext::new()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scale {
    None,
    Unit,
    Standard,
}

pub fn load_data(
    path: &std::path::Path,
    format: Option<files::Format>,
    limit: Option<usize>,
    rgb: bool,
) -> wgae::Result<Dataset> {
    let ds = if rgb && path.is_dir() {
        files::load_images(path, None, true)?
    } else {
        files::load(path, format)?
    };
    Ok(match limit {
        Some(n) => ds.take(n),
        None => ds,
    })
}

/// Data for a saved model: loaded, checked against its width, and put through
/// the input transform it was trained with.
pub fn load_for(
    model: &Autoencoder,
    model_path: &std::path::Path,
    data: &std::path::Path,
    format: Option<files::Format>,
) -> wgae::Result<Dataset> {
    let mut ds = files::load(data, format)?;
    let want = model.config().input_dim;
    if ds.cols != want {
        return Err(wgae::Error::File {
            path: data.to_path_buf(),
            message: format!(
                "{} features per sample, but the model expects {want}",
                ds.cols
            ),
        });
    }
    if let Some((offset, scale)) = io::load_extras(model_path)?.transform {
        ds.apply_transform(&offset, &scale);
    }
    if model.config().is_layered() {
        let shape = model.config().sample_shape()?;
        ds = ds.for_shape(shape).map_err(|e| wgae::Error::File {
            path: data.to_path_buf(),
            message: e.to_string(),
        })?;
    }
    Ok(ds)
}

pub fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes / (1024 * 1024))
}
