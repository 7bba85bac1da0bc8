//! A trained model as an ONNX graph (opset 17), to run without wgae or
//! PyTorch: in onnxruntime, TensorRT, OpenVINO, a browser.
//!
//! Parts ([`Part`]), each with a symbolic batch dimension `batch`:
//! - `full`: `input` [batch, input_dim] to `reconstruction` [batch, input_dim];
//! - `encoder`: `input` to `code` [batch, code_dim] (a VAE's mean);
//! - `decoder`: `code` to `reconstruction`;
//! - `score`: `input` to `score` [batch] (each row's mean squared error, as
//!   `wgae anomaly` computes it) and `feature_errors` [batch, input_dim].
//!
//! `input` takes rows as wgae reads them from a file: the model's scaling
//! (`--scale`, kept in the model file) is the graph's first step (and, for
//! a BCE model, the clip to [0, 1] that follows it). `reconstruction` is in
//! the scaled units, as `wgae reconstruct` writes it. A model that masks
//! missing entries reads NaN in `input` as missing: 0 after scaling, and
//! left out of `score` and `feature_errors`.
//!
//! Weights are initializers in PyTorch's layout; batch normalization uses
//! its running statistics; dropout and input noise are training-only and
//! absent.

mod graph;
mod layers;

use std::path::Path;

use protobuf::Message;

pub use graph::{BATCH, OPSET};

use crate::error::{Error, Result};
use crate::infer::Autoencoder;
use crate::io::ModelExtras;
use crate::model::{LossKind, Missing, ModelConfig, Role};
use crate::plan::ParamLayout;
use graph::{Attr, Graph};
use layers::{shaped, Value, Weights};

/// Which part of the model the graph computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    Full,
    Encoder,
    Decoder,
    Score,
}

impl std::str::FromStr for Part {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "full" => Ok(Part::Full),
            "encoder" => Ok(Part::Encoder),
            "decoder" => Ok(Part::Decoder),
            "score" => Ok(Part::Score),
            _ => Err(format!("'{s}': give full, encoder, decoder or score")),
        }
    }
}

/// Writes `part` of `model` (with the scaling in `extras`) to `path` as
/// ONNX, atomically; an existing file is kept unless `force`.
pub fn export_onnx(
    path: &Path,
    model: &Autoencoder,
    extras: &ModelExtras,
    part: Part,
    force: bool,
) -> Result<()> {
    crate::io::check_writable(path, force)?;
    let bytes = to_onnx(model, extras, part)?;
    crate::io::write_atomic(path, &bytes, force)
}

/// Writes `part` of the model file at `model_path` to `path` as ONNX,
/// atomically, reading the file on the host alone: no GPU is needed. An
/// existing `path` is kept unless `force`. Returns the model's
/// architecture and extras.
pub fn export_onnx_file(
    model_path: &Path,
    path: &Path,
    part: Part,
    force: bool,
) -> Result<(ModelConfig, ModelExtras)> {
    crate::io::check_writable(path, force)?;
    let (cfg, layout, arena, extras) = crate::io::read_model_file(model_path)?;
    let bytes = onnx_bytes(&cfg, &layout, &arena, &extras, part)?;
    crate::io::write_atomic(path, &bytes, force)?;
    Ok((cfg, extras))
}

/// `part` of `model` as the bytes of an ONNX model.
pub fn to_onnx(model: &Autoencoder, extras: &ModelExtras, part: Part) -> Result<Vec<u8>> {
    let arena = model.params_host()?;
    onnx_bytes(model.config(), model.layout(), &arena, extras, part)
}

