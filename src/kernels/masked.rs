//! shaders/masked.wgsl: rows with missing entries (marked [`MISSING`]) made
//! into the network's input and a mask, and the loss over the observed
//! entries alone: its gradient (the mean over a batch's observed entries)
//! and each row's loss (the mean over the row's own).

use bytemuck::{Pod, Zeroable};

use crate::error::Result;
use crate::gpu::{GpuContext, GpuTensor, Kernel, Shader, Step};
use crate::kernels::common::COMMON;
use crate::kernels::elementwise::ew_groups;
use crate::kernels::shape::{fold, need, product, u32_dim};
use crate::op::Loss;

pub use crate::data::MISSING;

/// shaders/masked.wgsl.
pub static SHADER: Shader = Shader {
    name: "masked",
    prelude: COMMON,
    body: include_str!("../../shaders/masked.wgsl"),
    needs_f16: false,
    needs_subgroups: false,
};

/// The bindings of shaders/masked.wgsl (binding 0 is the uniform).
pub mod binding {
    pub const X: u32 = 1;
    pub const FILLED: u32 = 2;
    pub const MASK: u32 = 3;
    pub const PRED: u32 = 4;
    pub const TGT: u32 = 5;
    pub const MSK: u32 = 6;
    pub const COUNT: u32 = 7;
    pub const GRAD: u32 = 8;
    pub const ROWOUT: u32 = 9;
}

/// The bindings by WGSL name, for the test that reads them back from the shader.
pub const BINDINGS: &[(&str, u32)] = &[
    ("x", 1),
    ("filled", 2),
    ("mask", 3),
    ("pred", 4),
    ("tgt", 5),
    ("msk", 6),
    ("count", 7),
    ("grad", 8),
    ("rowout", 9),
];

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct MaskedParams {
    rows: u32,
    cols: u32,
    kind: u32,
    scale: f32,
}

/// Every kernel of the file.
pub fn kernels() -> Vec<Kernel> {
    ["unmask", "masked_loss_fused", "masked_row_loss"]
        .into_iter()
        .map(|e| Kernel::new(&SHADER, e))
        .collect()
}

fn params(
    op: &'static str,
    loss: Loss,
    rows: usize,
    cols: usize,
    scale: f32,
) -> Result<MaskedParams> {
    Ok(MaskedParams {
        rows: u32_dim(op, "rows", rows)?,
        cols: u32_dim(op, "cols", cols)?,
        kind: match loss {
            Loss::Mse => 0,
            Loss::BceLogits => 1,
        },
        scale,
    })
}

/// `filled = x` with each [`MISSING`] entry 0, and `mask` 1 where observed,
/// 0 where missing, for `rows` x `cols` values.
pub fn unmask(
    ctx: &GpuContext,
    rows: usize,
    cols: usize,
    x: &GpuTensor,
    filled: &GpuTensor,
    mask: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "unmask";
    let n = product(OP, rows, cols)?;
    for (name, t) in [("x", x), ("filled", filled), ("mask", mask)] {
        need(OP, name, t, n)?;
    }
    ctx.step(
        &Kernel::new(&SHADER, OP),
        format!("{OP}({rows}x{cols})"),
        &params(OP, Loss::Mse, rows, cols, 1.0)?,
        &[
            (binding::X, x),
            (binding::FILLED, filled),
            (binding::MASK, mask),
        ],
        ew_groups(ctx, OP, n)?,
    )
}

/// The masked loss of `pred` against `tgt` where `mask` is 1: `grad` its
/// gradient w.r.t. `pred`, the mean over the `count[0]` observed entries
/// of the batch; `rowout[r]` = `row_scale` x row r's mean loss over its own
/// observed entries.
#[allow(clippy::too_many_arguments)]
pub fn masked_loss_fused(
    ctx: &GpuContext,
    loss: Loss,
    rows: usize,
    cols: usize,
    row_scale: f32,
    pred: &GpuTensor,
    tgt: &GpuTensor,
    mask: &GpuTensor,
    count: &GpuTensor,
    grad: &GpuTensor,
    rowout: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "masked_loss_fused";
    let n = product(OP, rows, cols)?;
    for (name, t) in [("pred", pred), ("tgt", tgt), ("mask", mask), ("grad", grad)] {
        need(OP, name, t, n)?;
    }
    need(OP, "count", count, 1)?;
    need(OP, "rowout", rowout, rows)?;
    ctx.step(
        &Kernel::new(&SHADER, OP),
        format!("{OP}({rows}x{cols},{loss:?})"),
        &params(OP, loss, rows, cols, row_scale)?,
        &[
            (binding::PRED, pred),
            (binding::TGT, tgt),
            (binding::MSK, mask),
            (binding::COUNT, count),
            (binding::GRAD, grad),
            (binding::ROWOUT, rowout),
        ],
        fold(ctx, OP, rows as u64)?,
    )
}

/// `rowout[r]` = `scale` x row r's mean loss over its observed entries.
#[allow(clippy::too_many_arguments)]
pub fn masked_row_loss(
    ctx: &GpuContext,
    loss: Loss,
    rows: usize,
    cols: usize,
    scale: f32,
    pred: &GpuTensor,
    tgt: &GpuTensor,
    mask: &GpuTensor,
    rowout: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "masked_row_loss";
    let n = product(OP, rows, cols)?;
    for (name, t) in [("pred", pred), ("tgt", tgt), ("mask", mask)] {
        need(OP, name, t, n)?;
    }
    need(OP, "rowout", rowout, rows)?;
    ctx.step(
        &Kernel::new(&SHADER, OP),
        format!("{OP}({rows}x{cols},{loss:?})"),
        &params(OP, loss, rows, cols, scale)?,
        &[
            (binding::PRED, pred),
            (binding::TGT, tgt),
            (binding::MSK, mask),
            (binding::ROWOUT, rowout),
        ],
        fold(ctx, OP, rows as u64)?,
    )
}
