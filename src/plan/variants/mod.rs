//! The variants a model may add to its layers, one module each, every one
//! owning its buffers and adding its steps through [`hooks::Variant`].

pub mod contractive;
pub mod dropout;
pub mod hooks;
pub mod kl;
pub mod l1;
pub mod noise;
pub mod vae;

use crate::error::Result;
use crate::gpu::GpuContext;
use crate::model::{LayerSpec, ModelConfig};
use crate::plan::buffers::Mode;
use contractive::Contractive;
use dropout::Dropout;
use hooks::Variant;
use kl::KlSparse;
use l1::L1;
use noise::InputNoise;
use vae::Vae;

/// The variants `cfg` asks for in `mode`, in the order their steps run
/// (the noise before the layers; the VAE's sampling before dropout; the
/// penalties' values and gradients in the order L1, KL, contractive).
pub fn variants(
    ctx: &GpuContext,
    cfg: &ModelConfig,
    layers: &[LayerSpec],
    cap: usize,
    mode: Mode,
) -> Result<Vec<Box<dyn Variant>>> {
    let train = mode == Mode::Train;
    let mut out: Vec<Box<dyn Variant>> = Vec::new();
    if let (Some(kind), true) = (cfg.noise, train) {
        out.push(Box::new(InputNoise::new(ctx, kind, cap, cfg.input_dim)?));
    }
    if let Some(v) = cfg.variational {
        let c = cfg.code_dim();
        out.push(Box::new(Vae::new(ctx, v.beta, layers, c, cap, mode)?));
    }
    if train && cfg.dropout > 0.0 {
        out.push(Box::new(Dropout::new(ctx, cfg.dropout, layers, cap)?));
    }
    if cfg.l1 > 0.0 {
        out.push(Box::new(L1 { weight: cfg.l1 }));
    }
    if let Some(k) = cfg.kl_sparsity {
        out.push(Box::new(KlSparse::new(ctx, k, cfg.code_dim())?));
    }
    if cfg.contractive > 0.0 {
        let hidden = layers.first().map_or(0, |l| l.outputs);
        out.push(Box::new(Contractive::new(
            ctx,
            cfg.contractive,
            hidden,
            cap,
        )?));
    }
    Ok(out)
}
