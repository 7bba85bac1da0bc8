//! shaders/reduce.wgsl: column sums (bias gradients, column means, optionally
//! gated by an activation gradient) and whole-tensor sums in one or two
//! passes (metrics, the gradient norm).

use bytemuck::{Pod, Zeroable};

use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GpuTensor, Kernel, Shader, Step};
use crate::kernels::common::COMMON;
use crate::kernels::shape::{fold, need, product, u32_dim};
use crate::op::Activation;

/// shaders/reduce.wgsl.
pub static SHADER: Shader = Shader {
    name: "reduce",
    prelude: COMMON,
    body: include_str!("../../shaders/reduce.wgsl"),
    needs_f16: false,
    needs_subgroups: false,
};

/// The bindings of shaders/reduce.wgsl, as the shader names them (binding 0 is
/// the uniform parameters).
pub mod binding {
    pub const X: u32 = 1;
    pub const PARTIALS: u32 = 2;
    pub const OUT: u32 = 3;
    pub const GATE: u32 = 4;
}

/// The bindings by WGSL name, for the test that reads them back from the shader.
pub const BINDINGS: &[(&str, u32)] = &[("x", 1), ("partials", 2), ("out", 3), ("gate", 4)];

fn kernel(entry: &'static str) -> Kernel {
    Kernel::new(&SHADER, entry)
}

/// Every kernel of the file.
pub fn kernels() -> Vec<Kernel> {
    ["col_sum", "reduce_partial", "reduce_final", "reduce_single"]
        .into_iter()
        .map(kernel)
        .collect()
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct ReduceParams {
    rows: u32,
    cols: u32,
    n: u32,
    mode: u32,
    n_partials: u32,
    out_index: u32,
    scale: f32,
    beta: f32,
    act: u32,
    act_alpha: f32,
    /// A second destination (`NO_TARGET` for none) and its scale.
    out_index2: u32,
    scale2: f32,
}

/// What a whole-tensor reduction sums.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReduceMode {
    Sum,
    SumSquares,
    SumAbs,
}

/// Scratch words a reduction needs between its two passes.
pub const REDUCE_PARTIALS: usize = 256;

/// `out[j] = scale * sum_i x[i, j] + beta * out[j]`: the bias gradient with
/// scale 1, a column mean with scale 1 / rows. With `gate = Some((f, g))`
/// every x[i, j] is first multiplied by f'(g[i, j]), the activation gradient
/// fused as in [`crate::kernels::matmul::matmul_prologue`].
#[allow(clippy::too_many_arguments)]
pub fn col_sum(
    ctx: &GpuContext,
    rows: usize,
    cols: usize,
    scale: f32,
    beta: f32,
    x: &GpuTensor,
    gate: Option<(Activation, &GpuTensor)>,
    out: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "col_sum";
    need(OP, "x", x, product(OP, rows, cols)?)?;
    need(OP, "out", out, cols)?;
    if let Some((act, g)) = gate {
        if !act.is_elementwise() {
            return Err(Error::InvalidArgument(
                "col_sum: the gate takes an elementwise activation, not softmax".into(),
            ));
        }
        need(OP, "gate", g, rows * cols)?;
    }
    let p = ReduceParams {
        rows: u32_dim(OP, "rows", rows)?,
        cols: u32_dim(OP, "cols", cols)?,
        n: 0,
        mode: 0,
        n_partials: 0,
        out_index: 0,
        scale,
        beta,
        act: gate.map_or(0, |(a, _)| a.id()),
        act_alpha: gate.map_or(0.0, |(a, _)| a.alpha()),
        out_index2: NO_TARGET,
        scale2: 0.0,
    };
    let gated = if gate.is_some() { "*f'" } else { "" };
    ctx.step(
        &kernel("col_sum"),
        format!("{OP}{gated}({rows}x{cols})"),
        &p,
        &[
            (binding::X, x),
            (binding::OUT, out),
            (binding::GATE, gate.map_or(x, |(_, g)| g)),
        ],
        fold(ctx, OP, (cols as u64).div_ceil(64))?,
    )
}

