//! shaders/penalty.wgsl: the sparsity penalties on the code, the L1 activity
//! gradient and the KL sparsity terms and gradient.

use bytemuck::{Pod, Zeroable};

use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GpuTensor, Kernel, Shader, Step};
use crate::kernels::common::COMMON;
use crate::kernels::elementwise::ew_groups;
use crate::kernels::shape::{need, product, u32_dim};

/// shaders/penalty.wgsl.
pub static SHADER: Shader = Shader {
    name: "penalty",
    prelude: COMMON,
    body: include_str!("../../shaders/penalty.wgsl"),
    needs_f16: false,
    needs_subgroups: false,
};

/// The bindings of shaders/penalty.wgsl, as the shader names them (binding 0 is
/// the uniform parameters).
pub mod binding {
    pub const H: u32 = 1;
    pub const RHO_HAT: u32 = 2;
    pub const OUT: u32 = 3;
}

/// The bindings by WGSL name, for the test that reads them back from the shader.
pub const BINDINGS: &[(&str, u32)] = &[("h", 1), ("rho_hat", 2), ("out", 3)];

fn kernel(entry: &'static str) -> Kernel {
    Kernel::new(&SHADER, entry)
}

/// Every kernel of the file.
pub fn kernels() -> Vec<Kernel> {
    ["l1_grad", "kl_grad", "kl_loss"]
        .into_iter()
        .map(kernel)
        .collect()
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct PenaltyParams {
    rows: u32,
    cols: u32,
    rho: f32,
    coef: f32,
}

/// L1 activity penalty gradient: `g += lambda * sign(h)`.
pub fn l1_grad(
    ctx: &GpuContext,
    rows: usize,
    cols: usize,
    lambda: f32,
    h: &GpuTensor,
    g: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "l1_grad";
    let n = product(OP, rows, cols)?;
    need(OP, "h", h, n)?;
    need(OP, "g", g, n)?;
    let p = PenaltyParams {
        rows: u32_dim(OP, "rows", rows)?,
        cols: u32_dim(OP, "cols", cols)?,
        rho: 0.0,
        coef: lambda,
    };
    ctx.step(
        &kernel("l1_grad"),
        format!("{OP}({rows}x{cols})"),
        &p,
        &[(binding::H, h), (binding::OUT, g)],
        ew_groups(ctx, OP, n)?,
    )
}

fn check_rho(op: &'static str, rho: f32) -> Result<()> {
    if !(rho > 0.0 && rho < 1.0) {
        return Err(Error::InvalidArgument(format!(
            "{op}: the sparsity target rho must lie strictly between 0 and 1, got {rho}"
        )));
    }
    Ok(())
}

/// KL sparsity gradient on activations h (rows, cols), given the unit means
/// `rho_hat` (cols): `g += beta / rows * (-rho / rho_hat + (1 - rho) / (1 - rho_hat))`.
#[allow(clippy::too_many_arguments)]
pub fn kl_grad(
    ctx: &GpuContext,
    rows: usize,
    cols: usize,
    rho: f32,
    beta: f32,
    rho_hat: &GpuTensor,
    g: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "kl_grad";
    check_rho(OP, rho)?;
    let n = product(OP, rows, cols)?;
    need(OP, "rho_hat", rho_hat, cols)?;
    need(OP, "g", g, n)?;
    let p = PenaltyParams {
        rows: u32_dim(OP, "rows", rows)?,
        cols: u32_dim(OP, "cols", cols)?,
        rho,
        coef: beta / rows as f32,
    };
    ctx.step(
        &kernel("kl_grad"),
        format!("{OP}({rows}x{cols})"),
        &p,
        &[(binding::RHO_HAT, rho_hat), (binding::OUT, g)],
        ew_groups(ctx, OP, n)?,
    )
}

/// Per-unit KL sparsity terms `out[j] = beta * KL(rho || rho_hat[j])`; sum
/// them with [`reduce`] for the penalty.
pub fn kl_loss(
    ctx: &GpuContext,
    cols: usize,
    rho: f32,
    beta: f32,
    rho_hat: &GpuTensor,
    out: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "kl_loss";
    check_rho(OP, rho)?;
    need(OP, "rho_hat", rho_hat, cols)?;
    need(OP, "out", out, cols)?;
    let p = PenaltyParams {
        rows: 1,
        cols: u32_dim(OP, "cols", cols)?,
        rho,
        coef: beta,
    };
    ctx.step(
        &kernel("kl_loss"),
        format!("{OP}({cols})"),
        &p,
        &[(binding::RHO_HAT, rho_hat), (binding::OUT, out)],
        ew_groups(ctx, OP, cols)?,
    )
}
