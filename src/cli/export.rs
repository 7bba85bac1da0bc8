//! `wgae export`: a model file as an ONNX graph (`io::onnx`), to run in
//! onnxruntime and the other ONNX runtimes without wgae.

use std::path::PathBuf;

use wgae::io::onnx::{self, Part};

/// `wgae export`'s flags.
#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// A model file written by `wgae train --save`.
    #[arg(long)]
    pub model: PathBuf,
    /// The ONNX file to write (.onnx).
    #[arg(long)]
    pub onnx: PathBuf,
    /// What the graph computes: full (input to reconstruction), encoder
    /// (input to code), decoder (code to reconstruction), or score (input to
    /// each row's error, as `wgae anomaly` scores it, and each feature's).
    #[arg(long, default_value = "full")]
    pub part: Part,
    /// Replace --onnx if it exists.
    #[arg(long)]
    pub force: bool,
}

pub fn export(a: ExportArgs) -> wgae::Result<()> {
    if a.onnx.extension().and_then(|e| e.to_str()) != Some("onnx") {
        return Err(wgae::Error::InvalidArgument(format!(
            "--onnx {}: name a .onnx file",
            a.onnx.display()
        )));
    }
    // The file is read on the host: exporting needs no GPU.
    let (cfg, extras) = onnx::export_onnx_file(&a.model, &a.onnx, a.part, a.force)?;
    let d = cfg.input_dim;
    let code = cfg.code_dim();
    let io = match a.part {
        Part::Full => format!("input [batch, {d}] -> reconstruction [batch, {d}]"),
        Part::Encoder => format!("input [batch, {d}] -> code [batch, {code}]"),
        Part::Decoder => format!("code [batch, {code}] -> reconstruction [batch, {d}]"),
        Part::Score => format!("input [batch, {d}] -> score [batch], feature_errors [batch, {d}]"),
    };
    println!(
        "wrote {} (opset {}): {io}{}",
        a.onnx.display(),
        onnx::OPSET,
        if extras.transform.is_some() && a.part != Part::Decoder {
            "; the model's scaling is the graph's first step"
        } else {
            ""
        }
    );
    Ok(())
}
