//! Rows with missing entries: unmasking and the loss over the observed
//! entries, against the f64 twin at odd shapes with poisoned outputs (a row
//! with nothing observed included), and the twin's gradient against
//! finite differences of its objective.

use crate::common::{assert_close, gpu, poisoned, rand_vec, rng, tol};
use rand::Rng;
use wgae::kernels::{self as ops, Loss, MISSING};
use wgae::reference::masked as r;

/// Values with about a third missing, and row 1 (where there is one)
/// missing entirely.
fn with_gaps(seed: u64, rows: usize, cols: usize) -> Vec<f32> {
    let mut g = rng(seed);
    let mut x = rand_vec(&mut g, rows * cols, 0.0, 1.0);
    for (i, v) in x.iter_mut().enumerate() {
        if g.random::<f32>() < 0.33 || (rows > 1 && i / cols == 1) {
            *v = MISSING;
        }
    }
    x
}

#[test]
fn unmask_and_the_masked_loss_match_the_twin() {
    let Some(ctx) = gpu() else { return };
    for (si, &(rows, cols)) in [(1usize, 1usize), (3, 7), (17, 65), (9, 130), (40, 3)]
        .iter()
        .enumerate()
    {
        for loss in [Loss::Mse, Loss::BceLogits] {
            let x = with_gaps(9500 + si as u64, rows, cols);
            let pred = rand_vec(&mut rng(9600 + si as u64), rows * cols, -2.0, 2.0);
            let n = rows * cols;
            let tx = ctx.upload("x", &x).unwrap();
            let (tf, tm) = (poisoned(ctx, n), poisoned(ctx, n));
            ctx.run(&[&ops::unmask(ctx, rows, cols, &tx, &tf, &tm).unwrap()])
                .unwrap();
            let (filled, mask) = r::unmask(&x);
            let name = format!("{rows}x{cols} {loss:?}");
            assert_close(
                &format!("filled {name}"),
                &ctx.read(&tf).unwrap(),
                &filled,
                tol(0.0, 0.0),
            );
            assert_close(
                &format!("mask {name}"),
                &ctx.read(&tm).unwrap(),
                &mask,
                tol(0.0, 0.0),
            );
            let count = mask.iter().sum::<f64>() as f32;
            let tc = ctx.upload("count", &[count]).unwrap();
            let tp = ctx.upload("pred", &pred).unwrap();
            let (tg, trow, teval) = (poisoned(ctx, n), poisoned(ctx, rows), poisoned(ctx, rows));
            let scale = 0.5;
            ctx.run(&[
                &ops::masked_loss_fused(
                    ctx, loss, rows, cols, scale, &tp, &tf, &tm, &tc, &tg, &trow,
                )
                .unwrap(),
                &ops::masked_row_loss(ctx, loss, rows, cols, scale, &tp, &tf, &tm, &teval).unwrap(),
            ])
            .unwrap();
            let p64: Vec<f64> = pred.iter().map(|&v| f64::from(v)).collect();
            let (grad, row) = r::masked_loss(loss, &p64, &filled, &mask, cols, f64::from(scale));
            assert_close(
                &format!("grad {name}"),
                &ctx.read(&tg).unwrap(),
                &grad,
                tol(1e-7, 1e-5),
            );
            assert_close(
                &format!("rows {name}"),
                &ctx.read(&trow).unwrap(),
                &row,
                tol(1e-6, 1e-5),
            );
            assert_close(
                &format!("eval {name}"),
                &ctx.read(&teval).unwrap(),
                &row,
                tol(1e-6, 1e-5),
            );
            if rows > 1 {
                assert_eq!(
                    ctx.read(&trow).unwrap()[1],
                    0.0,
                    "a row with nothing observed"
                );
            }
        }
    }
}

/// The twin's gradient is the gradient of the mean loss over the observed
/// entries; missing entries get none.
#[test]
fn the_masked_gradient_matches_finite_differences() {
    let (rows, cols) = (4, 5);
    let x = with_gaps(9700, rows, cols);
    let (filled, mask) = r::unmask(&x);
    let pred: Vec<f64> = rand_vec(&mut rng(9701), rows * cols, -1.0, 1.0)
        .into_iter()
        .map(f64::from)
        .collect();
    for loss in [Loss::Mse, Loss::BceLogits] {
        let objective = |p: &[f64]| {
            let count: f64 = mask.iter().sum();
            p.iter()
                .zip(&filled)
                .zip(&mask)
                .map(|((&z, &t), &m)| {
                    m * match loss {
                        Loss::Mse => (z - t).powi(2),
                        Loss::BceLogits => wgae::reference::softplus(z) - z * t,
                    }
                })
                .sum::<f64>()
                / count
        };
        let (grad, _) = r::masked_loss(loss, &pred, &filled, &mask, cols, 1.0);
        for i in 0..pred.len() {
            let h = 1e-6;
            let (mut up, mut down) = (pred.clone(), pred.clone());
            up[i] += h;
            down[i] -= h;
            let fd = (objective(&up) - objective(&down)) / (2.0 * h);
            assert!(
                (grad[i] - fd).abs() < 1e-7 + 1e-6 * fd.abs(),
                "{loss:?} [{i}]: {} vs {fd}",
                grad[i]
            );
            if mask[i] == 0.0 {
                assert_eq!(grad[i], 0.0);
            }
        }
    }
}
