//! The matmul family: shaders/matmul.wgsl (the tiled and direct kernels)
//! and the two files that build on its bindings and helpers,
//! shaders/matmul_subgroup.wgsl (A shared through subgroup shuffles) and
//! shaders/matmul_wide.wgsl (vec4-fed 128x128 and 64x64 tiles); which kernel
//! runs a given shape (the fixed rule, or [`tune`]'s measurements); and the
//! builders of every matmul step. Every kernel computes each output element
//! as the same chain of `fma`s in ascending k, so the choice changes the
//! speed and never the result.

pub mod tune;

use bytemuck::{Pod, Zeroable};

use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GpuTensor, Kernel, Shader, Step};
use crate::kernels::common::COMMON;
use crate::kernels::shape::{need, product, u32_dim};
use crate::op::{Activation, Tile};

/// shaders/matmul.wgsl: the tiled kernel (`main`) and the direct one.
pub static SHADER: Shader = Shader {
    name: "matmul",
    prelude: COMMON,
    body: include_str!("../../../shaders/matmul.wgsl"),
    needs_f16: false,
    needs_subgroups: false,
};

/// shaders/matmul_subgroup.wgsl, on matmul.wgsl's bindings and helpers.
pub static SUBGROUP: Shader = Shader {
    name: "matmul_subgroup",
    prelude: COMMON,
    body: concat!(
        include_str!("../../../shaders/matmul_subgroup.wgsl"),
        "\n",
        include_str!("../../../shaders/matmul.wgsl")
    ),
    needs_f16: false,
    needs_subgroups: true,
};

/// shaders/matmul_wide.wgsl (the vec4-fed tiles), on matmul.wgsl's too.
pub static WIDE: Shader = Shader {
    name: "matmul_wide",
    prelude: COMMON,
    body: concat!(
        include_str!("../../../shaders/matmul_wide.wgsl"),
        "\n",
        include_str!("../../../shaders/matmul.wgsl")
    ),
    needs_f16: false,
    needs_subgroups: false,
};

/// The bindings of the three files, as shaders/matmul.wgsl names them
/// (binding 0 is the uniform parameters).
pub mod binding {
    pub const A: u32 = 1;
    pub const B: u32 = 2;
    pub const BIAS: u32 = 3;
    pub const C: u32 = 4;
    pub const GATE: u32 = 5;
    /// vec4 aliases of A and B (the tiled kernels).
    pub const A4: u32 = 6;
    pub const B4: u32 = 7;
}

/// The bindings by WGSL name, for the test that reads them back from the shader.
pub const BINDINGS: &[(&str, u32)] = &[
    ("a", 1),
    ("b", 2),
    ("bias", 3),
    ("c", 4),
    ("gate", 5),
    ("a4", 6),
    ("b4", 7),
];

/// The ids of the activations a matmul epilogue applies (all but softmax),
/// each a specialization of the subgroup matmul (see [`subgroup_kernel`]).
pub const EPILOGUE_ACTS: [u32; 6] = [0, 1, 2, 3, 4, 5];

/// An operand of a matmul.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operand {
    A,
    B,
}

/// Columns of C per workgroup of a direct matmul kernel for an output `n`
/// wide: `main_direct` covers 64 (32 for outputs at most 32 wide, where half
/// of it would idle); the subgroup kernel 32 whatever the width: its 8
/// invocations are one SIMD group on lavapipe, which costs no more per
/// column than wider workgroups and wastes less past the last column
/// (BENCHMARKS.md).
pub fn direct_columns(subgroups: bool, n: usize) -> u32 {
    match (subgroups, n) {
        (true, _) | (false, 0..=32) => 32,
        (false, _) => 64,
    }
}

/// Invocations per workgroup (the shaders' `DW`) of a direct matmul kernel
/// covering `cols` columns: `main_direct` takes one column per invocation,
/// the subgroup kernel four.
pub fn direct_workgroup(subgroups: bool, cols: u32) -> u32 {
    if subgroups {
        cols / 4
    } else {
        cols
    }
}

