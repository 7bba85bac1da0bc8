//! An f64 twin of every kernel in `shaders/`, written for clarity rather than
//! speed. The tests run each kernel and its twin on the same random inputs;
//! the gradient twins are themselves checked against finite differences.
//!
//! Layouts are row-major, as on the GPU. Inputs are f32 (what the GPU saw),
//! widened to f64 before any arithmetic.

pub mod model;

use crate::kernels::{
    Activation, Loss, OptimConfig, OptimizerKind, RandomFill, ReduceMode, Schedule,
};

fn w(x: f32) -> f64 {
    f64::from(x)
}

// ---------------------------------------------------------------- activations

pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

pub fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

const GELU_C: f64 = 0.797_884_560_802_865_4;
const GELU_K: f64 = 0.044715;

/// f(x) for an elementwise activation.
pub fn act(x: f64, a: Activation) -> f64 {
    match a {
        Activation::Identity | Activation::Softmax => x,
        Activation::Relu => x.max(0.0),
        Activation::LeakyRelu(s) => {
            if x > 0.0 {
                x
            } else {
                w(s) * x
            }
        }
        Activation::Sigmoid => sigmoid(x),
        Activation::Tanh => x.tanh(),
        Activation::Gelu => 0.5 * x * (1.0 + (GELU_C * (x + GELU_K * x * x * x)).tanh()),
    }
}

/// f'(z) for an elementwise activation.
pub fn act_derivative(z: f64, a: Activation) -> f64 {
    match a {
        Activation::Identity | Activation::Softmax => 1.0,
        Activation::Relu => {
            if z > 0.0 {
                1.0
            } else {
                0.0
            }
        }
        Activation::LeakyRelu(s) => {
            if z > 0.0 {
                1.0
            } else {
                w(s)
            }
        }
        Activation::Sigmoid => {
            let y = sigmoid(z);
            y * (1.0 - y)
        }
        Activation::Tanh => 1.0 - z.tanh().powi(2),
        Activation::Gelu => {
            let t = (GELU_C * (z + GELU_K * z * z * z)).tanh();
            let du = GELU_C * (1.0 + 3.0 * GELU_K * z * z);
            0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * du
        }
    }
}

/// act_forward: elementwise, or softmax over each row of (rows, cols).
pub fn act_forward(x: &[f32], a: Activation, rows: usize, cols: usize) -> Vec<f64> {
    if a == Activation::Softmax {
        return softmax_rows(&x.iter().map(|&v| w(v)).collect::<Vec<_>>(), rows, cols);
    }
    x.iter().map(|&v| act(w(v), a)).collect()
}

/// act_backward: dz = dy * f'(z); for softmax, from y = softmax(z).
pub fn act_backward(
    z: &[f32],
    y: &[f32],
    dy: &[f32],
    a: Activation,
    rows: usize,
    cols: usize,
) -> Vec<f64> {
    if a == Activation::Softmax {
        let mut out = vec![0.0; rows * cols];
        for r in 0..rows {
            let row = r * cols..(r + 1) * cols;
            let d: f64 = row.clone().map(|i| w(dy[i]) * w(y[i])).sum();
            for i in row {
                out[i] = w(y[i]) * (w(dy[i]) - d);
            }
        }
        return out;
    }
    z.iter()
        .zip(dy)
        .map(|(&z, &g)| w(g) * act_derivative(w(z), a))
        .collect()
}

pub fn softmax_rows(x: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    let mut out = vec![0.0; rows * cols];
    for r in 0..rows {
        let row = &x[r * cols..(r + 1) * cols];
        let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let s: f64 = row.iter().map(|v| (v - m).exp()).sum();
        for (j, v) in row.iter().enumerate() {
            out[r * cols + j] = (v - m).exp() / s;
        }
    }
    out
}

pub fn axpby(alpha: f32, x: &[f32], beta: f32, out: &[f32]) -> Vec<f64> {
    x.iter()
        .zip(out)
        .map(|(&x, &o)| {
            let base = w(alpha) * w(x);
            if beta != 0.0 {
                base + w(beta) * w(o)
            } else {
                base
            }
        })
        .collect()
}

// --------------------------------------------------------------------- matmul

