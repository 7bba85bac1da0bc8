//! Measured kernel choice: every candidate is timed once per shape, the
//! fastest is kept, a fixed kernel turns tuning off, a failed measurement
//! falls back on the rule, and a tuned plan trains to the same bits.

mod common;

use std::sync::OnceLock;

use common::{gpu, rand_vec, rng};
use wgae::gpu::ContextOptions;
use wgae::kernels::matmul::tune::{self, MatmulShape};
use wgae::kernels::matmul::{kernel_for, rule_kernel};
use wgae::kernels::Operand;
use wgae::kernels::{self as ops, MatmulSpec};
use wgae::{Control, Dataset, GpuContext, ModelConfig, TrainConfig, Trainer};

/// A context on the test adapter with tuning on, whatever the adapter.
fn tuned() -> Option<&'static GpuContext> {
    static CTX: OnceLock<Option<GpuContext>> = OnceLock::new();
    CTX.get_or_init(|| {
        gpu()?;
        let opts = ContextOptions {
            matmul_direct: None,
            matmul_tile: None,
            tune: Some(true),
            ..common::context_options()
        };
        Some(GpuContext::with_options(&opts).expect("a tuned context on the same adapter"))
    })
    .as_ref()
}

#[test]
fn tuning_times_every_candidate_and_keeps_the_fastest() {
    let Some(ctx) = tuned() else { return };
    assert!(ctx.autotune());
    let candidates = tune::candidates(ctx);
    assert!(candidates.len() >= 2, "{candidates:?}");
    for pro in [None, Some(Operand::A), Some(Operand::B)] {
        let spec = MatmulSpec::new(33, 65, 71, false, true);
        let shape = MatmulShape::of(&spec, pro);
        let t = tune::tune(ctx, shape).unwrap();
        let timed: Vec<_> = t.times.iter().map(|(k, _)| *k).collect();
        assert_eq!(timed, candidates, "{}", shape.label());
        for (k, secs) in &t.times {
            assert!(
                secs.is_finite() && *secs > 0.0,
                "{}: {k:?} took {secs} s",
                shape.label()
            );
        }
        let fastest = t.times.iter().min_by(|x, y| x.1.total_cmp(&y.1)).unwrap().0;
        assert_eq!(t.best, fastest, "{}: {:?}", shape.label(), t.times);
        // Measured once: the second ask returns the same times, and plans
        // get the fastest kernel.
        assert_eq!(tune::tune(ctx, shape).unwrap(), t);
        assert_eq!(kernel_for(ctx, &spec, pro), t.best);
        assert!(tune::tuned_shapes(ctx).iter().any(|(s, _)| *s == shape));
    }
}

#[test]
fn a_fixed_kernel_or_the_option_turns_tuning_off() {
    let Some(first) = gpu() else { return };
    let base = ContextOptions {
        adapter: Some(first.adapter_name().to_string()),
        ..ContextOptions::default()
    };
    let ctx = GpuContext::with_options(&base).unwrap();
    // On by default on hardware GPUs, off on software adapters, whose rule
    // is measured.
    assert_eq!(ctx.autotune(), !ctx.is_software());
    for opts in [
        ContextOptions {
            tune: Some(true),
            matmul_direct: Some(true),
            ..base.clone()
        },
        ContextOptions {
            tune: Some(true),
            matmul_tile: Some(wgae::op::Tile::T64),
            ..base.clone()
        },
        ContextOptions {
            tune: Some(false),
            ..base.clone()
        },
    ] {
        let ctx = GpuContext::with_options(&opts).unwrap();
        assert!(!ctx.autotune(), "{opts:?}");
        let spec = MatmulSpec::new(40, 50, 60, false, false);
        assert_eq!(kernel_for(&ctx, &spec, None), rule_kernel(&ctx, 40, 50));
        assert!(tune::tuned_shapes(&ctx).is_empty(), "{opts:?}");
    }
}

#[test]
fn a_failed_measurement_falls_back_on_the_rule() {
    let Some(ctx) = tuned() else { return };
    // A larger than any storage binding: the scratch buffer is refused
    // before anything is allocated.
    let m = (ctx.limits().max_storage_buffer_binding_size / 4) as usize + 1;
    let spec = MatmulSpec::new(m, 1, 1, false, false);
    assert!(tune::tune(ctx, MatmulShape::of(&spec, None)).is_err());
    assert_eq!(kernel_for(ctx, &spec, None), rule_kernel(ctx, m, 1));
    // And the matmul itself reports the size, as without tuning.
    let small = ctx.zeros("a", 4).unwrap();
    let err = ops::matmul(ctx, &spec, &small, &small, None, &small).unwrap_err();
    assert!(err.to_string().contains("matmul"), "{err}");
}

#[test]
fn a_tuned_plan_tunes_each_shape_and_trains_to_the_same_bits() {
    let (Some(plain), Some(ctx)) = (gpu(), tuned()) else {
        return;
    };
    let (rows, dim, batch) = (300, 37, 64);
    let mut g = rng(11);
    let data = Dataset::new(rand_vec(&mut g, rows * dim, 0.0, 1.0), rows, dim, None).unwrap();
    let cfg = ModelConfig::dense(dim, &[24, 6]).act(wgae::Activation::Tanh);
    let tcfg = TrainConfig {
        epochs: 2,
        batch_size: batch,
        seed: 5,
        ..TrainConfig::default()
    };
    let mut params = Vec::new();
    for c in [plain, ctx] {
        let mut t = Trainer::new(c, &cfg, &tcfg, &data, None).unwrap();
        t.fit(|_| Control::Continue, |_| {}).unwrap();
        params.push(t.model().params_host().unwrap());
    }
    let differ = params[0]
        .iter()
        .zip(&params[1])
        .filter(|(x, y)| x.to_bits() != y.to_bits())
        .count();
    assert_eq!(differ, 0, "the tuned plan trained to other bits");
    // The first layer's forward matmul, at the full and at the last
    // (partial) batch, was tuned.
    let tuned = tune::tuned_shapes(ctx);
    for r in [batch, rows % batch] {
        assert!(
            tuned
                .iter()
                .any(|(s, _)| (s.m, s.n, s.k) == (r, 24, dim) && s.pro.is_none()),
            "no tuned forward matmul {r}x24x{dim} among {:?}",
            tuned.iter().map(|(s, _)| s.label()).collect::<Vec<_>>()
        );
    }
    let candidates = tune::candidates(ctx);
    assert!(tuned.iter().all(|(_, t)| candidates.contains(&t.best)));
}
