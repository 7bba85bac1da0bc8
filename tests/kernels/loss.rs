//! The losses and their gradients, fused and per row.

use crate::common::{assert_close, gpu, gpu_other_plan, poisoned, rand_vec, rng, tol, U};
use crate::SHAPES;
use rand::Rng;
use wgae::kernels::{self as ops, Loss};
use wgae::reference as r;

#[test]
fn losses_and_gradients_odd_shapes() {
    // Both widths of the per-row kernels (8 lanes per row on CPU adapters,
    // 64 on GPUs), whichever this adapter uses.
    let (Some(first), Some(other)) = (gpu(), gpu_other_plan()) else {
        return;
    };
    assert_ne!(first.row_lanes(), other.row_lanes());
    for ctx in [first, other] {
        for loss in [Loss::Mse, Loss::BceLogits] {
            for (si, &(rows, cols)) in SHAPES.iter().enumerate() {
                let n = rows * cols;
                let mut g = rng(5000 + si as u64);
                let (lo, hi) = if loss == Loss::Mse {
                    (-1.0, 2.0)
                } else {
                    (-12.0, 12.0)
                };
                let pred = rand_vec(&mut g, n, lo, hi);
                let target = rand_vec(&mut g, n, 0.0, 1.0);
                let tp = ctx.upload("pred", &pred).unwrap();
                let tt = ctx.upload("target", &target).unwrap();
                let scale = 1.0 / n as f32;
                let tg = poisoned(ctx, n);
                ctx.run(&[&ops::loss_grad(ctx, loss, rows, cols, scale, &tp, &tt, &tg).unwrap()])
                    .unwrap();
                let got = ctx.read(&tg).unwrap();
                let want = r::loss_grad(&pred, &target, loss, scale);
                assert_close(
                    &format!("{loss:?} grad {rows}x{cols}"),
                    &got,
                    &want,
                    |_, rv| r::bounds::loss_grad(scale, rv),
                );

                let rscale = 1.0 / cols as f32;
                let tr = poisoned(ctx, rows);
                ctx.run(&[&ops::row_loss(ctx, loss, rows, cols, rscale, &tp, &tt, &tr).unwrap()])
                    .unwrap();
                let got = ctx.read(&tr).unwrap();
                let want = r::row_loss(&pred, &target, rows, cols, loss, rscale);
                // Per element a few ulps of exp/log; summed over cols terms.
                let abs = r::bounds::row_loss_magnitudes(&pred, &target, rows, cols, loss);
                assert_close(
                    &format!("{loss:?} row loss {rows}x{cols}"),
                    &got,
                    &want,
                    |i, _| r::bounds::row_loss(rscale, cols, abs[i]),
                );
            }
        }
    }
}