/// The override constants every matmul kernel takes: the stored layouts and
/// the operand with a fused prologue.
fn layout_kernel(
    shader: &'static Shader,
    entry: &'static str,
    trans_a: bool,
    trans_b: bool,
    pro: Option<Operand>,
) -> Kernel {
    Kernel::new(shader, entry)
        .flag("TRANS_A", trans_a)
        .flag("TRANS_B", trans_b)
        .flag("PRO_A", pro == Some(Operand::A))
        .flag("PRO_B", pro == Some(Operand::B))
}

/// The tiled kernel (`main`, or `main_wide` for the vec4-fed tiles).
pub fn tiled_kernel(
    trans_a: bool,
    trans_b: bool,
    pro: Option<Operand>,
    tile: Tile,
    vec4: bool,
) -> Kernel {
    let (wx, wy, rm, rn, tk) = tile.params();
    if tile.is_wide() {
        // main_wide: a WS x WS workgroup of 8x8 blocks, K slices of 8.
        layout_kernel(&WIDE, "main_wide", trans_a, trans_b, pro)
            .flag("VEC4", vec4)
            .with("WS", wx)
    } else {
        layout_kernel(&SHADER, "main", trans_a, trans_b, pro)
            .flag("VEC4", vec4)
            .with("WG_X", wx)
            .with("WG_Y", wy)
            .with("RM", rm)
            .with("RN", rn)
            .with("TK", tk)
    }
}

/// The direct kernel without workgroup memory, `cols` columns per workgroup
/// (see [`direct_columns`]).
pub fn direct_kernel(trans_a: bool, trans_b: bool, pro: Option<Operand>, cols: u32) -> Kernel {
    layout_kernel(&SHADER, "main_direct", trans_a, trans_b, pro)
        .with("DW", direct_workgroup(false, cols))
}

/// The direct kernel sharing A through subgroup shuffles; `act`: the
/// epilogue's activation (its id), and `accum`: whether it may add
/// beta * C (beta != 0), both fixed when the pipeline is built (the
/// shader's `ACT` and `ACCUM`): CPU adapters, which run this kernel,
/// execute every case of a branch on a uniform value, masked, so a
/// runtime choice would cost them every activation's work, and a read of
/// C, on every output.
pub fn subgroup_kernel(
    trans_a: bool,
    trans_b: bool,
    pro: Option<Operand>,
    cols: u32,
    act: u32,
    accum: bool,
) -> Kernel {
    layout_kernel(&SUBGROUP, "main_direct_subgroup", trans_a, trans_b, pro)
        .with("DW", direct_workgroup(true, cols))
        .with("ACT", act)
        .flag("ACCUM", accum)
}

/// Every kernel of the three files, every specialization.
pub fn kernels() -> Vec<Kernel> {
    let mut all = Vec::new();
    for trans_a in [false, true] {
        for trans_b in [false, true] {
            for pro in [None, Some(Operand::A), Some(Operand::B)] {
                for tile in [Tile::T64, Tile::T128, Tile::T128V, Tile::T64V, Tile::T16] {
                    for vec4 in [false, true] {
                        all.push(tiled_kernel(trans_a, trans_b, pro, tile, vec4));
                    }
                }
                for cols in [32, 64] {
                    all.push(direct_kernel(trans_a, trans_b, pro, cols));
                }
                for act in EPILOGUE_ACTS {
                    for accum in [false, true] {
                        all.push(subgroup_kernel(
                            trans_a,
                            trans_b,
                            pro,
                            direct_columns(true, 0),
                            act,
                            accum,
                        ));
                    }
                }
            }
        }
    }
    all
}

