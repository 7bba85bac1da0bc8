//! shaders/optim.wgsl: the optimizers (SGD, momentum, Nesterov, Adam, AdamW,
//! RMSprop) as one update over the whole parameter arena, after a one-thread
//! tick that advances the step count, the schedule, the bias corrections and
//! the clipping factor. The update rule is fixed per pipeline (`KIND`).

use bytemuck::{Pod, Zeroable};

use crate::error::Result;
use crate::gpu::{GpuContext, GpuTensor, Kernel, Shader, Step};
use crate::kernels::common::COMMON;
use crate::kernels::elementwise::ew_groups;
use crate::kernels::shape::{need, u32_dim};
use crate::op::{OptimConfig, OptimizerKind, Schedule};

/// shaders/optim.wgsl.
pub static SHADER: Shader = Shader {
    name: "optim",
    prelude: COMMON,
    body: include_str!("../../shaders/optim.wgsl"),
    needs_f16: false,
    needs_subgroups: false,
};

/// The bindings of shaders/optim.wgsl, as the shader names them (binding 0 is
/// the uniform parameters).
pub mod binding {
    pub const STATE: u32 = 1;
    pub const GSQ: u32 = 2;
    pub const PARAM: u32 = 3;
    pub const GRAD: u32 = 4;
    pub const M: u32 = 5;
    pub const V: u32 = 6;
    pub const PARAM4: u32 = 7;
    pub const GRAD4: u32 = 8;
    pub const M4: u32 = 9;
    pub const V4: u32 = 10;
}

/// The bindings by WGSL name, for the test that reads them back from the shader.
pub const BINDINGS: &[(&str, u32)] = &[
    ("state", 1),
    ("gsq", 2),
    ("param", 3),
    ("grad", 4),
    ("m", 5),
    ("v", 6),
    ("param4", 7),
    ("grad4", 8),
    ("m4", 9),
    ("v4", 10),
];

/// The optimizers' ids in optim.wgsl (SGD, momentum, Adam, AdamW, RMSprop),
/// each a specialization of the update.
pub const OPTIMIZER_KINDS: [u32; 5] = [0, 1, 2, 3, 4];

/// The update with the optimizer fixed when the pipeline is built (`KIND`):
/// CPU adapters execute every case of a branch on a uniform value, masked.
fn update_kernel(entry: &'static str, kind: u32) -> Kernel {
    Kernel::new(&SHADER, entry).with("KIND", kind)
}

/// Every kernel of the file, every specialization.
pub fn kernels() -> Vec<Kernel> {
    let mut all = vec![Kernel::new(&SHADER, "tick")];
    for kind in OPTIMIZER_KINDS {
        all.push(update_kernel("update", kind));
        all.push(update_kernel("update4", kind));
    }
    all
}

/// The update's uniform for an arena of `n` words.
fn params(cfg: &OptimConfig, n: u32) -> OptimParams {
    let (kind, nesterov, beta1, beta2) = match cfg.kind {
        OptimizerKind::Sgd => (0, 0, cfg.beta1, cfg.beta2),
        OptimizerKind::Momentum { mu, nesterov } => (1, u32::from(nesterov), mu, cfg.beta2),
        OptimizerKind::Adam => (2, 0, cfg.beta1, cfg.beta2),
        OptimizerKind::AdamW => (3, 0, cfg.beta1, cfg.beta2),
        OptimizerKind::RmsProp { alpha } => (4, 0, cfg.beta1, alpha),
    };
    let (schedule, total_steps, step_size, gamma, min_lr) = match cfg.schedule {
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
        lr: cfg.lr,
        beta1,
        beta2,
        eps: cfg.eps,
        weight_decay: cfg.weight_decay,
        clip_norm: cfg.clip_norm,
        warmup: cfg.warmup,
        total_steps,
        step_size,
        gamma,
        min_lr,
        _pad: 0,
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
/// grad_norm, lr_factor (f32; 0 means 1) and a pad word. Start it zeroed.
pub const OPT_STATE_WORDS: usize = 8;

/// The word of the optimizer state that multiplies the scheduled learning
/// rate (f32 bits; 0 means 1).
pub const LR_FACTOR_WORD: usize = 6;

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
    ctx.step(
        &Kernel::new(&SHADER, "tick"),
        OP.to_string(),
        &params(cfg, 0),
        &[(binding::STATE, state), (binding::GSQ, gsq)],
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
        let p = params(cfg, u32_dim(OP, "n", n)?);
        return ctx.step(
            &update_kernel("update4", p.kind),
            format!("{OP}({:?}, {n}, vec4)", cfg.kind),
            &p,
            &[
                (binding::STATE, state),
                (binding::PARAM4, param),
                (binding::GRAD4, grad),
                (binding::M4, m),
                (binding::V4, v),
            ],
            ew_groups(ctx, OP, n / 4)?,
        );
    }
    let p = params(cfg, u32_dim(OP, "n", n)?);
    ctx.step(
        &update_kernel("update", p.kind),
        format!("{OP}({:?}, {n})", cfg.kind),
        &p,
        &[
            (binding::STATE, state),
            (binding::PARAM, param),
            (binding::GRAD, grad),
            (binding::M, m),
            (binding::V, v),
        ],
        ew_groups(ctx, OP, n)?,
    )
}
