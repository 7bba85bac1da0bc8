//! Ops: a kernel plus its buffers and parameters, checked and turned into a
//! [`Step`] (pipeline, bind group, workgroup counts) that is built once and
//! recorded as often as needed. Each builder does the same four things: check
//! the shapes, write the parameters into a uniform, bind the tensors, and
//! compute the dispatch size.

use bytemuck::{Pod, Zeroable};
use wgpu::util::DeviceExt;

use crate::error::{Error, Result};
use crate::gpu::context::GpuContext;
use crate::gpu::kernels::{direct_columns, Kernel, Operand, Tile};
use crate::gpu::tensor::GpuTensor;
use crate::gpu::tune::MatmulShape;

/// One ready dispatch.
#[derive(Debug)]
pub struct Step {
    label: String,
    pipeline: wgpu::ComputePipeline,
    bind_group: wgpu::BindGroup,
    groups: [u32; 3],
}

impl Step {
    pub fn label(&self) -> &str {
        &self.label
    }

    pub fn workgroups(&self) -> [u32; 3] {
        self.groups
    }

    /// Records the dispatch into an open compute pass.
    pub fn record(&self, pass: &mut wgpu::ComputePass<'_>) {
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        pass.dispatch_workgroups(self.groups[0], self.groups[1], self.groups[2]);
    }
}

impl GpuContext {
    /// Records whatever `record` puts into one compute pass, in one command
    /// buffer, and submits it; wgpu errors come back as `Err` naming `label`.
    pub fn record_pass(
        &self,
        label: &str,
        record: impl FnOnce(&mut wgpu::ComputePass<'_>),
    ) -> Result<()> {
        self.scoped(label, || {
            let mut enc = self
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(label) });
            {
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some(label),
                    timestamp_writes: None,
                });
                record(&mut pass);
            }
            self.queue.submit([enc.finish()]);
        })
    }

    /// Records `steps` in order into one compute pass and submits it. Does not
    /// wait; use [`GpuContext::wait`] or a read-back for that.
    pub fn run(&self, steps: &[&Step]) -> Result<()> {
        self.record_pass("wgae run", |pass| {
            for s in steps {
                s.record(pass);
            }
        })
    }

    /// Runs `steps` and waits for them to finish.
    pub fn run_wait(&self, steps: &[&Step]) -> Result<()> {
        self.run(steps)?;
        self.wait()
    }
}

/// Workgroup counts for `groups` workgroups of a 1-D launch, folded into 2-D
/// when they exceed the per-dimension limit (65,535 in WebGPU).
pub fn fold(ctx: &GpuContext, op: &'static str, groups: u64) -> Result<[u32; 3]> {
    let max = u64::from(ctx.limits().max_compute_workgroups_per_dimension.max(1));
    let groups = groups.max(1);
    if groups <= max {
        return Ok([groups as u32, 1, 1]);
    }
    let y = groups.div_ceil(max);
    if y > max {
        return Err(Error::shape(
            op,
            format!("{groups} workgroups exceed the {max} x {max} dispatch limit"),
        ));
    }
    Ok([max as u32, y as u32, 1])
}

fn u32_dim(op: &'static str, what: &str, v: usize) -> Result<u32> {
    u32::try_from(v)
        .ok()
        .filter(|&v| v > 0)
        .ok_or_else(|| Error::shape(op, format!("{what} = {v} must be in 1..=4294967295")))
}

fn need(op: &'static str, name: &str, t: &GpuTensor, len: usize) -> Result<()> {
    if t.len() < len {
        return Err(Error::shape(
            op,
            format!("{name} holds {} values but {len} are needed", t.len()),
        ));
    }
    Ok(())
}

fn product(op: &'static str, a: usize, b: usize) -> Result<usize> {
    a.checked_mul(b)
        .filter(|&n| n <= u32::MAX as usize)
        .ok_or_else(|| Error::shape(op, format!("{a} x {b} values overflow 32-bit indexing")))
}

/// Builds a step: uniform parameters at binding 0, `tensors` at their bindings.
fn make_step<P: Pod>(
    ctx: &GpuContext,
    kernel: Kernel,
    label: String,
    params: &P,
    tensors: &[(u32, &GpuTensor)],
    groups: [u32; 3],
) -> Result<Step> {
    let pipeline = ctx.pipeline(kernel)?;
    let align = u64::from(ctx.limits().min_storage_buffer_offset_alignment);
    for (binding, t) in tensors {
        if t.offset() % align != 0 {
            return Err(Error::InvalidArgument(format!(
                "{label}: tensor at binding {binding} starts at byte {} which is not a multiple \
                 of the adapter's storage offset alignment {align}",
                t.offset()
            )));
        }
    }
    let bind_group = ctx.scoped(&label, || {
        let uniform = ctx
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(&label),
                contents: bytemuck::bytes_of(params),
                usage: wgpu::BufferUsages::UNIFORM,
            });
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: uniform.as_entire_binding(),
        }];
        entries.extend(tensors.iter().map(|(binding, t)| wgpu::BindGroupEntry {
            binding: *binding,
            resource: t.binding(),
        }));
        ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(&label),
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        })
    })?;
    Ok(Step {
        label,
        pipeline,
        bind_group,
        groups,
    })
}

// ---------------------------------------------------------------- activations