/// `C = act(alpha * op(A) . op(B) + bias) + beta * C`, with op(A) (m, k) and
/// op(B) (k, n). `trans_a` means A is stored (k, m); `trans_b`, B is stored (n, k).
#[derive(Clone, Copy, Debug)]
pub struct MatmulSpec {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub trans_a: bool,
    pub trans_b: bool,
    pub alpha: f32,
    pub beta: f32,
    pub act: Activation,
}

impl MatmulSpec {
    /// Plain `C = op(A) . op(B)`.
    pub fn new(m: usize, n: usize, k: usize, trans_a: bool, trans_b: bool) -> Self {
        Self {
            m,
            n,
            k,
            trans_a,
            trans_b,
            alpha: 1.0,
            beta: 0.0,
            act: Activation::Identity,
        }
    }

    pub fn flops(&self) -> f64 {
        2.0 * self.m as f64 * self.n as f64 * self.k as f64
    }
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub(crate) struct MatmulParams {
    pub m: u32,
    pub n: u32,
    pub k: u32,
    pub use_bias: u32,
    pub alpha: f32,
    pub beta: f32,
    pub act: u32,
    pub act_alpha: f32,
    pub pro_act: u32,
    pub pro_alpha: f32,
    pub _pad: [u32; 2],
}

pub(crate) const MATMUL_TILE: u64 = 64;
const MATMUL_DIRECT_ROWS: u64 = 8;

impl MatmulSpec {
    /// The layout's name in step labels: A.B, At.B, A.Bt or At.Bt.
    pub(crate) fn layout_name(&self) -> &'static str {
        match (self.trans_a, self.trans_b) {
            (false, false) => "A.B",
            (true, false) => "At.B",
            (false, true) => "A.Bt",
            (true, true) => "At.Bt",
        }
    }

    /// The kernels' uniform: shape, epilogue, and the prologue's activation.
    pub(crate) fn params(
        &self,
        op: &'static str,
        use_bias: bool,
        pro: Option<Activation>,
    ) -> Result<MatmulParams> {
        if !self.act.is_elementwise() {
            return Err(Error::InvalidArgument(format!(
                "{op}: softmax cannot be fused into the matmul epilogue; apply it with act_forward"
            )));
        }
        if pro.is_some_and(|a| !a.is_elementwise()) {
            return Err(Error::InvalidArgument(format!(
                "{op}: the prologue takes an elementwise activation, not softmax"
            )));
        }
        Ok(MatmulParams {
            m: u32_dim(op, "m", self.m)?,
            n: u32_dim(op, "n", self.n)?,
            k: u32_dim(op, "k", self.k)?,
            use_bias: u32::from(use_bias),
            alpha: self.alpha,
            beta: self.beta,
            act: self.act.id(),
            act_alpha: self.act.alpha(),
            pro_act: pro.map_or(0, Activation::id),
            pro_alpha: pro.map_or(0.0, Activation::alpha),
            _pad: [0; 2],
        })
    }

    /// The dispatch for workgroups of `rows` x `cols` outputs.
    pub(crate) fn groups(
        &self,
        ctx: &GpuContext,
        op: &'static str,
        rows: u64,
        cols: u64,
    ) -> Result<[u32; 3]> {
        let gx = (self.n as u64).div_ceil(cols);
        let gy = (self.m as u64).div_ceil(rows);
        let max = u64::from(ctx.limits().max_compute_workgroups_per_dimension);
        if gx > max || gy > max {
            return Err(Error::shape(
                op,
                format!(
                    "{}x{} output needs more than {max} tiles per side",
                    self.m, self.n
                ),
            ));
        }
        Ok([gx as u32, gy as u32, 1])
    }
}

