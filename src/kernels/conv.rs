//! shaders/conv.wgsl: 2-D convolution (1-D with h = kh = 1), channels-first,
//! by direct loops over the window (implicit GEMM: no im2col buffer), with
//! the input gradient (`conv_dx`, also a transposed convolution's forward
//! pass), the weight gradient and the bias gradient.

use bytemuck::{Pod, Zeroable};

use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GpuTensor, Kernel, Shader, Step};
use crate::kernels::common::COMMON;
use crate::kernels::elementwise::ew_groups;
use crate::kernels::shape::{fold, need, u32_dim};
use crate::op::Activation;

/// shaders/conv.wgsl.
pub static SHADER: Shader = Shader {
    name: "conv",
    prelude: COMMON,
    body: include_str!("../../shaders/conv.wgsl"),
    needs_f16: false,
    needs_subgroups: false,
};

/// The bindings of shaders/conv.wgsl, as the shader names them (binding 0 is
/// the uniform parameters).
pub mod binding {
    pub const X: u32 = 1;
    pub const WT: u32 = 2;
    pub const BIAS: u32 = 3;
    pub const OUT: u32 = 4;
    pub const DY: u32 = 5;
}

/// The bindings by WGSL name, for the test that reads them back from the shader.
pub const BINDINGS: &[(&str, u32)] = &[("x", 1), ("wt", 2), ("bias", 3), ("out", 4), ("dy", 5)];

fn kernel(entry: &'static str) -> Kernel {
    Kernel::new(&SHADER, entry)
}

/// Every kernel of the file.
pub fn kernels() -> Vec<Kernel> {
    [
        "conv_forward",
        "conv_dx",
        "conv_dw",
        "conv_db",
        "im2col",
        "col2im",
        "to_cnhw",
        "from_cnhw",
    ]
    .into_iter()
    .map(kernel)
    .collect()
}

/// A convolution's geometry: `n` samples of `c` channels of h x w in, `o`
/// channels of oh x ow out, a kh x kw kernel with strides (sh, sw), padding
/// before (ph, pw) (after is whatever reaches oh, ow) and dilation (dh, dw).
/// Output row oy reads input rows `oy * sh + ky * dh - ph`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeom {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub o: usize,
    pub oh: usize,
    pub ow: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub ph: usize,
    pub pw: usize,
    pub dh: usize,
    pub dw: usize,
}

impl ConvGeom {
    /// Values of the input (n, c, h, w).
    pub fn input_len(&self) -> usize {
        self.n * self.c * self.h * self.w
    }

    /// Values of the output (n, o, oh, ow).
    pub fn output_len(&self) -> usize {
        self.n * self.o * self.oh * self.ow
    }

    /// Values of the weight (o, c, kh, kw).
    pub fn weight_len(&self) -> usize {
        self.o * self.c * self.kh * self.kw
    }

    /// Values of the im2col matrix (c*kh*kw, n*oh*ow).
    pub fn col_len(&self) -> usize {
        self.c * self.kh * self.kw * self.n * self.oh * self.ow
    }

    /// Multiply-adds of the forward pass (each gradient costs as many).
    pub fn macs(&self) -> usize {
        self.output_len() * self.c * self.kh * self.kw
    }

    fn params(&self, op: &'static str, use_bias: bool, act: Activation) -> Result<ConvParams> {
        if !act.is_elementwise() {
            return Err(Error::InvalidArgument(format!(
                "{op}: softmax cannot be fused into a convolution"
            )));
        }
        for (what, v) in [
            ("input", self.input_len()),
            ("output", self.output_len()),
            ("weight", self.weight_len()),
        ] {
            if v > u32::MAX as usize {
                return Err(Error::shape(
                    op,
                    format!("the {what} has {v} values, past 32-bit indexing"),
                ));
            }
        }
        let d = |what: &str, v: usize| u32_dim(op, what, v);
        let pad = |what: &str, v: usize| {
            u32::try_from(v).map_err(|_| Error::shape(op, format!("{what} = {v} is too large")))
        };
        Ok(ConvParams {
            n: d("n", self.n)?,
            c: d("c", self.c)?,
            h: d("h", self.h)?,
            w: d("w", self.w)?,
            o: d("o", self.o)?,
            oh: d("oh", self.oh)?,
            ow: d("ow", self.ow)?,
            kh: d("kh", self.kh)?,
            kw: d("kw", self.kw)?,
            sh: d("sh", self.sh)?,
            sw: d("sw", self.sw)?,
            ph: pad("ph", self.ph)?,
            pw: pad("pw", self.pw)?,
            dh: d("dh", self.dh)?,
            dw: d("dw", self.dw)?,
            use_bias: u32::from(use_bias),
            act: act.id(),
            act_alpha: act.alpha(),
            _pad: [0; 2],
        })
    }

