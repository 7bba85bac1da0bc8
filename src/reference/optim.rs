//! f64 twins of shaders/optim.wgsl: the tick (step count, schedule, bias
//! corrections, clipping) and every optimizer's update.

use crate::op::{OptimConfig, OptimizerKind, Schedule};
use crate::reference::widen::w;

/// Optimizer state on the host, mirroring the GPU's OptState word for word.
#[derive(Clone, Debug, Default)]
pub struct OptState {
    pub t: u32,
    pub lr: f64,
    pub bc1: f64,
    pub bc2: f64,
    pub grad_scale: f64,
    pub grad_norm: f64,
    /// The multiplier of the scheduled rate (0 means 1).
    pub lr_factor: f64,
}

/// The tick: t += 1, schedule, bias corrections, clipping factor.
pub fn optim_tick(cfg: &OptimConfig, state: &mut OptState, grad_sq_sum: f64) {
    state.t += 1;
    let t = state.t;
    let base = w(cfg.lr);
    let mut lr = match cfg.schedule {
        Schedule::Constant => base,
        Schedule::Step { step_size, gamma } => {
            base * w(gamma).powi(((t - 1) / step_size.max(1)) as i32)
        }
        Schedule::Cosine {
            total_steps,
            min_lr,
        } => {
            let total = total_steps.max(1);
            let progress = f64::from((t - 1).min(total)) / f64::from(total);
            w(min_lr) + (base - w(min_lr)) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
        }
    };
    if cfg.warmup > 0 && t <= cfg.warmup {
        lr *= f64::from(t) / f64::from(cfg.warmup);
    }
    if state.lr_factor > 0.0 {
        lr *= state.lr_factor;
    }
    state.lr = lr;
    let (b1, b2) = betas(cfg);
    state.bc1 = 1.0 - b1.powi(t as i32);
    state.bc2 = 1.0 - b2.powi(t as i32);
    state.grad_norm = 0.0;
    state.grad_scale = 1.0;
    if cfg.clip_norm > 0.0 {
        let norm = grad_sq_sum.sqrt();
        state.grad_norm = norm;
        if norm > w(cfg.clip_norm) {
            state.grad_scale = w(cfg.clip_norm) / (norm + 1e-6);
        }
    }
}

fn betas(cfg: &OptimConfig) -> (f64, f64) {
    match cfg.kind {
        OptimizerKind::Momentum { mu, .. } => (w(mu), w(cfg.beta2)),
        OptimizerKind::RmsProp { alpha } => (w(cfg.beta1), w(alpha)),
        _ => (w(cfg.beta1), w(cfg.beta2)),
    }
}

/// One update of every parameter, after optim_tick.
pub fn optim_update(
    cfg: &OptimConfig,
    state: &OptState,
    param: &mut [f64],
    grad: &[f64],
    m: &mut [f64],
    v: &mut [f64],
) {
    let (b1, b2) = betas(cfg);
    let (lr, wd, eps) = (state.lr, w(cfg.weight_decay), w(cfg.eps));
    for i in 0..param.len() {
        let p = param[i];
        let mut g = grad[i] * state.grad_scale;
        match cfg.kind {
            OptimizerKind::Sgd => {
                g += wd * p;
                param[i] = p - lr * g;
            }
            OptimizerKind::Momentum { nesterov, .. } => {
                g += wd * p;
                m[i] = b1 * m[i] + g;
                let step = if nesterov { g + b1 * m[i] } else { m[i] };
                param[i] = p - lr * step;
            }
            OptimizerKind::Adam | OptimizerKind::AdamW => {
                if cfg.kind == OptimizerKind::Adam {
                    g += wd * p;
                }
                m[i] = b1 * m[i] + (1.0 - b1) * g;
                v[i] = b2 * v[i] + (1.0 - b2) * g * g;
                let mut step = (m[i] / state.bc1) / ((v[i] / state.bc2).sqrt() + eps);
                if cfg.kind == OptimizerKind::AdamW {
                    step += wd * p;
                }
                param[i] = p - lr * step;
            }
            OptimizerKind::RmsProp { .. } => {
                g += wd * p;
                v[i] = b2 * v[i] + (1.0 - b2) * g * g;
                param[i] = p - lr * g / (v[i].sqrt() + eps);
            }
        }
    }
}
