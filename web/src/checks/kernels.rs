//! Kernels against their f64 twins (`wgae::reference`) on odd shapes, each
//! output poisoned with NaN first, with the tolerances of the native kernel
//! tests (`tests/kernels/`): every matmul kernel the adapter runs, the
//! losses and their gradients, a convolution, max pooling and batch
//! statistics.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use wgae::kernels::{
    self as ops, ConvGeom, Loss, MatmulKernel, MatmulSpec, NormGeom, OptimConfig, OptimizerKind,
    PoolGeom,
};
use wgae::reference::{self as r, bounds};
use wgae::{Activation, GpuContext, GpuTensor, Result};

use super::{errored, judged, Check, U};

fn rand_vec(g: &mut StdRng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n).map(|_| g.random_range(lo..hi)).collect()
}

fn poisoned(ctx: &GpuContext, n: usize) -> Result<GpuTensor> {
    ctx.upload("poisoned", &vec![f32::NAN; n])
}

/// A check from a worst ratio, or from the engine's error.
fn outcome(name: String, worst: Result<f64>) -> Check {
    match worst {
        Ok(w) => judged(name, w),
        Err(e) => errored(name, e),
    }
}

/// Runs `step` and reads `out` back.
async fn run(ctx: &GpuContext, step: Result<wgae::Step>, out: &GpuTensor) -> Result<Vec<f32>> {
    ctx.run(&[&step?])?;
    ctx.read_async(out).await
}

pub async fn all(ctx: &GpuContext) -> Vec<Check> {
    let mut out = Vec::new();
    out.extend(matmul(ctx).await);
    out.extend(losses(ctx).await);
    out.push(conv(ctx).await);
    out.push(maxpool(ctx).await);
    out.push(batch_stats(ctx).await);
    for (name, kind) in [
        ("optimizer Adam", OptimizerKind::Adam),
        ("optimizer AdamW", OptimizerKind::AdamW),
    ] {
        let cfg = OptimConfig::default()
            .with_kind(kind)
            .with_lr(0.01)
            .with_weight_decay(0.01);
        out.push(outcome(name.to_string(), optimizer(ctx, &cfg).await));
    }
    out
}

/// Every matmul kernel the adapter runs, at odd shapes and several layouts.
async fn matmul(ctx: &GpuContext) -> Vec<Check> {
    // Every kernel this adapter runs, as tuning chooses among them.
    let kernels = ops::matmul::tune::candidates(ctx);
    let shapes = [
        (1, 1, 1),
        (7, 1, 65),
        (33, 65, 7),
        (65, 33, 127),
        (130, 129, 67),
    ];
    let mut checks = Vec::new();
    for kernel in kernels {
        let name = format!("matmul {kernel:?}");
        let mut worst = 0.0f64;
        let mut g = StdRng::seed_from_u64(1);
        let mut failed = None;
        for (i, &(m, n, k)) in shapes.iter().enumerate() {
            let (ta, tb) = (i % 2 == 1, i % 3 == 1);
            match matmul_once(ctx, kernel, &mut g, (m, n, k), (ta, tb)).await {
                Ok(w) => worst = worst.max(w),
                Err(e) => {
                    failed = Some(errored(format!("{name} {m}x{n}x{k}"), e));
                    break;
                }
            }
        }
        checks.push(failed.unwrap_or_else(|| judged(name, worst)));
    }
    checks
}

async fn matmul_once(
    ctx: &GpuContext,
    kernel: MatmulKernel,
    g: &mut StdRng,
    (m, n, k): (usize, usize, usize),
    (ta, tb): (bool, bool),
) -> Result<f64> {
    let a = rand_vec(g, m * k, -1.0, 1.0);
    let b = rand_vec(g, k * n, -1.0, 1.0);
    let (xa, xb, out) = (
        ctx.upload("a", &a)?,
        ctx.upload("b", &b)?,
        poisoned(ctx, m * n)?,
    );
    let spec = MatmulSpec::new(m, n, k, ta, tb);
    let step = ops::matmul_with(ctx, kernel, &spec, &xa, &xb, None, &out);
    let got = run(ctx, step, &out).await?;
    let (want, abs) = r::matmul(&a, &b, m, n, k, ta, tb);
    // Higham's probabilistic bound for an f32 dot product of length k.
    Ok(super::worst(&got, &want, |i, rv| {
        bounds::dot(k, abs[i], 1.0, rv)
    }))
}

