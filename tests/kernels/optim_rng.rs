//! Optimizers, schedules and clipping over several GPU steps against the f64
//! reference; the counter-based generator against its reference, word for
//! word, and in its statistics; and the error paths of the context.

use crate::common::{assert_close, gpu, poisoned, rand_vec, rng, tol, U};
use wgae::kernels::{
    self as ops, OptimConfig, OptimizerKind, RandomFill, ReduceMode, RngSpec, Schedule,
    OPT_STATE_WORDS, REDUCE_PARTIALS,
};
use wgae::reference as r;
use wgae::{Error, GpuContext};

fn read_state(ctx: &GpuContext, t: &wgae::GpuTensor) -> (u32, f64, f64, f64, f64) {
    let words = ctx.read_u32(t).unwrap();
    let f = |i: usize| f64::from(f32::from_bits(words[i]));
    (words[0], f(1), f(2), f(3), f(4))
}

/// Three steps of `cfg` on the GPU: grads are fresh random values each step,
/// the squared norm for clipping is reduced on the GPU, and tick + update run
/// as prerecorded steps (nothing is written from the host between steps but
/// the new gradient standing in for a backward pass).
fn check_optimizer(name: &str, cfg: OptimConfig, n: usize, seed: u64) {
    let Some(ctx) = gpu() else { return };
    let mut g = rng(seed);
    let p0 = rand_vec(&mut g, n, -1.0, 1.0);
    let param = ctx.upload("param", &p0).unwrap();
    let grad = ctx.zeros("grad", n).unwrap();
    let m = ctx.zeros("m", n).unwrap();
    let v = ctx.zeros("v", n).unwrap();
    let state = ctx.zeros("state", OPT_STATE_WORDS).unwrap();
    let gsq = ctx.zeros("gsq", 1).unwrap();
    let partials = ctx.zeros("partials", REDUCE_PARTIALS).unwrap();
    let norm = ops::reduce(
        ctx,
        ReduceMode::SumSquares,
        1.0,
        0.0,
        &grad,
        &partials,
        &gsq,
        0,
    )
    .unwrap();
    let tick = ops::optim_tick(ctx, &cfg, &state, &gsq).unwrap();
    let update = ops::optim_update(ctx, &cfg, &state, &param, &grad, &m, &v).unwrap();

    let mut rp: Vec<f64> = p0.iter().map(|&x| f64::from(x)).collect();
    let mut rm = vec![0.0; n];
    let mut rv = vec![0.0; n];
    let mut rs = r::OptState::default();
    let mut step_budget = vec![0.0f64; n];
    for step in 0..3 {
        if step == 1 {
            // From the second step the rate is halved, as after a
            // divergence (the state's lr_factor word).
            ctx.write(&state.view(ops::LR_FACTOR_WORD, 1).unwrap(), &[0.5f32])
                .unwrap();
            rs.lr_factor = 0.5;
        }
        let gr = rand_vec(&mut g, n, -2.0, 2.0);
        ctx.write(&grad, &gr).unwrap();
        let mut steps: Vec<_> = norm.iter().collect();
        steps.extend([&tick, &update]);
        ctx.run(&steps).unwrap();

        let g64: Vec<f64> = gr.iter().map(|&x| f64::from(x)).collect();
        let gsq_ref: f64 = g64.iter().map(|x| x * x).sum();
        let before = rp.clone();
        r::optim_tick(&cfg, &mut rs, gsq_ref);
        r::optim_update(&cfg, &rs, &mut rp, &g64, &mut rm, &mut rv);
        // Relative rounding of this step: a few ulps for the arithmetic, the
        // clipping norm's reduction, and for Adam the f32 bias corrections
        // 1 - beta^t, whose rounding of beta^t is amplified by beta^t / (1 - beta^t)
        // (PyTorch's fused and capturable Adam compute them in f32 as well).
        let tf = f64::from(rs.t);
        let kappa = match cfg.kind {
            OptimizerKind::Adam | OptimizerKind::AdamW => {
                let cond = |b: f32| {
                    let bt = f64::from(b).powf(tf);
                    bt / (1.0 - bt)
                };
                4.0 * U * (cond(cfg.beta1) + 0.5 * cond(cfg.beta2))
            }
            _ => 0.0,
        };
        let rel = (2.0 * (n as f64).sqrt() + 32.0) * U + kappa;
        for i in 0..n {
            step_budget[i] += (rp[i] - before[i]).abs() * rel;
        }

        let (t, lr, _, _, scale) = read_state(ctx, &state);
        assert_eq!(t, step + 1, "{name}: step counter");
        assert!(
            (lr - rs.lr).abs() <= 4.0 * U * rs.lr,
            "{name}: lr {lr} vs {}",
            rs.lr
        );
        let sn = (n as f64).sqrt();
        assert!(
            (scale - rs.grad_scale).abs() <= (2.0 * sn + 8.0) * U * rs.grad_scale,
            "{name}: clip scale {scale} vs {}",
            rs.grad_scale
        );
    }
    let got = ctx.read(&param).unwrap();
    // Each update to its own relative rounding, plus the rounding of the
    // parameter itself at every step.
    assert_close(
        &format!("{name} params after 3 steps"),
        &got,
        &rp,
        |i, rv| step_budget[i] + 4.0 * U * rv.abs(),
    );
}

