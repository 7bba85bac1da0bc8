//! shaders/loss.wgsl: the reconstruction losses (MSE, BCE on logits): the
//! elementwise gradient, the per-row loss, and both fused in one pass with
//! the per-row MSE metric. The per-row kernels run `ROW_WG` invocations per
//! row and fix the loss per pipeline (`LOSS`).

use bytemuck::{Pod, Zeroable};

use crate::error::{Error, Result};
use crate::gpu::ROW_LANES;
use crate::gpu::{GpuContext, GpuTensor, Kernel, Shader, Step};
use crate::kernels::common::COMMON;
use crate::kernels::elementwise::ew_groups;
use crate::kernels::shape::{fold, need, product, u32_dim};
use crate::op::Loss;

/// shaders/loss.wgsl.
pub static SHADER: Shader = Shader {
    name: "loss",
    prelude: COMMON,
    body: include_str!("../../shaders/loss.wgsl"),
    needs_f16: false,
    needs_subgroups: false,
};

/// The bindings of shaders/loss.wgsl, as the shader names them (binding 0 is
/// the uniform parameters).
pub mod binding {
    pub const PRED: u32 = 1;
    pub const TGT: u32 = 2;
    pub const OUT: u32 = 3;
    pub const ROWOUT: u32 = 4;
    pub const ROWMSE: u32 = 5;
    pub const PRED4: u32 = 6;
    pub const TGT4: u32 = 7;
    pub const OUT4: u32 = 8;
}

/// The bindings by WGSL name, for the test that reads them back from the shader.
pub const BINDINGS: &[(&str, u32)] = &[
    ("pred", 1),
    ("tgt", 2),
    ("out", 3),
    ("rowout", 4),
    ("rowmse", 5),
    ("pred4", 6),
    ("tgt4", 7),
    ("out4", 8),
];

/// A per-row kernel: `lanes` invocations per row (the shader's `ROW_WG`, see
/// [`ROW_LANES`]) and the loss, MSE (0) or BCE on logits (1), fixed when the
/// pipeline is built (`LOSS`): CPU adapters execute every case of a branch
/// on a uniform value, masked, so a choice made at run time would cost them
/// both losses' work on every element.
fn row_kernel(entry: &'static str, lanes: u32, loss: u32) -> Kernel {
    Kernel::new(&SHADER, entry)
        .with("ROW_WG", lanes)
        .with("LOSS", loss)
}

