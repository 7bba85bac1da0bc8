//! RNG streams: one per use, so no two draws share numbers.

pub const NOISE: u32 = 1;
pub const VAE_EPS: u32 = 2;
pub const DROPOUT_BASE: u32 = 16;
/// Each layer's initial weights: `INIT_BASE + layer index`.
pub const INIT_BASE: u32 = 1024;
