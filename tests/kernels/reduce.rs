//! Column sums and reductions.

use crate::common::{assert_close, gpu, poisoned, rand_vec, rng, U};
use crate::matmul::gate_values;
use crate::{ACTS, SHAPES};
use wgae::kernels::{self as ops, ReduceMode, REDUCE_PARTIALS};
use wgae::reference as r;

/// The bias gradient with the activation gradient fused: sum_i x * f'(gate).
#[test]
fn col_sum_gated_odd_shapes() {
    let Some(ctx) = gpu() else { return };
    for (ai, act) in ACTS.iter().filter(|a| a.is_elementwise()).enumerate() {
        for (si, &(rows, cols)) in SHAPES.iter().enumerate() {
            let mut g = rng(3500 + 10 * ai as u64 + si as u64);
            let x = rand_vec(&mut g, rows * cols, -1.0, 1.0);
            let gate = gate_values(&mut g, rows * cols, *act);
            let tx = ctx.upload("x", &x).unwrap();
            let tg = ctx.upload("gate", &gate).unwrap();
            let to = poisoned(ctx, cols);
            let step = ops::col_sum(ctx, rows, cols, 1.0, 0.0, &tx, Some((*act, &tg)), &to);
            ctx.run(&[&step.unwrap()]).unwrap();
            let got = ctx.read(&to).unwrap();
            let xg = r::gated(&x, &gate, *act);
            let want = r::col_sum_f64(&xg, rows, cols, 1.0, 0.0, &[]);
            let abs: Vec<f64> = (0..cols)
                .map(|j| (0..rows).map(|i| xg[i * cols + j].abs()).sum::<f64>())
                .collect();
            let abs_plain: Vec<f64> = (0..cols)
                .map(|j| {
                    (0..rows)
                        .map(|i| f64::from(x[i * cols + j]).abs())
                        .sum::<f64>()
                })
                .collect();
            // As for the matmul prologue: the sum's rounding, a few roundings
            // of each gated term, and the absolute error of f' (16 U).
            let sr = (rows as f64).sqrt();
            assert_close(
                &format!("col_sum {act:?} {rows}x{cols}"),
                &got,
                &want,
                |j, _| (2.0 * sr + 4.0) * U * abs[j] + 16.0 * U * abs_plain[j] + 1e-30,
            );
        }
    }
}

#[test]
fn col_sum_odd_shapes() {
    let Some(ctx) = gpu() else { return };
    for (si, &(rows, cols)) in SHAPES.iter().enumerate() {
        for (scale, beta) in [(1.0f32, 0.0f32), (1.0 / rows as f32, 0.5)] {
            let mut g = rng(3000 + si as u64);
            let x = rand_vec(&mut g, rows * cols, -1.0, 1.0);
            let o0 = rand_vec(&mut g, cols, -1.0, 1.0);
            let tx = ctx.upload("x", &x).unwrap();
            let to = if beta == 0.0 {
                poisoned(ctx, cols)
            } else {
                ctx.upload("o", &o0).unwrap()
            };
            ctx.run(&[&ops::col_sum(ctx, rows, cols, scale, beta, &tx, None, &to).unwrap()])
                .unwrap();
            let got = ctx.read(&to).unwrap();
            let want = r::col_sum(&x, rows, cols, scale, beta, &o0);
            let abs: Vec<f64> = (0..cols)
                .map(|j| {
                    (0..rows)
                        .map(|i| f64::from(x[i * cols + j]).abs())
                        .sum::<f64>()
                })
                .collect();
            let sr = (rows as f64).sqrt();
            assert_close(&format!("col_sum {rows}x{cols}"), &got, &want, |j, rv| {
                2.0 * sr * U * abs[j] * f64::from(scale) + 4.0 * U * rv.abs()
            });
        }
    }
}

