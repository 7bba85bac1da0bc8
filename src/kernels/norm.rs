//! shaders/norm.wgsl: batch normalization over channels-first tensors (its
//! batch statistics, the running statistics' update, the normalization with
//! its activation fused, and the gradients).

use bytemuck::{Pod, Zeroable};

use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GpuTensor, Kernel, Shader, Step};
use crate::kernels::common::COMMON;
use crate::kernels::elementwise::ew_groups;
use crate::kernels::shape::{fold, need, u32_dim};
use crate::op::Activation;

/// shaders/norm.wgsl.
pub static SHADER: Shader = Shader {
    name: "norm",
    prelude: COMMON,
    body: include_str!("../../shaders/norm.wgsl"),
    needs_f16: false,
    needs_subgroups: false,
};

/// The bindings of shaders/norm.wgsl, as the shader names them (binding 0 is
/// the uniform parameters).
pub mod binding {
    pub const X: u32 = 1;
    pub const DY: u32 = 2;
    pub const STATS: u32 = 3;
    pub const GAMMA: u32 = 4;
    pub const BETA: u32 = 5;
    pub const SUM_DYX: u32 = 6;
    pub const SUM_DY: u32 = 7;
    pub const OUT: u32 = 8;
    pub const OUT2: u32 = 9;
}

/// The bindings by WGSL name, for the test that reads them back from the shader.
pub const BINDINGS: &[(&str, u32)] = &[
    ("x", 1),
    ("dy", 2),
    ("stats", 3),
    ("gamma", 4),
    ("beta", 5),
    ("sum_dyx", 6),
    ("sum_dy", 7),
    ("out", 8),
    ("out2", 9),
];

const ENTRIES: [&str; 5] = [
    "bn_stats",
    "bn_running",
    "bn_apply",
    "bn_grad_sums",
    "bn_dx",
];

/// Every kernel of the file.
pub fn kernels() -> Vec<Kernel> {
    ENTRIES
        .into_iter()
        .map(|e| Kernel::new(&SHADER, e))
        .collect()
}

/// A normalized tensor's geometry: `n` samples of `c` channels of `s`
/// values; `eps` is added to the variance.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NormGeom {
    pub n: usize,
    pub c: usize,
    pub s: usize,
    pub eps: f32,
}

/// Where a statistics tensor holds the mean and the variance: the batch's
/// at (0, c) in a scratch tensor of 2c, or a layer's running statistics at
/// their offsets in its buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatsAt {
    pub mean: usize,
    pub var: usize,
}

impl StatsAt {
    /// The layout `bn_stats` writes: means, then variances.
    pub fn batch(c: usize) -> Self {
        Self { mean: 0, var: c }
    }

