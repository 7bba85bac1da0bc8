//! shaders/softmax.wgsl: the row-wise softmax and its gradient.

use bytemuck::{Pod, Zeroable};

use crate::error::Result;
use crate::gpu::{GpuContext, GpuTensor, Kernel, Shader, Step};
use crate::kernels::common::COMMON;
use crate::kernels::shape::fold;

/// shaders/softmax.wgsl.
pub static SHADER: Shader = Shader {
    name: "softmax",
    prelude: COMMON,
    body: include_str!("../../shaders/softmax.wgsl"),
    needs_f16: false,
    needs_subgroups: false,
};

/// The bindings of shaders/softmax.wgsl, as the shader names them (binding 0 is
/// the uniform parameters).
pub mod binding {
    pub const X: u32 = 1;
    pub const DY: u32 = 2;
    pub const OUT: u32 = 3;
}

/// The bindings by WGSL name, for the test that reads them back from the shader.
pub const BINDINGS: &[(&str, u32)] = &[("x", 1), ("dy", 2), ("out", 3)];

/// The kernels' uniform: a (rows, cols) tensor.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub(crate) struct RowParams {
    pub rows: u32,
    pub cols: u32,
    pub _pad: [u32; 2],
}

/// Every kernel of the file.
pub fn kernels() -> Vec<Kernel> {
    vec![
        Kernel::new(&SHADER, "softmax_forward"),
        Kernel::new(&SHADER, "softmax_backward"),
    ]
}

/// `out[r] = softmax(x[r])` for each row; one workgroup per row. Reached
/// through `elementwise::act_forward`, which checks the shapes.
pub(crate) fn forward(
    ctx: &GpuContext,
    p: &RowParams,
    label: String,
    x: &GpuTensor,
    out: &GpuTensor,
) -> Result<Step> {
    ctx.step(
        &Kernel::new(&SHADER, "softmax_forward"),
        label,
        p,
        &[(binding::X, x), (binding::OUT, out)],
        fold(ctx, "softmax_forward", u64::from(p.rows))?,
    )
}

/// `dz[r] = y[r] * (dy[r] - <dy[r], y[r]>)` for each row, from y = softmax(z).
pub(crate) fn backward(
    ctx: &GpuContext,
    p: &RowParams,
    label: String,
    y: &GpuTensor,
    dy: &GpuTensor,
    dz: &GpuTensor,
) -> Result<Step> {
    ctx.step(
        &Kernel::new(&SHADER, "softmax_backward"),
        label,
        p,
        &[(binding::X, y), (binding::DY, dy), (binding::OUT, dz)],
        fold(ctx, "softmax_backward", u64::from(p.rows))?,
    )
}
