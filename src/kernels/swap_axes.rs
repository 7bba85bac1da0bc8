//! shaders/swap_axes.wgsl: each sample's two axes swapped, (a, b) -> (b, a)
//! (the `permute` layer, and its gradient the other way).

use bytemuck::{Pod, Zeroable};

use crate::error::Result;
use crate::gpu::{GpuContext, GpuTensor, Kernel, Shader, Step};
use crate::kernels::common::COMMON;
use crate::kernels::elementwise::ew_groups;
use crate::kernels::shape::{need, product, u32_dim};

/// shaders/swap_axes.wgsl.
pub static SHADER: Shader = Shader {
    name: "swap_axes",
    prelude: COMMON,
    body: include_str!("../../shaders/swap_axes.wgsl"),
    needs_f16: false,
    needs_subgroups: false,
};

/// The bindings of shaders/swap_axes.wgsl (binding 0 is the uniform).
pub mod binding {
    pub const X: u32 = 1;
    pub const OUT: u32 = 2;
}

/// The bindings by WGSL name, for the test that reads them back from the shader.
pub const BINDINGS: &[(&str, u32)] = &[("x", 1), ("out", 2)];

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct SwapParams {
    rows: u32,
    a: u32,
    b: u32,
    _pad: u32,
}

/// Every kernel of the file.
pub fn kernels() -> Vec<Kernel> {
    vec![Kernel::new(&SHADER, "swap_axes")]
}

/// `out[r, j, i] = x[r, i, j]` for `rows` samples of (a, b) values.
pub fn swap_axes(
    ctx: &GpuContext,
    rows: usize,
    a: usize,
    b: usize,
    x: &GpuTensor,
    out: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "swap_axes";
    let n = product(OP, rows, product(OP, a, b)?)?;
    need(OP, "x", x, n)?;
    need(OP, "out", out, n)?;
    let p = SwapParams {
        rows: u32_dim(OP, "rows", rows)?,
        a: u32_dim(OP, "a", a)?,
        b: u32_dim(OP, "b", b)?,
        _pad: 0,
    };
    ctx.step(
        &Kernel::new(&SHADER, OP),
        format!("{OP}({rows}x{a}x{b})"),
        &p,
        &[(binding::X, x), (binding::OUT, out)],
        ew_groups(ctx, OP, n)?,
    )
}
