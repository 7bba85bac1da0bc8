//! The commands of the `wgae` binary, one file each; `main.rs` parses the
//! flags and calls them. This file holds what several commands share: a
//! saved model with data to run it on, where a result goes, the GPU, and
//! loading data.

pub mod anomaly;
pub mod anomaly_window;
pub mod bench;
pub mod bench_stream;
pub mod convert;
pub mod data;
pub mod encode;
pub mod export;
pub mod generate;
pub mod implicit;
pub mod impute;
pub mod info;
pub mod interrupt;
pub mod progress;
pub mod ratings;
pub mod ratings_eval;
pub mod recommend;
pub mod reconstruct;
pub mod resume;
pub mod series;
pub mod size;
pub mod train;
pub mod train_config;
pub mod train_finish;
pub mod train_report;
pub mod words;

pub use size::mib;

use std::path::PathBuf;

use clap::Args;
use wgae::data::{files, Source};
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
    /// The most GPU memory wgae may use, e.g. 512M or 2G.
    #[arg(long, value_parser = size::parse_size)]
    pub gpu_memory: Option<u64>,
}

/// How a model's samples make a picture: the shape its file keeps, its
/// own input shape (convolutional models), or a square.
pub fn picture_of(m: &Autoencoder, extras: &io::ModelExtras) -> Option<wgae::report::Picture> {
    let cols = m.config().input_dim;
    let own = m
        .config()
        .sample_shape()
        .ok()
        .filter(|_| m.config().is_layered())
        .map(|[c, h, w]| vec![c, h, w]);
    wgae::report::Picture::of(extras.sample_dims.as_deref().or(own.as_deref()), cols)
}

/// A saved model's input: its rows (read block by block, from the
/// mapped file where it is a .npy or raw IDX file) in the model's scaling,
/// and their labels.
pub struct Input {
    pub source: Source,
    pub labels: Option<Vec<u32>>,
    /// What the model file keeps beside the weights.
    pub extras: io::ModelExtras,
    /// The temporary file holding a pipe's data, while the rows are read.
    _held: data::DataPath,
}

impl ModelData {
    /// The model, and the data in the model's scaling.
    pub fn load(&self, ctx: &GpuContext) -> wgae::Result<(Autoencoder, Input)> {
        let (m, extras) = io::load_model_with_extras(ctx, &self.model)?;
        let m = m.with_plan_options(plan_options()?);
        let input = open_for(&m, extras, &self.data, self.format)?;
        if self.precision == Precision::F16 {
            // f16 holds magnitudes up to 65504: beyond, values would clamp
            // and the codes and scores go wrong without a word.
            let largest = input.source.max_abs()?;
            if largest > F16_MAX {
                return Err(wgae::Error::File {
                    path: self.data.clone(),
                    message: format!(
                        "holds values up to {largest:e} (in the model's scaling), beyond f16's \
                         {F16_MAX}: use --precision f32, or a model trained on scaled data \
                         (--scale standard)"
                    ),
                });
            }
        }
        Ok((m, input))
    }
}

/// The largest finite f16.
const F16_MAX: f32 = 65504.0;

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