#[test]
fn reductions_sum_sumsq_abs_stay_on_gpu() {
    let Some(ctx) = gpu() else { return };
    let partials = ctx.zeros("partials", REDUCE_PARTIALS).unwrap();
    for (si, &n) in [1usize, 7, 33, 1000, 777_777, 4_200_001].iter().enumerate() {
        let mut g = rng(4000 + si as u64);
        let x = rand_vec(&mut g, n, -1.0, 1.0);
        let tx = ctx.upload("x", &x).unwrap();
        for (mi, mode) in [ReduceMode::Sum, ReduceMode::SumSquares, ReduceMode::SumAbs]
            .into_iter()
            .enumerate()
        {
            // Three results side by side in one output: out_index works, and
            // beta = 1 accumulates (a running epoch loss).
            let out0 = [0.25f32, -0.5, 1.0];
            let out = ctx.upload("out", &out0).unwrap();
            let scale = if mode == ReduceMode::Sum {
                1.0 / n as f32
            } else {
                1.0
            };
            let steps = ops::reduce(ctx, mode, scale, 1.0, &tx, &partials, &out, mi).unwrap();
            // One dispatch up to 1024 elements, two above.
            assert_eq!(steps.len(), if n <= 1024 { 1 } else { 2 }, "n={n}");
            ctx.run(&steps.iter().collect::<Vec<_>>()).unwrap();
            let got = ctx.read(&out).unwrap();
            let (s, abs) = r::reduce(&x, mode);
            let want = f64::from(scale) * s + f64::from(out0[mi]);
            let t =
                2.0 * (n as f64).sqrt() * U * abs * f64::from(scale) + 4.0 * U * want.abs() + 1e-30;
            assert!(
                (f64::from(got[mi]) - want).abs() <= t,
                "{mode:?} n={n}: gpu {} ref {want} tol {t}",
                got[mi]
            );
            for j in 0..3 {
                if j != mi {
                    assert_eq!(got[j], out0[j], "reduce wrote outside out_index");
                }
            }
        }
    }
}

/// One sum into two destinations (an epoch's loss and its per-feature
/// metric): the same bits as two reductions, and nothing else written.
#[test]
fn a_reduction_into_two_destinations_matches_two_reductions() {
    let Some(ctx) = gpu() else { return };
    let partials = ctx.zeros("partials", REDUCE_PARTIALS).unwrap();
    for (si, &n) in [1usize, 255, 256, 1000, 1024, 1025, 70_001]
        .iter()
        .enumerate()
    {
        let mut g = rng(4100 + si as u64);
        let x = rand_vec(&mut g, n, -1.0, 1.0);
        let tx = ctx.upload("x", &x).unwrap();
        let out0 = [0.25f32, -0.5, 1.0, 2.0];
        for mode in [ReduceMode::Sum, ReduceMode::SumAbs] {
            let (s1, s2) = (1.0f32, 1.0 / 7.0);
            let both = ctx.upload("out", &out0).unwrap();
            let steps =
                ops::reduce_to(ctx, mode, 1.0, &tx, &partials, &both, &[(3, s1), (1, s2)]).unwrap();
            assert_eq!(steps.len(), if n <= 1024 { 1 } else { 2 }, "n={n}");
            ctx.run(&steps.iter().collect::<Vec<_>>()).unwrap();
            let got = ctx.read(&both).unwrap();
            let apart = ctx.upload("out", &out0).unwrap();
            let mut steps = ops::reduce(ctx, mode, s1, 1.0, &tx, &partials, &apart, 3).unwrap();
            steps.extend(ops::reduce(ctx, mode, s2, 1.0, &tx, &partials, &apart, 1).unwrap());
            ctx.run(&steps.iter().collect::<Vec<_>>()).unwrap();
            let want = ctx.read(&apart).unwrap();
            for j in 0..4 {
                assert_eq!(
                    got[j].to_bits(),
                    want[j].to_bits(),
                    "{mode:?} n={n} out[{j}]"
                );
            }
            assert_eq!(
                (got[0], got[2]),
                (out0[0], out0[2]),
                "written outside the targets"
            );
            // And against the f64 reference.
            let (sum, abs) = r::reduce(&x, mode);
            for (j, sc) in [(3, s1), (1, s2)] {
                let w = f64::from(sc) * sum + f64::from(out0[j]);
                let t = 2.0 * (n as f64).sqrt() * U * abs * f64::from(sc) + 4.0 * U * w.abs();
                assert!(
                    (f64::from(got[j]) - w).abs() <= t,
                    "{mode:?} n={n}: {} vs {w}",
                    got[j]
                );
            }
        }
    }
    // The destinations must differ.
    let out = ctx.zeros("out", 2).unwrap();
    let x = ctx.zeros("x", 3).unwrap();
    let err = ops::reduce_to(
        ctx,
        ReduceMode::Sum,
        0.0,
        &x,
        &partials,
        &out,
        &[(1, 1.0), (1, 2.0)],
    );
    assert!(err.unwrap_err().to_string().contains("destinations"));
}