/// Every kernel of the file, every specialization.
pub fn kernels() -> Vec<Kernel> {
    let mut all = vec![Kernel::new(&SHADER, "loss_grad")];
    for lanes in ROW_LANES {
        for loss in [0, 1] {
            for entry in ["row_loss", "loss_fused", "loss_fused4"] {
                all.push(row_kernel(entry, lanes, loss));
            }
        }
    }
    all
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct LossParams {
    rows: u32,
    cols: u32,
    kind: u32,
    scale: f32,
    row_scale: f32,
    mse_rows: u32,
    _pad: [u32; 2],
}

fn loss_params(
    op: &'static str,
    loss: Loss,
    rows: usize,
    cols: usize,
    scale: f32,
) -> Result<LossParams> {
    Ok(LossParams {
        rows: u32_dim(op, "rows", rows)?,
        cols: u32_dim(op, "cols", cols)?,
        kind: match loss {
            Loss::Mse => 0,
            Loss::BceLogits => 1,
        },
        scale,
        row_scale: 0.0,
        mse_rows: 0,
        _pad: [0; 2],
    })
}

/// `out = scale * dloss/dpred` elementwise (scale = 1 / (rows * cols) for the
/// mean over elements).
#[allow(clippy::too_many_arguments)]
pub fn loss_grad(
    ctx: &GpuContext,
    loss: Loss,
    rows: usize,
    cols: usize,
    scale: f32,
    pred: &GpuTensor,
    target: &GpuTensor,
    out: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "loss_grad";
    let n = product(OP, rows, cols)?;
    for (name, t) in [("pred", pred), ("target", target), ("out", out)] {
        need(OP, name, t, n)?;
    }
    let p = loss_params(OP, loss, rows, cols, scale)?;
    ctx.step(
        &Kernel::new(&SHADER, "loss_grad"),
        format!("{OP}({loss:?}, {rows}x{cols})"),
        &p,
        &[
            (binding::PRED, pred),
            (binding::TGT, target),
            (binding::OUT, out),
        ],
        ew_groups(ctx, OP, n)?,
    )
}

/// `out[r] = scale * sum_j loss(pred[r, j], target[r, j])`: the per-sample
/// loss; with scale = 1 / cols and MSE it is the anomaly score.
#[allow(clippy::too_many_arguments)]
pub fn row_loss(
    ctx: &GpuContext,
    loss: Loss,
    rows: usize,
    cols: usize,
    scale: f32,
    pred: &GpuTensor,
    target: &GpuTensor,
    out: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "row_loss";
    let n = product(OP, rows, cols)?;
    need(OP, "pred", pred, n)?;
    need(OP, "target", target, n)?;
    need(OP, "out", out, rows)?;
    let p = loss_params(OP, loss, rows, cols, scale)?;
    ctx.step(
        &row_kernel("row_loss", ctx.row_lanes(), p.kind),
        format!("{OP}({loss:?}, {rows}x{cols})"),
        &p,
        &[
            (binding::PRED, pred),
            (binding::TGT, target),
            (binding::OUT, out),
        ],
        fold(ctx, OP, rows as u64)?,
    )
}

/// [`loss_grad`] and [`row_loss`] in one pass: `grad = scale * dloss/dpred`
/// and `rows_out[r] = row_scale * sum_j loss(r, j)`. With BCE, `rows_mse`
/// (if given) receives each row's mean squared error of the sigmoid output,
/// `(1/cols) sum_j (sigmoid(z) - t)^2`: the training metric, in the same pass.
#[allow(clippy::too_many_arguments)]
pub fn loss_fused(
    ctx: &GpuContext,
    loss: Loss,
    rows: usize,
    cols: usize,
    scale: f32,
    row_scale: f32,
    pred: &GpuTensor,
    target: &GpuTensor,
    grad: &GpuTensor,
    rows_out: &GpuTensor,
    rows_mse: Option<&GpuTensor>,
) -> Result<Step> {
    const OP: &str = "loss_fused";
    let n = product(OP, rows, cols)?;
    for (name, t) in [("pred", pred), ("target", target), ("grad", grad)] {
        need(OP, name, t, n)?;
    }
    need(OP, "rows_out", rows_out, rows)?;
    if let Some(m) = rows_mse {
        if loss != Loss::BceLogits {
            return Err(Error::InvalidArgument(format!(
                "{OP}: the per-row MSE output is for BCE on logits (with MSE it is rows_out)"
            )));
        }
        need(OP, "rows_mse", m, rows)?;
    }
    let mut p = loss_params(OP, loss, rows, cols, scale)?;
    p.row_scale = row_scale;
    p.mse_rows = u32::from(rows_mse.is_some());
    let dummy = ctx.dummy()?;
    // Four columns at a time where the width allows (the bindings start
    // 256-byte aligned).
    let lanes = ctx.row_lanes();
    let (kernel, vec4, [pred_at, target_at, grad_at]) = if cols.is_multiple_of(4) {
        (
            row_kernel("loss_fused4", lanes, p.kind),
            ",vec4",
            [binding::PRED4, binding::TGT4, binding::OUT4],
        )
    } else {
        (
            row_kernel("loss_fused", lanes, p.kind),
            "",
            [binding::PRED, binding::TGT, binding::OUT],
        )
    };
    ctx.step(
        &kernel,
        format!(
            "{OP}({loss:?}{}, {rows}x{cols}{vec4})",
            if rows_mse.is_some() { "+mse" } else { "" }
        ),
        &p,
        &[
            (pred_at, pred),
            (target_at, target),
            (grad_at, grad),
            (binding::ROWOUT, rows_out),
            (binding::ROWMSE, rows_mse.unwrap_or(&dummy)),
        ],
        fold(ctx, OP, rows as u64)?,
    )
}
