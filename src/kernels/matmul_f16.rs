//! shaders/matmul_f16.wgsl: mixed precision. The matmul with f16 operands
//! and f32 products, sums and epilogue, and the casts between f32 and f16.
//! Inference only (`Precision::F16`).

use bytemuck::Zeroable;

use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GpuTensor, Kernel, Shader, Step};
use crate::kernels::common::COMMON;
use crate::kernels::elementwise::ew_groups;
use crate::kernels::matmul::{MatmulParams, MatmulSpec, MATMUL_TILE};
use crate::kernels::shape::{need, product, u32_dim};

/// shaders/matmul_f16.wgsl.
pub static SHADER: Shader = Shader {
    name: "matmul_f16",
    prelude: COMMON,
    body: include_str!("../../shaders/matmul_f16.wgsl"),
    needs_f16: true,
    needs_subgroups: false,
};

/// The bindings of shaders/matmul_f16.wgsl, as the shader names them
/// (binding 0 is the uniform parameters).
pub mod binding {
    pub const A: u32 = 1;
    pub const B: u32 = 2;
    pub const BIAS: u32 = 3;
    pub const C: u32 = 4;
    pub const C16: u32 = 5;
}

/// The bindings by WGSL name, for the test that reads them back from the shader.
pub const BINDINGS: &[(&str, u32)] = &[("a", 1), ("b", 2), ("bias", 3), ("c", 4), ("c16", 5)];

/// The matmul: the stored layouts, and whether C is written as f16.
fn kernel(trans_a: bool, trans_b: bool, out_f16: bool) -> Kernel {
    Kernel::new(&SHADER, "main")
        .flag("TRANS_A", trans_a)
        .flag("TRANS_B", trans_b)
        .flag("OUT_F16", out_f16)
}

/// Every kernel of the file, every specialization.
pub fn kernels() -> Vec<Kernel> {
    let mut all = Vec::new();
    for trans_a in [false, true] {
        for trans_b in [false, true] {
            for out_f16 in [false, true] {
                all.push(kernel(trans_a, trans_b, out_f16));
            }
        }
    }
    all.push(Kernel::new(&SHADER, "to_f16"));
    all.push(Kernel::new(&SHADER, "to_f32"));
    all
}

/// 4-byte words that hold `n` f16 values (tensors of f16 are sized in words).
pub fn f16_words(n: usize) -> usize {
    n.div_ceil(2)
}

fn need_f16(op: &'static str, name: &str, t: &GpuTensor, n: usize) -> Result<()> {
    if t.len() < f16_words(n) {
        return Err(Error::shape(
            op,
            format!("{name} holds {} f16 values but {n} are needed", 2 * t.len()),
        ));
    }
    Ok(())
}

/// Where a mixed-precision matmul writes C.
#[derive(Clone, Copy)]
pub enum MatmulOut<'a> {
    /// f32 values.
    F32(&'a GpuTensor),
    /// f16 values (a tensor of [`f16_words`] words), rounded from the f32
    /// epilogue and clamped to the f16 range.
    F16(&'a GpuTensor),
}

/// Mixed precision: `C = act(alpha * op(A) . op(B) + bias) + beta * C` with A
/// and B stored as f16 (tensors of [`f16_words`] words), products and sums in
/// f32, the epilogue in f32. Needs shader-f16 (`GpuContext::has_f16`).
pub fn matmul_f16(
    ctx: &GpuContext,
    spec: &MatmulSpec,
    a: &GpuTensor,
    b: &GpuTensor,
    bias: Option<&GpuTensor>,
    c: MatmulOut,
) -> Result<Step> {
    const OP: &str = "matmul_f16";
    ctx.require_f16(OP)?;
    let p = spec.params(OP, bias.is_some(), None)?;
    need_f16(OP, "A", a, product(OP, spec.m, spec.k)?)?;
    need_f16(OP, "B", b, product(OP, spec.k, spec.n)?)?;
    let mn = product(OP, spec.m, spec.n)?;
    let (c32, c16, out_f16) = match c {
        MatmulOut::F32(t) => {
            need(OP, "C", t, mn)?;
            (t, ctx.dummy()?, false)
        }
        MatmulOut::F16(t) => {
            need_f16(OP, "C", t, mn)?;
            (&ctx.dummy()?, t.clone(), true)
        }
    };
    if let Some(bias) = bias {
        need(OP, "bias", bias, spec.n)?;
    }
    let groups = spec.groups(ctx, OP, MATMUL_TILE, MATMUL_TILE)?;
    ctx.step(
        &kernel(spec.trans_a, spec.trans_b, out_f16),
        format!(
            "{OP}[{}]({}x{}x{})",
            spec.layout_name(),
            spec.m,
            spec.n,
            spec.k
        ),
        &p,
        &[
            (binding::A, a),
            (binding::B, b),
            (binding::BIAS, bias.unwrap_or(a)),
            (binding::C, c32),
            (binding::C16, &c16),
        ],
        groups,
    )
}

/// The casts' uniform: the count in `m`, the rest unused.
fn cast_params(op: &'static str, n: usize) -> Result<MatmulParams> {
    Ok(MatmulParams {
        m: u32_dim(op, "n", n)?,
        ..MatmulParams::zeroed()
    })
}

/// `out16 = f16(x)` for `n` values, clamped to the f16 range (+-65504).
pub fn to_f16(ctx: &GpuContext, n: usize, x: &GpuTensor, out16: &GpuTensor) -> Result<Step> {
    const OP: &str = "to_f16";
    ctx.require_f16(OP)?;
    need(OP, "x", x, n)?;
    need_f16(OP, "out", out16, n)?;
    ctx.step(
        &Kernel::new(&SHADER, "to_f16"),
        format!("{OP}({n})"),
        &cast_params(OP, n)?,
        &[(binding::C, x), (binding::C16, out16)],
        ew_groups(ctx, OP, n)?,
    )
}

/// `out = f32(x16)` for `n` values.
pub fn to_f32(ctx: &GpuContext, n: usize, x16: &GpuTensor, out: &GpuTensor) -> Result<Step> {
    const OP: &str = "to_f32";
    ctx.require_f16(OP)?;
    need_f16(OP, "x", x16, n)?;
    need(OP, "out", out, n)?;
    ctx.step(
        &Kernel::new(&SHADER, "to_f32"),
        format!("{OP}({n})"),
        &cast_params(OP, n)?,
        &[(binding::A, x16), (binding::C, out)],
        ew_groups(ctx, OP, n)?,
    )
}
