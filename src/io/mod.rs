//! Model files and checkpoints in safetensors.
//!
//! A model file holds each parameter under its PyTorch name and layout
//! (`encoder.0.weight` as [out, in], `encoder.0.bias`, ...; the Linear layers'
//! indices are those of an `nn.Sequential` that interleaves Linear and
//! activation modules) and the architecture as TOML in the metadata key
//! `wgae.model`. A tied decoder layer stores only its bias (its weight is the
//! transpose of its mirror's). A VAE's last encoder layer stores the mean and
//! log-variance heads stacked: rows 0..c are the mean, rows c..2c the
//! log-variance.
//!
//! A checkpoint adds the optimizer moments (`optim.m.<name>`,
//! `optim.v.<name>`), the optimizer's GPU state, the epochs done and the
//! training config, so that `--resume` continues exactly.
//!
//! Files are written to a temporary name and renamed, so a failure never
//! leaves a half-written file in place of a good one, and an existing file is
//! only replaced when asked.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::kernels::OPT_STATE_WORDS;
use crate::model::ModelConfig;
use crate::plan::ParamLayout;
pub use crate::train::Checkpoint;
use crate::train::{Autoencoder, TrainConfig};

pub const FORMAT: &str = "wgae-1";

fn file_err(path: &Path, message: impl Into<String>) -> Error {
    Error::File {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

pub use crate::atomic::{check_writable, write_atomic, AtomicFile};

mod extras;
#[cfg(feature = "onnx")]
pub mod onnx;
pub use extras::{CodeStats, ErrorStats, ModelExtras, RatingsInfo, WindowInfo};

pub fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A named tensor to write: its name, shape, dtype and little-endian bytes.
type Named = (String, Vec<usize>, Dtype, Vec<u8>);

/// Serializes named tensors with metadata.
fn serialize(tensors: Vec<Named>, meta: HashMap<String, String>) -> Result<Vec<u8>> {
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .map(|(n, s, d, b)| {
            Ok((
                n.clone(),
                TensorView::new(*d, s.clone(), b)
                    .map_err(|e| Error::InvalidArgument(e.to_string()))?,
            ))
        })
        .collect::<Result<_>>()?;
    safetensors::tensor::serialize(views, Some(meta))
        .map_err(|e| Error::InvalidArgument(format!("safetensors: {e}")))
}

/// A buffer PyTorch keeps as an integer: batch normalization's step count.
fn is_counter(name: &str) -> bool {
    name.ends_with(".num_batches_tracked")
}

/// The parameters and buffers of a model as named tensors (a host copy of
/// the arena), `num_batches_tracked` as PyTorch's int64.
fn named(layout: &ParamLayout, arena: &[f32]) -> Vec<Named> {
    layout
        .unpack(arena)
        .into_iter()
        .map(|(n, s, v)| {
            if is_counter(&n) {
                let b = v.iter().flat_map(|x| (*x as i64).to_le_bytes()).collect();
                (n, s, Dtype::I64, b)
            } else {
                (n, s, Dtype::F32, f32_bytes(&v))
            }
        })
        .collect()
}

/// Optimizer moments (over the trainable part of the arena) as named tensors.
fn named_moments(layout: &ParamLayout, moments: &[f32], prefix: &str) -> Vec<Named> {
    layout
        .entries
        .iter()
        .enumerate()
        .filter(|(i, _)| !layout.is_buffer(*i))
        .map(|(_, e)| {
            (
                format!("{prefix}{}", e.name),
                e.shape.clone(),
                Dtype::F32,
                f32_bytes(&moments[e.offset..e.offset + e.len()]),
            )
        })
        .collect()
}

fn base_meta(cfg: &ModelConfig, kind: &str) -> HashMap<String, String> {
    let mut meta = HashMap::from([
        ("format".to_string(), FORMAT.to_string()),
        ("wgae.kind".to_string(), kind.to_string()),
        ("wgae.model".to_string(), cfg.to_toml()),
    ]);
    if let Some(decoder) = cfg.mirrored_decoder_toml() {
        meta.insert("wgae.decoder_layers".to_string(), decoder);
    }
    meta
}

/// Saves a trained model with its extras.
pub fn save_model(
    path: &Path,
    model: &Autoencoder,
    extras: &ModelExtras,
    force: bool,
) -> Result<()> {
    check_writable(path, force)?;
    write_atomic(path, &model_bytes(model, extras)?, force)
}

/// A model file's bytes (what [`save_model`] writes), for a caller that
/// keeps them elsewhere (Python's pickle).
pub fn model_bytes(model: &Autoencoder, extras: &ModelExtras) -> Result<Vec<u8>> {
    model_bytes_of(model, &model.params_host()?, extras)
}

/// [`model_bytes`] as a future (a browser's download of its model).
pub async fn model_bytes_async(model: &Autoencoder, extras: &ModelExtras) -> Result<Vec<u8>> {
    model_bytes_of(model, &model.params_host_async().await?, extras)
}

fn model_bytes_of(model: &Autoencoder, arena: &[f32], extras: &ModelExtras) -> Result<Vec<u8>> {
    let mut meta = base_meta(model.config(), "model");
    extras.write_meta(&mut meta);
    serialize(named(model.layout(), arena), meta)
}

/// The extras stored in a model file.
pub fn load_extras(path: &Path) -> Result<ModelExtras> {
    extras_of(&parse(path)?)
}

fn extras_of(p: &Parsed) -> Result<ModelExtras> {
    ModelExtras::read_meta(&p.meta, &p.cfg, &p.path)
}

/// A parsed wgae safetensors file.
struct Parsed {
    path: PathBuf,
    bytes: Vec<u8>,
    meta: HashMap<String, String>,
    cfg: ModelConfig,
}

/// Reads a model file or checkpoint header first (a device is refused, a
/// pipe read no further than its header says) and parses it.
fn parse(path: &Path) -> Result<Parsed> {
    parse_bytes(path, crate::data::bounded::read_safetensors(path)?)
}

/// Parses a model file's bytes; `path` names them in errors.
fn parse_bytes(path: &Path, bytes: Vec<u8>) -> Result<Parsed> {
    let (_, metadata) = SafeTensors::read_metadata(&bytes).map_err(|e| {
        file_err(
            path,
            format!("not a safetensors file, or truncated or corrupt ({e})"),
        )
    })?;
    SafeTensors::deserialize(&bytes)
        .map_err(|e| file_err(path, format!("corrupt safetensors data ({e})")))?;
    let meta = metadata.metadata().clone().unwrap_or_default();
    check_format(path, meta.get("format"))?;
    let text = meta.get("wgae.model").ok_or_else(|| {
        file_err(
            path,
            "no wgae.model metadata: this safetensors file was not written by wgae",
        )
    })?;
    let cfg = ModelConfig::from_toml(text)
        .map_err(|e| file_err(path, format!("bad architecture in metadata: {e}")))?;
    cfg.validate().map_err(|e| file_err(path, e.to_string()))?;
    Ok(Parsed {
        path: path.to_path_buf(),
        bytes,
        meta,
        cfg,
    })
}

/// An error unless a file's `format` is one this wgae reads ([`FORMAT`]
/// or older; files from before the key existed have none).
fn check_format(path: &Path, format: Option<&String>) -> Result<()> {
    let Some(f) = format else { return Ok(()) };
    let version = |f: &str| f.strip_prefix("wgae-").and_then(|v| v.parse::<u32>().ok());
    match (version(f), version(FORMAT)) {
        (Some(v), Some(mine)) if v <= mine => Ok(()),
        (Some(_), _) => Err(file_err(
            path,
            format!(
                "was written by a newer wgae (format {f}; this wgae {} reads {FORMAT}): \
                 upgrade wgae to read it",
                env!("CARGO_PKG_VERSION")
            ),
        )),
        (None, _) => Err(file_err(
            path,
            format!("has format '{f}', not a wgae model file's ({FORMAT})"),
        )),
    }
}

impl Parsed {
    /// Fills an arena with the layout's tensors, each under `prefix + name`:
    /// the whole arena (parameters and buffers), or with `moments` only its
    /// trainable part.
    fn arena(&self, layout: &ParamLayout, prefix: &str, moments: bool) -> Result<Vec<f32>> {
        let st = SafeTensors::deserialize(&self.bytes)
            .map_err(|e| file_err(&self.path, e.to_string()))?;
        // The file must hold every value of the arena: an architecture in
        // the metadata that claims more cannot make this allocate more
        // than the file's own size.
        let values: u128 = layout.entries.iter().map(|e| e.len() as u128).sum();
        if values.saturating_mul(4) > self.bytes.len() as u128 || layout.total > self.bytes.len() {
            return Err(file_err(
                &self.path,
                format!(
                    "its architecture needs {values} values but the file has {} bytes: a \
                     corrupt file, or one for another model",
                    self.bytes.len()
                ),
            ));
        }
        let mut arena = vec![
            0f32;
            if moments {
                layout.trainable
            } else {
                layout.total
            }
        ];
        for (i, e) in layout.entries.iter().enumerate() {
            if moments && layout.is_buffer(i) {
                continue;
            }
            let name = format!("{prefix}{}", e.name);
            let t = st.tensor(&name).map_err(|_| {
                file_err(
                    &self.path,
                    format!("tensor {name} is missing: the file does not hold this architecture"),
                )
            })?;
            if is_counter(&name) && t.dtype() == Dtype::I64 && t.shape() == e.shape.as_slice() {
                let v = i64::from_le_bytes(t.data()[..8].try_into().unwrap_or([0; 8]));
                if !(0..=1 << 24).contains(&v) {
                    return Err(file_err(
                        &self.path,
                        format!("tensor {name} holds {v}, not a count of batches up to 2^24"),
                    ));
                }
                arena[e.offset] = v as f32;
                continue;
            }
            if t.dtype() != Dtype::F32 {
                return Err(file_err(
                    &self.path,
                    format!("tensor {name} is {:?}, not F32", t.dtype()),
                ));
            }
            if t.shape() != e.shape.as_slice() {
                return Err(file_err(
                    &self.path,
                    format!(
                        "tensor {name} has shape {:?} but the architecture needs {:?}: a model file for another architecture",
                        t.shape(),
                        e.shape
                    ),
                ));
            }
            for (dst, src) in arena[e.offset..e.offset + e.len()]
                .iter_mut()
                .zip(t.data().chunks_exact(4))
            {
                *dst = f32::from_le_bytes(src.try_into().unwrap());
            }
        }
        if let Some(i) = arena.iter().position(|v| !v.is_finite()) {
            let name = layout
                .entries
                .iter()
                .find(|e| (e.offset..e.offset + e.len()).contains(&i))
                .map_or("?", |e| e.name.as_str());
            return Err(file_err(
                &self.path,
                format!("tensor {prefix}{name} holds a non-finite value"),
            ));
        }
        Ok(arena)
    }
}

/// Loads a model file (or the model inside a checkpoint) onto the GPU.
pub fn load_model(ctx: &GpuContext, path: &Path) -> Result<Autoencoder> {
    model_of(ctx, parse(path)?)
}

/// Loads a model file and its extras from one read of it (a pipe can be
/// read only once).
pub fn load_model_with_extras(ctx: &GpuContext, path: &Path) -> Result<(Autoencoder, ModelExtras)> {
    with_extras(ctx, parse(path)?)
}

/// Loads a model from a model file's bytes (see [`model_bytes`]); `what`
/// names them in errors.
pub fn model_from_bytes(ctx: &GpuContext, bytes: Vec<u8>, what: &str) -> Result<Autoencoder> {
    model_of(ctx, parse_bytes(Path::new(what), bytes)?)
}

/// [`model_from_bytes`] with the file's extras (a browser's upload).
pub fn model_with_extras_from_bytes(
    ctx: &GpuContext,
    bytes: Vec<u8>,
    what: &str,
) -> Result<(Autoencoder, ModelExtras)> {
    with_extras(ctx, parse_bytes(Path::new(what), bytes)?)
}

fn with_extras(ctx: &GpuContext, p: Parsed) -> Result<(Autoencoder, ModelExtras)> {
    let extras = extras_of(&p)?;
    Ok((model_of(ctx, p)?, extras))
}

fn model_of(ctx: &GpuContext, p: Parsed) -> Result<Autoencoder> {
    let layout = ParamLayout::for_context(ctx, &p.cfg);
    let arena = p.arena(&layout, "", false)?;
    Autoencoder::from_params(ctx, &p.cfg, &arena)
}

/// A model file read and checked on the host alone, without a GPU: its
/// architecture, its parameters (laid out by `ParamLayout::new(cfg, 1)`,
/// returned with them) and its extras. `wgae export` reads models so.
pub fn read_model_file(path: &Path) -> Result<(ModelConfig, ParamLayout, Vec<f32>, ModelExtras)> {
    on_host(parse(path)?, 1)
}

/// A model file's contents read and checked on the host alone (what
/// [`model_from_bytes`] does before the upload): the architecture, the
/// parameter arena laid out with `align_words` alignment, and the extras.
/// The fuzz targets run every check through this.
pub fn read_model_bytes(
    bytes: Vec<u8>,
    what: &str,
    align_words: usize,
) -> Result<(ModelConfig, Vec<f32>, ModelExtras)> {
    let (cfg, _, arena, extras) = on_host(parse_bytes(Path::new(what), bytes)?, align_words)?;
    Ok((cfg, arena, extras))
}

/// A parsed model file's architecture, layout (`align_words` alignment),
/// parameters and extras.
fn on_host(
    p: Parsed,
    align_words: usize,
) -> Result<(ModelConfig, ParamLayout, Vec<f32>, ModelExtras)> {
    let layout = ParamLayout::new(&p.cfg, align_words.max(1));
    let arena = p.arena(&layout, "", false)?;
    let extras = extras_of(&p)?;
    Ok((p.cfg, layout, arena, extras))
}

/// A checkpoint's contents read and checked on the host alone, as
/// [`load_checkpoint`] reads them.
pub fn read_checkpoint_bytes(bytes: Vec<u8>, what: &str, align_words: usize) -> Result<Checkpoint> {
    let p = parse_bytes(Path::new(what), bytes)?;
    checkpoint_of(p, &|cfg| ParamLayout::new(cfg, align_words.max(1)))
}

pub fn save_checkpoint(
    path: &Path,
    ck: &Checkpoint,
    layout: &ParamLayout,
    force: bool,
) -> Result<()> {
    save_checkpoint_noted(path, ck, layout, force, &ck.notes)
}

/// [`save_checkpoint`] with `notes` (instead of the checkpoint's own)
/// kept as `wgae.note.KEY` metadata; [`load_checkpoint`] gives them back.
pub fn save_checkpoint_noted(
    path: &Path,
    ck: &Checkpoint,
    layout: &ParamLayout,
    force: bool,
    notes: &std::collections::BTreeMap<String, String>,
) -> Result<()> {
    let mut tensors = named(layout, &ck.params);
    tensors.extend(named_moments(layout, &ck.m, "optim.m."));
    tensors.extend(named_moments(layout, &ck.v, "optim.v."));
    let mut meta = base_meta(&ck.model, "checkpoint");
    meta.insert(
        "wgae.train".into(),
        crate::toml_text::to_string(&ck.train).expect("a train config serializes"),
    );
    meta.insert("wgae.epochs_done".into(), ck.epochs_done.to_string());
    for (k, v) in notes {
        meta.insert(format!("wgae.note.{k}"), v.clone());
    }
    meta.insert(
        "wgae.optim_state".into(),
        ck.state
            .iter()
            .map(|w| w.to_string())
            .collect::<Vec<_>>()
            .join(","),
    );
    write_atomic(path, &serialize(tensors, meta)?, force)
}

pub fn load_checkpoint(ctx: &GpuContext, path: &Path) -> Result<Checkpoint> {
    checkpoint_of(parse(path)?, &|cfg| ParamLayout::for_context(ctx, cfg))
}

fn checkpoint_of(p: Parsed, layout_of: &dyn Fn(&ModelConfig) -> ParamLayout) -> Result<Checkpoint> {
    let path = &p.path.clone();
    if p.meta.get("wgae.kind").map(String::as_str) != Some("checkpoint") {
        return Err(file_err(
            path,
            "a model file, not a checkpoint: it has no optimizer state to resume from",
        ));
    }
    let layout = layout_of(&p.cfg);
    let train: TrainConfig = toml::from_str(p.meta.get("wgae.train").map_or("", String::as_str))
        .map_err(|e| file_err(path, format!("bad training config in metadata: {e}")))?;
    let epochs_done = p
        .meta
        .get("wgae.epochs_done")
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| file_err(path, "no wgae.epochs_done metadata"))?;
    let state: Vec<u32> = p
        .meta
        .get("wgae.optim_state")
        .map(|s| s.split(',').filter_map(|w| w.trim().parse().ok()).collect())
        .unwrap_or_default();
    if state.len() != OPT_STATE_WORDS {
        return Err(file_err(path, "bad wgae.optim_state metadata"));
    }
    Ok(Checkpoint {
        params: p.arena(&layout, "", false)?,
        m: p.arena(&layout, "optim.m.", true)?,
        v: p.arena(&layout, "optim.v.", true)?,
        model: p.cfg,
        train,
        state,
        epochs_done,
        notes: p
            .meta
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("wgae.note.")?.to_string(), v.clone())))
            .collect(),
    })
}

/// Writes rows of f32 as a .npy file (little-endian float32, C order).
pub fn npy_bytes(data: &[f32], rows: usize, cols: usize) -> Vec<u8> {
    let mut out = npy_header(rows, cols);
    out.extend(f32_bytes(data));
    out
}

/// The header of a .npy file of `rows` x `cols` little-endian f32: the
/// values follow it, row by row.
pub fn npy_header(rows: usize, cols: usize) -> Vec<u8> {
    npy_header_of("<f4", &[rows, cols], 0)
}

/// A .npy (version 1.0) header for `descr` ('<f4', '|u1') and `shape`,
/// padded with spaces to a multiple of 64 bytes and at least `min_len`
/// (so that a header written before the row count is known can be
/// rewritten in place once it is).
pub fn npy_header_of(descr: &str, shape: &[usize], min_len: usize) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 || 10 + header.len() + 1 < min_len {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out
}

/// Rows of numbers as CSV, with a header.
pub fn csv_bytes(header: &[String], data: &[f32], cols: usize) -> Vec<u8> {
    let mut s = header.join(",");
    s.push('\n');
    for row in data.chunks(cols) {
        s.push_str(
            &row.iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(","),
        );
        s.push('\n');
    }
    s.into_bytes()
}
