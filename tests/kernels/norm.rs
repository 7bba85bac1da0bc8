//! The batch normalization kernels (shaders/norm.wgsl) against their f64
//! twins on odd shapes: one value per channel and sample (Dense features),
//! 1, 3 and 17 channels, 5x7, 28x28 and 31x33 planes, sequences, a channel
//! of more values than a workgroup has invocations, and a batch of one.
//! Outputs are poisoned with NaN first. The twins' gradients are checked
//! against finite differences of their forward pass.

use crate::common::{assert_close, gpu, poisoned, rand_vec, rng, U};
use wgae::kernels::norm::{bn_apply, bn_dx, bn_grad_sums, bn_running, bn_stats};
use wgae::kernels::{NormGeom, StatsAt};
use wgae::reference as r;
use wgae::{Activation, GpuContext, GpuTensor};

/// (n, c, s): samples, channels, values per channel and sample.
const SHAPES: [(usize, usize, usize); 8] = [
    (1, 1, 1),
    (3, 17, 1),
    (300, 3, 1),
    (5, 3, 35),
    (2, 1, 784),
    (2, 3, 31 * 33),
    (4, 5, 9),
    (1, 17, 7),
];

fn geom((n, c, s): (usize, usize, usize)) -> NormGeom {
    NormGeom { n, c, s, eps: 1e-5 }
}

fn wide(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| f64::from(x)).collect()
}

fn narrow(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&x| x as f32).collect()
}

fn up(ctx: &GpuContext, v: &[f32]) -> GpuTensor {
    ctx.upload("input", v).unwrap()
}

fn run(ctx: &GpuContext, step: wgae::Step, out: &GpuTensor) -> Vec<f32> {
    ctx.run_wait(&[&step]).unwrap();
    ctx.read(out).unwrap()
}

/// Inputs with an offset per channel, so the mean matters.
fn input(g0: &mut rand::rngs::StdRng, g: &NormGeom) -> Vec<f32> {
    rand_vec(g0, g.len(), -1.0, 1.0)
        .into_iter()
        .enumerate()
        .map(|(i, v)| v + ((i / g.s) % g.c) as f32 * 0.5)
        .collect()
}

/// The f64 statistics of x, rounded to f32 as the GPU would hold them.
fn stats_f32(x: &[f32], g: &NormGeom) -> Vec<f32> {
    let (mean, var) = r::bn_stats(&wide(x), g.n, g.c, g.s);
    narrow(&[mean, var].concat())
}

#[test]
fn batch_statistics_match_the_reference() {
    let Some(ctx) = gpu() else { return };
    let mut g0 = rng(11);
    for shape in SHAPES {
        let g = geom(shape);
        let x = input(&mut g0, &g);
        let out = poisoned(ctx, 2 * g.c);
        let got = run(ctx, bn_stats(ctx, &g, &up(ctx, &x), &out).unwrap(), &out);
        let xs = wide(&x);
        let (mean, var) = r::bn_stats(&xs, g.n, g.c, g.s);
        assert_close(
            &format!("bn_stats {shape:?}"),
            &got,
            &[mean, var.clone()].concat(),
            r::bounds::bn_stats(&xs, g.n, g.c, g.s, &var),
        );
    }
}

#[test]
fn running_statistics_move_as_pytorchs_do() {
    let Some(ctx) = gpu() else { return };
    let mut g0 = rng(12);
    for shape in SHAPES {
        let g = geom(shape);
        let c = g.c;
        let stats = rand_vec(&mut g0, 2 * c, 0.1, 2.0);
        // The layer's buffers as the arena lays them out: mean, variance and
        // the batch counter at aligned offsets, padding between.
        let at = StatsAt { mean: 0, var: 64 };
        let nbt = 128;
        let mut running = vec![f32::NAN; 129];
        let (rm0, rv0) = (
            rand_vec(&mut g0, c, -1.0, 1.0),
            rand_vec(&mut g0, c, 0.5, 1.5),
        );
        running[..c].copy_from_slice(&rm0);
        running[64..64 + c].copy_from_slice(&rv0);
        running[nbt] = 41.0;
        let buf = up(ctx, &running);
        let step = bn_running(ctx, &g, 0.1, &up(ctx, &stats), &buf, at, nbt).unwrap();
        let got = run(ctx, step, &buf);
        let (mut rm, mut rv) = (wide(&rm0), wide(&rv0));
        let s = wide(&stats);
        r::bn_running(&mut rm, &mut rv, &s[..c], &s[c..], g.n * g.s, 0.1);
        let tol = |_, rv: f64| 4.0 * U * (rv.abs() + 1.0);
        assert_close(&format!("running mean {shape:?}"), &got[..c], &rm, tol);
        assert_close(
            &format!("running var {shape:?}"),
            &got[64..64 + c],
            &rv,
            tol,
        );
        assert_eq!(got[nbt], 42.0, "num_batches_tracked");
        assert!(got[c..64].iter().all(|v| v.is_nan()), "padding was written");
    }
}