/// Element (i, j) of op(A) . op(B), plus sum_k |a_ik b_kj|, which sets the
/// rounding tolerance of an f32 dot product (Higham: |err| <~ sqrt(K) u sum|terms|).
#[allow(clippy::too_many_arguments)]
pub fn matmul(
    a: &[f32],
    b: &[f32],
    m: usize,
    n: usize,
    k: usize,
    trans_a: bool,
    trans_b: bool,
) -> (Vec<f64>, Vec<f64>) {
    let a: Vec<f64> = a.iter().map(|&v| w(v)).collect();
    let b: Vec<f64> = b.iter().map(|&v| w(v)).collect();
    matmul_f64(&a, &b, m, n, k, trans_a, trans_b)
}

/// f'(z) read from a fused kernel's gate: the output y = f(z) for sigmoid
/// and tanh, the pre-activation z otherwise (see `Activation::gate_is_output`).
pub fn act_derivative_from_gate(g: f64, a: Activation) -> f64 {
    match a {
        Activation::Sigmoid => g * (1.0 - g),
        Activation::Tanh => 1.0 - g * g,
        _ => act_derivative(g, a),
    }
}

/// x * f'(gate), element by element: the operand a fused prologue reads.
pub fn gated(x: &[f32], gate: &[f32], a: Activation) -> Vec<f64> {
    x.iter()
        .zip(gate)
        .map(|(&x, &g)| w(x) * act_derivative_from_gate(w(g), a))
        .collect()
}

/// [`matmul`] on f64 operands (for operands computed by a prologue).
#[allow(clippy::too_many_arguments)]
pub fn matmul_f64(
    a: &[f64],
    b: &[f64],
    m: usize,
    n: usize,
    k: usize,
    trans_a: bool,
    trans_b: bool,
) -> (Vec<f64>, Vec<f64>) {
    let mut out = vec![0.0; m * n];
    let mut norms = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut s = 0.0;
            let mut abs = 0.0;
            for kk in 0..k {
                let av = if trans_a {
                    a[kk * m + i]
                } else {
                    a[i * k + kk]
                };
                let bv = if trans_b {
                    b[j * k + kk]
                } else {
                    b[kk * n + j]
                };
                let t = av * bv;
                s += t;
                abs += t.abs();
            }
            out[i * n + j] = s;
            norms[i * n + j] = abs;
        }
    }
    (out, norms)
}

/// The matmul epilogue: act(alpha * acc + bias) + beta * c_in.
#[allow(clippy::too_many_arguments)]
pub fn matmul_epilogue(
    acc: &[f64],
    n: usize,
    alpha: f32,
    bias: Option<&[f32]>,
    a: Activation,
    beta: f32,
    c_in: &[f32],
) -> Vec<f64> {
    acc.iter()
        .enumerate()
        .map(|(i, &v)| {
            let mut v = w(alpha) * v;
            if let Some(b) = bias {
                v += w(b[i % n]);
            }
            v = act(v, a);
            if beta != 0.0 {
                v += w(beta) * w(c_in[i]);
            }
            v
        })
        .collect()
}

// ----------------------------------------------------------------- reductions

pub fn col_sum(
    x: &[f32],
    rows: usize,
    cols: usize,
    scale: f32,
    beta: f32,
    out: &[f32],
) -> Vec<f64> {
    let x: Vec<f64> = x.iter().map(|&v| w(v)).collect();
    col_sum_f64(&x, rows, cols, scale, beta, out)
}

/// [`col_sum`] of f64 values (for the gated column sum, x * f'(gate)).
pub fn col_sum_f64(
    x: &[f64],
    rows: usize,
    cols: usize,
    scale: f32,
    beta: f32,
    out: &[f32],
) -> Vec<f64> {
    (0..cols)
        .map(|j| {
            let s: f64 = (0..rows).map(|i| x[i * cols + j]).sum();
            let mut v = w(scale) * s;
            if beta != 0.0 {
                v += w(beta) * w(out[j]);
            }
            v
        })
        .collect()
}

/// sum f(x), and sum |f(x)| (the scale of its rounding error).
pub fn reduce(x: &[f32], mode: ReduceMode) -> (f64, f64) {
    let f = |v: f64| match mode {
        ReduceMode::Sum => v,
        ReduceMode::SumSquares => v * v,
        ReduceMode::SumAbs => v.abs(),
    };
    let s = x.iter().map(|&v| f(w(v))).sum();
    let a = x.iter().map(|&v| f(w(v)).abs()).sum();
    (s, a)
}

// --------------------------------------------------------------------- losses

