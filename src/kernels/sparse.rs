//! shaders/sparse.wgsl: a batch of dense rows gathered on the GPU from
//! sparse rows (CSR) kept there, so that a rating matrix takes the memory
//! of its ratings rather than of every cell.

use bytemuck::{Pod, Zeroable};

use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GpuTensor, Kernel, Shader, Step};
use crate::kernels::common::COMMON;
use crate::kernels::shape::{fold, need, product, u32_dim};

/// shaders/sparse.wgsl.
pub static SHADER: Shader = Shader {
    name: "sparse",
    prelude: COMMON,
    body: include_str!("../../shaders/sparse.wgsl"),
    needs_f16: false,
    needs_subgroups: false,
};

/// The bindings of shaders/sparse.wgsl (binding 0 is the uniform).
pub mod binding {
    pub const ORDER: u32 = 1;
    pub const OFFSETS: u32 = 2;
    pub const COLUMNS: u32 = 3;
    pub const VALUES: u32 = 4;
    pub const OUT: u32 = 5;
}

/// The bindings by WGSL name, for the test that reads them back from the shader.
pub const BINDINGS: &[(&str, u32)] = &[
    ("order", 1),
    ("offsets", 2),
    ("columns", 3),
    ("values", 4),
    ("out", 5),
];

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct SparseParams {
    rows: u32,
    cols: u32,
    first: u32,
    absent: f32,
}

/// Every kernel of the file.
pub fn kernels() -> Vec<Kernel> {
    vec![Kernel::new(&SHADER, "gather_sparse")]
}

/// The sparse rows on the GPU: `src_rows + 1` offsets, and each entry's
/// column and value (`entries` of each, at least one element per buffer).
pub struct SparseTensors<'a> {
    pub src_rows: usize,
    pub entries: usize,
    pub offsets: &'a GpuTensor,
    pub columns: &'a GpuTensor,
    pub values: &'a GpuTensor,
}

/// `out[j, :]` = row `order[first + j]` of the sparse rows, dense, with
/// `absent` where the row has no entry, for j in 0..rows. The offsets,
/// columns and row order must be consistent (as `data::sparse::Csr`
/// checks them on the host); the shader reads no further than they say.
#[allow(clippy::too_many_arguments)]
pub fn gather_sparse(
    ctx: &GpuContext,
    rows: usize,
    cols: usize,
    first: usize,
    absent: f32,
    order: &GpuTensor,
    src: &SparseTensors,
    out: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "gather_sparse";
    need(OP, "order", order, first + rows)?;
    need(OP, "offsets", src.offsets, src.src_rows + 1)?;
    need(OP, "columns", src.columns, src.entries)?;
    need(OP, "values", src.values, src.entries)?;
    need(OP, "out", out, product(OP, rows, cols)?)?;
    if src.entries > u32::MAX as usize {
        return Err(Error::shape(OP, format!("{} entries", src.entries)));
    }
    ctx.step(
        &Kernel::new(&SHADER, OP),
        format!("{OP}({rows}x{cols})"),
        &SparseParams {
            rows: u32_dim(OP, "rows", rows)?,
            cols: u32_dim(OP, "cols", cols)?,
            first: u32::try_from(first)
                .map_err(|_| Error::shape(OP, format!("first = {first}")))?,
            absent,
        },
        &[
            (binding::ORDER, order),
            (binding::OFFSETS, src.offsets),
            (binding::COLUMNS, src.columns),
            (binding::VALUES, src.values),
            (binding::OUT, out),
        ],
        fold(ctx, OP, rows as u64)?,
    )
}