    /// The im2col matrix must be indexable with 32 bits (only the kernels
    /// that read or write it need this).
    fn check_col(&self, op: &'static str) -> Result<()> {
        if self.col_len() > u32::MAX as usize {
            return Err(Error::shape(
                op,
                format!(
                    "the im2col matrix has {} values, past 32-bit indexing",
                    self.col_len()
                ),
            ));
        }
        Ok(())
    }

    fn label(&self) -> String {
        format!(
            "{}x{}x{}x{}->{}x{}x{},k{}x{},s{}x{}",
            self.n,
            self.c,
            self.h,
            self.w,
            self.o,
            self.oh,
            self.ow,
            self.kh,
            self.kw,
            self.sh,
            self.sw
        )
    }
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct ConvParams {
    n: u32,
    c: u32,
    h: u32,
    w: u32,
    o: u32,
    oh: u32,
    ow: u32,
    kh: u32,
    kw: u32,
    sh: u32,
    sw: u32,
    ph: u32,
    pw: u32,
    dh: u32,
    dw: u32,
    use_bias: u32,
    act: u32,
    act_alpha: f32,
    _pad: [u32; 2],
}

/// `out = act(conv(x, w) + bias)`: x (n, c, h, w), w (o, c, kh, kw), bias (o),
/// out (n, o, oh, ow).
pub fn conv_forward(
    ctx: &GpuContext,
    g: &ConvGeom,
    x: &GpuTensor,
    w: &GpuTensor,
    bias: Option<&GpuTensor>,
    act: Activation,
    out: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "conv_forward";
    let p = g.params(OP, bias.is_some(), act)?;
    need(OP, "x", x, g.input_len())?;
    need(OP, "w", w, g.weight_len())?;
    need(OP, "out", out, g.output_len())?;
    if let Some(b) = bias {
        need(OP, "bias", b, g.o)?;
    }
    ctx.step(
        &kernel("conv_forward"),
        format!("{OP}({}, {})", g.label(), act.name()),
        &p,
        &[
            (binding::X, x),
            (binding::WT, w),
            (binding::BIAS, bias.unwrap_or(w)),
            (binding::OUT, out),
        ],
        ew_groups(ctx, OP, g.output_len())?,
    )
}

/// `out = act(conv^T(dy, w) + bias)`: the input gradient of a convolution
/// (no bias, Identity), or a transposed convolution's forward pass (its
/// bias (c) and activation). dy (n, o, oh, ow), out (n, c, h, w).
pub fn conv_dx(
    ctx: &GpuContext,
    g: &ConvGeom,
    dy: &GpuTensor,
    w: &GpuTensor,
    bias: Option<&GpuTensor>,
    act: Activation,
    out: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "conv_dx";
    let p = g.params(OP, bias.is_some(), act)?;
    need(OP, "dy", dy, g.output_len())?;
    need(OP, "w", w, g.weight_len())?;
    need(OP, "out", out, g.input_len())?;
    if let Some(b) = bias {
        need(OP, "bias", b, g.c)?;
    }
    ctx.step(
        &kernel("conv_dx"),
        format!("{OP}({}, {})", g.label(), act.name()),
        &p,
        &[
            (binding::DY, dy),
            (binding::WT, w),
            (binding::BIAS, bias.unwrap_or(w)),
            (binding::OUT, out),
        ],
        ew_groups(ctx, OP, g.input_len())?,
    )
}

/// The weight gradient `out (o, c, kh, kw) = sum over samples and output
/// positions of dy * x under the window`.
pub fn conv_dw(
    ctx: &GpuContext,
    g: &ConvGeom,
    x: &GpuTensor,
    dy: &GpuTensor,
    out: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "conv_dw";
    let p = g.params(OP, false, Activation::Identity)?;
    need(OP, "x", x, g.input_len())?;
    need(OP, "dy", dy, g.output_len())?;
    need(OP, "out", out, g.weight_len())?;
    ctx.step(
        &kernel("conv_dw"),
        format!("{OP}({})", g.label()),
        &p,
        &[(binding::X, x), (binding::DY, dy), (binding::OUT, out)],
        fold(ctx, OP, g.weight_len() as u64)?,
    )
}

/// The bias gradient `out (o) = sum over samples and positions of dy`.
pub fn conv_db(ctx: &GpuContext, g: &ConvGeom, dy: &GpuTensor, out: &GpuTensor) -> Result<Step> {
    const OP: &str = "conv_db";
    let p = g.params(OP, false, Activation::Identity)?;
    need(OP, "dy", dy, g.output_len())?;
    need(OP, "out", out, g.o)?;
    ctx.step(
        &kernel("conv_db"),
        format!("{OP}({})", g.label()),
        &p,
        &[(binding::DY, dy), (binding::OUT, out)],
        fold(ctx, OP, g.o as u64)?,
    )
}

/// `out (c*kh*kw, n*oh*ow)`: the windows of `x` as columns (zeros in the
/// padding), so that the convolution is the product `W (o, c*kh*kw) . out`.
pub fn im2col(ctx: &GpuContext, g: &ConvGeom, x: &GpuTensor, out: &GpuTensor) -> Result<Step> {
    const OP: &str = "im2col";
    let p = g.params(OP, false, Activation::Identity)?;
    g.check_col(OP)?;
    need(OP, "x", x, g.input_len())?;
    need(OP, "out", out, g.col_len())?;
    ctx.step(
        &kernel("im2col"),
        format!("{OP}({})", g.label()),
        &p,
        &[(binding::X, x), (binding::OUT, out)],
        ew_groups(ctx, OP, g.col_len())?,
    )
}

/// `out (n, c, h, w) = act(col2im(cols) + bias)`, the transpose of
/// [`im2col`]: each input gathers the column values it fed.
pub fn col2im(
    ctx: &GpuContext,
    g: &ConvGeom,
    cols: &GpuTensor,
    bias: Option<&GpuTensor>,
    act: Activation,
    out: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "col2im";
    let p = g.params(OP, bias.is_some(), act)?;
    g.check_col(OP)?;
    need(OP, "cols", cols, g.col_len())?;
    need(OP, "out", out, g.input_len())?;
    if let Some(b) = bias {
        need(OP, "bias", b, g.c)?;
    }
    ctx.step(
        &kernel("col2im"),
        format!("{OP}({}, {})", g.label(), act.name()),
        &p,
        &[
            (binding::DY, cols),
            (binding::BIAS, bias.unwrap_or(cols)),
            (binding::OUT, out),
        ],
        ew_groups(ctx, OP, g.input_len())?,
    )
}

/// `out (o, n, oh*ow)` from `x (n, o, oh*ow)` (the output's shape of `g`):
/// the layout the products read and write.
pub fn to_cnhw(ctx: &GpuContext, g: &ConvGeom, x: &GpuTensor, out: &GpuTensor) -> Result<Step> {
    const OP: &str = "to_cnhw";
    let p = g.params(OP, false, Activation::Identity)?;
    need(OP, "x", x, g.output_len())?;
    need(OP, "out", out, g.output_len())?;
    ctx.step(
        &kernel("to_cnhw"),
        format!("{OP}({})", g.label()),
        &p,
        &[(binding::X, x), (binding::OUT, out)],
        ew_groups(ctx, OP, g.output_len())?,
    )
}

/// `out (n, o, oh*ow) = act(swap(y) + bias)` from `y (o, n, oh*ow)`.
pub fn from_cnhw(
    ctx: &GpuContext,
    g: &ConvGeom,
    y: &GpuTensor,
    bias: Option<&GpuTensor>,
    act: Activation,
    out: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "from_cnhw";
    let p = g.params(OP, bias.is_some(), act)?;
    need(OP, "y", y, g.output_len())?;
    need(OP, "out", out, g.output_len())?;
    if let Some(b) = bias {
        need(OP, "bias", b, g.o)?;
    }
    ctx.step(
        &kernel("from_cnhw"),
        format!("{OP}({}, {})", g.label(), act.name()),
        &p,
        &[
            (binding::DY, y),
            (binding::BIAS, bias.unwrap_or(y)),
            (binding::OUT, out),
        ],
        ew_groups(ctx, OP, g.output_len())?,
    )
}
