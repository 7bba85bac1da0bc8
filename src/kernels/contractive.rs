//! shaders/contractive.wgsl: the contractive penalty of a one-layer encoder,
//! lambda * ||dh/dx||_F^2, and its gradients, computed exactly from
//! s_j = sum_i W_ji^2 and f'(z)^2.

use bytemuck::{Pod, Zeroable};

use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GpuTensor, Kernel, Shader, Step};
use crate::kernels::common::COMMON;
use crate::kernels::elementwise::ew_groups;
use crate::kernels::shape::{need, product, u32_dim};
use crate::op::Activation;

/// shaders/contractive.wgsl.
pub static SHADER: Shader = Shader {
    name: "contractive",
    prelude: COMMON,
    body: include_str!("../../shaders/contractive.wgsl"),
    needs_f16: false,
    needs_subgroups: false,
};

/// The bindings of shaders/contractive.wgsl, as the shader names them (binding 0 is
/// the uniform parameters).
pub mod binding {
    pub const W: u32 = 1;
    pub const Y: u32 = 2;
    pub const VALS: u32 = 3;
    pub const OUT: u32 = 4;
}

/// The bindings by WGSL name, for the test that reads them back from the shader.
pub const BINDINGS: &[(&str, u32)] = &[("w", 1), ("y", 2), ("vals", 3), ("out", 4)];

fn kernel(entry: &'static str) -> Kernel {
    Kernel::new(&SHADER, entry)
}

/// Every kernel of the file.
pub fn kernels() -> Vec<Kernel> {
    ["row_sq", "jac_fp2", "jac_dz", "jac_wgrad"]
        .into_iter()
        .map(kernel)
        .collect()
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct ContractiveParams {
    rows: u32,
    hidden: u32,
    inputs: u32,
    act: u32,
    coef: f32,
    alpha: f32,
    _pad: [u32; 2],
}

/// Whether the contractive kernels can take f' and f'' from the output
/// (see [`Activation::derivatives_from_output`]).
pub fn contractive_supports(act: Activation) -> bool {
    act.derivatives_from_output()
}

fn contractive_params(
    op: &'static str,
    act: Activation,
    rows: usize,
    hidden: usize,
    inputs: usize,
    coef: f32,
) -> Result<ContractiveParams> {
    if !contractive_supports(act) {
        return Err(Error::InvalidArgument(format!(
            "{op}: the contractive penalty supports identity, relu, leaky relu, sigmoid and tanh codes, not {}",
            act.name()
        )));
    }
    Ok(ContractiveParams {
        rows: rows as u32,
        hidden: u32_dim(op, "hidden", hidden)?,
        inputs: inputs as u32,
        act: act.id(),
        coef,
        alpha: act.alpha(),
        _pad: [0; 2],
    })
}

/// `s[j] = sum_i W[j, i]^2` for W (hidden, inputs).
pub fn contractive_row_sq(
    ctx: &GpuContext,
    hidden: usize,
    inputs: usize,
    w: &GpuTensor,
    s: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "contractive_row_sq";
    need(OP, "W", w, product(OP, hidden, inputs)?)?;
    need(OP, "s", s, hidden)?;
    let mut p = contractive_params(OP, Activation::Identity, 1, hidden, inputs, 0.0)?;
    p.inputs = u32_dim(OP, "inputs", inputs)?;
    ctx.step(
        &kernel("row_sq"),
        format!("{OP}({hidden}x{inputs})"),
        &p,
        &[(binding::W, w), (binding::OUT, s)],
        ew_groups(ctx, OP, hidden)?,
    )
}

/// `fp2 = f'(z)^2` from the code y = f(z) (rows, hidden).
pub fn contractive_fp2(
    ctx: &GpuContext,
    act: Activation,
    rows: usize,
    hidden: usize,
    y: &GpuTensor,
    fp2: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "contractive_fp2";
    let n = product(OP, rows, hidden)?;
    need(OP, "y", y, n)?;
    need(OP, "fp2", fp2, n)?;
    let p = contractive_params(OP, act, rows, hidden, 0, 0.0)?;
    ctx.step(
        &kernel("jac_fp2"),
        format!("{OP}({rows}x{hidden})"),
        &p,
        &[(binding::Y, y), (binding::OUT, fp2)],
        ew_groups(ctx, OP, n)?,
    )
}

/// `dz += lambda / rows * 2 s_j f'(z) f''(z)`.
#[allow(clippy::too_many_arguments)]
pub fn contractive_dz(
    ctx: &GpuContext,
    act: Activation,
    rows: usize,
    hidden: usize,
    lambda: f32,
    y: &GpuTensor,
    s: &GpuTensor,
    dz: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "contractive_dz";
    let n = product(OP, rows, hidden)?;
    need(OP, "y", y, n)?;
    need(OP, "s", s, hidden)?;
    need(OP, "dz", dz, n)?;
    let p = contractive_params(OP, act, rows, hidden, 0, lambda / rows as f32)?;
    ctx.step(
        &kernel("jac_dz"),
        format!("{OP}({rows}x{hidden})"),
        &p,
        &[(binding::Y, y), (binding::VALS, s), (binding::OUT, dz)],
        ew_groups(ctx, OP, n)?,
    )
}

/// `dW[j, i] += lambda / rows * 2 W[j, i] c_j`, with c_j = sum_b f'(z_bj)^2.
#[allow(clippy::too_many_arguments)]
pub fn contractive_wgrad(
    ctx: &GpuContext,
    rows: usize,
    hidden: usize,
    inputs: usize,
    lambda: f32,
    w: &GpuTensor,
    c: &GpuTensor,
    dw: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "contractive_wgrad";
    let n = product(OP, hidden, inputs)?;
    need(OP, "W", w, n)?;
    need(OP, "c", c, hidden)?;
    need(OP, "dW", dw, n)?;
    let mut p = contractive_params(
        OP,
        Activation::Identity,
        rows,
        hidden,
        inputs,
        lambda / rows as f32,
    )?;
    p.inputs = u32_dim(OP, "inputs", inputs)?;
    ctx.step(
        &kernel("jac_wgrad"),
        format!("{OP}({hidden}x{inputs})"),
        &p,
        &[(binding::W, w), (binding::VALS, c), (binding::OUT, dw)],
        ew_groups(ctx, OP, n)?,
    )
}