#[test]
fn optimizers_match_reference_over_three_steps() {
    let base = OptimConfig::default();
    let cases = [
        ("sgd", base.with_kind(OptimizerKind::Sgd).with_lr(0.1)),
        (
            "sgd+wd",
            base.with_kind(OptimizerKind::Sgd)
                .with_lr(0.1)
                .with_weight_decay(0.01),
        ),
        (
            "momentum",
            base.with_kind(OptimizerKind::Momentum {
                mu: 0.9,
                nesterov: false,
            })
            .with_lr(0.05),
        ),
        (
            "nesterov",
            base.with_kind(OptimizerKind::Momentum {
                mu: 0.9,
                nesterov: true,
            })
            .with_lr(0.05)
            .with_weight_decay(1e-3),
        ),
        ("adam", base.with_lr(1e-2)),
        ("adam+l2", base.with_lr(1e-2).with_weight_decay(0.01)),
        (
            "adamw",
            base.with_kind(OptimizerKind::AdamW)
                .with_lr(1e-2)
                .with_weight_decay(0.1),
        ),
        (
            "rmsprop",
            base.with_kind(OptimizerKind::RmsProp { alpha: 0.99 })
                .with_lr(1e-2),
        ),
        ("adam+clip", base.with_lr(1e-2).with_clip_norm(1.0)),
        (
            "sgd+clip+cosine+warmup",
            base.with_kind(OptimizerKind::Sgd)
                .with_lr(0.1)
                .with_clip_norm(0.5)
                .with_schedule(Schedule::Cosine {
                    total_steps: 4,
                    min_lr: 0.01,
                })
                .with_warmup(2),
        ),
    ];
    for (i, (name, cfg)) in cases.iter().enumerate() {
        // Multiples of 4 take the vec4 update.
        for n in [1usize, 7, 1031, 4, 1032] {
            check_optimizer(name, *cfg, n, 40 + i as u64);
        }
    }
}

#[test]
fn optimizer_update_covers_a_large_arena() {
    // One dispatch over 4.3M parameters: folded into 2-D.
    check_optimizer("adam 4.3M", OptimConfig::default(), 4_300_007, 3);
}