#[test]
fn fused_loss_and_gradient_match_reference() {
    // Both widths of the per-row kernels (8 lanes per row on CPU adapters,
    // 64 on GPUs), whichever this adapter uses.
    let (Some(first), Some(other)) = (gpu(), gpu_other_plan()) else {
        return;
    };
    assert_ne!(first.row_lanes(), other.row_lanes());
    for ctx in [first, other] {
        // Widths that are multiples of 4 take the vec4 kernel.
        let vec4_shapes = [(3usize, 4usize), (33, 784), (65, 132)];
        for loss in [Loss::Mse, Loss::BceLogits] {
            for (si, &(rows, cols)) in SHAPES.iter().chain(&vec4_shapes).enumerate() {
                let n = rows * cols;
                let mut g = rng(5500 + si as u64);
                let pred = rand_vec(&mut g, n, -12.0, 12.0);
                let target = rand_vec(&mut g, n, 0.0, 1.0);
                let (tp, tt) = (
                    ctx.upload("pred", &pred).unwrap(),
                    ctx.upload("target", &target).unwrap(),
                );
                let (tg, tr) = (poisoned(ctx, n), poisoned(ctx, rows));
                let (scale, rscale) = (1.0 / n as f32, 1.0 / cols as f32);
                // With BCE, the per-row MSE of the sigmoid output too.
                let tm = (loss == Loss::BceLogits).then(|| poisoned(ctx, rows));
                let step = ops::loss_fused(
                    ctx,
                    loss,
                    rows,
                    cols,
                    scale,
                    rscale,
                    &tp,
                    &tt,
                    &tg,
                    &tr,
                    tm.as_ref(),
                )
                .unwrap();
                ctx.run(&[&step]).unwrap();
                let want = r::loss_grad(&pred, &target, loss, scale);
                assert_close(
                    &format!("fused {loss:?} grad {rows}x{cols}"),
                    &ctx.read(&tg).unwrap(),
                    &want,
                    |_, rv| r::bounds::loss_grad(scale, rv),
                );
                let want = r::row_loss(&pred, &target, rows, cols, loss, rscale);
                let abs = r::bounds::row_loss_magnitudes(&pred, &target, rows, cols, loss);
                let sc = (cols as f64).sqrt();
                assert_close(
                    &format!("fused {loss:?} rows {rows}x{cols}"),
                    &ctx.read(&tr).unwrap(),
                    &want,
                    |i, _| r::bounds::row_loss(rscale, cols, abs[i]),
                );
                if let Some(tm) = &tm {
                    let y: Vec<f32> = pred
                        .iter()
                        .map(|&z| r::sigmoid(f64::from(z)) as f32)
                        .collect();
                    let want = r::row_loss(&y, &target, rows, cols, Loss::Mse, rscale);
                    // The sum's rounding, plus the sigmoid's (a few ulps of y <= 1):
                    // an error dy moves (y - t)^2 by 2 |y - t| dy, and the mean of
                    // |y - t| over the row is at most sqrt(mean (y - t)^2).
                    assert_close(
                        &format!("fused BCE per-row MSE {rows}x{cols}"),
                        &ctx.read(tm).unwrap(),
                        &want,
                        |_, rv| (2.0 * sc + 16.0) * U * rv.abs() + 8.0 * U * rv.abs().sqrt(),
                    );
                }
            }
        }
    }
}

#[test]
fn the_loss_kernels_take_8_or_64_lanes_per_row() {
    let Some(first) = gpu() else { return };
    let err = wgae::GpuContext::with_options(&wgae::gpu::ContextOptions {
        adapter: Some(first.adapter_name().to_string()),
        row_lanes: Some(16),
        ..Default::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("row_lanes: 16"), "{err}");
}

#[test]
fn bce_on_logits_is_stable_at_100() {
    let Some(ctx) = gpu() else { return };
    let z = [100.0f32, -100.0, 100.0, -100.0, 0.0];
    let t = [0.0f32, 1.0, 1.0, 0.0, 0.5];
    let tz = ctx.upload("z", &z).unwrap();
    let tt = ctx.upload("t", &t).unwrap();
    let tr = poisoned(ctx, 5);
    let tg = poisoned(ctx, 5);
    ctx.run(&[
        &ops::row_loss(ctx, Loss::BceLogits, 5, 1, 1.0, &tz, &tt, &tr).unwrap(),
        &ops::loss_grad(ctx, Loss::BceLogits, 5, 1, 1.0, &tz, &tt, &tg).unwrap(),
    ])
    .unwrap();
    let l = ctx.read(&tr).unwrap();
    let gr = ctx.read(&tg).unwrap();
    let want_l = r::row_loss(&z, &t, 5, 1, Loss::BceLogits, 1.0);
    assert_close("bce |z|=100 loss", &l, &want_l, tol(1e-6, 4.0 * U));
    assert!((l[0] - 100.0).abs() < 1e-4 && (l[1] - 100.0).abs() < 1e-4);
    assert!(
        l[2].abs() < 1e-30 + 4e-44 && l[3].abs() < 1e-30 + 4e-44,
        "{l:?}"
    );
    let want_g = r::loss_grad(&z, &t, Loss::BceLogits, 1.0);
    assert_close("bce |z|=100 grad", &gr, &want_g, tol(1e-7, 4.0 * U));
}

#[test]
fn loss_gradients_match_finite_differences() {
    let mut g = rng(6);
    for loss in [Loss::Mse, Loss::BceLogits] {
        for _ in 0..200 {
            let p: f64 = g.random_range(-5.0..5.0);
            let t: f64 = g.random_range(0.0..1.0);
            let h = 1e-5;
            let fd =
                (r::element_loss(p + h, t, loss) - r::element_loss(p - h, t, loss)) / (2.0 * h);
            let an = r::element_loss_grad(p, t, loss);
            assert!(
                (fd - an).abs() < 1e-8,
                "{loss:?} at {p}, {t}: fd {fd} vs {an}"
            );
        }
    }
}