pub fn element_loss(pred: f64, t: f64, loss: Loss) -> f64 {
    match loss {
        Loss::Mse => (pred - t).powi(2),
        Loss::BceLogits => softplus(pred) - pred * t,
    }
}

pub fn element_loss_grad(pred: f64, t: f64, loss: Loss) -> f64 {
    match loss {
        Loss::Mse => 2.0 * (pred - t),
        Loss::BceLogits => sigmoid(pred) - t,
    }
}

pub fn loss_grad(pred: &[f32], target: &[f32], loss: Loss, scale: f32) -> Vec<f64> {
    pred.iter()
        .zip(target)
        .map(|(&p, &t)| w(scale) * element_loss_grad(w(p), w(t), loss))
        .collect()
}

pub fn row_loss(
    pred: &[f32],
    target: &[f32],
    rows: usize,
    cols: usize,
    loss: Loss,
    scale: f32,
) -> Vec<f64> {
    (0..rows)
        .map(|r| {
            let s: f64 = (r * cols..(r + 1) * cols)
                .map(|i| element_loss(w(pred[i]), w(target[i]), loss))
                .sum();
            w(scale) * s
        })
        .collect()
}

// ------------------------------------------------------------------ penalties

pub fn l1_grad(h: &[f32], g: &[f32], lambda: f32) -> Vec<f64> {
    h.iter()
        .zip(g)
        .map(|(&h, &g)| {
            let s = if h > 0.0 {
                1.0
            } else if h < 0.0 {
                -1.0
            } else {
                0.0
            };
            w(g) + w(lambda) * s
        })
        .collect()
}

const RH_EPS: f64 = 1e-6;

fn clamp_rho_hat(r: f64) -> f64 {
    r.clamp(RH_EPS, 1.0 - RH_EPS)
}

pub fn kl_divergence(rho: f64, rho_hat: f64) -> f64 {
    let rh = clamp_rho_hat(rho_hat);
    rho * (rho / rh).ln() + (1.0 - rho) * ((1.0 - rho) / (1.0 - rh)).ln()
}

pub fn kl_loss(rho_hat: &[f32], rho: f32, beta: f32) -> Vec<f64> {
    rho_hat
        .iter()
        .map(|&r| w(beta) * kl_divergence(w(rho), w(r)))
        .collect()
}

pub fn kl_grad(
    rho_hat: &[f32],
    g: &[f32],
    rows: usize,
    cols: usize,
    rho: f32,
    beta: f32,
) -> Vec<f64> {
    let rho = w(rho);
    (0..rows * cols)
        .map(|i| {
            let rh = clamp_rho_hat(w(rho_hat[i % cols]));
            w(g[i]) + w(beta) / rows as f64 * (-rho / rh + (1.0 - rho) / (1.0 - rh))
        })
        .collect()
}

/// The whole KL sparsity penalty of activations h (rows, cols):
/// beta * sum_j KL(rho || mean_i h[i, j]). Its gradient is kl_grad.
pub fn kl_penalty(h: &[f64], rows: usize, cols: usize, rho: f64, beta: f64) -> f64 {
    (0..cols)
        .map(|j| {
            let mean = (0..rows).map(|i| h[i * cols + j]).sum::<f64>() / rows as f64;
            beta * kl_divergence(rho, mean)
        })
        .sum()
}

// ----------------------------------------------------------------- optimizers