#[test]
fn schedules_follow_the_reference() {
    let Some(ctx) = gpu() else { return };
    let schedules = [
        Schedule::Constant,
        Schedule::Step {
            step_size: 3,
            gamma: 0.5,
        },
        Schedule::Cosine {
            total_steps: 10,
            min_lr: 1e-4,
        },
    ];
    for schedule in schedules {
        for warmup in [0, 4] {
            let cfg = OptimConfig::default()
                .with_lr(0.1)
                .with_schedule(schedule)
                .with_warmup(warmup);
            let state = ctx.zeros("state", OPT_STATE_WORDS).unwrap();
            let gsq = ctx.zeros("gsq", 1).unwrap();
            let tick = ops::optim_tick(ctx, &cfg, &state, &gsq).unwrap();
            let mut rs = r::OptState::default();
            for _ in 0..14 {
                ctx.run(&[&tick]).unwrap();
                r::optim_tick(&cfg, &mut rs, 0.0);
                let (t, lr, bc1, bc2, _) = read_state(ctx, &state);
                assert_eq!(t, rs.t);
                // cos and pow are good to a few ulp (WGSL: cos 2^-11 absolute on [-pi, pi]).
                let tl = if matches!(schedule, Schedule::Cosine { .. }) {
                    0.1 * 2f64.powi(-11)
                } else {
                    8.0 * U * rs.lr
                };
                assert!(
                    (lr - rs.lr).abs() <= tl,
                    "{schedule:?} warmup {warmup} t {t}: lr {lr} vs {}",
                    rs.lr
                );
                assert!((bc1 - rs.bc1).abs() <= 16.0 * U, "bc1 {bc1} vs {}", rs.bc1);
                assert!(
                    (bc2 - rs.bc2).abs() <= 16.0 * U * f64::from(t),
                    "bc2 {bc2} vs {}",
                    rs.bc2
                );
            }
        }
    }
}

#[test]
fn optimizer_rejects_bad_hyperparameters() {
    let Some(ctx) = gpu() else { return };
    let state = ctx.zeros("state", OPT_STATE_WORDS).unwrap();
    let cfg = OptimConfig::default().with_lr(f32::NAN);
    let err = ops::optim_tick(ctx, &cfg, &state, &state).unwrap_err();
    assert!(err.to_string().contains("learning rate"), "{err}");
}

// --------------------------------------------------------------------- random

#[test]
fn philox_matches_published_known_answers() {
    // Known-answer vectors of Philox4x32-10 from Random123 (kat_vectors).
    assert_eq!(
        r::philox4x32([0, 0, 0, 0], [0, 0]),
        [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]
    );
    assert_eq!(
        r::philox4x32([u32::MAX; 4], [u32::MAX; 2]),
        [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd]
    );
    assert_eq!(
        r::philox4x32(
            [0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344],
            [0xa409_3822, 0x299f_31d0]
        ),
        [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1]
    );
}

#[test]
fn random_fills_match_reference_on_odd_sizes() {
    let Some(ctx) = gpu() else { return };
    let spec = RngSpec {
        seed: 0x1234_5678_9abc_def0,
        stream: 7,
        offset: 3,
    };
    for n in [1usize, 7, 33, 65, 127, 1000 * 777] {
        // Uniform in [0, 1) is exact: 24 random bits times 2^-24.
        let out = poisoned(ctx, n);
        let step = ops::random(
            ctx,
            RandomFill::Uniform { lo: 0.0, hi: 1.0 },
            spec,
            None,
            &out,
        )
        .unwrap();
        ctx.run(&[&step]).unwrap();
        let got = ctx.read(&out).unwrap();
        let want = r::random(RandomFill::Uniform { lo: 0.0, hi: 1.0 }, spec.seed, 7, 3, n);
        assert_close("uniform [0,1)", &got, &want, tol(0.0, 0.0));

        let fill = RandomFill::Uniform { lo: -0.5, hi: 2.0 };
        ctx.run(&[&ops::random(ctx, fill, spec, None, &out).unwrap()])
            .unwrap();
        let got = ctx.read(&out).unwrap();
        let want = r::random(fill, spec.seed, 7, 3, n);
        assert_close("uniform [-0.5,2)", &got, &want, tol(2.5 * 2.0 * U, 2.0 * U));

        // Box-Muller: WGSL bounds log to 2^-21 absolute near 1 (3 ulp
        // elsewhere) and sin/cos to 2^-11 absolute on [-pi, pi]; the radius
        // reaches about 5.8 with 24-bit uniforms.
        let fill = RandomFill::Normal {
            mean: 0.5,
            std: 2.0,
        };
        ctx.run(&[&ops::random(ctx, fill, spec, None, &out).unwrap()])
            .unwrap();
        let got = ctx.read(&out).unwrap();
        let want = r::random(fill, spec.seed, 7, 3, n);
        assert_close("normal", &got, &want, |_, rv| {
            2.0 * (5.8 * 2f64.powi(-11) + 2f64.powi(-19)) + 4.0 * U * rv.abs()
        });

        let fill = RandomFill::DropoutMask { p: 0.3 };
        ctx.run(&[&ops::random(ctx, fill, spec, None, &out).unwrap()])
            .unwrap();
        let got = ctx.read(&out).unwrap();
        let want = r::random(fill, spec.seed, 7, 3, n);
        assert_close("dropout mask", &got, &want, tol(0.0, U));
    }
}