#[test]
fn normalization_matches_the_reference() {
    let Some(ctx) = gpu() else { return };
    let mut g0 = rng(13);
    for shape in SHAPES {
        let g = geom(shape);
        for act in [Activation::Identity, Activation::Relu, Activation::Tanh] {
            let x = input(&mut g0, &g);
            let stats = stats_f32(&x, &g);
            let gamma = rand_vec(&mut g0, g.c, -2.0, 2.0);
            let beta = rand_vec(&mut g0, g.c, -1.0, 1.0);
            // Running statistics at other offsets, as evaluation reads them.
            for (at, held) in [
                (StatsAt::batch(g.c), stats.clone()),
                (StatsAt { mean: 64, var: 192 }, {
                    let mut v = vec![f32::NAN; 192 + g.c];
                    v[64..64 + g.c].copy_from_slice(&stats[..g.c]);
                    v[192..].copy_from_slice(&stats[g.c..]);
                    v
                }),
            ] {
                let out = poisoned(ctx, g.len());
                let step = bn_apply(
                    ctx,
                    &g,
                    &up(ctx, &x),
                    &up(ctx, &held),
                    at,
                    &up(ctx, &gamma),
                    &up(ctx, &beta),
                    act,
                    &out,
                )
                .unwrap();
                let s = wide(&stats);
                let (mean, var) = (&s[..g.c], &s[g.c..]);
                let want = r::bn_apply(
                    &wide(&x),
                    g.c,
                    g.s,
                    mean,
                    var,
                    &wide(&gamma),
                    &wide(&beta),
                    1e-5,
                    act,
                );
                let (xs, c, sz) = (wide(&x), g.c, g.s);
                let gm = wide(&gamma);
                let bt = wide(&beta);
                assert_close(
                    &format!("bn_apply {shape:?} {act:?} at {at:?}"),
                    &run(ctx, step, &out),
                    &want,
                    |i, rv| {
                        let ch = (i / sz) % c;
                        let r = 1.0 / (var[ch] + 1e-5).sqrt();
                        let scale = gm[ch].abs() * (xs[i].abs() + mean[ch].abs()) * r;
                        8.0 * U * (scale + bt[ch].abs()) + 4.0 * U * rv.abs()
                    },
                );
            }
        }
    }
}

#[test]
fn gradients_match_the_reference() {
    let Some(ctx) = gpu() else { return };
    let mut g0 = rng(14);
    for shape in SHAPES {
        let g = geom(shape);
        let (c, m) = (g.c, (g.n * g.s) as f64);
        let x = input(&mut g0, &g);
        let dy = rand_vec(&mut g0, g.len(), -1.0, 1.0);
        let gamma = rand_vec(&mut g0, c, -2.0, 2.0);
        let stats = stats_f32(&x, &g);
        let (xt, dyt, st) = (up(ctx, &x), up(ctx, &dy), up(ctx, &stats));
        let (sdx, sd) = (poisoned(ctx, c), poisoned(ctx, c));
        let step = bn_grad_sums(ctx, &g, &xt, &dyt, &st, &sdx, &sd).unwrap();
        ctx.run_wait(&[&step]).unwrap();
        let (got_sdx, got_sd) = (ctx.read(&sdx).unwrap(), ctx.read(&sd).unwrap());
        let s = wide(&stats);
        let (xs, dys) = (wide(&x), wide(&dy));
        let (want_sdx, want_sd) = r::bn_grad_sums(&xs, &dys, g.n, c, g.s, &s[..c], &s[c..], 1e-5);
        // Sums of m terms, each |dy| (times |xhat| + 1 for the products).
        let terms: Vec<f64> = (0..c)
            .map(|ch| {
                let r = 1.0 / (s[c + ch] + 1e-5).sqrt();
                (0..g.len())
                    .filter(|i| (i / g.s) % c == ch)
                    .map(|i| dys[i].abs() * ((xs[i] - s[ch]).abs() * r + 1.0))
                    .sum()
            })
            .collect();
        let tol = |i: usize, rv: f64| 4.0 * m.sqrt() * U * terms[i] + 2.0 * U * rv.abs();
        assert_close(&format!("sum dy*xhat {shape:?}"), &got_sdx, &want_sdx, tol);
        assert_close(&format!("sum dy {shape:?}"), &got_sd, &want_sd, tol);

        // The input's gradient from the sums as the GPU holds them.
        let out = poisoned(ctx, g.len());
        let step = bn_dx(
            ctx,
            &g,
            &xt,
            &dyt,
            &st,
            &up(ctx, &gamma),
            &up(ctx, &narrow(&want_sdx)),
            &up(ctx, &narrow(&want_sd)),
            &out,
        )
        .unwrap();
        let sdx32 = wide(&narrow(&want_sdx));
        let sd32 = wide(&narrow(&want_sd));
        let gm = wide(&gamma);
        let want: Vec<f64> = (0..g.len())
            .map(|i| {
                let ch = (i / g.s) % c;
                let r = 1.0 / (s[c + ch] + 1e-5).sqrt();
                let xhat = (xs[i] - s[ch]) * r;
                gm[ch] * r * (dys[i] - sd32[ch] / m - xhat * sdx32[ch] / m)
            })
            .collect();
        assert_close(
            &format!("bn_dx {shape:?}"),
            &run(ctx, step, &out),
            &want,
            |i, rv| {
                let ch = (i / g.s) % c;
                let r = 1.0 / (s[c + ch] + 1e-5).sqrt();
                let xhat = ((xs[i] - s[ch]) * r).abs();
                let terms = dys[i].abs() + sd32[ch].abs() / m + xhat * sdx32[ch].abs() / m;
                8.0 * U * gm[ch].abs() * r * terms + 2.0 * U * rv.abs()
            },
        );
    }
}

