//! shaders/elementwise.wgsl: activations and their gradients elementwise,
//! `axpby`, the elementwise product and `fill`. Softmax, which acts on rows,
//! is handed to [`softmax`](crate::kernels::softmax).

use bytemuck::{Pod, Zeroable};

use crate::error::Result;
use crate::gpu::{GpuContext, GpuTensor, Kernel, Shader, Step};
use crate::kernels::common::COMMON;
use crate::kernels::shape::{fold, need, product, u32_dim};
use crate::kernels::softmax;
use crate::op::Activation;

/// shaders/elementwise.wgsl.
pub static SHADER: Shader = Shader {
    name: "elementwise",
    prelude: COMMON,
    body: include_str!("../../shaders/elementwise.wgsl"),
    needs_f16: false,
    needs_subgroups: false,
};

/// The bindings of shaders/elementwise.wgsl, as the shader names them (binding 0 is
/// the uniform parameters).
pub mod binding {
    pub const X: u32 = 1;
    pub const Y: u32 = 2;
    pub const DY: u32 = 3;
    pub const OUT: u32 = 4;
}

/// The bindings by WGSL name, for the test that reads them back from the shader.
pub const BINDINGS: &[(&str, u32)] = &[("x", 1), ("y", 2), ("dy", 3), ("out", 4)];

fn kernel(entry: &'static str) -> Kernel {
    Kernel::new(&SHADER, entry)
}

/// Every kernel of the file.
pub fn kernels() -> Vec<Kernel> {
    ["act_forward", "act_backward", "axpby", "mul", "fill"]
        .into_iter()
        .map(kernel)
        .collect()
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct EwParams {
    n: u32,
    kind: u32,
    alpha: f32,
    beta: f32,
}

pub(crate) fn ew_groups(ctx: &GpuContext, op: &'static str, n: usize) -> Result<[u32; 3]> {
    fold(ctx, op, (n as u64).div_ceil(64))
}

/// `out = f(x)` over a (rows, cols) tensor; softmax acts on each row.
pub fn act_forward(
    ctx: &GpuContext,
    act: Activation,
    rows: usize,
    cols: usize,
    x: &GpuTensor,
    out: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "act_forward";
    let n = product(OP, rows, cols)?;
    need(OP, "x", x, n)?;
    need(OP, "out", out, n)?;
    let label = format!("{OP}({}, {rows}x{cols})", act.name());
    if act == Activation::Softmax {
        let p = softmax::RowParams {
            rows: u32_dim(OP, "rows", rows)?,
            cols: u32_dim(OP, "cols", cols)?,
            _pad: [0; 2],
        };
        return softmax::forward(ctx, &p, label, x, out);
    }
    let p = EwParams {
        n: u32_dim(OP, "n", n)?,
        kind: act.id(),
        alpha: act.alpha(),
        beta: 0.0,
    };
    ctx.step(
        &kernel("act_forward"),
        label,
        &p,
        &[(binding::X, x), (binding::OUT, out)],
        ew_groups(ctx, OP, n)?,
    )
}

/// `dz = dy * f'(z)`, from the pre-activation `z` and the output `y = f(z)`.
/// For softmax, `dz[r] = y[r] * (dy[r] - <dy[r], y[r]>)` and `z` is unused.
#[allow(clippy::too_many_arguments)]
pub fn act_backward(
    ctx: &GpuContext,
    act: Activation,
    rows: usize,
    cols: usize,
    z: &GpuTensor,
    y: &GpuTensor,
    dy: &GpuTensor,
    dz: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "act_backward";
    let n = product(OP, rows, cols)?;
    for (name, t) in [("z", z), ("y", y), ("dy", dy), ("dz", dz)] {
        need(OP, name, t, n)?;
    }
    let label = format!("{OP}({}, {rows}x{cols})", act.name());
    if act == Activation::Softmax {
        let p = softmax::RowParams {
            rows: u32_dim(OP, "rows", rows)?,
            cols: u32_dim(OP, "cols", cols)?,
            _pad: [0; 2],
        };
        return softmax::backward(ctx, &p, label, y, dy, dz);
    }
    let p = EwParams {
        n: u32_dim(OP, "n", n)?,
        kind: act.id(),
        alpha: act.alpha(),
        beta: 0.0,
    };
    ctx.step(
        &kernel("act_backward"),
        label,
        &p,
        &[
            (binding::X, z),
            (binding::Y, y),
            (binding::DY, dy),
            (binding::OUT, dz),
        ],
        ew_groups(ctx, OP, n)?,
    )
}

/// `out = alpha * x + beta * out` over the first `n` values (`out` is not read
/// when `beta == 0`).
pub fn axpby(
    ctx: &GpuContext,
    n: usize,
    alpha: f32,
    x: &GpuTensor,
    beta: f32,
    out: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "axpby";
    need(OP, "x", x, n)?;
    need(OP, "out", out, n)?;
    let p = EwParams {
        n: u32_dim(OP, "n", n)?,
        kind: 0,
        alpha,
        beta,
    };
    ctx.step(
        &kernel("axpby"),
        format!("{OP}({n})"),
        &p,
        &[(binding::X, x), (binding::OUT, out)],
        ew_groups(ctx, OP, n)?,
    )
}

/// L2 weight decay gradient: `g += lambda * w`.
pub fn l2_grad(ctx: &GpuContext, lambda: f32, w: &GpuTensor, g: &GpuTensor) -> Result<Step> {
    axpby(ctx, w.len(), lambda, w, 1.0, g)
}

/// `out = value` everywhere.
pub fn fill(ctx: &GpuContext, value: f32, out: &GpuTensor) -> Result<Step> {
    const OP: &str = "fill";
    let n = out.len();
    let p = EwParams {
        n: u32_dim(OP, "n", n)?,
        kind: 0,
        alpha: value,
        beta: 0.0,
    };
    ctx.step(
        &kernel("fill"),
        format!("{OP}({n})"),
        &p,
        &[(binding::OUT, out)],
        ew_groups(ctx, OP, n)?,
    )
}

/// `out = x * y` over the first `n` values.
pub fn mul(
    ctx: &GpuContext,
    n: usize,
    x: &GpuTensor,
    y: &GpuTensor,
    out: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "mul";
    for (name, t) in [("x", x), ("y", y), ("out", out)] {
        need(OP, name, t, n)?;
    }
    let p = EwParams {
        n: u32_dim(OP, "n", n)?,
        kind: 0,
        alpha: 0.0,
        beta: 0.0,
    };
    ctx.step(
        &kernel("mul"),
        format!("{OP}({n})"),
        &p,
        &[(binding::X, x), (binding::Y, y), (binding::OUT, out)],
        ew_groups(ctx, OP, n)?,
    )
}
