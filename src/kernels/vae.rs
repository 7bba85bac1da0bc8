//! shaders/vae.wgsl: the variational code: the reparameterization
//! z = mu + exp(logvar / 2) * eps, its gradient with the KL term's, and the
//! KL divergence of each row.

use bytemuck::{Pod, Zeroable};

use crate::error::Result;
use crate::gpu::{GpuContext, GpuTensor, Kernel, Shader, Step};
use crate::kernels::common::COMMON;
use crate::kernels::elementwise::ew_groups;
use crate::kernels::shape::{need, product, u32_dim};

/// shaders/vae.wgsl.
pub static SHADER: Shader = Shader {
    name: "vae",
    prelude: COMMON,
    body: include_str!("../../shaders/vae.wgsl"),
    needs_f16: false,
    needs_subgroups: false,
};

/// The bindings of shaders/vae.wgsl, as the shader names them (binding 0 is
/// the uniform parameters).
pub mod binding {
    pub const HEAD: u32 = 1;
    pub const EPS: u32 = 2;
    pub const DZ: u32 = 3;
    pub const OUT: u32 = 4;
}

/// The bindings by WGSL name, for the test that reads them back from the shader.
pub const BINDINGS: &[(&str, u32)] = &[("head", 1), ("eps", 2), ("dz", 3), ("out", 4)];

fn kernel(entry: &'static str) -> Kernel {
    Kernel::new(&SHADER, entry)
}

/// Every kernel of the file.
pub fn kernels() -> Vec<Kernel> {
    ["reparam", "vae_backward", "kl_rows"]
        .into_iter()
        .map(kernel)
        .collect()
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct VaeParams {
    rows: u32,
    code: u32,
    coef: f32,
    scale: f32,
}

fn vae_params(
    op: &'static str,
    rows: usize,
    code: usize,
    coef: f32,
    scale: f32,
) -> Result<VaeParams> {
    Ok(VaeParams {
        rows: u32_dim(op, "rows", rows)?,
        code: u32_dim(op, "code", code)?,
        coef,
        scale,
    })
}

/// `z = mu + exp(lv / 2) * eps` from the head `[mu | lv]` (rows, 2 code).
pub fn vae_reparam(
    ctx: &GpuContext,
    rows: usize,
    code: usize,
    head: &GpuTensor,
    eps: &GpuTensor,
    z: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "vae_reparam";
    let n = product(OP, rows, code)?;
    need(OP, "head", head, 2 * n)?;
    need(OP, "eps", eps, n)?;
    need(OP, "z", z, n)?;
    ctx.step(
        &kernel("reparam"),
        format!("{OP}({rows}x{code})"),
        &vae_params(OP, rows, code, 0.0, 0.0)?,
        &[
            (binding::HEAD, head),
            (binding::EPS, eps),
            (binding::OUT, z),
        ],
        ew_groups(ctx, OP, n)?,
    )
}

/// Gradient of the head `[mu | lv]` from the code's gradient `dz` plus
/// `beta * mean_b KL_b`.
#[allow(clippy::too_many_arguments)]
pub fn vae_backward(
    ctx: &GpuContext,
    rows: usize,
    code: usize,
    beta: f32,
    head: &GpuTensor,
    eps: &GpuTensor,
    dz: &GpuTensor,
    dhead: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "vae_backward";
    let n = product(OP, rows, code)?;
    need(OP, "head", head, 2 * n)?;
    need(OP, "eps", eps, n)?;
    need(OP, "dz", dz, n)?;
    need(OP, "dhead", dhead, 2 * n)?;
    ctx.step(
        &kernel("vae_backward"),
        format!("{OP}({rows}x{code})"),
        &vae_params(OP, rows, code, beta / rows as f32, 0.0)?,
        &[
            (binding::HEAD, head),
            (binding::EPS, eps),
            (binding::DZ, dz),
            (binding::OUT, dhead),
        ],
        ew_groups(ctx, OP, 2 * n)?,
    )
}

/// `out[b] = scale * KL(N(mu_b, exp(lv_b)) || N(0, I))`.
pub fn vae_kl_rows(
    ctx: &GpuContext,
    rows: usize,
    code: usize,
    scale: f32,
    head: &GpuTensor,
    out: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "vae_kl_rows";
    need(OP, "head", head, 2 * product(OP, rows, code)?)?;
    need(OP, "out", out, rows)?;
    ctx.step(
        &kernel("kl_rows"),
        format!("{OP}({rows}x{code})"),
        &vae_params(OP, rows, code, 0.0, scale)?,
        &[(binding::HEAD, head), (binding::OUT, out)],
        ew_groups(ctx, OP, rows)?,
    )
}