    fn len(self, c: usize) -> usize {
        self.mean.max(self.var) + c
    }
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct NormParams {
    n: u32,
    c: u32,
    s: u32,
    mean_off: u32,
    var_off: u32,
    nbt_off: u32,
    act: u32,
    act_alpha: f32,
    eps: f32,
    momentum: f32,
    _pad: [u32; 2],
}

impl NormGeom {
    pub fn len(&self) -> usize {
        self.n * self.c * self.s
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn params(&self, op: &'static str, at: StatsAt) -> Result<NormParams> {
        let n = self
            .n
            .checked_mul(self.c)
            .and_then(|v| v.checked_mul(self.s));
        if n.is_none_or(|n| n > u32::MAX as usize) {
            return Err(Error::shape(
                op,
                format!(
                    "{} x {} x {} values are past 32-bit indexing",
                    self.n, self.c, self.s
                ),
            ));
        }
        if !(self.eps > 0.0 && self.eps.is_finite()) {
            return Err(Error::shape(op, format!("eps {} must be > 0", self.eps)));
        }
        let off = |what: &str, v: usize| {
            u32::try_from(v).map_err(|_| Error::shape(op, format!("{what} = {v} is too large")))
        };
        Ok(NormParams {
            n: u32_dim(op, "n", self.n)?,
            c: u32_dim(op, "c", self.c)?,
            s: u32_dim(op, "s", self.s)?,
            mean_off: off("mean offset", at.mean)?,
            var_off: off("variance offset", at.var)?,
            nbt_off: 0,
            act: 0,
            act_alpha: 0.0,
            eps: self.eps,
            momentum: 0.0,
            _pad: [0; 2],
        })
    }

    fn label(&self) -> String {
        format!("{}x{}x{}", self.n, self.c, self.s)
    }

    fn per_channel(&self, ctx: &GpuContext, op: &'static str) -> Result<[u32; 3]> {
        fold(ctx, op, self.c as u64)
    }
}

fn kernel(entry: &'static str) -> Kernel {
    Kernel::new(&SHADER, entry)
}

/// `stats = [mean (c) | biased variance (c)]` of each channel of `x`.
pub fn bn_stats(ctx: &GpuContext, g: &NormGeom, x: &GpuTensor, stats: &GpuTensor) -> Result<Step> {
    const OP: &str = "bn_stats";
    let p = g.params(OP, StatsAt::batch(g.c))?;
    need(OP, "x", x, g.len())?;
    need(OP, "stats", stats, 2 * g.c)?;
    ctx.step(
        &kernel(OP),
        format!("{OP}({})", g.label()),
        &p,
        &[(binding::X, x), (binding::OUT, stats)],
        g.per_channel(ctx, OP)?,
    )
}

/// The running statistics in `running` (at `at`, with num_batches_tracked
/// at `nbt`) moved by `momentum` toward the batch's `stats` (as
/// [`bn_stats`] wrote them), as PyTorch does: `r += momentum * (batch - r)`,
/// the variance unbiased.
pub fn bn_running(
    ctx: &GpuContext,
    g: &NormGeom,
    momentum: f32,
    stats: &GpuTensor,
    running: &GpuTensor,
    at: StatsAt,
    nbt: usize,
) -> Result<Step> {
    const OP: &str = "bn_running";
    if !(0.0..=1.0).contains(&momentum) {
        return Err(Error::shape(
            OP,
            format!("momentum {momentum} must be in [0, 1]"),
        ));
    }
    let mut p = g.params(OP, at)?;
    p.momentum = momentum;
    p.nbt_off = u32::try_from(nbt).map_err(|_| Error::shape(OP, "offset too large"))?;
    need(OP, "stats", stats, 2 * g.c)?;
    need(OP, "running", running, at.len(g.c).max(nbt + 1))?;
    ctx.step(
        &kernel(OP),
        format!("{OP}({})", g.label()),
        &p,
        &[(binding::STATS, stats), (binding::OUT, running)],
        [1, 1, 1],
    )
}

/// `out = act(gamma * (x - mean) / sqrt(var + eps) + beta)`, the mean and
/// variance read from `stats` at `at`.
#[allow(clippy::too_many_arguments)]
pub fn bn_apply(
    ctx: &GpuContext,
    g: &NormGeom,
    x: &GpuTensor,
    stats: &GpuTensor,
    at: StatsAt,
    gamma: &GpuTensor,
    beta: &GpuTensor,
    act: Activation,
    out: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "bn_apply";
    if !act.is_elementwise() {
        return Err(Error::InvalidArgument(format!(
            "{OP}: softmax cannot be fused into a batch normalization"
        )));
    }
    let mut p = g.params(OP, at)?;
    p.act = act.id();
    p.act_alpha = act.alpha();
    need(OP, "x", x, g.len())?;
    need(OP, "stats", stats, at.len(g.c))?;
    need(OP, "gamma", gamma, g.c)?;
    need(OP, "beta", beta, g.c)?;
    need(OP, "out", out, g.len())?;
    ctx.step(
        &kernel(OP),
        format!("{OP}({}, {})", g.label(), act.name()),
        &p,
        &[
            (binding::X, x),
            (binding::STATS, stats),
            (binding::GAMMA, gamma),
            (binding::BETA, beta),
            (binding::OUT, out),
        ],
        ew_groups(ctx, OP, g.len())?,
    )
}

/// `sum_dyx[ch] = sum dy * xhat` and `sum_dy[ch] = sum dy` over each channel,
/// xhat from `x` and the batch `stats` (the weight's and the bias's
/// gradients).
pub fn bn_grad_sums(
    ctx: &GpuContext,
    g: &NormGeom,
    x: &GpuTensor,
    dy: &GpuTensor,
    stats: &GpuTensor,
    sum_dyx: &GpuTensor,
    sum_dy: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "bn_grad_sums";
    let p = g.params(OP, StatsAt::batch(g.c))?;
    need(OP, "x", x, g.len())?;
    need(OP, "dy", dy, g.len())?;
    need(OP, "stats", stats, 2 * g.c)?;
    need(OP, "sum_dyx", sum_dyx, g.c)?;
    need(OP, "sum_dy", sum_dy, g.c)?;
    ctx.step(
        &kernel(OP),
        format!("{OP}({})", g.label()),
        &p,
        &[
            (binding::X, x),
            (binding::DY, dy),
            (binding::STATS, stats),
            (binding::OUT, sum_dyx),
            (binding::OUT2, sum_dy),
        ],
        g.per_channel(ctx, OP)?,
    )
}

/// The gradient w.r.t. the input of a normalization with batch statistics:
/// `out = gamma / sqrt(var + eps) * (dy - sum_dy / m - xhat * sum_dyx / m)`,
/// m = n * s, from [`bn_grad_sums`]'s sums.
#[allow(clippy::too_many_arguments)]
pub fn bn_dx(
    ctx: &GpuContext,
    g: &NormGeom,
    x: &GpuTensor,
    dy: &GpuTensor,
    stats: &GpuTensor,
    gamma: &GpuTensor,
    sum_dyx: &GpuTensor,
    sum_dy: &GpuTensor,
    out: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "bn_dx";
    let p = g.params(OP, StatsAt::batch(g.c))?;
    need(OP, "x", x, g.len())?;
    need(OP, "dy", dy, g.len())?;
    need(OP, "stats", stats, 2 * g.c)?;
    need(OP, "gamma", gamma, g.c)?;
    need(OP, "sum_dyx", sum_dyx, g.c)?;
    need(OP, "sum_dy", sum_dy, g.c)?;
    need(OP, "out", out, g.len())?;
    ctx.step(
        &kernel(OP),
        format!("{OP}({})", g.label()),
        &p,
        &[
            (binding::X, x),
            (binding::DY, dy),
            (binding::STATS, stats),
            (binding::GAMMA, gamma),
            (binding::SUM_DYX, sum_dyx),
            (binding::SUM_DY, sum_dy),
            (binding::OUT, out),
        ],
        ew_groups(ctx, OP, g.len())?,
    )
}
