//! shaders/pool.wgsl: max and average pooling and nearest-neighbour
//! upsampling over channels-first planes (1-D with h = kh = 1), with their
//! gradients. Max pooling records each window's argmax for its backward pass.

use bytemuck::{Pod, Zeroable};

use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GpuTensor, Kernel, Shader, Step};
use crate::kernels::common::COMMON;
use crate::kernels::elementwise::ew_groups;
use crate::kernels::shape::{need, u32_dim};

/// shaders/pool.wgsl.
pub static SHADER: Shader = Shader {
    name: "pool",
    prelude: COMMON,
    body: include_str!("../../shaders/pool.wgsl"),
    needs_f16: false,
    needs_subgroups: false,
};

/// The bindings of shaders/pool.wgsl, as the shader names them (binding 0 is
/// the uniform parameters).
pub mod binding {
    pub const X: u32 = 1;
    pub const DY: u32 = 2;
    pub const OUT: u32 = 3;
    pub const IDX: u32 = 4;
}

/// The bindings by WGSL name, for the test that reads them back from the shader.
pub const BINDINGS: &[(&str, u32)] = &[("x", 1), ("dy", 2), ("out", 3), ("idx", 4)];

const ENTRIES: [&str; 6] = [
    "maxpool_forward",
    "maxpool_backward",
    "avgpool_forward",
    "avgpool_backward",
    "upsample_forward",
    "upsample_backward",
];

/// Every kernel of the file.
pub fn kernels() -> Vec<Kernel> {
    ENTRIES
        .into_iter()
        .map(|e| Kernel::new(&SHADER, e))
        .collect()
}

/// A pooling window's geometry: `n` samples of `c` planes of h x w in, oh x ow
/// out, windows of kh x kw with strides (sh, sw) starting (ph, pw) before the
/// plane. For upsampling, (kh, kw) are the factors and oh = h * kh.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolGeom {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub oh: usize,
    pub ow: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub ph: usize,
    pub pw: usize,
}

impl PoolGeom {
    /// Nearest-neighbour upsampling by (fh, fw).
    pub fn upsample(n: usize, c: usize, h: usize, w: usize, fh: usize, fw: usize) -> Self {
        Self {
            n,
            c,
            h,
            w,
            oh: h * fh,
            ow: w * fw,
            kh: fh,
            kw: fw,
            sh: 1,
            sw: 1,
            ph: 0,
            pw: 0,
        }
    }

    pub fn input_len(&self) -> usize {
        self.n * self.c * self.h * self.w
    }

    pub fn output_len(&self) -> usize {
        self.n * self.c * self.oh * self.ow
    }

    fn params(&self, op: &'static str) -> Result<PoolParams> {
        for (what, v) in [("input", self.input_len()), ("output", self.output_len())] {
            if v > u32::MAX as usize {
                return Err(Error::shape(
                    op,
                    format!("the {what} has {v} values, past 32-bit indexing"),
                ));
            }
        }
        if self.ph >= self.kh || self.pw >= self.kw {
            return Err(Error::shape(
                op,
                format!(
                    "padding ({}, {}) must be smaller than the window ({}, {}), or a window \
                     could hold padding alone",
                    self.ph, self.pw, self.kh, self.kw
                ),
            ));
        }
        let d = |what: &str, v: usize| u32_dim(op, what, v);
        Ok(PoolParams {
            n: d("n", self.n)?,
            c: d("c", self.c)?,
            h: d("h", self.h)?,
            w: d("w", self.w)?,
            oh: d("oh", self.oh)?,
            ow: d("ow", self.ow)?,
            kh: d("kh", self.kh)?,
            kw: d("kw", self.kw)?,
            sh: d("sh", self.sh)?,
            sw: d("sw", self.sw)?,
            ph: self.ph as u32,
            pw: self.pw as u32,
        })
    }