#[test]
fn random_statistics_over_four_million_draws() {
    let Some(ctx) = gpu() else { return };
    let n = 4_200_001usize;
    let out = ctx.zeros("out", n).unwrap();
    let spec = RngSpec {
        seed: 42,
        stream: 1,
        offset: 0,
    };
    let moments = |v: &[f32]| {
        let mean = v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len() as f64;
        let var = v
            .iter()
            .map(|&x| (f64::from(x) - mean).powi(2))
            .sum::<f64>()
            / v.len() as f64;
        (mean, var)
    };
    let sn = (n as f64).sqrt();

    ctx.run(&[&ops::random(
        ctx,
        RandomFill::Normal {
            mean: 0.0,
            std: 1.0,
        },
        spec,
        None,
        &out,
    )
    .unwrap()])
        .unwrap();
    let v = ctx.read(&out).unwrap();
    let (mean, var) = moments(&v);
    // Five standard errors: the mean's is 1/sqrt(n), the variance's sqrt(2/n).
    assert!(mean.abs() < 5.0 / sn, "normal mean {mean}");
    assert!(
        (var - 1.0).abs() < 5.0 * 2f64.sqrt() / sn,
        "normal variance {var}"
    );
    let tail = v.iter().filter(|x| x.abs() > 3.0).count() as f64 / n as f64;
    assert!(
        (tail - 0.0027).abs() < 5.0 * (0.0027f64 / n as f64).sqrt(),
        "P(|z|>3) = {tail}"
    );

    ctx.run(&[&ops::random(
        ctx,
        RandomFill::Uniform { lo: 0.0, hi: 1.0 },
        spec,
        None,
        &out,
    )
    .unwrap()])
        .unwrap();
    let v = ctx.read(&out).unwrap();
    let (mean, var) = moments(&v);
    assert!(
        (mean - 0.5).abs() < 5.0 * (1.0f64 / 12.0).sqrt() / sn,
        "uniform mean {mean}"
    );
    assert!(
        (var - 1.0 / 12.0).abs() < 5.0 * (1.0f64 / 180.0).sqrt() / sn,
        "uniform variance {var}"
    );

    let p = 0.25f32;
    ctx.run(&[&ops::random(ctx, RandomFill::DropoutMask { p }, spec, None, &out).unwrap()])
        .unwrap();
    let v = ctx.read(&out).unwrap();
    let kept = v.iter().filter(|&&x| x != 0.0).count() as f64 / n as f64;
    let pf = f64::from(p);
    let se = (pf * (1.0 - pf) / n as f64).sqrt();
    assert!((kept - (1.0 - pf)).abs() < 5.0 * se, "kept fraction {kept}");
    let (mean, _) = moments(&v);
    assert!(
        (mean - 1.0).abs() < 0.01,
        "inverted dropout keeps the mean at 1: {mean}"
    );
}

#[test]
fn gpu_counter_gives_fresh_numbers_each_run() {
    let Some(ctx) = gpu() else { return };
    let n = 1001;
    let out = poisoned(ctx, n);
    let counter = ctx.upload("counter", &[5u32, 0, 0, 0]).unwrap();
    let spec = RngSpec {
        seed: 9,
        stream: 2,
        offset: 10,
    };
    let fill = RandomFill::Uniform { lo: 0.0, hi: 1.0 };
    let step = ops::random(ctx, fill, spec, Some(&counter), &out).unwrap();
    ctx.run(&[&step]).unwrap();
    let first = ctx.read(&out).unwrap();
    assert_close(
        "counter offset",
        &first,
        &r::random(fill, 9, 2, 15, n),
        tol(0.0, 0.0),
    );
    ctx.write(&counter, &[6u32, 0, 0, 0]).unwrap();
    ctx.run(&[&step]).unwrap();
    let second = ctx.read(&out).unwrap();
    assert_close(
        "counter offset + 1",
        &second,
        &r::random(fill, 9, 2, 16, n),
        tol(0.0, 0.0),
    );
    assert_ne!(first, second);
    // Another stream differs too.
    let other = ops::random(
        ctx,
        fill,
        RngSpec { stream: 3, ..spec },
        Some(&counter),
        &out,
    )
    .unwrap();
    ctx.run(&[&other]).unwrap();
    assert_ne!(ctx.read(&out).unwrap(), second);
}