/// Which matmul kernel: tiles through workgroup memory (GPUs), or the direct
/// variant without it (CPU adapters, where invocations are SIMD lanes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatmulKernel {
    /// 64x64 tiles.
    Tiled,
    /// 128x128 tiles (8x8 per invocation), for large outputs on GPUs.
    TiledLarge,
    /// 128x128 tiles with the 8x8 blocks in vec4 registers, fed by vec4
    /// reads of workgroup memory and a register prefetch of the next slice.
    TiledLargeVec,
    /// 64x64 tiles fed the same way (8x8 invocations with 8x8 blocks).
    TiledVec,
    /// 16x16 tiles, one output per invocation: small outputs on GPUs.
    TiledSmall,
    /// No workgroup memory: for CPU adapters.
    Direct,
    /// Direct, with A shared through subgroup shuffles (subgroups of >= 8 lanes).
    DirectSubgroup,
}

/// How step labels mark a fused activation gradient on an operand.
pub(crate) fn gated_label(pro: Option<Operand>) -> &'static str {
    match pro {
        Some(Operand::A) => "*f'(A)",
        Some(Operand::B) => "*f'(B)",
        None => "",
    }
}

impl MatmulKernel {
    /// The tiled kernel of a tile shape.
    pub fn tiled(tile: Tile) -> Self {
        match tile {
            Tile::T64 => MatmulKernel::Tiled,
            Tile::T128 => MatmulKernel::TiledLarge,
            Tile::T128V => MatmulKernel::TiledLargeVec,
            Tile::T64V => MatmulKernel::TiledVec,
            Tile::T16 => MatmulKernel::TiledSmall,
        }
    }

    /// The tile shape of a tiled kernel; `None` for the direct ones.
    pub fn tile(self) -> Option<Tile> {
        match self {
            MatmulKernel::Tiled => Some(Tile::T64),
            MatmulKernel::TiledLarge => Some(Tile::T128),
            MatmulKernel::TiledLargeVec => Some(Tile::T128V),
            MatmulKernel::TiledVec => Some(Tile::T64V),
            MatmulKernel::TiledSmall => Some(Tile::T16),
            MatmulKernel::Direct | MatmulKernel::DirectSubgroup => None,
        }
    }

    /// The name `wgae bench` and the logs print.
    pub fn name(self) -> &'static str {
        match self {
            MatmulKernel::Tiled => "tiled64",
            MatmulKernel::TiledLarge => "tiled128",
            MatmulKernel::TiledLargeVec => "tiled128v",
            MatmulKernel::TiledVec => "tiled64v",
            MatmulKernel::TiledSmall => "tiled16",
            MatmulKernel::Direct => "direct",
            MatmulKernel::DirectSubgroup => "direct+subgroup",
        }
    }
}

/// The fused activation gradient of a backward matmul: the `operand` (A or
/// B) is multiplied element by element by `act'(gate)` as it is loaded, so
/// `dz = da * act'(z)` is never written out. `gate` is stored like the
/// operand and holds what the derivative reads (see [`Activation::gate_is_output`]).
#[derive(Clone, Copy)]
pub struct Prologue<'a> {
    pub operand: Operand,
    pub act: Activation,
    pub gate: &'a GpuTensor,
}

/// The matmul kernel for one matmul of a plan: the one `WGAE_MATMUL`
/// (or the options) forces; else, with tuning on, the fastest measured
/// for this shape (see [`tune`]); else the fixed rule
/// ([`rule_kernel`]). A failed measurement falls back on the
/// rule with a warning.
pub fn kernel_for(ctx: &GpuContext, spec: &MatmulSpec, pro: Option<Operand>) -> MatmulKernel {
    if ctx.autotune() {
        match tune::tune(ctx, tune::MatmulShape::of(spec, pro)) {
            Ok(t) => return t.best,
            Err(e) => tracing::warn!(
                error = %e,
                "could not time the matmul kernels for {}; using the fixed rule",
                tune::MatmulShape::of(spec, pro).label()
            ),
        }
    }
    rule_kernel(ctx, spec.m, spec.n)
}

