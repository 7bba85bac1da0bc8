//! ONNX export from the library (`io::onnx`): every example config's model
//! exports each part as a graph that decodes, with opset 17, the
//! documented input and output names, a symbolic batch dimension, and every
//! node's inputs defined before it; an existing file is kept without
//! `force`; a model file exports on the host alone, with no GPU.
//! (onnxruntime runs the graphs against wgae in python/tests/test_onnx.py.)
#![cfg(feature = "onnx")]

mod common;
#[path = "common/cli.rs"]
mod common_cli;

use std::collections::HashSet;

use onnx_protobuf::tensor_shape_proto::dimension::Value as Dim;
use onnx_protobuf::type_proto::Value as Type;
use onnx_protobuf::{Message, ModelProto, ValueInfoProto};
use wgae::io::onnx::{export_onnx, export_onnx_file, to_onnx, Part};
use wgae::io::ModelExtras;
use wgae::{Autoencoder, ModelConfig};

fn names(v: &[ValueInfoProto]) -> Vec<&str> {
    v.iter().map(|i| i.name.as_str()).collect()
}

/// The first dimension of a graph input or output.
fn batch_dim(v: &ValueInfoProto) -> Option<String> {
    let Some(Type::TensorType(t)) = &v.type_.value else {
        return None;
    };
    match &t.shape.dim.first()?.value {
        Some(Dim::DimParam(p)) => Some(p.clone()),
        _ => None,
    }
}