/// MSE and BCE on logits: the gradient and the per-row loss.
async fn losses(ctx: &GpuContext) -> Vec<Check> {
    let mut checks = Vec::new();
    for loss in [Loss::Mse, Loss::BceLogits] {
        checks.push(outcome(
            format!("loss {loss:?}"),
            loss_once(ctx, loss).await,
        ));
    }
    checks
}

async fn loss_once(ctx: &GpuContext, loss: Loss) -> Result<f64> {
    let mut worst = 0.0f64;
    let mut g = StdRng::seed_from_u64(5);
    for (rows, cols) in [(1, 1), (3, 1000), (37, 13)] {
        let n = rows * cols;
        let (lo, hi) = if loss == Loss::Mse {
            (-1.0, 2.0)
        } else {
            (-12.0, 12.0)
        };
        let pred = rand_vec(&mut g, n, lo, hi);
        let target = rand_vec(&mut g, n, 0.0, 1.0);
        let (tp, tt) = (ctx.upload("pred", &pred)?, ctx.upload("target", &target)?);
        let scale = 1.0 / n as f32;
        let out = poisoned(ctx, n)?;
        let step = ops::loss_grad(ctx, loss, rows, cols, scale, &tp, &tt, &out);
        let got = run(ctx, step, &out).await?;
        let want = r::loss_grad(&pred, &target, loss, scale);
        worst = worst.max(super::worst(&got, &want, |_, rv| {
            bounds::loss_grad(scale, rv)
        }));
        let rscale = 1.0 / cols as f32;
        let out = poisoned(ctx, rows)?;
        let step = ops::row_loss(ctx, loss, rows, cols, rscale, &tp, &tt, &out);
        let got = run(ctx, step, &out).await?;
        let want = r::row_loss(&pred, &target, rows, cols, loss, rscale);
        // Per element a few ulps of exp/log, summed over cols terms.
        let abs = bounds::row_loss_magnitudes(&pred, &target, rows, cols, loss);
        worst = worst.max(super::worst(&got, &want, |i, _| {
            bounds::row_loss(rscale, cols, abs[i])
        }));
    }
    Ok(worst)
}

/// A strided, padded 2-D convolution over 3 channels with its bias and a
/// ReLU.
async fn conv(ctx: &GpuContext) -> Check {
    let g = ConvGeom {
        n: 2,
        c: 3,
        h: 13,
        w: 11,
        o: 5,
        oh: 7,
        ow: 6,
        kh: 3,
        kw: 3,
        sh: 2,
        sw: 2,
        ph: 1,
        pw: 1,
        dh: 1,
        dw: 1,
    };
    let name = "conv2d 3ch 13x11 k3 s2 same".to_string();
    let once = async {
        let mut rng = StdRng::seed_from_u64(2);
        let x = rand_vec(&mut rng, g.input_len(), -1.0, 1.0);
        let w = rand_vec(&mut rng, g.weight_len(), -0.5, 0.5);
        let b = rand_vec(&mut rng, g.o, -0.5, 0.5);
        let (xt, wt, bt) = (
            ctx.upload("x", &x)?,
            ctx.upload("w", &w)?,
            ctx.upload("b", &b)?,
        );
        let out = poisoned(ctx, g.output_len())?;
        let act = Activation::Relu;
        let step = ops::conv::conv_forward(ctx, &g, &xt, &wt, Some(&bt), act, &out);
        let got = run(ctx, step, &out).await?;
        let (want, scale) = r::conv_forward(&g, &x, &w, Some(&b), act);
        let terms = g.c * g.kh * g.kw + 1;
        Ok::<_, wgae::Error>(super::worst(&got, &want, |i, rv| {
            bounds::dot(terms, scale[i], 2.0, rv)
        }))
    };
    outcome(name, once.await)
}