/// The twin's gradients (of `sum(w * bn(x))` with the batch's statistics)
/// against central differences in f64.
#[test]
fn reference_gradients_match_finite_differences() {
    let mut g0 = rng(15);
    for (n, c, s) in [(3, 2, 1), (2, 3, 5), (1, 2, 4)] {
        let len = n * c * s;
        let x = wide(&rand_vec(&mut g0, len, -1.0, 1.0));
        let w = wide(&rand_vec(&mut g0, len, -1.0, 1.0));
        let gamma = wide(&rand_vec(&mut g0, c, 0.5, 1.5));
        let beta = wide(&rand_vec(&mut g0, c, -1.0, 1.0));
        let eps = 1e-3;
        let loss = |x: &[f64], gamma: &[f64], beta: &[f64]| -> f64 {
            let (mean, var) = r::bn_stats(x, n, c, s);
            r::bn_apply(x, c, s, &mean, &var, gamma, beta, eps, Activation::Identity)
                .iter()
                .zip(&w)
                .map(|(a, b)| a * b)
                .sum()
        };
        let fd = |v: &[f64], f: &dyn Fn(&[f64]) -> f64| -> Vec<f64> {
            let h = 1e-6;
            (0..v.len())
                .map(|i| {
                    let (mut a, mut b) = (v.to_vec(), v.to_vec());
                    a[i] += h;
                    b[i] -= h;
                    (f(&a) - f(&b)) / (2.0 * h)
                })
                .collect()
        };
        let close = |what: &str, got: &[f64], want: &[f64]| {
            for (i, (a, e)) in got.iter().zip(want).enumerate() {
                assert!(
                    (a - e).abs() <= 1e-6 * (1.0 + e.abs()),
                    "({n},{c},{s}) {what}[{i}]: {a} vs {e}"
                );
            }
        };
        let (mean, var) = r::bn_stats(&x, n, c, s);
        let (sdx, sd) = r::bn_grad_sums(&x, &w, n, c, s, &mean, &var, eps);
        close(
            "dx",
            &r::bn_dx(&x, &w, n, c, s, &gamma, eps),
            &fd(&x, &|v| loss(v, &gamma, &beta)),
        );
        close("dgamma", &sdx, &fd(&gamma, &|v| loss(&x, v, &beta)));
        close("dbeta", &sd, &fd(&beta, &|v| loss(&x, &gamma, v)));
    }
}

#[test]
fn bad_arguments_are_refused_without_panicking() {
    let Some(ctx) = gpu() else { return };
    let t = ctx.zeros("t", 64).unwrap();
    let g = NormGeom {
        n: 2,
        c: 3,
        s: 4,
        eps: 1e-5,
    };
    let short = ctx.zeros("short", 5).unwrap();
    assert!(bn_stats(ctx, &g, &short, &t).is_err(), "short input");
    for eps in [0.0, -1.0, f32::NAN, f32::INFINITY] {
        assert!(
            bn_stats(ctx, &NormGeom { eps, ..g }, &t, &t).is_err(),
            "eps {eps}"
        );
    }
    assert!(
        bn_stats(ctx, &NormGeom { c: 0, ..g }, &t, &t).is_err(),
        "c = 0"
    );
    let at = StatsAt::batch(3);
    for momentum in [-0.1, 1.5, f32::NAN] {
        assert!(
            bn_running(ctx, &g, momentum, &t, &t, at, 6).is_err(),
            "momentum {momentum}"
        );
    }
    assert!(
        bn_apply(ctx, &g, &t, &t, at, &t, &t, Activation::Softmax, &t).is_err(),
        "softmax"
    );
}