/// The fixed rule for an (m, n) output: direct on CPU adapters (sharing
/// A through subgroups where it can); on GPUs the vec4-fed tiles
/// (`main_wide`), 128x128 when the output has at least 128 of them
/// (enough to fill a large GPU) and the adapter allows their 256
/// invocations, else 64x64; but 16x16 tiles for outputs of fewer than
/// 16 tiles of 64x64 (at most 256 x 256 or so; a small model's code
/// layer), where a handful of large tiles would leave most of the GPU
/// idle while each walks all of K. The vec4-fed tiles are 2-3x faster
/// than the scalar-fed ones at every shape measured on lavapipe, and
/// need a quarter of the loads from workgroup memory per FMA
/// (BENCHMARKS.md); on GPUs tuning measures all of them. `WGAE_MATMUL`
/// overrides.
pub fn rule_kernel(ctx: &GpuContext, m: usize, n: usize) -> MatmulKernel {
    if ctx.matmul_direct() {
        return if ctx.subgroup_matmul() {
            MatmulKernel::DirectSubgroup
        } else {
            MatmulKernel::Direct
        };
    }
    match ctx.matmul_tile() {
        Some(tile) => MatmulKernel::tiled(tile),
        None => {
            let tiles = |t: Tile| {
                let (tm, tn) = t.size();
                m.div_ceil(tm as usize) * n.div_ceil(tn as usize)
            };
            if tiles(Tile::T128V) >= 128 && tile_fits(ctx, Tile::T128V) {
                MatmulKernel::TiledLargeVec
            } else if tiles(Tile::T64) < 16 {
                MatmulKernel::TiledSmall
            } else if tile_fits(ctx, Tile::T64V) {
                MatmulKernel::TiledVec
            } else {
                MatmulKernel::Tiled
            }
        }
    }
}

/// Whether the adapter's limits allow a tile shape.
pub fn tile_fits(ctx: &GpuContext, tile: Tile) -> bool {
    let (invocations, bytes) = tile.needs();
    let l = ctx.limits();
    l.max_compute_invocations_per_workgroup >= invocations
        && l.max_compute_workgroup_storage_size >= bytes
}

/// The matmul with the kernel chosen for its shape (see [`kernel_for`]).
pub fn matmul(
    ctx: &GpuContext,
    spec: &MatmulSpec,
    a: &GpuTensor,
    b: &GpuTensor,
    bias: Option<&GpuTensor>,
    c: &GpuTensor,
) -> Result<Step> {
    let kernel = kernel_for(ctx, spec, None);
    matmul_with(ctx, kernel, spec, a, b, bias, c)
}

/// `C = op(A') . op(B') + beta * C`, where the prologue's operand is
/// multiplied by `act'(gate)` on load and the other is read as stored.
#[allow(clippy::too_many_arguments)]
pub fn matmul_prologue(
    ctx: &GpuContext,
    kernel: MatmulKernel,
    spec: &MatmulSpec,
    a: &GpuTensor,
    b: &GpuTensor,
    pro: Prologue,
    c: &GpuTensor,
) -> Result<Step> {
    matmul_impl(ctx, kernel, spec, a, b, None, Some(pro), c)
}

/// The matmul with a chosen kernel.
#[allow(clippy::too_many_arguments)]
pub fn matmul_with(
    ctx: &GpuContext,
    kernel: MatmulKernel,
    spec: &MatmulSpec,
    a: &GpuTensor,
    b: &GpuTensor,
    bias: Option<&GpuTensor>,
    c: &GpuTensor,
) -> Result<Step> {
    matmul_impl(ctx, kernel, spec, a, b, bias, None, c)
}

