//! shaders/common.wgsl, the prelude of every kernel module: the activation
//! functions by id and the helpers the kernels share.

/// Prepended to every kernel module.
pub const COMMON: &str = include_str!("../../shaders/common.wgsl");