/// `out[out_index] = scale * sum f(x) + beta * out[out_index]`: one dispatch
/// for up to 1024 elements, two (through `partials`, at least
/// [`REDUCE_PARTIALS`] words) above. Mean: `Sum` with scale 1 / n. With
/// beta = 1 a loss accumulates in place.
#[allow(clippy::too_many_arguments)]
pub fn reduce(
    ctx: &GpuContext,
    mode: ReduceMode,
    scale: f32,
    beta: f32,
    x: &GpuTensor,
    partials: &GpuTensor,
    out: &GpuTensor,
    out_index: usize,
) -> Result<Vec<Step>> {
    reduce_to(ctx, mode, beta, x, partials, out, &[(out_index, scale)])
}

/// No second destination (ReduceParams::out_index2).
const NO_TARGET: u32 = u32::MAX;

/// [`reduce`] into one or two destinations `(index, scale)` at once:
/// `out[index] = scale * sum f(x) + beta * out[index]` for each, from one
/// sum (the same bits as two reductions, in half the dispatches).
pub fn reduce_to(
    ctx: &GpuContext,
    mode: ReduceMode,
    beta: f32,
    x: &GpuTensor,
    partials: &GpuTensor,
    out: &GpuTensor,
    targets: &[(usize, f32)],
) -> Result<Vec<Step>> {
    const OP: &str = "reduce";
    let n = x.len();
    let (&(out_index, scale), other) = match targets {
        [first] => (first, None),
        [first, other] if other.0 != first.0 => (first, Some(*other)),
        _ => {
            return Err(Error::InvalidArgument(format!(
                "{OP}: one or two distinct destinations, not {targets:?}"
            )))
        }
    };
    need(OP, "partials", partials, REDUCE_PARTIALS)?;
    for &(i, _) in targets {
        need(OP, "out", out, i + 1)?;
    }
    let n_partials = (n as u64).div_ceil(1024).clamp(1, REDUCE_PARTIALS as u64) as u32;
    let out_word = |i: usize| {
        u32::try_from(i)
            .ok()
            .filter(|&w| w != NO_TARGET)
            .ok_or_else(|| Error::InvalidArgument(format!("{OP}: out index {i} is too large")))
    };
    let p = ReduceParams {
        rows: 0,
        cols: 0,
        n: u32_dim(OP, "n", n)?,
        mode: match mode {
            ReduceMode::Sum => 0,
            ReduceMode::SumSquares => 1,
            ReduceMode::SumAbs => 2,
        },
        n_partials,
        out_index: out_word(out_index)?,
        scale,
        beta,
        act: 0,
        act_alpha: 0.0,
        out_index2: match other {
            Some((i2, _)) => out_word(i2)?,
            None => NO_TARGET,
        },
        scale2: other.map_or(0.0, |(_, s)| s),
    };
    let label = format!("{OP}({mode:?}, {n})");
    // One workgroup's partial sum is the whole sum: the final pass would
    // only add zeros to it (changing no bit of a nonzero sum), so one
    // dispatch does both.
    if n_partials == 1 {
        return Ok(vec![ctx.step(
            &kernel("reduce_single"),
            label,
            &p,
            &[(binding::X, x), (binding::OUT, out)],
            [1, 1, 1],
        )?]);
    }
    let first = ctx.step(
        &kernel("reduce_partial"),
        format!("{label} partial"),
        &p,
        &[(binding::X, x), (binding::PARTIALS, partials)],
        [n_partials, 1, 1],
    )?;
    let second = ctx.step(
        &kernel("reduce_final"),
        format!("{label} final"),
        &p,
        &[(binding::PARTIALS, partials), (binding::OUT, out)],
        [1, 1, 1],
    )?;
    Ok(vec![first, second])
}