/// The format of an output file, from its extension (in any case), if it
/// is one of `allowed`; otherwise an error listing them. Checked before
/// any work, so that a `.npy` never holds a PNG.
pub fn out_format(out: &std::path::Path, allowed: &[&'static str]) -> wgae::Result<&'static str> {
    let ext = out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    allowed
        .iter()
        .copied()
        .find(|a| ext.as_deref() == Some(*a))
        .ok_or_else(|| {
            let list: Vec<String> = allowed.iter().map(|a| format!(".{a}")).collect();
            wgae::Error::File {
                path: out.to_path_buf(),
                message: format!(
                    "--out must end in {} (the format follows the extension)",
                    match list.split_last() {
                        Some((last, [])) => last.clone(),
                        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
                        None => String::new(),
                    }
                ),
            }
        })
}

/// Opens the GPU (with the environment's options, and `gpu_memory` as the
/// cap on what wgae may use); the library itself warns when it falls back
/// to a software adapter.
pub fn open_gpu(gpu_memory: Option<u64>) -> wgae::Result<GpuContext> {
    open_gpu_within(gpu_memory, None)
}

/// How the CLI's models are planned: `WGAE_FUSE_ACT_GRAD` and `WGAE_CONV`
/// (README), the adapter's defaults where unset.
pub fn plan_options() -> wgae::Result<wgae::plan::PlanOptions> {
    wgae::env::plan_options()
}

/// [`open_gpu`], with the data's host memory held to about `host_memory`:
/// a streamed dataset's buffers are kept to an eighth of it each (the
/// host holds a chunk while wgpu stages two).
pub fn open_gpu_within(
    gpu_memory: Option<u64>,
    host_memory: Option<u64>,
) -> wgae::Result<GpuContext> {
    let mut opts = wgae::env::context_options()?;
    if gpu_memory.is_some() {
        opts.gpu_memory = gpu_memory;
    }
    if let Some(h) = host_memory {
        let slot = (h / 8).max(1);
        opts.stream_slot = Some(opts.stream_slot.map_or(slot, |s| s.min(slot)));
    }
    GpuContext::with_options(&opts)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scale {
    None,
    Unit,
    Standard,
}

/// Data for a saved model: opened (mapped where it can be, so that any
/// size is read with bounded memory), checked against its width, and put
/// through the input transform it was trained with.
pub fn open_for(
    model: &Autoencoder,
    extras: io::ModelExtras,
    given: &std::path::Path,
    format: Option<files::Format>,
) -> wgae::Result<Input> {
    let held = data::DataPath::new(given, data::host_budget(None))?;
    let (source, labels) =
        open_rows(model, &extras, held.path(), format).map_err(|e| held.name_errors(e))?;
    Ok(Input {
        source,
        labels,
        extras,
        _held: held,
    })
}

/// [`open_for`] on a file (not a pipe): the rows, in the model's scaling,
/// and their labels.
fn open_rows(
    model: &Autoencoder,
    extras: &io::ModelExtras,
    data: &std::path::Path,
    format: Option<files::Format>,
) -> wgae::Result<(Source, Option<Vec<u32>>)> {
    let named = |e: wgae::Error| match e {
        e @ wgae::Error::File { .. } => e,
        e => wgae::Error::File {
            path: data.to_path_buf(),
            message: e.to_string(),
        },
    };
    // A model that masks missing entries reads them (NaN, empty CSV cells).
    let masked = model.config().missing == wgae::model::Missing::Mask;
    // A folder of images is read as training read it: in colour where the
    // model's samples have three channels, at the model's size.
    let mut opened = match (data.is_dir(), extras.sample_dims.as_deref()) {
        (true, Some(&[h, _, 3] | &[3, h, _])) => {
            data::Opened::Memory(files::load_images(data, Some(h as u32), true)?)
        }
        (true, Some(&[h, w])) if h == w => {
            data::Opened::Memory(files::load_images(data, Some(h as u32), false)?)
        }
        _ => data::open(data, format, None, false, masked, data::host_budget(None))?,
    };
    let want = model.config().input_dim;
    if opened.cols() != want {
        return Err(wgae::Error::File {
            path: data.to_path_buf(),
            message: format!(
                "{} features per sample, but the model expects {want}",
                opened.cols()
            ),
        });
    }
    if model.config().is_layered() {
        let shape = model.config().sample_shape()?;
        opened = match opened.for_shape(shape) {
            Ok(o) => o,
            // A mapped file is read as stored; one stored channels-last is
            // loaded (where it fits) and transposed.
            Err(_) => data::load(data, format, None, false, masked, data::host_budget(None))?
                .for_shape(shape)
                .map_err(named)?,
        };
    }
    if let Some((offset, scale)) = &extras.transform {
        // A BCE model compares values in [0, 1] only: rows outside the
        // training rows' range are clipped to it (see the README).
        let bce = model.config().loss == wgae::LossKind::Bce;
        opened.apply(offset, scale, bce)?;
    }
    opened.into_source().map_err(named)
}

/// Whether two paths name the same file: the same file (both existing),
/// or the same name in the same folder.
pub fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    let place = |p: &std::path::Path| {
        let dir = match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => std::path::Path::new("."),
        };
        Some((std::fs::canonicalize(dir).ok()?, p.file_name()?.to_owned()))
    };
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b || place(a).is_some_and(|x| Some(x) == place(b)),
    }
}