/// `part` of the model `cfg` with the parameters `arena` (laid out by
/// `layout`) as the bytes of an ONNX model.
pub fn onnx_bytes(
    cfg: &ModelConfig,
    layout: &ParamLayout,
    arena: &[f32],
    extras: &ModelExtras,
    part: Part,
) -> Result<Vec<u8>> {
    let layers = cfg.layers();
    let w = Weights { layout, arena };
    let (d, code) = (cfg.input_dim, cfg.code_dim());
    let mut g = Graph::default();
    let (mut x, mask) = match part {
        Part::Decoder => (
            Value {
                name: "code".into(),
                dims: vec![code],
            },
            None,
        ),
        _ => prologue(
            &mut g,
            d,
            extras,
            cfg.loss == LossKind::Bce,
            cfg.missing == Missing::Mask,
        ),
    };
    let input = x.clone();
    let mut block: Option<Value> = None;
    for (l, lp) in w.layout.zip(&layers) {
        let wanted = match part {
            Part::Encoder => l.encoder,
            Part::Decoder => !l.encoder,
            Part::Full | Part::Score => true,
        };
        if !wanted {
            continue;
        }
        if l.inner == Some(0) {
            block = Some(x.clone());
        }
        x = layers::layer(&mut g, &w, l, lp, &x, block.as_ref()).map_err(|e| {
            Error::InvalidArgument(format!(
                "{} ({:?}) cannot be exported to ONNX: {}",
                l.module_name(),
                l.kind,
                e.to_string().replace("invalid argument: ", "")
            ))
        })?;
        if l.role == Role::VaeHead {
            // The mean: the head's first half (the decoder reads z = mu).
            let half = x.dims[0] / 2;
            let (s, e, a) = (
                g.ints("starts", &[0]),
                g.ints("ends", &[half as i64]),
                g.ints("axes", &[1]),
            );
            x = Value {
                name: g.op("Slice", &[&x.name, &s, &e, &a], vec![]),
                dims: vec![half],
            };
        }
    }
    let doc = format!(
        "wgae {}: {} ({part:?}); opset {OPSET}, batch dimension '{BATCH}'",
        env!("CARGO_PKG_VERSION"),
        cfg.arch_name()
    );
    let model = match part {
        Part::Encoder => {
            output(&mut g, &x, "code", code);
            g.into_model(&[("input", vec![d])], &[("code", vec![code])], &doc)
        }
        Part::Decoder => {
            output(&mut g, &x, "reconstruction", d);
            g.into_model(
                &[("code", vec![code])],
                &[("reconstruction", vec![d])],
                &doc,
            )
        }
        Part::Full => {
            output(&mut g, &x, "reconstruction", d);
            g.into_model(&[("input", vec![d])], &[("reconstruction", vec![d])], &doc)
        }
        Part::Score => {
            score(&mut g, &x, &input, mask.as_deref(), d);
            g.into_model(
                &[("input", vec![d])],
                &[("score", vec![]), ("feature_errors", vec![d])],
                &doc,
            )
        }
    };
    model
        .write_to_bytes()
        .map_err(|e| Error::InvalidArgument(format!("the ONNX model cannot be encoded: {e}")))
}

/// `input` scaled (and, for a BCE model, clipped to [0, 1]); for a masked
/// model its NaN entries 0 after scaling, and the mask (1 observed, 0
/// missing) beside it.
fn prologue(
    g: &mut Graph,
    d: usize,
    extras: &ModelExtras,
    clip: bool,
    masked: bool,
) -> (Value, Option<String>) {
    let mut x = "input".to_string();
    let nan = masked.then(|| g.op("IsNaN", &["input"], vec![]));
    if let Some((offset, scale)) = &extras.transform {
        let o = g.weight("offset", &[d], offset);
        let s = g.weight("scale", &[d], scale);
        let c = g.op("Sub", &[&x, &o], vec![]);
        x = g.op("Div", &[&c, &s], vec![]);
        if clip {
            let (lo, hi) = (g.scalar(0.0), g.scalar(1.0));
            x = g.op("Clip", &[&x, &lo, &hi], vec![]);
        }
    }
    let mask = nan.map(|nan| {
        let zero = g.scalar(0.0);
        x = g.op("Where", &[&nan, &zero, &x], vec![]);
        let seen = g.op("Not", &[&nan], vec![]);
        g.op("Cast", &[&seen], vec![Attr::int("to", 1)])
    });
    (
        Value {
            name: x,
            dims: vec![d],
        },
        mask,
    )
}

/// `x` flat as the graph output `name`.
fn output(g: &mut Graph, x: &Value, name: &str, n: usize) {
    let x = shaped(g, x, vec![n]);
    g.op_into("Identity", &[&x.name], &[name.to_string()], vec![]);
}

/// Each row's squared errors (`feature_errors`, 0 where missing) and their
/// mean over the row's observed entries (`score`).
fn score(g: &mut Graph, y: &Value, x: &Value, mask: Option<&str>, d: usize) {
    let y = shaped(g, y, vec![d]);
    let diff = g.op("Sub", &[&y.name, &x.name], vec![]);
    let mut sq = g.op("Mul", &[&diff, &diff], vec![]);
    let axes = g.ints("axes", &[1]);
    let count = match mask {
        Some(m) => {
            sq = g.op("Mul", &[&sq, m], vec![]);
            let n = g.op("ReduceSum", &[m, &axes], vec![Attr::int("keepdims", 0)]);
            let one = g.scalar(1.0);
            g.op("Max", &[&n, &one], vec![])
        }
        None => g.scalar(d as f32),
    };
    g.op_into("Identity", &[&sq], &["feature_errors".to_string()], vec![]);
    let sum = g.op("ReduceSum", &[&sq, &axes], vec![Attr::int("keepdims", 0)]);
    g.op_into("Div", &[&sum, &count], &["score".to_string()], vec![]);
}
