//! shaders/shuffle.wgsl: the epoch's row order, a permutation of 0..n from a
//! Feistel network keyed by the seed and the epoch, made on the GPU.

use bytemuck::{Pod, Zeroable};

use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GpuTensor, Kernel, Shader, Step};
use crate::kernels::common::COMMON;
use crate::kernels::elementwise::ew_groups;
use crate::kernels::shape::{need, u32_dim};

/// shaders/shuffle.wgsl.
pub static SHADER: Shader = Shader {
    name: "shuffle",
    prelude: COMMON,
    body: include_str!("../../shaders/shuffle.wgsl"),
    needs_f16: false,
    needs_subgroups: false,
};

/// The bindings of shaders/shuffle.wgsl, as the shader names them (binding 0 is
/// the uniform parameters).
pub mod binding {
    pub const EPOCH: u32 = 1;
    pub const PERM: u32 = 2;
}

/// The bindings by WGSL name, for the test that reads them back from the shader.
pub const BINDINGS: &[(&str, u32)] = &[("epoch", 1), ("perm", 2)];

/// Every kernel of the file.
pub fn kernels() -> Vec<Kernel> {
    vec![Kernel::new(&SHADER, "permute")]
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct ShuffleParams {
    n: u32,
    half_bits: u32,
    seed_lo: u32,
    seed_hi: u32,
}

/// Bits in each Feistel half for a domain of `n` values: the least h with 4^h >= n.
pub fn shuffle_half_bits(n: usize) -> u32 {
    let mut h = 1u32;
    while (1u64 << (2 * h)) < n as u64 {
        h += 1;
    }
    h
}

/// `perm` = a permutation of 0..n keyed by `seed` and `epoch[0]` (u32 words).
pub fn permute(
    ctx: &GpuContext,
    n: usize,
    seed: u64,
    epoch: &GpuTensor,
    perm: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "permute";
    need(OP, "perm", perm, n)?;
    need(OP, "epoch", epoch, 1)?;
    if n > (1usize << 31) {
        return Err(Error::shape(
            OP,
            format!("{n} rows is more than a shuffle can index"),
        ));
    }
    let p = ShuffleParams {
        n: u32_dim(OP, "n", n)?,
        half_bits: shuffle_half_bits(n),
        seed_lo: seed as u32,
        seed_hi: (seed >> 32) as u32,
    };
    ctx.step(
        &Kernel::new(&SHADER, "permute"),
        format!("{OP}({n})"),
        &p,
        &[(binding::EPOCH, epoch), (binding::PERM, perm)],
        ew_groups(ctx, OP, n)?,
    )
}
