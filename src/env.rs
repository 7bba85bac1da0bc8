//! Settings from the environment, for programs that want them: the CLI,
//! the tests and the Python package call these; the library itself reads
//! no environment variable. (Feature `env`.)

use crate::error::{Error, Result};
use crate::gpu::adapter::parse_backend;
use crate::gpu::ContextOptions;
use crate::op::Tile;
use crate::plan::PlanOptions;

/// `1|on|true` or `0|off|false` from an environment variable.
fn env_flag(name: &str) -> Result<Option<bool>> {
    match std::env::var(name).ok().as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some("1" | "on" | "true") => Ok(Some(true)),
        Some("0" | "off" | "false") => Ok(Some(false)),
        Some(other) => Err(Error::InvalidArgument(format!(
            "{name}: '{other}' is not on or off (1/0)"
        ))),
    }
}

/// The context's options from `WGAE_ADAPTER`, `WGAE_BACKEND`, `WGAE_MATMUL`,
/// `WGAE_TUNE`, `WGAE_SUBGROUPS`, `WGAE_LOOP_BOUNDING`, `WGAE_MAX_BINDING`,
/// `WGAE_STREAM`, `WGAE_STREAM_SLOT` and `WGAE_GPU_MEMORY` (README: the GPU
/// context); unset ones take the adapter's defaults.
pub fn context_options() -> Result<ContextOptions> {
    let adapter = std::env::var("WGAE_ADAPTER")
        .ok()
        .filter(|s| !s.trim().is_empty());
    let backends = match std::env::var("WGAE_BACKEND") {
        Ok(s) if !s.trim().is_empty() => Some(parse_backend(&s)?),
        _ => None,
    };
    // (direct, forced tile) from WGAE_MATMUL.
    let (matmul_direct, matmul_tile) =
        match std::env::var("WGAE_MATMUL").ok().as_deref().map(str::trim) {
            None | Some("") => (None, None),
            Some("direct") => (Some(true), None),
            // The tiled kernels with the tile shape chosen per matmul, or forced.
            Some("tiled") => (Some(false), None),
            Some("tiled64") => (Some(false), Some(Tile::T64)),
            Some("tiled128") => (Some(false), Some(Tile::T128)),
            Some("tiled128v") => (Some(false), Some(Tile::T128V)),
            Some("tiled64v") => (Some(false), Some(Tile::T64V)),
            Some("tiled16") => (Some(false), Some(Tile::T16)),
            Some(other) => {
                return Err(Error::InvalidArgument(format!(
                    "WGAE_MATMUL: unknown kernel '{other}' (expected tiled, tiled16, tiled64, \
                     tiled128, tiled64v, tiled128v or direct)"
                )))
            }
        };
    Ok(ContextOptions {
        adapter,
        backends,
        matmul_direct,
        matmul_tile,
        tune: env_flag("WGAE_TUNE")?,
        subgroups: env_flag("WGAE_SUBGROUPS")?,
        loop_bounding: env_flag("WGAE_LOOP_BOUNDING")?,
        row_lanes: None,
        max_binding: match std::env::var("WGAE_MAX_BINDING")
            .ok()
            .as_deref()
            .map(str::trim)
        {
            None | Some("") => None,
            Some(v) => Some(v.parse::<u64>().ok().filter(|&b| b >= 4).ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "WGAE_MAX_BINDING: '{v}' is not a number of bytes (at least 4)"
                ))
            })?),
        },
        stream: env_flag("WGAE_STREAM")?,
        stream_slot: match std::env::var("WGAE_STREAM_SLOT").ok().as_deref() {
            None => None,
            Some(v) if v.trim().is_empty() => None,
            Some(v) => Some(
                crate::data::memory::parse_size(v)
                    .map_err(|e| Error::InvalidArgument(format!("WGAE_STREAM_SLOT: {e}")))?,
            ),
        },
        gpu_memory: match std::env::var("WGAE_GPU_MEMORY").ok().as_deref() {
            None => None,
            Some(v) if v.trim().is_empty() => None,
            Some(v) => Some(
                crate::data::memory::parse_size(v)
                    .map_err(|e| Error::InvalidArgument(format!("WGAE_GPU_MEMORY: {e}")))?,
            ),
        },
    })
}

/// How models are planned, from `WGAE_FUSE_ACT_GRAD=1|0` and
/// `WGAE_CONV=im2col|direct`; unset ones take the adapter's defaults.
pub fn plan_options() -> Result<PlanOptions> {
    Ok(PlanOptions {
        fuse_act_grad: env_flag("WGAE_FUSE_ACT_GRAD")?,
        conv_im2col: match std::env::var("WGAE_CONV").ok().as_deref().map(str::trim) {
            None | Some("") => None,
            Some("im2col") => Some(true),
            Some("direct") => Some(false),
            Some(other) => {
                return Err(Error::InvalidArgument(format!(
                    "WGAE_CONV: unknown algorithm '{other}' (expected im2col or direct)"
                )))
            }
        },
    })
}
