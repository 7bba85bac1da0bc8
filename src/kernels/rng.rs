//! shaders/rng.wgsl: random numbers made on the GPU with Philox4x32-10
//! (uniform, normal, inverted-dropout masks) and the denoising input
//! corruptions (gaussian, mask, salt-and-pepper).

use bytemuck::{Pod, Zeroable};

use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GpuTensor, Kernel, Shader, Step};
use crate::kernels::common::COMMON;
use crate::kernels::shape::{fold, need, u32_dim};
use crate::op::Noise;

/// shaders/rng.wgsl.
pub static SHADER: Shader = Shader {
    name: "rng",
    prelude: COMMON,
    body: include_str!("../../shaders/rng.wgsl"),
    needs_f16: false,
    needs_subgroups: false,
};

/// The bindings of shaders/rng.wgsl, as the shader names them (binding 0 is
/// the uniform parameters).
pub mod binding {
    pub const CTR: u32 = 1;
    pub const OUT: u32 = 2;
    pub const SRC: u32 = 3;
}

/// The bindings by WGSL name, for the test that reads them back from the shader.
pub const BINDINGS: &[(&str, u32)] = &[("ctr", 1), ("out", 2), ("src", 3)];

fn kernel(entry: &'static str) -> Kernel {
    Kernel::new(&SHADER, entry)
}

/// Every kernel of the file.
pub fn kernels() -> Vec<Kernel> {
    [
        "fill_uniform",
        "fill_normal",
        "dropout_mask",
        "noise_gaussian",
        "noise_mask",
        "noise_salt_pepper",
    ]
    .into_iter()
    .map(kernel)
    .collect()
}

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
        RandomFill::Uniform { lo, hi } => (kernel("fill_uniform"), lo, hi),
        RandomFill::Normal { mean, std } => (kernel("fill_normal"), mean, std),
        RandomFill::DropoutMask { p } => {
            if !(0.0..1.0).contains(&p) {
                return Err(Error::InvalidArgument(format!(
                    "dropout probability must be in [0, 1), got {p}"
                )));
            }
            (kernel("dropout_mask"), p, 0.0)
        }
    };
    let p = RngParams::new(u32_dim(OP, "n", n)?, spec, counter.is_some(), a, b);
    ctx.step(
        &kernel,
        format!("{OP}({fill:?}, {n})"),
        &p,
        &[
            (binding::CTR, counter.unwrap_or(&ctx.dummy()?)),
            (binding::OUT, out),
        ],
        fold(ctx, OP, (n as u64).div_ceil(256))?,
    )
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
        Noise::Gaussian(_) => kernel("noise_gaussian"),
        Noise::Mask(_) => kernel("noise_mask"),
        Noise::SaltPepper(_) => kernel("noise_salt_pepper"),
    };
    let p = RngParams::new(
        u32_dim(OP, "n", n)?,
        spec,
        counter.is_some(),
        kind.level(),
        0.0,
    );
    ctx.step(
        &kernel,
        format!("{OP}({kind:?}, {n})"),
        &p,
        &[
            (binding::CTR, counter.unwrap_or(&ctx.dummy()?)),
            (binding::OUT, out),
            (binding::SRC, src),
        ],
        fold(ctx, OP, (n as u64).div_ceil(256))?,
    )
}