#[allow(clippy::too_many_arguments)]
fn matmul_impl(
    ctx: &GpuContext,
    kernel: MatmulKernel,
    spec: &MatmulSpec,
    a: &GpuTensor,
    b: &GpuTensor,
    bias: Option<&GpuTensor>,
    pro: Option<Prologue>,
    c: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "matmul";
    let p = spec.params(OP, bias.is_some(), pro.map(|p| p.act))?;
    need(OP, "A", a, product(OP, spec.m, spec.k)?)?;
    need(OP, "B", b, product(OP, spec.k, spec.n)?)?;
    need(OP, "C", c, product(OP, spec.m, spec.n)?)?;
    if let Some(bias) = bias {
        need(OP, "bias", bias, spec.n)?;
    }
    if let Some(pro) = &pro {
        let (name, len) = match pro.operand {
            Operand::A => ("gate (like A)", spec.m * spec.k),
            Operand::B => ("gate (like B)", spec.k * spec.n),
        };
        need(OP, name, pro.gate, len)?;
    }
    let direct = kernel.tile().is_none();
    let tile = kernel.tile().unwrap_or(Tile::T64);
    if !direct && !tile_fits(ctx, tile) {
        let (inv, bytes) = tile.needs();
        return Err(Error::InvalidArgument(format!(
            "matmul: {tile:?} tiles need {inv} invocations and {bytes} bytes of workgroup \
             memory per workgroup, more than adapter '{}' allows; use smaller tiles \
             (WGAE_MATMUL=tiled64)",
            ctx.adapter_name()
        )));
    }
    // Direct kernels: narrower workgroups for narrow outputs.
    let cols = direct_columns(kernel == MatmulKernel::DirectSubgroup, spec.n);
    let groups = if direct {
        spec.groups(ctx, OP, MATMUL_DIRECT_ROWS, u64::from(cols))?
    } else {
        let (tm, tn) = tile.size();
        spec.groups(ctx, OP, u64::from(tm), u64::from(tn))?
    };
    // vec4 loads need the contiguous dimension of each stored operand to be a
    // multiple of 4 (the bindings themselves start 256-byte aligned).
    let contiguous_a = if spec.trans_a { spec.m } else { spec.k };
    let contiguous_b = if spec.trans_b { spec.k } else { spec.n };
    let vec4 = contiguous_a % 4 == 0 && contiguous_b % 4 == 0;
    let operand = pro.map(|p| p.operand);
    let (ta, tb) = (spec.trans_a, spec.trans_b);
    let kernel = if kernel == MatmulKernel::DirectSubgroup {
        subgroup_kernel(ta, tb, operand, cols, spec.act.id(), spec.beta != 0.0)
    } else if direct {
        direct_kernel(ta, tb, operand, cols)
    } else {
        tiled_kernel(ta, tb, operand, tile, vec4)
    };
    let gated = gated_label(operand);
    let dummy = ctx.dummy()?;
    let mut bindings = vec![
        (binding::A, a),
        (binding::B, b),
        (binding::BIAS, bias.unwrap_or(a)),
        (binding::C, c),
        (binding::GATE, pro.map_or(a, |p| p.gate)),
    ];
    if !direct {
        // The vec4 aliases; any 16 bytes where unused.
        bindings.push((binding::A4, if vec4 { a } else { &dummy }));
        bindings.push((binding::B4, if vec4 { b } else { &dummy }));
    }
    let shape = match (direct, tile) {
        // The direct kernels' width where it is not their widest.
        (true, _) => {
            let full = direct_columns(kernel.needs_subgroups(), usize::MAX);
            let width = if cols < full {
                cols.to_string()
            } else {
                String::new()
            };
            let sub = if kernel.needs_subgroups() {
                ",subgroup"
            } else {
                ""
            };
            format!("direct{width}{sub}")
        }
        (false, Tile::T64) => "64".into(),
        (false, Tile::T128) => "128".into(),
        (false, Tile::T128V) => "128v".into(),
        (false, Tile::T64V) => "64v".into(),
        (false, Tile::T16) => "16".into(),
    };
    ctx.step(
        &kernel,
        format!(
            "{OP}[{}{gated},{shape}{}]({}x{}x{})",
            spec.layout_name(),
            if vec4 && !direct { ",vec4" } else { "" },
            spec.m,
            spec.n,
            spec.k
        ),
        &p,
        &bindings,
        groups,
    )
}