// ---------------------------------------------------------------- error paths

#[test]
fn wgpu_validation_errors_come_back_as_err() {
    let Some(ctx) = gpu() else { return };
    // The same buffer as read-only input and read-write output of one
    // dispatch is a usage conflict: wgpu rejects it, wgae returns Err.
    let t = ctx.upload("t", &[1.0f32; 64]).unwrap();
    let res = ops::axpby(ctx, 64, 1.0, &t, 0.0, &t).and_then(|s| ctx.run_wait(&[&s]));
    match res {
        Err(Error::Validation { message, .. }) => {
            assert!(!message.is_empty())
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
    // The context still works afterwards.
    let out = poisoned(ctx, 64);
    ctx.run(&[&ops::fill(ctx, 2.0, &out).unwrap()]).unwrap();
    assert!(ctx.read(&out).unwrap().iter().all(|&v| v == 2.0));
}

#[test]
fn oversized_tensors_get_a_clear_error() {
    let Some(ctx) = gpu() else { return };
    let limit = ctx.limits().max_storage_buffer_binding_size;
    let n = (limit / 4 + 1) as usize;
    match ctx.zeros("huge", n) {
        Err(Error::TooLarge {
            bytes, limit: l, ..
        }) => {
            assert!(bytes > l);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    let msg = ctx.zeros("huge", n).unwrap_err().to_string();
    assert!(msg.contains("smaller batch"), "{msg}");
    assert!(ctx.upload::<f32>("empty", &[]).is_err());
}

#[test]
fn misaligned_views_are_refused() {
    let Some(ctx) = gpu() else { return };
    let t = ctx.zeros("arena", 1024).unwrap();
    let align_words = ctx.limits().min_storage_buffer_offset_alignment as usize / 4;
    let aligned = t.view(align_words, 64).unwrap();
    ctx.run(&[&ops::fill(ctx, 3.0, &aligned).unwrap()]).unwrap();
    let all = ctx.read(&t).unwrap();
    assert!(all[..align_words].iter().all(|&v| v == 0.0));
    assert!(all[align_words..align_words + 64].iter().all(|&v| v == 3.0));
    assert!(all[align_words + 64..].iter().all(|&v| v == 0.0));
    if align_words > 1 {
        let bad = t.view(1, 64).unwrap();
        let err = ops::fill(ctx, 3.0, &bad).unwrap_err().to_string();
        assert!(err.contains("alignment"), "{err}");
    }
    assert!(t.view(1000, 100).is_err());
}

#[test]
fn context_wraps_a_device_the_caller_owns() {
    let Some(ctx) = gpu() else { return };
    // Any device works; reuse the test context's by cloning the handles.
    let embedded = GpuContext::from_device(ctx.device.clone(), ctx.queue.clone()).unwrap();
    assert_eq!(embedded.adapter_name(), ctx.adapter_name());
    let x = embedded.upload("x", &[1.0f32, -2.0, 3.0]).unwrap();
    let y = poisoned(&embedded, 3);
    embedded
        .run(&[&ops::act_forward(&embedded, wgae::Activation::Relu, 1, 3, &x, &y).unwrap()])
        .unwrap();
    assert_eq!(embedded.read(&y).unwrap(), vec![1.0, 0.0, 3.0]);
}

#[test]
fn every_pipeline_builds_on_this_adapter() {
    let Some(ctx) = gpu() else { return };
    wgae::kernels::build_all_pipelines(ctx).unwrap();
}