/// 3x3 max pooling, stride 2, padded: the values exactly, and the argmax.
async fn maxpool(ctx: &GpuContext) -> Check {
    let g = PoolGeom {
        n: 2,
        c: 3,
        h: 15,
        w: 9,
        oh: 8,
        ow: 5,
        kh: 3,
        kw: 3,
        sh: 2,
        sw: 2,
        ph: 1,
        pw: 1,
    };
    let name = "maxpool 3ch 15x9 k3 s2".to_string();
    let once = async {
        let mut rng = StdRng::seed_from_u64(5);
        let x = rand_vec(&mut rng, g.input_len(), -1.0, 1.0);
        let xt = ctx.upload("x", &x)?;
        let out = poisoned(ctx, g.output_len())?;
        let idx = ctx.upload("idx", &vec![0xdead_beefu32; g.output_len()])?;
        ctx.run(&[&ops::pool::maxpool_forward(ctx, &g, &xt, &out, &idx)?])?;
        let got = ctx.read_async(&out).await?;
        let got_idx: Vec<u32> = ctx
            .read_async(&idx)
            .await?
            .iter()
            .map(|v| v.to_bits())
            .collect();
        let (want, want_idx) = r::maxpool_forward(&g, &x);
        let w = super::worst(&got, &want, |_, _| f64::MIN_POSITIVE);
        Ok::<_, wgae::Error>(if got_idx == want_idx {
            w
        } else {
            f64::INFINITY
        })
    };
    outcome(name, once.await)
}

/// Batch-norm statistics (mean and variance per channel) over 5 samples of
/// 3 channels of 35 values.
async fn batch_stats(ctx: &GpuContext) -> Check {
    let g = NormGeom {
        n: 5,
        c: 3,
        s: 35,
        eps: 1e-5,
    };
    let name = "batch-norm statistics 5x3x35".to_string();
    let once = async {
        let mut rng = StdRng::seed_from_u64(11);
        let x = rand_vec(&mut rng, g.len(), -1.0, 3.0);
        let xt = ctx.upload("x", &x)?;
        let out = poisoned(ctx, 2 * g.c)?;
        let got = run(ctx, ops::norm::bn_stats(ctx, &g, &xt, &out), &out).await?;
        let xs: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
        let (mean, var) = r::bn_stats(&xs, g.n, g.c, g.s);
        let want = [mean, var.clone()].concat();
        let tol = bounds::bn_stats(&xs, g.n, g.c, g.s, &var);
        Ok::<_, wgae::Error>(super::worst(&got, &want, tol))
    };
    outcome(name, once.await)
}

/// Three optimizer steps (tick, then the update of every parameter) on
/// fresh random gradients, for 1,001 parameters (one per invocation) and
/// 1,000 (four per invocation), against the f64 optimizer.
async fn optimizer(ctx: &GpuContext, cfg: &OptimConfig) -> Result<f64> {
    let mut worst = 0.0f64;
    let mut g = StdRng::seed_from_u64(40);
    for n in [1001, 1000] {
        let p0 = rand_vec(&mut g, n, -1.0, 1.0);
        let param = ctx.upload("param", &p0)?;
        let (grad, m, v) = (
            ctx.zeros("grad", n)?,
            ctx.zeros("m", n)?,
            ctx.zeros("v", n)?,
        );
        let state = ctx.zeros("state", ops::OPT_STATE_WORDS)?;
        let gsq = ctx.zeros("gsq", 1)?;
        let tick = ops::optim_tick(ctx, cfg, &state, &gsq)?;
        let update = ops::optim_update(ctx, cfg, &state, &param, &grad, &m, &v)?;
        let mut rp: Vec<f64> = p0.iter().map(|&x| f64::from(x)).collect();
        let (mut rm, mut rv) = (vec![0.0; n], vec![0.0; n]);
        let mut rs = r::OptState::default();
        let mut budget = vec![0.0f64; n];
        for _ in 0..3 {
            let gr = rand_vec(&mut g, n, -2.0, 2.0);
            ctx.write(&grad, &gr)?;
            ctx.run(&[&tick, &update])?;
            let g64: Vec<f64> = gr.iter().map(|&x| f64::from(x)).collect();
            let before = rp.clone();
            r::optim_tick(cfg, &mut rs, 0.0);
            r::optim_update(cfg, &rs, &mut rp, &g64, &mut rm, &mut rv);
            // A few ulps per step, and the f32 bias corrections 1 - beta^t,
            // whose rounding is amplified by beta^t / (1 - beta^t)
            // (tests/kernels/optim_rng.rs).
            let t = f64::from(rs.t);
            let cond = |b: f32| {
                let bt = f64::from(b).powf(t);
                bt / (1.0 - bt)
            };
            let rel = 32.0 * U + 4.0 * U * (cond(cfg.beta1) + 0.5 * cond(cfg.beta2));
            for i in 0..n {
                budget[i] += (rp[i] - before[i]).abs() * rel;
            }
        }
        let got = ctx.read_async(&param).await?;
        worst = worst.max(super::worst(&got, &rp, |i, rv| {
            budget[i] + 4.0 * U * rv.abs() + 1e-30
        }));
    }
    Ok(worst)
}