/// Optimizer state on the host, mirroring the GPU's OptState word for word.
#[derive(Clone, Debug, Default)]
pub struct OptState {
    pub t: u32,
    pub lr: f64,
    pub bc1: f64,
    pub bc2: f64,
    pub grad_scale: f64,
    pub grad_norm: f64,
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

// --------------------------------------------------------------------- random

const PHILOX_M0: u32 = 0xD251_1F53;
const PHILOX_M1: u32 = 0xCD9E_8D57;
const PHILOX_W0: u32 = 0x9E37_79B9;
const PHILOX_W1: u32 = 0xBB67_AE85;

/// Philox4x32-10 (Salmon et al., SC'11), exactly as rng.wgsl computes it.
pub fn philox4x32(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut c = counter;
    let mut k = key;
    for _ in 0..10 {
        let p0 = u64::from(PHILOX_M0) * u64::from(c[0]);
        let p1 = u64::from(PHILOX_M1) * u64::from(c[2]);
        c = [
            (p1 >> 32) as u32 ^ c[1] ^ k[0],
            p1 as u32,
            (p0 >> 32) as u32 ^ c[3] ^ k[1],
            p0 as u32,
        ];
        k = [k[0].wrapping_add(PHILOX_W0), k[1].wrapping_add(PHILOX_W1)];
    }
    c
}

/// The four Philox words of element block j.
pub fn rng_words(seed: u64, stream: u32, offset: u32, j: u32) -> [u32; 4] {
    philox4x32([j, stream, offset, 0], [seed as u32, (seed >> 32) as u32])
}

fn unit(word: u32) -> f64 {
    f64::from(word >> 8) / 16_777_216.0
}

fn unit_open(word: u32) -> f64 {
    (f64::from(word >> 8) + 0.5) / 16_777_216.0
}

/// What the rng kernels write for n elements (`offset` already includes any
/// GPU-side counter).
pub fn random(fill: RandomFill, seed: u64, stream: u32, offset: u32, n: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(n);
    for j in 0..n.div_ceil(4) {
        let words = rng_words(seed, stream, offset, j as u32);
        let block: [f64; 4] = match fill {
            RandomFill::Uniform { lo, hi } => words.map(|x| w(lo) + (w(hi) - w(lo)) * unit(x)),
            RandomFill::Normal { mean, std } => {
                random_block_normals(words).map(|v| w(mean) + w(std) * v)
            }
            RandomFill::DropoutMask { p } => words.map(|x| {
                if unit(x) >= w(p) {
                    1.0 / (1.0 - w(p))
                } else {
                    0.0
                }
            }),
        };
        for v in block {
            if out.len() < n {
                out.push(v);
            }
        }
    }
    out
}

// -------------------------------------------------------------------- gather

pub fn gather_rows(
    idx: &[u32],
    idx_offset: usize,
    src: &[f32],
    src_rows: usize,
    rows: usize,
    cols: usize,
) -> Vec<f64> {
    let mut out = Vec::with_capacity(rows * cols);
    for r in 0..rows {
        let s = idx[idx_offset + r] as usize;
        for c in 0..cols {
            out.push(if s < src_rows {
                w(src[s * cols + c])
            } else {
                0.0
            });
        }
    }
    out
}

// ---------------------------------------------------------------------- mul

pub fn mul(x: &[f32], y: &[f32]) -> Vec<f64> {
    x.iter().zip(y).map(|(&a, &b)| w(a) * w(b)).collect()
}

// --------------------------------------------------------------------- noise

/// What the noise kernels write: `src` corrupted by `kind`.
pub fn noise(
    kind: crate::kernels::Noise,
    seed: u64,
    stream: u32,
    offset: u32,
    src: &[f32],
) -> Vec<f64> {
    use crate::kernels::Noise;
    let n = src.len();
    let mut out = Vec::with_capacity(n);
    for j in 0..n.div_ceil(4) {
        let words = rng_words(seed, stream, offset, j as u32);
        let z = match kind {
            Noise::Gaussian(std) => random_block_normals(words).map(|v| w(std) * v),
            _ => [0.0; 4],
        };
        for e in 0..4 {
            let i = 4 * j + e;
            if i >= n {
                break;
            }
            let s = w(src[i]);
            let u = unit(words[e]);
            out.push(match kind {
                Noise::Gaussian(_) => s + z[e],
                Noise::Mask(p) => {
                    if u >= w(p) {
                        s
                    } else {
                        0.0
                    }
                }
                Noise::SaltPepper(p) => {
                    if u < 0.5 * w(p) {
                        0.0
                    } else if u < w(p) {
                        1.0
                    } else {
                        s
                    }
                }
            });
        }
    }
    out
}

fn random_block_normals(words: [u32; 4]) -> [f64; 4] {
    let mut z = [0.0; 4];
    for h in 0..2 {
        let r = (-2.0 * unit_open(words[2 * h]).ln()).sqrt();
        let th = std::f64::consts::TAU * (unit(words[2 * h + 1]) - 0.5);
        z[2 * h] = r * th.cos();
        z[2 * h + 1] = r * th.sin();
    }
    z
}

// ------------------------------------------------------------------- shuffle

fn hash32(v: u32) -> u32 {
    let mut x = v;
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x
}

/// The permutation shuffle.wgsl makes for (n, seed, epoch).
pub fn permute(n: usize, seed: u64, epoch: u32) -> Vec<u32> {
    let h = crate::kernels::shuffle_half_bits(n);
    let (lo, hi) = (seed as u32, (seed >> 32) as u32);
    let keys: Vec<u32> = (0..4u32)
        .map(|r| {
            hash32(
                lo ^ hash32(
                    hi.wrapping_add(epoch.wrapping_mul(0x9E37_79B9))
                        .wrapping_add(r),
                ),
            )
        })
        .collect();
    let mask = (1u32 << h) - 1;
    let feistel = |v: u32| {
        let (mut l, mut r) = (v >> h, v & mask);
        for k in &keys {
            let t = l ^ (hash32(r ^ k) & mask);
            l = r;
            r = t;
        }
        (l << h) | r
    };
    (0..n as u32)
        .map(|i| {
            let mut v = feistel(i);
            while v as usize >= n {
                v = feistel(v);
            }
            v
        })
        .collect()
}

// ----------------------------------------------------------------------- VAE

pub fn vae_reparam(head: &[f32], eps: &[f32], rows: usize, code: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(rows * code);
    for b in 0..rows {
        for j in 0..code {
            let mu = w(head[b * 2 * code + j]);
            let lv = w(head[b * 2 * code + code + j]);
            out.push(mu + (0.5 * lv).exp() * w(eps[b * code + j]));
        }
    }
    out
}

pub fn vae_backward(
    head: &[f32],
    eps: &[f32],
    dz: &[f32],
    rows: usize,
    code: usize,
    beta: f32,
) -> Vec<f64> {
    let coef = w(beta) / rows as f64;
    let mut out = vec![0.0; rows * 2 * code];
    for b in 0..rows {
        for j in 0..code {
            let mu = w(head[b * 2 * code + j]);
            let lv = w(head[b * 2 * code + code + j]);
            let g = w(dz[b * code + j]);
            let s = (0.5 * lv).exp();
            out[b * 2 * code + j] = g + coef * mu;
            out[b * 2 * code + code + j] =
                0.5 * g * w(eps[b * code + j]) * s + 0.5 * coef * (s * s - 1.0);
        }
    }
    out
}

/// KL(N(mu, exp(lv)) || N(0, I)) of each row, times `scale`.
pub fn vae_kl_rows(head: &[f64], rows: usize, code: usize, scale: f64) -> Vec<f64> {
    (0..rows)
        .map(|b| {
            let s: f64 = (0..code)
                .map(|j| {
                    let mu = head[b * 2 * code + j];
                    let lv = head[b * 2 * code + code + j];
                    1.0 + lv - mu * mu - lv.exp()
                })
                .sum();
            -0.5 * scale * s
        })
        .collect()
}

// --------------------------------------------------------------- contractive

/// f'(z) and f''(z) of a code activation, from y = f(z), as contractive.wgsl.
pub fn contractive_derivatives(y: f64, a: Activation) -> (f64, f64) {
    match a {
        Activation::Relu => (if y > 0.0 { 1.0 } else { 0.0 }, 0.0),
        Activation::LeakyRelu(s) => (if y > 0.0 { 1.0 } else { w(s) }, 0.0),
        Activation::Sigmoid => (y * (1.0 - y), y * (1.0 - y) * (1.0 - 2.0 * y)),
        Activation::Tanh => (1.0 - y * y, -2.0 * y * (1.0 - y * y)),
        _ => (1.0, 0.0),
    }
}

/// s_j = sum_i W_ji^2.
pub fn row_sq(wt: &[f32], hidden: usize, inputs: usize) -> Vec<f64> {
    (0..hidden)
        .map(|j| (0..inputs).map(|i| w(wt[j * inputs + i]).powi(2)).sum())
        .collect()
}

/// The contractive penalty lambda / rows * sum_b ||J_b||_F^2 of a one-layer
/// encoder h = f(x W^T + b), computed directly from its definition.
#[allow(clippy::too_many_arguments)]
pub fn contractive_penalty(
    x: &[f64],
    wt: &[f64],
    bias: &[f64],
    rows: usize,
    inputs: usize,
    hidden: usize,
    a: Activation,
    lambda: f64,
) -> f64 {
    let mut total = 0.0;
    for b in 0..rows {
        for j in 0..hidden {
            let z: f64 = bias[j]
                + (0..inputs)
                    .map(|i| x[b * inputs + i] * wt[j * inputs + i])
                    .sum::<f64>();
            let d = act_derivative(z, a);
            for i in 0..inputs {
                // J_b[j, i] = f'(z_bj) W_ji
                total += (d * wt[j * inputs + i]).powi(2);
            }
        }
    }
    lambda / rows as f64 * total
}