#[test]
fn every_example_config_exports_every_part() {
    let Some(ctx) = common::gpu() else { return };
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/configs");
    let mut configs: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    configs.sort();
    assert!(configs.len() >= 10);
    let extras = ModelExtras::default();
    for path in configs {
        let file =
            wgae::train::ConfigFile::from_toml(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let cfg: ModelConfig = file.model;
        let m = Autoencoder::new(ctx, &cfg, 1).unwrap();
        for (part, ins, outs) in [
            (Part::Full, vec!["input"], vec!["reconstruction"]),
            (Part::Encoder, vec!["input"], vec!["code"]),
            (Part::Decoder, vec!["code"], vec!["reconstruction"]),
            (Part::Score, vec!["input"], vec!["score", "feature_errors"]),
        ] {
            let what = format!("{} {part:?}", path.display());
            let model = ModelProto::parse_from_bytes(&to_onnx(&m, &extras, part).unwrap()).unwrap();
            assert_eq!(model.opset_import[0].version, 17, "{what}");
            let g = model.graph.as_ref().unwrap();
            assert_eq!(names(&g.input), ins, "{what}");
            assert_eq!(names(&g.output), outs, "{what}");
            for v in g.input.iter().chain(&g.output) {
                assert_eq!(batch_dim(v).as_deref(), Some("batch"), "{what}");
            }
            // Every node reads only what is defined before it.
            let mut known: HashSet<&str> = g.initializer.iter().map(|t| t.name.as_str()).collect();
            known.extend(names(&g.input));
            known.insert("");
            for n in &g.node {
                for i in &n.input {
                    assert!(
                        known.contains(i.as_str()),
                        "{what}: {} reads {i}",
                        n.op_type
                    );
                }
                known.extend(n.output.iter().map(String::as_str));
            }
            for o in &outs {
                assert!(known.contains(o), "{what}: {o} is never written");
            }
        }
    }
}

#[test]
fn an_existing_file_is_kept_without_force() {
    let Some(ctx) = common::gpu() else { return };
    let m = Autoencoder::new(ctx, &ModelConfig::dense(6, &[3]), 1).unwrap();
    let dir = std::env::temp_dir().join(format!("wgae-onnx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("m.onnx");
    std::fs::write(&path, b"keep").unwrap();
    let extras = ModelExtras::default();
    let e = export_onnx(&path, &m, &extras, Part::Full, false).unwrap_err();
    assert!(e.to_string().contains("force"), "{e}");
    assert_eq!(std::fs::read(&path).unwrap(), b"keep");
    export_onnx(&path, &m, &extras, Part::Full, true).unwrap();
    assert!(ModelProto::parse_from_bytes(&std::fs::read(&path).unwrap()).is_ok());
    assert_eq!(
        "middle".parse::<Part>().unwrap_err(),
        "'middle': give full, encoder, decoder or score"
    );
}

/// A model file from a newer wgae (a later `format`) is refused with what
/// to do, before anything is exported; so is another program's safetensors.
#[test]
fn a_model_file_from_a_newer_wgae_is_refused() {
    let Some(ctx) = common::gpu() else { return };
    let m = Autoencoder::new(ctx, &ModelConfig::dense(6, &[3]), 1).unwrap();
    let bytes = wgae::io::model_bytes(&m, &ModelExtras::default()).unwrap();
    let swap = |from: &[u8], to: &[u8]| {
        let at = bytes.windows(from.len()).position(|w| w == from).unwrap();
        let mut b = bytes.clone();
        b[at..at + from.len()].copy_from_slice(to);
        b
    };
    let e = wgae::io::model_from_bytes(ctx, swap(b"wgae-1", b"wgae-9"), "new.safetensors")
        .unwrap_err()
        .to_string();
    assert!(e.contains("newer wgae") && e.contains("upgrade"), "{e}");
    let e = wgae::io::model_from_bytes(ctx, swap(b"wgae-1", b"pt\0\0\0\0"), "pt.safetensors");
    assert!(e.is_err());
    assert!(wgae::io::model_from_bytes(ctx, bytes.clone(), "ok.safetensors").is_ok());
}

/// A model file exports on the host: `io::onnx::export_onnx_file` and
/// `wgae export` read it without a GPU (here with no adapter wgae may use)
/// and write the bytes that the model on the GPU exports, for a dense
/// model and a convolutional one with batch norm.
#[test]
fn a_model_file_exports_without_a_gpu() {
    use common_cli::{bin, fails, ok, workdir};
    let Some(ctx) = common::gpu() else { return };
    let dir = workdir("onnx-host");
    let conv = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/configs/conv_bn.toml");
    let conv = wgae::train::ConfigFile::from_toml(&std::fs::read_to_string(conv).unwrap())
        .unwrap()
        .model;
    let extras = ModelExtras::default();
    for (name, cfg) in [("dense", ModelConfig::dense(7, &[5, 2])), ("conv", conv)] {
        let m = Autoencoder::new(ctx, &cfg, 3).unwrap();
        let file = dir.join(format!("{name}.safetensors"));
        wgae::io::save_model(&file, &m, &extras, false).unwrap();
        for part in [Part::Full, Part::Encoder, Part::Decoder, Part::Score] {
            let out = dir.join(format!("{name}-{part:?}.onnx"));
            export_onnx_file(&file, &out, part, false).unwrap();
            let want = to_onnx(&m, &extras, part).unwrap();
            assert!(std::fs::read(&out).unwrap() == want, "{name} {part:?}");
        }
        let cli = |cmd: &[&str]| {
            bin()
                .args(cmd)
                .env("WGAE_ADAPTER", "no-such-gpu")
                .current_dir(&dir)
                .output()
                .unwrap()
        };
        let model = format!("{name}.safetensors");
        let out = format!("{name}-cli.onnx");
        ok(&cli(&[
            "export", "--model", &model, "--onnx", &out, "--part", "score",
        ]));
        let want = to_onnx(&m, &extras, Part::Score).unwrap();
        assert!(
            std::fs::read(dir.join(&out)).unwrap() == want,
            "{name} by the CLI"
        );
        // The same setting leaves no adapter for work that needs one.
        fails(
            &cli(&["generate", "--model", &model, "--n", "2", "--out", "g.npy"]),
            &["no-such-gpu"],
        );
    }
}
