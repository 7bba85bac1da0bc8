//! shaders/gather.wgsl: a batch gathered from the resident dataset by the
//! epoch's row order, one or four columns per invocation.

use bytemuck::{Pod, Zeroable};

use crate::error::Result;
use crate::gpu::{GpuContext, GpuTensor, Kernel, Shader, Step};
use crate::kernels::common::COMMON;
use crate::kernels::elementwise::ew_groups;
use crate::kernels::shape::{need, product, u32_dim};

/// shaders/gather.wgsl.
pub static SHADER: Shader = Shader {
    name: "gather",
    prelude: COMMON,
    body: include_str!("../../shaders/gather.wgsl"),
    needs_f16: false,
    needs_subgroups: false,
};

/// The bindings of shaders/gather.wgsl, as the shader names them (binding 0 is
/// the uniform parameters).
pub mod binding {
    pub const IDX: u32 = 1;
    pub const SRC: u32 = 2;
    pub const OUT: u32 = 3;
    pub const SRC4: u32 = 4;
    pub const OUT4: u32 = 5;
}

/// The bindings by WGSL name, for the test that reads them back from the shader.
pub const BINDINGS: &[(&str, u32)] =
    &[("idx", 1), ("src", 2), ("out", 3), ("src4", 4), ("out4", 5)];

/// Every kernel of the file.
pub fn kernels() -> Vec<Kernel> {
    vec![
        Kernel::new(&SHADER, "gather_rows"),
        Kernel::new(&SHADER, "gather_rows4"),
    ]
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct GatherParams {
    rows: u32,
    cols: u32,
    idx_offset: u32,
    src_rows: u32,
}

/// `out[r, :] = src[idx[idx_offset + r], :]` for r in 0..rows; src is
/// (src_rows, cols).
#[allow(clippy::too_many_arguments)]
pub fn gather_rows(
    ctx: &GpuContext,
    rows: usize,
    cols: usize,
    idx_offset: usize,
    src_rows: usize,
    idx: &GpuTensor,
    src: &GpuTensor,
    out: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "gather_rows";
    let n = product(OP, rows, cols)?;
    need(OP, "idx", idx, idx_offset + rows)?;
    need(OP, "src", src, product(OP, src_rows, cols)?)?;
    need(OP, "out", out, n)?;
    let p = GatherParams {
        rows: u32_dim(OP, "rows", rows)?,
        cols: u32_dim(OP, "cols", cols)?,
        idx_offset: idx_offset as u32,
        src_rows: u32_dim(OP, "src_rows", src_rows)?,
    };
    if cols.is_multiple_of(4) {
        // Four columns per invocation (the bindings start 256-byte aligned).
        return ctx.step(
            &Kernel::new(&SHADER, "gather_rows4"),
            format!("{OP}({rows}x{cols},vec4)"),
            &p,
            &[
                (binding::IDX, idx),
                (binding::SRC4, src),
                (binding::OUT4, out),
            ],
            ew_groups(ctx, OP, n / 4)?,
        );
    }
    ctx.step(
        &Kernel::new(&SHADER, "gather_rows"),
        format!("{OP}({rows}x{cols})"),
        &p,
        &[
            (binding::IDX, idx),
            (binding::SRC, src),
            (binding::OUT, out),
        ],
        ew_groups(ctx, OP, n)?,
    )
}