/// Activation functions. Ids match `ACT_*` in shaders/common.wgsl.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    Identity,
    Relu,
    /// Leaky ReLU with the given negative slope.
    LeakyRelu(f32),
    Sigmoid,
    Tanh,
    /// GELU in its tanh form (PyTorch's `approximate='tanh'`).
    Gelu,
    /// Row-wise softmax.
    Softmax,
}

impl Activation {
    pub(crate) fn id(self) -> u32 {
        match self {
            Activation::Identity => 0,
            Activation::Relu => 1,
            Activation::LeakyRelu(_) => 2,
            Activation::Sigmoid => 3,
            Activation::Tanh => 4,
            Activation::Gelu => 5,
            Activation::Softmax => 6,
        }
    }

    pub(crate) fn alpha(self) -> f32 {
        match self {
            Activation::LeakyRelu(a) => a,
            _ => 0.0,
        }
    }

    /// Whether the function acts on each element alone (all but softmax).
    pub fn is_elementwise(self) -> bool {
        self != Activation::Softmax
    }

    /// The gate of a fused activation gradient ([`Prologue`], [`col_sum`])
    /// is the output y = f(z) when this is true and the pre-activation z
    /// otherwise: sigmoid and tanh read y; relu and leaky relu (slope > 0)
    /// may take either, since y > 0 exactly when z > 0; gelu needs z.
    pub fn gate_may_be_output(self) -> bool {
        match self {
            Activation::Identity | Activation::Relu | Activation::Sigmoid | Activation::Tanh => {
                true
            }
            Activation::LeakyRelu(a) => a > 0.0,
            Activation::Gelu | Activation::Softmax => false,
        }
    }

    /// Whether the gate must be the output (sigmoid, tanh).
    pub fn gate_is_output(self) -> bool {
        matches!(self, Activation::Sigmoid | Activation::Tanh)
    }