    fn label(&self) -> String {
        format!(
            "{}x{}x{}x{}->{}x{},k{}x{},s{}x{}",
            self.n, self.c, self.h, self.w, self.oh, self.ow, self.kh, self.kw, self.sh, self.sw
        )
    }
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct PoolParams {
    n: u32,
    c: u32,
    h: u32,
    w: u32,
    oh: u32,
    ow: u32,
    kh: u32,
    kw: u32,
    sh: u32,
    sw: u32,
    ph: u32,
    pw: u32,
}

/// One pass: `entry` over `out`'s elements.
fn pass(
    ctx: &GpuContext,
    entry: &'static str,
    g: &PoolGeom,
    bindings: &[(u32, &GpuTensor)],
    out_len: usize,
) -> Result<Step> {
    let p = g.params(entry)?;
    ctx.step(
        &Kernel::new(&SHADER, entry),
        format!("{entry}({})", g.label()),
        &p,
        bindings,
        ew_groups(ctx, entry, out_len)?,
    )
}

/// `out = max over each window of x`, and `idx` its argmax within the plane
/// (u32 words).
pub fn maxpool_forward(
    ctx: &GpuContext,
    g: &PoolGeom,
    x: &GpuTensor,
    out: &GpuTensor,
    idx: &GpuTensor,
) -> Result<Step> {
    need("maxpool_forward", "x", x, g.input_len())?;
    need("maxpool_forward", "out", out, g.output_len())?;
    need("maxpool_forward", "idx", idx, g.output_len())?;
    let b = [(binding::X, x), (binding::OUT, out), (binding::IDX, idx)];
    pass(ctx, "maxpool_forward", g, &b, g.output_len())
}

/// `out (n, c, h, w)`: each window's gradient `dy`, routed to its argmax.
pub fn maxpool_backward(
    ctx: &GpuContext,
    g: &PoolGeom,
    dy: &GpuTensor,
    idx: &GpuTensor,
    out: &GpuTensor,
) -> Result<Step> {
    need("maxpool_backward", "dy", dy, g.output_len())?;
    need("maxpool_backward", "idx", idx, g.output_len())?;
    need("maxpool_backward", "out", out, g.input_len())?;
    let b = [(binding::DY, dy), (binding::IDX, idx), (binding::OUT, out)];
    pass(ctx, "maxpool_backward", g, &b, g.input_len())
}

/// `out = mean over each window of x` (padding excluded from the mean).
pub fn avgpool_forward(
    ctx: &GpuContext,
    g: &PoolGeom,
    x: &GpuTensor,
    out: &GpuTensor,
) -> Result<Step> {
    need("avgpool_forward", "x", x, g.input_len())?;
    need("avgpool_forward", "out", out, g.output_len())?;
    let b = [(binding::X, x), (binding::OUT, out)];
    pass(ctx, "avgpool_forward", g, &b, g.output_len())
}

/// `out (n, c, h, w)`: each window's gradient shared among its inputs.
pub fn avgpool_backward(
    ctx: &GpuContext,
    g: &PoolGeom,
    dy: &GpuTensor,
    out: &GpuTensor,
) -> Result<Step> {
    need("avgpool_backward", "dy", dy, g.output_len())?;
    need("avgpool_backward", "out", out, g.input_len())?;
    let b = [(binding::DY, dy), (binding::OUT, out)];
    pass(ctx, "avgpool_backward", g, &b, g.input_len())
}

/// Nearest-neighbour upsampling (see [`PoolGeom::upsample`]).
pub fn upsample_forward(
    ctx: &GpuContext,
    g: &PoolGeom,
    x: &GpuTensor,
    out: &GpuTensor,
) -> Result<Step> {
    need("upsample_forward", "x", x, g.input_len())?;
    need("upsample_forward", "out", out, g.output_len())?;
    let b = [(binding::X, x), (binding::OUT, out)];
    pass(ctx, "upsample_forward", g, &b, g.output_len())
}

/// The upsampling's gradient: the sum over each block.
pub fn upsample_backward(
    ctx: &GpuContext,
    g: &PoolGeom,
    dy: &GpuTensor,
    out: &GpuTensor,
) -> Result<Step> {
    need("upsample_backward", "dy", dy, g.output_len())?;
    need("upsample_backward", "out", out, g.input_len())?;
    let b = [(binding::DY, dy), (binding::OUT, out)];
    pass(ctx, "upsample_backward", g, &b, g.input_len())
}