    pub fn name(self) -> &'static str {
        match self {
            Activation::Identity => "identity",
            Activation::Relu => "relu",
            Activation::LeakyRelu(_) => "leaky_relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Gelu => "gelu",
            Activation::Softmax => "softmax",
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct EwParams {
    n: u32,
    kind: u32,
    alpha: f32,
    beta: f32,
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct RowParams {
    rows: u32,
    cols: u32,
    _pad: [u32; 2],
}

fn ew_groups(ctx: &GpuContext, op: &'static str, n: usize) -> Result<[u32; 3]> {
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
        let p = RowParams {
            rows: u32_dim(OP, "rows", rows)?,
            cols: u32_dim(OP, "cols", cols)?,
            _pad: [0; 2],
        };
        let groups = fold(ctx, OP, rows as u64)?;
        return make_step(
            ctx,
            Kernel::SoftmaxForward,
            label,
            &p,
            &[(1, x), (3, out)],
            groups,
        );
    }
    let p = EwParams {
        n: u32_dim(OP, "n", n)?,
        kind: act.id(),
        alpha: act.alpha(),
        beta: 0.0,
    };
    make_step(
        ctx,
        Kernel::ActForward,
        label,
        &p,
        &[(1, x), (4, out)],
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
        let p = RowParams {
            rows: u32_dim(OP, "rows", rows)?,
            cols: u32_dim(OP, "cols", cols)?,
            _pad: [0; 2],
        };
        let groups = fold(ctx, OP, rows as u64)?;
        return make_step(
            ctx,
            Kernel::SoftmaxBackward,
            label,
            &p,
            &[(1, y), (2, dy), (3, dz)],
            groups,
        );
    }
    let p = EwParams {
        n: u32_dim(OP, "n", n)?,
        kind: act.id(),
        alpha: act.alpha(),
        beta: 0.0,
    };
    make_step(
        ctx,
        Kernel::ActBackward,
        label,
        &p,
        &[(1, z), (2, y), (3, dy), (4, dz)],
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
    make_step(
        ctx,
        Kernel::Axpby,
        format!("{OP}({n})"),
        &p,
        &[(1, x), (4, out)],
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
    make_step(
        ctx,
        Kernel::Fill,
        format!("{OP}({n})"),
        &p,
        &[(4, out)],
        ew_groups(ctx, OP, n)?,
    )
}

// --------------------------------------------------------------------- matmul

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
struct MatmulParams {
    m: u32,
    n: u32,
    k: u32,
    use_bias: u32,
    alpha: f32,
    beta: f32,
    act: u32,
    act_alpha: f32,
    pro_act: u32,
    pro_alpha: f32,
    _pad: [u32; 2],
}

const MATMUL_TILE: u64 = 64;
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
    fn params(
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
    fn groups(&self, ctx: &GpuContext, op: &'static str, rows: u64, cols: u64) -> Result<[u32; 3]> {
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

impl GpuContext {
    /// The matmul kernel for one matmul of a plan: the one `WGAE_MATMUL`
    /// (or the options) forces; else, with tuning on, the fastest measured
    /// for this shape (see [`crate::gpu::tune`]); else the fixed rule
    /// ([`GpuContext::rule_kernel`]). A failed measurement falls back on the
    /// rule with a warning.
    pub fn matmul_kernel_for(&self, spec: &MatmulSpec, pro: Option<Operand>) -> MatmulKernel {
        if self.autotune() {
            match self.tune_matmul(MatmulShape::of(spec, pro)) {
                Ok(t) => return t.best,
                Err(e) => tracing::warn!(
                    error = %e,
                    "could not time the matmul kernels for {}; using the fixed rule",
                    MatmulShape::of(spec, pro).label()
                ),
            }
        }
        self.rule_kernel(spec.m, spec.n)
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
    pub fn rule_kernel(&self, m: usize, n: usize) -> MatmulKernel {
        if self.matmul_direct() {
            return if self.subgroup_matmul() {
                MatmulKernel::DirectSubgroup
            } else {
                MatmulKernel::Direct
            };
        }
        match self.matmul_tile() {
            Some(tile) => MatmulKernel::tiled(tile),
            None => {
                let tiles = |t: Tile| {
                    let (tm, tn) = t.size();
                    m.div_ceil(tm as usize) * n.div_ceil(tn as usize)
                };
                if tiles(Tile::T128V) >= 128 && self.tile_fits(Tile::T128V) {
                    MatmulKernel::TiledLargeVec
                } else if tiles(Tile::T64) < 16 {
                    MatmulKernel::TiledSmall
                } else if self.tile_fits(Tile::T64V) {
                    MatmulKernel::TiledVec
                } else {
                    MatmulKernel::Tiled
                }
            }
        }
    }

    /// Whether the adapter's limits allow a tile shape.
    pub fn tile_fits(&self, tile: Tile) -> bool {
        let (invocations, bytes) = tile.needs();
        let l = self.limits();
        l.max_compute_invocations_per_workgroup >= invocations
            && l.max_compute_workgroup_storage_size >= bytes
    }
}

/// The matmul with the kernel chosen for its shape (see [`GpuContext::matmul_kernel_for`]).
pub fn matmul(
    ctx: &GpuContext,
    spec: &MatmulSpec,
    a: &GpuTensor,
    b: &GpuTensor,
    bias: Option<&GpuTensor>,
    c: &GpuTensor,
) -> Result<Step> {
    let kernel = ctx.matmul_kernel_for(spec, None);
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
    if !direct && !ctx.tile_fits(tile) {
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
    let kernel = if kernel == MatmulKernel::DirectSubgroup {
        Kernel::MatmulDirectSubgroup {
            trans_a: spec.trans_a,
            trans_b: spec.trans_b,
            pro: operand,
            cols,
            act: spec.act.id(),
            accum: spec.beta != 0.0,
        }
    } else if direct {
        Kernel::MatmulDirect {
            trans_a: spec.trans_a,
            trans_b: spec.trans_b,
            pro: operand,
            cols,
        }
    } else {
        Kernel::Matmul {
            trans_a: spec.trans_a,
            trans_b: spec.trans_b,
            pro: operand,
            tile,
            vec4,
        }
    };
    let gated = gated_label(operand);
    let dummy = ctx.dummy()?;
    let mut bindings = vec![
        (1, a),
        (2, b),
        (3, bias.unwrap_or(a)),
        (4, c),
        (5, pro.map_or(a, |p| p.gate)),
    ];
    if !direct {
        // The vec4 aliases; any 16 bytes where unused.
        bindings.push((6, if vec4 { a } else { &dummy }));
        bindings.push((7, if vec4 { b } else { &dummy }));
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
    make_step(
        ctx,
        kernel,
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

// ------------------------------------------------------------ mixed precision

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
/// f32, the epilogue in f32. Needs shader-f16 ([`GpuContext::has_f16`]).
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
    let kernel = Kernel::MatmulF16 {
        trans_a: spec.trans_a,
        trans_b: spec.trans_b,
        out_f16,
    };
    make_step(
        ctx,
        kernel,
        format!(
            "{OP}[{}]({}x{}x{})",
            spec.layout_name(),
            spec.m,
            spec.n,
            spec.k
        ),
        &p,
        &[(1, a), (2, b), (3, bias.unwrap_or(a)), (4, c32), (5, &c16)],
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
    make_step(
        ctx,
        Kernel::ToF16,
        format!("{OP}({n})"),
        &cast_params(OP, n)?,
        &[(4, x), (5, out16)],
        ew_groups(ctx, OP, n)?,
    )
}

/// `out = f32(x16)` for `n` values.
pub fn to_f32(ctx: &GpuContext, n: usize, x16: &GpuTensor, out: &GpuTensor) -> Result<Step> {
    const OP: &str = "to_f32";
    ctx.require_f16(OP)?;
    need_f16(OP, "x", x16, n)?;
    need(OP, "out", out, n)?;
    make_step(
        ctx,
        Kernel::ToF32,
        format!("{OP}({n})"),
        &cast_params(OP, n)?,
        &[(1, x16), (4, out)],
        ew_groups(ctx, OP, n)?,
    )
}

// ----------------------------------------------------------------- reductions

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
/// fused as in [`matmul_prologue`].
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
    make_step(
        ctx,
        Kernel::ColSum,
        format!("{OP}{gated}({rows}x{cols})"),
        &p,
        &[(1, x), (3, out), (4, gate.map_or(x, |(_, g)| g))],
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
        return Ok(vec![make_step(
            ctx,
            Kernel::ReduceSingle,
            label,
            &p,
            &[(1, x), (3, out)],
            [1, 1, 1],
        )?]);
    }
    let first = make_step(
        ctx,
        Kernel::ReducePartial,
        format!("{label} partial"),
        &p,
        &[(1, x), (2, partials)],
        [n_partials, 1, 1],
    )?;
    let second = make_step(
        ctx,
        Kernel::ReduceFinal,
        format!("{label} final"),
        &p,
        &[(2, partials), (3, out)],
        [1, 1, 1],
    )?;
    Ok(vec![first, second])
}

// --------------------------------------------------------------------- losses

/// Reconstruction losses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    /// Squared error on the output.
    Mse,
    /// Binary cross-entropy on logits (the sigmoid is folded into the loss).
    BceLogits,
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
    make_step(
        ctx,
        Kernel::LossGrad,
        format!("{OP}({loss:?}, {rows}x{cols})"),
        &p,
        &[(1, pred), (2, target), (3, out)],
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
    make_step(
        ctx,
        Kernel::RowLoss {
            lanes: ctx.row_lanes(),
            loss: p.kind,
        },
        format!("{OP}({loss:?}, {rows}x{cols})"),
        &p,
        &[(1, pred), (2, target), (3, out)],
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
    let (kernel, vec4, first) = if cols.is_multiple_of(4) {
        (
            Kernel::LossFused4 {
                lanes,
                loss: p.kind,
            },
            ",vec4",
            6,
        )
    } else {
        (
            Kernel::LossFused {
                lanes,
                loss: p.kind,
            },
            "",
            1,
        )
    };
    make_step(
        ctx,
        kernel,
        format!(
            "{OP}({loss:?}{}, {rows}x{cols}{vec4})",
            if rows_mse.is_some() { "+mse" } else { "" }
        ),
        &p,
        &[
            (first, pred),
            (first + 1, target),
            (first + 2, grad),
            (4, rows_out),
            (5, rows_mse.unwrap_or(&dummy)),
        ],
        fold(ctx, OP, rows as u64)?,
    )
}

// ------------------------------------------------------------------ penalties

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct PenaltyParams {
    rows: u32,
    cols: u32,
    rho: f32,
    coef: f32,
}

/// L1 activity penalty gradient: `g += lambda * sign(h)`.
pub fn l1_grad(
    ctx: &GpuContext,
    rows: usize,
    cols: usize,
    lambda: f32,
    h: &GpuTensor,
    g: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "l1_grad";
    let n = product(OP, rows, cols)?;
    need(OP, "h", h, n)?;
    need(OP, "g", g, n)?;
    let p = PenaltyParams {
        rows: u32_dim(OP, "rows", rows)?,
        cols: u32_dim(OP, "cols", cols)?,
        rho: 0.0,
        coef: lambda,
    };
    make_step(
        ctx,
        Kernel::L1Grad,
        format!("{OP}({rows}x{cols})"),
        &p,
        &[(1, h), (3, g)],
        ew_groups(ctx, OP, n)?,
    )
}

fn check_rho(op: &'static str, rho: f32) -> Result<()> {
    if !(rho > 0.0 && rho < 1.0) {
        return Err(Error::InvalidArgument(format!(
            "{op}: the sparsity target rho must lie strictly between 0 and 1, got {rho}"
        )));
    }
    Ok(())
}

/// KL sparsity gradient on activations h (rows, cols), given the unit means
/// `rho_hat` (cols): `g += beta / rows * (-rho / rho_hat + (1 - rho) / (1 - rho_hat))`.
#[allow(clippy::too_many_arguments)]
pub fn kl_grad(
    ctx: &GpuContext,
    rows: usize,
    cols: usize,
    rho: f32,
    beta: f32,
    rho_hat: &GpuTensor,
    g: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "kl_grad";
    check_rho(OP, rho)?;
    let n = product(OP, rows, cols)?;
    need(OP, "rho_hat", rho_hat, cols)?;
    need(OP, "g", g, n)?;
    let p = PenaltyParams {
        rows: u32_dim(OP, "rows", rows)?,
        cols: u32_dim(OP, "cols", cols)?,
        rho,
        coef: beta / rows as f32,
    };
    make_step(
        ctx,
        Kernel::KlGrad,
        format!("{OP}({rows}x{cols})"),
        &p,
        &[(2, rho_hat), (3, g)],
        ew_groups(ctx, OP, n)?,
    )
}

/// Per-unit KL sparsity terms `out[j] = beta * KL(rho || rho_hat[j])`; sum
/// them with [`reduce`] for the penalty.
pub fn kl_loss(
    ctx: &GpuContext,
    cols: usize,
    rho: f32,
    beta: f32,
    rho_hat: &GpuTensor,
    out: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "kl_loss";
    check_rho(OP, rho)?;
    need(OP, "rho_hat", rho_hat, cols)?;
    need(OP, "out", out, cols)?;
    let p = PenaltyParams {
        rows: 1,
        cols: u32_dim(OP, "cols", cols)?,
        rho,
        coef: beta,
    };
    make_step(
        ctx,
        Kernel::KlLoss,
        format!("{OP}({cols})"),
        &p,
        &[(2, rho_hat), (3, out)],
        ew_groups(ctx, OP, cols)?,
    )
}

// ----------------------------------------------------------------- optimizers

/// Which update rule. Formulas follow PyTorch's optimizers of the same name.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OptimizerKind {
    Sgd,
    /// Heavy-ball momentum `mu`, optionally Nesterov.
    Momentum {
        mu: f32,
        nesterov: bool,
    },
    Adam,
    AdamW,
    /// RMSprop with smoothing constant `alpha`.
    RmsProp {
        alpha: f32,
    },
}

/// Learning-rate schedule, evaluated on the GPU at each step `t >= 1`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Schedule {
    Constant,
    /// `lr * gamma^floor((t - 1) / step_size)`.
    Step {
        step_size: u32,
        gamma: f32,
    },
    /// Cosine from `lr` down to `min_lr` over `total_steps`.
    Cosine {
        total_steps: u32,
        min_lr: f32,
    },
}

/// Optimizer hyper-parameters; `Default` is Adam at lr 1e-3.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OptimConfig {
    pub kind: OptimizerKind,
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
    /// Clip gradients to this global L2 norm (0 = off).
    pub clip_norm: f32,
    pub schedule: Schedule,
    /// Linear warm-up over the first `warmup` steps (0 = off).
    pub warmup: u32,
}

impl Default for OptimConfig {
    fn default() -> Self {
        Self {
            kind: OptimizerKind::Adam,
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            clip_norm: 0.0,
            schedule: Schedule::Constant,
            warmup: 0,
        }
    }
}

impl OptimConfig {
    pub fn with_kind(mut self, kind: OptimizerKind) -> Self {
        self.kind = kind;
        self
    }
    pub fn with_lr(mut self, lr: f32) -> Self {
        self.lr = lr;
        self
    }
    pub fn with_weight_decay(mut self, wd: f32) -> Self {
        self.weight_decay = wd;
        self
    }
    pub fn with_clip_norm(mut self, c: f32) -> Self {
        self.clip_norm = c;
        self
    }
    pub fn with_schedule(mut self, s: Schedule) -> Self {
        self.schedule = s;
        self
    }
    pub fn with_warmup(mut self, steps: u32) -> Self {
        self.warmup = steps;
        self
    }

    fn validate(&self) -> Result<()> {
        let bad = |what: &str, v: f32| {
            Err(Error::InvalidArgument(format!(
                "optimizer: {what} = {v} is out of range"
            )))
        };
        if !(self.lr.is_finite() && self.lr >= 0.0) {
            return bad("learning rate", self.lr);
        }
        if !(0.0..1.0).contains(&self.beta1) {
            return bad("beta1", self.beta1);
        }
        if !(0.0..1.0).contains(&self.beta2) {
            return bad("beta2", self.beta2);
        }
        if self.eps.is_nan() || self.eps <= 0.0 {
            return bad("eps", self.eps);
        }
        if self.weight_decay.is_nan() || self.weight_decay < 0.0 {
            return bad("weight decay", self.weight_decay);
        }
        if self.clip_norm.is_nan() || self.clip_norm < 0.0 {
            return bad("clip norm", self.clip_norm);
        }
        Ok(())
    }

    fn params(&self, n: u32) -> OptimParams {
        let (kind, nesterov, beta1, beta2) = match self.kind {
            OptimizerKind::Sgd => (0, 0, self.beta1, self.beta2),
            OptimizerKind::Momentum { mu, nesterov } => (1, u32::from(nesterov), mu, self.beta2),
            OptimizerKind::Adam => (2, 0, self.beta1, self.beta2),
            OptimizerKind::AdamW => (3, 0, self.beta1, self.beta2),
            OptimizerKind::RmsProp { alpha } => (4, 0, self.beta1, alpha),
        };
        let (schedule, total_steps, step_size, gamma, min_lr) = match self.schedule {
            Schedule::Constant => (0, 0, 0, 1.0, 0.0),
            Schedule::Step { step_size, gamma } => (1, 0, step_size, gamma, 0.0),
            Schedule::Cosine {
                total_steps,
                min_lr,
            } => (2, total_steps, 0, 1.0, min_lr),
        };
        OptimParams {
            n,
            kind,
            nesterov,
            schedule,
            lr: self.lr,
            beta1,
            beta2,
            eps: self.eps,
            weight_decay: self.weight_decay,
            clip_norm: self.clip_norm,
            warmup: self.warmup,
            total_steps,
            step_size,
            gamma,
            min_lr,
            _pad: 0,
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct OptimParams {
    n: u32,
    kind: u32,
    nesterov: u32,
    schedule: u32,
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    clip_norm: f32,
    warmup: u32,
    total_steps: u32,
    step_size: u32,
    gamma: f32,
    min_lr: f32,
    _pad: u32,
}

/// Words in the optimizer state tensor: t (u32), lr_t, bc1, bc2, grad_scale,
/// grad_norm, and two pad words. Start it zeroed.
pub const OPT_STATE_WORDS: usize = 8;

/// The per-step tick: t += 1, lr_t, bias corrections and the clipping factor,
/// from `gsq[0]` (the sum of squared gradients, used when clip_norm > 0).
pub fn optim_tick(
    ctx: &GpuContext,
    cfg: &OptimConfig,
    state: &GpuTensor,
    gsq: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "optim_tick";
    cfg.validate()?;
    need(OP, "state", state, OPT_STATE_WORDS)?;
    need(OP, "gsq", gsq, 1)?;
    make_step(
        ctx,
        Kernel::OptimTick,
        OP.to_string(),
        &cfg.params(0),
        &[(1, state), (2, gsq)],
        [1, 1, 1],
    )
}

/// The update of every parameter in `param` in one dispatch. `m` and `v` hold
/// the moments (unused ones may be any tensor of the same length).
#[allow(clippy::too_many_arguments)]
pub fn optim_update(
    ctx: &GpuContext,
    cfg: &OptimConfig,
    state: &GpuTensor,
    param: &GpuTensor,
    grad: &GpuTensor,
    m: &GpuTensor,
    v: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "optim_update";
    cfg.validate()?;
    let n = param.len();
    need(OP, "state", state, OPT_STATE_WORDS)?;
    for (name, t) in [("grad", grad), ("m", m), ("v", v)] {
        need(OP, name, t, n)?;
    }
    if n.is_multiple_of(4) {
        // Four parameters per invocation (the bindings start 256-byte aligned).
        let p = cfg.params(u32_dim(OP, "n", n)?);
        return make_step(
            ctx,
            Kernel::OptimUpdate4 { kind: p.kind },
            format!("{OP}({:?}, {n}, vec4)", cfg.kind),
            &p,
            &[(1, state), (7, param), (8, grad), (9, m), (10, v)],
            ew_groups(ctx, OP, n / 4)?,
        );
    }
    let p = cfg.params(u32_dim(OP, "n", n)?);
    make_step(
        ctx,
        Kernel::OptimUpdate { kind: p.kind },
        format!("{OP}({:?}, {n})", cfg.kind),
        &p,
        &[(1, state), (3, param), (4, grad), (5, m), (6, v)],
        ew_groups(ctx, OP, n)?,
    )
}

// -------------------------------------------------------------------- random

/// What to fill a tensor with.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RandomFill {
    Uniform {
        lo: f32,
        hi: f32,
    },
    Normal {
        mean: f32,
        std: f32,
    },
    /// Inverted-dropout mask: 0 with probability `p`, else `1 / (1 - p)`.
    DropoutMask {
        p: f32,
    },
}

/// Where in the random stream: `seed` is the Philox key, `stream` separates
/// uses (one per tensor), `offset` separates draws of the same use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct RngSpec {
    pub seed: u64,
    pub stream: u32,
    pub offset: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct RngParams {
    n: u32,
    seed_lo: u32,
    seed_hi: u32,
    stream: u32,
    offset: u32,
    use_counter: u32,
    a: f32,
    b: f32,
}

impl RngParams {
    fn new(n: u32, spec: RngSpec, use_counter: bool, a: f32, b: f32) -> Self {
        Self {
            n,
            seed_lo: spec.seed as u32,
            seed_hi: (spec.seed >> 32) as u32,
            stream: spec.stream,
            offset: spec.offset,
            use_counter: u32::from(use_counter),
            a,
            b,
        }
    }
}

/// Fills `out` with random numbers made on the GPU. With `counter`, its first
/// word (for example the optimizer's step count) is added to the offset at run
/// time, so one prerecorded step draws fresh numbers each time it runs.
pub fn random(
    ctx: &GpuContext,
    fill: RandomFill,
    spec: RngSpec,
    counter: Option<&GpuTensor>,
    out: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "random";
    let n = out.len();
    let (kernel, a, b) = match fill {
        RandomFill::Uniform { lo, hi } => (Kernel::FillUniform, lo, hi),
        RandomFill::Normal { mean, std } => (Kernel::FillNormal, mean, std),
        RandomFill::DropoutMask { p } => {
            if !(0.0..1.0).contains(&p) {
                return Err(Error::InvalidArgument(format!(
                    "dropout probability must be in [0, 1), got {p}"
                )));
            }
            (Kernel::DropoutMask, p, 0.0)
        }
    };
    let p = RngParams::new(u32_dim(OP, "n", n)?, spec, counter.is_some(), a, b);
    make_step(
        ctx,
        kernel,
        format!("{OP}({fill:?}, {n})"),
        &p,
        &[(1, counter.unwrap_or(&ctx.dummy()?)), (2, out)],
        fold(ctx, OP, (n as u64).div_ceil(256))?,
    )
}

// -------------------------------------------------------------------- gather

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
        return make_step(
            ctx,
            Kernel::GatherRows4,
            format!("{OP}({rows}x{cols},vec4)"),
            &p,
            &[(1, idx), (4, src), (5, out)],
            ew_groups(ctx, OP, n / 4)?,
        );
    }
    make_step(
        ctx,
        Kernel::GatherRows,
        format!("{OP}({rows}x{cols})"),
        &p,
        &[(1, idx), (2, src), (3, out)],
        ew_groups(ctx, OP, n)?,
    )
}

// ---------------------------------------------------------- elementwise mul

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
    make_step(
        ctx,
        Kernel::Mul,
        format!("{OP}({n})"),
        &p,
        &[(1, x), (2, y), (4, out)],
        ew_groups(ctx, OP, n)?,
    )
}

// --------------------------------------------------------------------- noise

/// Input corruption for denoising autoencoders, generated on the GPU.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Noise {
    /// Add N(0, std^2).
    Gaussian(f32),
    /// Set each value to 0 with this probability.
    Mask(f32),
    /// Set each value to 0 or 1 (half each) with this probability.
    SaltPepper(f32),
}

impl Noise {
    pub fn level(self) -> f32 {
        match self {
            Noise::Gaussian(v) | Noise::Mask(v) | Noise::SaltPepper(v) => v,
        }
    }

    pub fn validate(self) -> Result<()> {
        let v = self.level();
        let ok = match self {
            Noise::Gaussian(s) => s.is_finite() && s >= 0.0,
            Noise::Mask(p) | Noise::SaltPepper(p) => (0.0..=1.0).contains(&p),
        };
        if !ok {
            return Err(Error::InvalidArgument(format!(
                "noise level {v} is out of range for {self:?} (std >= 0; probabilities in [0, 1])"
            )));
        }
        Ok(())
    }
}

/// `out = noise(src)`, drawing from `(seed, stream, offset + counter[0])`.
pub fn noise(
    ctx: &GpuContext,
    kind: Noise,
    spec: RngSpec,
    counter: Option<&GpuTensor>,
    src: &GpuTensor,
    out: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "noise";
    kind.validate()?;
    let n = out.len();
    need(OP, "src", src, n)?;
    let kernel = match kind {
        Noise::Gaussian(_) => Kernel::NoiseGaussian,
        Noise::Mask(_) => Kernel::NoiseMask,
        Noise::SaltPepper(_) => Kernel::NoiseSaltPepper,
    };
    let p = RngParams::new(
        u32_dim(OP, "n", n)?,
        spec,
        counter.is_some(),
        kind.level(),
        0.0,
    );
    make_step(
        ctx,
        kernel,
        format!("{OP}({kind:?}, {n})"),
        &p,
        &[(1, counter.unwrap_or(&ctx.dummy()?)), (2, out), (3, src)],
        fold(ctx, OP, (n as u64).div_ceil(256))?,
    )
}

// ------------------------------------------------------------------- shuffle

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct ShuffleParams {
    n: u32,
    half_bits: u32,
    seed_lo: u32,
    seed_hi: u32,
}

/// Bits in each Feistel half for a domain of `n` values: the least h with 4^h >= n.
pub fn shuffle_half_bits(n: usize) -> u32 {
    let mut h = 1u32;
    while (1u64 << (2 * h)) < n as u64 {
        h += 1;
    }
    h
}

/// `perm` = a permutation of 0..n keyed by `seed` and `epoch[0]` (u32 words).
pub fn permute(
    ctx: &GpuContext,
    n: usize,
    seed: u64,
    epoch: &GpuTensor,
    perm: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "permute";
    need(OP, "perm", perm, n)?;
    need(OP, "epoch", epoch, 1)?;
    if n > (1usize << 31) {
        return Err(Error::shape(
            OP,
            format!("{n} rows is more than a shuffle can index"),
        ));
    }
    let p = ShuffleParams {
        n: u32_dim(OP, "n", n)?,
        half_bits: shuffle_half_bits(n),
        seed_lo: seed as u32,
        seed_hi: (seed >> 32) as u32,
    };
    make_step(
        ctx,
        Kernel::Permute,
        format!("{OP}({n})"),
        &p,
        &[(1, epoch), (2, perm)],
        ew_groups(ctx, OP, n)?,
    )
}

// ----------------------------------------------------------------------- VAE

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct VaeParams {
    rows: u32,
    code: u32,
    coef: f32,
    scale: f32,
}

fn vae_params(
    op: &'static str,
    rows: usize,
    code: usize,
    coef: f32,
    scale: f32,
) -> Result<VaeParams> {
    Ok(VaeParams {
        rows: u32_dim(op, "rows", rows)?,
        code: u32_dim(op, "code", code)?,
        coef,
        scale,
    })
}

/// `z = mu + exp(lv / 2) * eps` from the head `[mu | lv]` (rows, 2 code).
pub fn vae_reparam(
    ctx: &GpuContext,
    rows: usize,
    code: usize,
    head: &GpuTensor,
    eps: &GpuTensor,
    z: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "vae_reparam";
    let n = product(OP, rows, code)?;
    need(OP, "head", head, 2 * n)?;
    need(OP, "eps", eps, n)?;
    need(OP, "z", z, n)?;
    make_step(
        ctx,
        Kernel::Reparam,
        format!("{OP}({rows}x{code})"),
        &vae_params(OP, rows, code, 0.0, 0.0)?,
        &[(1, head), (2, eps), (4, z)],
        ew_groups(ctx, OP, n)?,
    )
}

/// Gradient of the head `[mu | lv]` from the code's gradient `dz` plus
/// `beta * mean_b KL_b`.
#[allow(clippy::too_many_arguments)]
pub fn vae_backward(
    ctx: &GpuContext,
    rows: usize,
    code: usize,
    beta: f32,
    head: &GpuTensor,
    eps: &GpuTensor,
    dz: &GpuTensor,
    dhead: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "vae_backward";
    let n = product(OP, rows, code)?;
    need(OP, "head", head, 2 * n)?;
    need(OP, "eps", eps, n)?;
    need(OP, "dz", dz, n)?;
    need(OP, "dhead", dhead, 2 * n)?;
    make_step(
        ctx,
        Kernel::VaeBackward,
        format!("{OP}({rows}x{code})"),
        &vae_params(OP, rows, code, beta / rows as f32, 0.0)?,
        &[(1, head), (2, eps), (3, dz), (4, dhead)],
        ew_groups(ctx, OP, 2 * n)?,
    )
}

/// `out[b] = scale * KL(N(mu_b, exp(lv_b)) || N(0, I))`.
pub fn vae_kl_rows(
    ctx: &GpuContext,
    rows: usize,
    code: usize,
    scale: f32,
    head: &GpuTensor,
    out: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "vae_kl_rows";
    need(OP, "head", head, 2 * product(OP, rows, code)?)?;
    need(OP, "out", out, rows)?;
    make_step(
        ctx,
        Kernel::VaeKlRows,
        format!("{OP}({rows}x{code})"),
        &vae_params(OP, rows, code, 0.0, scale)?,
        &[(1, head), (4, out)],
        ew_groups(ctx, OP, rows)?,
    )
}

// --------------------------------------------------------------- contractive

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct ContractiveParams {
    rows: u32,
    hidden: u32,
    inputs: u32,
    act: u32,
    coef: f32,
    alpha: f32,
    _pad: [u32; 2],
}

/// Whether the contractive kernels can take f' and f'' from the output.
pub fn contractive_supports(act: Activation) -> bool {
    matches!(
        act,
        Activation::Identity
            | Activation::Relu
            | Activation::LeakyRelu(_)
            | Activation::Sigmoid
            | Activation::Tanh
    )
}

fn contractive_params(
    op: &'static str,
    act: Activation,
    rows: usize,
    hidden: usize,
    inputs: usize,
    coef: f32,
) -> Result<ContractiveParams> {
    if !contractive_supports(act) {
        return Err(Error::InvalidArgument(format!(
            "{op}: the contractive penalty supports identity, relu, leaky relu, sigmoid and tanh codes, not {}",
            act.name()
        )));
    }
    Ok(ContractiveParams {
        rows: rows as u32,
        hidden: u32_dim(op, "hidden", hidden)?,
        inputs: inputs as u32,
        act: act.id(),
        coef,
        alpha: act.alpha(),
        _pad: [0; 2],
    })
}

/// `s[j] = sum_i W[j, i]^2` for W (hidden, inputs).
pub fn contractive_row_sq(
    ctx: &GpuContext,
    hidden: usize,
    inputs: usize,
    w: &GpuTensor,
    s: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "contractive_row_sq";
    need(OP, "W", w, product(OP, hidden, inputs)?)?;
    need(OP, "s", s, hidden)?;
    let mut p = contractive_params(OP, Activation::Identity, 1, hidden, inputs, 0.0)?;
    p.inputs = u32_dim(OP, "inputs", inputs)?;
    make_step(
        ctx,
        Kernel::RowSq,
        format!("{OP}({hidden}x{inputs})"),
        &p,
        &[(1, w), (4, s)],
        ew_groups(ctx, OP, hidden)?,
    )
}

/// `fp2 = f'(z)^2` from the code y = f(z) (rows, hidden).
pub fn contractive_fp2(
    ctx: &GpuContext,
    act: Activation,
    rows: usize,
    hidden: usize,
    y: &GpuTensor,
    fp2: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "contractive_fp2";
    let n = product(OP, rows, hidden)?;
    need(OP, "y", y, n)?;
    need(OP, "fp2", fp2, n)?;
    let p = contractive_params(OP, act, rows, hidden, 0, 0.0)?;
    make_step(
        ctx,
        Kernel::JacFp2,
        format!("{OP}({rows}x{hidden})"),
        &p,
        &[(2, y), (4, fp2)],
        ew_groups(ctx, OP, n)?,
    )
}

/// `dz += lambda / rows * 2 s_j f'(z) f''(z)`.
#[allow(clippy::too_many_arguments)]
pub fn contractive_dz(
    ctx: &GpuContext,
    act: Activation,
    rows: usize,
    hidden: usize,
    lambda: f32,
    y: &GpuTensor,
    s: &GpuTensor,
    dz: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "contractive_dz";
    let n = product(OP, rows, hidden)?;
    need(OP, "y", y, n)?;
    need(OP, "s", s, hidden)?;
    need(OP, "dz", dz, n)?;
    let p = contractive_params(OP, act, rows, hidden, 0, lambda / rows as f32)?;
    make_step(
        ctx,
        Kernel::JacDz,
        format!("{OP}({rows}x{hidden})"),
        &p,
        &[(2, y), (3, s), (4, dz)],
        ew_groups(ctx, OP, n)?,
    )
}

/// `dW[j, i] += lambda / rows * 2 W[j, i] c_j`, with c_j = sum_b f'(z_bj)^2.
#[allow(clippy::too_many_arguments)]
pub fn contractive_wgrad(
    ctx: &GpuContext,
    rows: usize,
    hidden: usize,
    inputs: usize,
    lambda: f32,
    w: &GpuTensor,
    c: &GpuTensor,
    dw: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "contractive_wgrad";
    let n = product(OP, hidden, inputs)?;
    need(OP, "W", w, n)?;
    need(OP, "c", c, hidden)?;
    need(OP, "dW", dw, n)?;
    let mut p = contractive_params(
        OP,
        Activation::Identity,
        rows,
        hidden,
        inputs,
        lambda / rows as f32,
    )?;
    p.inputs = u32_dim(OP, "inputs", inputs)?;
    make_step(
        ctx,
        Kernel::JacWgrad,
        format!("{OP}({hidden}x{inputs})"),
        &p,
        &[(1, w), (3, c), (4, dw)],
        ew_groups(ctx, OP, n)?,
    )
}
