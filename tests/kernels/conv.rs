//! The convolution and pooling kernels (shaders/conv.wgsl, shaders/pool.wgsl)
//! against their f64 twins, on odd shapes: 1, 3 and 17 channels; 1x1, 5x7,
//! 28x28 and 31x33 planes; 1-D sequences; strides 1 and 2; valid, same and
//! explicit padding; dilation. Outputs are poisoned with NaN first. The
//! twins' gradients are checked against finite differences of their forward
//! passes.

use crate::common::{assert_close, gpu, poisoned, rand_vec, rng, U};
use wgae::kernels::{self as ops, ConvGeom, PoolGeom};
use wgae::reference as r;
use wgae::{Activation, GpuContext};

/// Padding before and after, as a layer's padding mode gives it.
#[derive(Clone, Copy, Debug)]
enum Pad {
    Valid,
    /// TensorFlow's 'same': out = ceil(in / stride), the odd pixel after.
    Same,
    Explicit(usize),
}

/// (pad before, output size) of one dimension.
fn dim(size: usize, k: usize, stride: usize, dil: usize, pad: Pad) -> (usize, usize) {
    let span = (k - 1) * dil + 1;
    match pad {
        Pad::Valid => (0, (size - span) / stride + 1),
        Pad::Same => {
            let out = size.div_ceil(stride);
            let total = ((out - 1) * stride + span).saturating_sub(size);
            (total / 2, out)
        }
        Pad::Explicit(p) => (p, (size + 2 * p - span) / stride + 1),
    }
}

#[allow(clippy::too_many_arguments)]
fn geom(
    n: usize,
    c: usize,
    (h, w): (usize, usize),
    o: usize,
    (kh, kw): (usize, usize),
    (sh, sw): (usize, usize),
    (dh, dw): (usize, usize),
    pad: (Pad, Pad),
) -> ConvGeom {
    let (ph, oh) = dim(h, kh, sh, dh, pad.0);
    let (pw, ow) = dim(w, kw, sw, dw, pad.1);
    ConvGeom {
        n,
        c,
        h,
        w,
        o,
        oh,
        ow,
        kh,
        kw,
        sh,
        sw,
        ph,
        pw,
        dh,
        dw,
    }
}

fn cases() -> Vec<(&'static str, ConvGeom)> {
    use Pad::*;
    vec![
        (
            "1ch 28x28 k3 same",
            geom(2, 1, (28, 28), 3, (3, 3), (1, 1), (1, 1), (Same, Same)),
        ),
        (
            "3ch 5x7 k3 s2 same",
            geom(2, 3, (5, 7), 17, (3, 3), (2, 2), (1, 1), (Same, Same)),
        ),
        (
            "17ch 31x33 k5 s2 valid",
            geom(2, 17, (31, 33), 3, (5, 5), (2, 2), (1, 1), (Valid, Valid)),
        ),
        (
            "3ch 1x1 k1",
            geom(3, 3, (1, 1), 1, (1, 1), (1, 1), (1, 1), (Valid, Valid)),
        ),
        (
            "1ch 5x7 k3 pad2 dilation2",
            geom(
                2,
                1,
                (5, 7),
                4,
                (3, 3),
                (1, 1),
                (2, 2),
                (Explicit(2), Explicit(2)),
            ),
        ),
        (
            "17ch 31x33 k3 same",
            geom(1, 17, (31, 33), 17, (3, 3), (1, 1), (1, 1), (Same, Same)),
        ),
        (
            "3ch 28x28 k3x5 s2x1 pad1x2",
            geom(
                2,
                3,
                (28, 28),
                2,
                (3, 5),
                (2, 1),
                (1, 1),
                (Explicit(1), Explicit(2)),
            ),
        ),
        (
            "1-D 3ch 50 k7 s2 same",
            geom(2, 3, (1, 50), 5, (1, 7), (1, 2), (1, 1), (Valid, Same)),
        ),
        (
            "1-D 1ch 9 k3 valid",
            geom(3, 1, (1, 9), 2, (1, 3), (1, 1), (1, 1), (Valid, Valid)),
        ),
    ]
}

/// f32 rounding of a sum of K products: 2 sqrt(K) u sum|terms|, plus the
/// output's own rounding.
fn tol(scale: &[f64], terms: usize) -> impl Fn(usize, f64) -> f64 + '_ {
    move |i, rv| wgae::reference::bounds::dot(terms, scale[i], 2.0, rv)
}

fn run(ctx: &GpuContext, step: wgae::Step, out: &wgae::GpuTensor) -> Vec<f32> {
    ctx.run_wait(&[&step]).unwrap();
    ctx.read(out).unwrap()
}

#[test]
fn conv_forward_matches_the_reference() {
    let Some(ctx) = gpu() else { return };
    let mut g0 = rng(1);
    for (name, g) in cases() {
        for act in [Activation::Identity, Activation::Relu, Activation::Sigmoid] {
            let x = rand_vec(&mut g0, g.input_len(), -1.0, 1.0);
            let wt = rand_vec(&mut g0, g.weight_len(), -0.5, 0.5);
            let b = rand_vec(&mut g0, g.o, -0.5, 0.5);
            let (xt, wtt, bt) = (
                ctx.upload("x", &x).unwrap(),
                ctx.upload("w", &wt).unwrap(),
                ctx.upload("b", &b).unwrap(),
            );
            let out = poisoned(ctx, g.output_len());
            let step = ops::conv::conv_forward(ctx, &g, &xt, &wtt, Some(&bt), act, &out).unwrap();
            let (want, scale) = r::conv_forward(&g, &x, &wt, Some(&b), act);
            assert_close(
                &format!("conv_forward {name} {act:?}"),
                &run(ctx, step, &out),
                &want,
                tol(&scale, g.c * g.kh * g.kw + 1),
            );
        }
    }
}

#[test]
fn conv_gradients_match_the_reference() {
    let Some(ctx) = gpu() else { return };
    let mut g0 = rng(2);
    for (name, g) in cases() {
        let x = rand_vec(&mut g0, g.input_len(), -1.0, 1.0);
        let wt = rand_vec(&mut g0, g.weight_len(), -0.5, 0.5);
        let dy = rand_vec(&mut g0, g.output_len(), -1.0, 1.0);
        let (xt, wtt, dyt) = (
            ctx.upload("x", &x).unwrap(),
            ctx.upload("w", &wt).unwrap(),
            ctx.upload("dy", &dy).unwrap(),
        );
        // dx: each input gathers from at most o * kh * kw outputs.
        let dx = poisoned(ctx, g.input_len());
        let step =
            ops::conv::conv_dx(ctx, &g, &dyt, &wtt, None, Activation::Identity, &dx).unwrap();
        let (want, scale) = r::conv_dx(&g, &dy, &wt, None, Activation::Identity);
        assert_close(
            &format!("conv_dx {name}"),
            &run(ctx, step, &dx),
            &want,
            tol(&scale, g.o * g.kh * g.kw),
        );
        // dw: a sum over every sample and output position.
        let dw = poisoned(ctx, g.weight_len());
        let step = ops::conv::conv_dw(ctx, &g, &xt, &dyt, &dw).unwrap();
        let (want, scale) = r::conv_dw(&g, &x, &dy);
        assert_close(
            &format!("conv_dw {name}"),
            &run(ctx, step, &dw),
            &want,
            tol(&scale, g.n * g.oh * g.ow),
        );
        let db = poisoned(ctx, g.o);
        let step = ops::conv::conv_db(ctx, &g, &dyt, &db).unwrap();
        let (want, scale) = r::conv_db(&g, &dy);
        assert_close(
            &format!("conv_db {name}"),
            &run(ctx, step, &db),
            &want,
            tol(&scale, g.n * g.oh * g.ow),
        );
    }
}

/// conv_dx with a bias and an activation: a transposed convolution's forward.
#[test]
fn transposed_convolution_forward_matches_the_reference() {
    let Some(ctx) = gpu() else { return };
    let mut g0 = rng(3);
    for (name, g) in cases() {
        let dy = rand_vec(&mut g0, g.output_len(), -1.0, 1.0);
        let wt = rand_vec(&mut g0, g.weight_len(), -0.5, 0.5);
        let b = rand_vec(&mut g0, g.c, -0.5, 0.5);
        let (dyt, wtt, bt) = (
            ctx.upload("dy", &dy).unwrap(),
            ctx.upload("w", &wt).unwrap(),
            ctx.upload("b", &b).unwrap(),
        );
        let out = poisoned(ctx, g.input_len());
        let step =
            ops::conv::conv_dx(ctx, &g, &dyt, &wtt, Some(&bt), Activation::Tanh, &out).unwrap();
        let (want, scale) = r::conv_dx(&g, &dy, &wt, Some(&b), Activation::Tanh);
        assert_close(
            &format!("conv_dx+bias+tanh {name}"),
            &run(ctx, step, &out),
            &want,
            |i, rv| {
                2.0 * ((g.o * g.kh * g.kw + 1) as f64).sqrt() * U * (scale[i] + 1.0)
                    + 8.0 * U * rv.abs()
            },
        );
    }
}

/// Inputs on a grid of 2^-10, so that x +- 2^-7 is exact in f32.
fn grid(g0: &mut rand::rngs::StdRng, n: usize) -> Vec<f32> {
    rand_vec(g0, n, -1.0, 1.0)
        .into_iter()
        .map(|v| (v * 1024.0).round() / 1024.0)
        .collect()
}

/// `sum(dy * f(v))` perturbed at each element of `v`: central differences.
fn fd(v: &[f32], f: impl Fn(&[f32]) -> f64) -> Vec<f64> {
    let h = 1.0 / 128.0;
    (0..v.len())
        .map(|i| {
            let (mut up, mut down) = (v.to_vec(), v.to_vec());
            up[i] += h;
            down[i] -= h;
            (f(&up) - f(&down)) / (2.0 * f64::from(h))
        })
        .collect()
}

fn dot(a: &[f64], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * f64::from(*y)).sum()
}

#[test]
fn conv_reference_gradients_match_finite_differences() {
    let mut g0 = rng(4);
    for (name, g) in [
        (
            "5x7 k3 s2 same",
            geom(
                2,
                2,
                (5, 7),
                3,
                (3, 3),
                (2, 2),
                (1, 1),
                (Pad::Same, Pad::Same),
            ),
        ),
        (
            "1-D k3 dilation2 pad1",
            geom(
                1,
                2,
                (1, 9),
                2,
                (1, 3),
                (1, 1),
                (1, 2),
                (Pad::Valid, Pad::Explicit(1)),
            ),
        ),
    ] {
        let x = grid(&mut g0, g.input_len());
        let wt = grid(&mut g0, g.weight_len());
        let b = grid(&mut g0, g.o);
        let dy = grid(&mut g0, g.output_len());
        let loss = |x: &[f32], wt: &[f32], b: &[f32]| {
            dot(
                &r::conv_forward(&g, x, wt, Some(b), Activation::Identity).0,
                &dy,
            )
        };
        let close = |what: &str, got: &[f64], want: &[f64]| {
            for (i, (a, e)) in got.iter().zip(want).enumerate() {
                assert!(
                    (a - e).abs() <= 1e-9 * (1.0 + e.abs()),
                    "{name} {what}[{i}]: {a} vs {e}"
                );
            }
        };
        close(
            "dx",
            &r::conv_dx(&g, &dy, &wt, None, Activation::Identity).0,
            &fd(&x, |v| loss(v, &wt, &b)),
        );
        close(
            "dw",
            &r::conv_dw(&g, &x, &dy).0,
            &fd(&wt, |v| loss(&x, v, &b)),
        );
        close("db", &r::conv_db(&g, &dy).0, &fd(&b, |v| loss(&x, &wt, v)));
    }
}

fn pool_cases() -> Vec<(&'static str, PoolGeom)> {
    let pool = |n, c, (h, w): (usize, usize), (kh, kw), (sh, sw), (ph, pw), (oh, ow)| PoolGeom {
        n,
        c,
        h,
        w,
        oh,
        ow,
        kh,
        kw,
        sh,
        sw,
        ph,
        pw,
    };
    vec![
        (
            "28x28 k2 s2",
            pool(2, 1, (28, 28), (2, 2), (2, 2), (0, 0), (14, 14)),
        ),
        // Keras' 'same' pooling: 7 -> 4, the extra row after.
        (
            "7x7 k2 s2 same",
            pool(2, 3, (7, 7), (2, 2), (2, 2), (0, 0), (4, 4)),
        ),
        (
            "31x33 k3 s2 pad1",
            pool(1, 17, (31, 33), (3, 3), (2, 2), (1, 1), (16, 17)),
        ),
        (
            "5x7 k3 s1 overlapping",
            pool(2, 3, (5, 7), (3, 3), (1, 1), (0, 0), (3, 5)),
        ),
        ("1x1 k1", pool(3, 2, (1, 1), (1, 1), (1, 1), (0, 0), (1, 1))),
        (
            "1-D 50 k2 s2",
            pool(2, 3, (1, 50), (1, 2), (1, 2), (0, 0), (1, 25)),
        ),
    ]
}

#[test]
fn pooling_matches_the_reference() {
    let Some(ctx) = gpu() else { return };
    let mut g0 = rng(5);
    for (name, g) in pool_cases() {
        let x = rand_vec(&mut g0, g.input_len(), -1.0, 1.0);
        let dy = rand_vec(&mut g0, g.output_len(), -1.0, 1.0);
        let (xt, dyt) = (ctx.upload("x", &x).unwrap(), ctx.upload("dy", &dy).unwrap());

        let out = poisoned(ctx, g.output_len());
        let idx = ctx
            .upload("idx", &vec![0xdead_beefu32; g.output_len()])
            .unwrap();
        ctx.run_wait(&[&ops::pool::maxpool_forward(ctx, &g, &xt, &out, &idx).unwrap()])
            .unwrap();
        let (want, want_idx) = r::maxpool_forward(&g, &x);
        assert_close(
            &format!("maxpool {name}"),
            &ctx.read(&out).unwrap(),
            &want,
            |_, _| 0.0,
        );
        assert_eq!(
            ctx.read_u32(&idx).unwrap(),
            want_idx,
            "maxpool argmax {name}"
        );
        let dx = poisoned(ctx, g.input_len());
        let step = ops::pool::maxpool_backward(ctx, &g, &dyt, &idx, &dx).unwrap();
        assert_close(
            &format!("maxpool backward {name}"),
            &run(ctx, step, &dx),
            &r::maxpool_backward(&g, &dy, &want_idx),
            |_, rv| 8.0 * U * rv.abs(),
        );

        let out = poisoned(ctx, g.output_len());
        let step = ops::pool::avgpool_forward(ctx, &g, &xt, &out).unwrap();
        let k = (g.kh * g.kw) as f64;
        assert_close(
            &format!("avgpool {name}"),
            &run(ctx, step, &out),
            &r::avgpool_forward(&g, &x),
            |_, rv| 2.0 * k.sqrt() * U * (rv.abs() + 1.0),
        );
        let dx = poisoned(ctx, g.input_len());
        let step = ops::pool::avgpool_backward(ctx, &g, &dyt, &dx).unwrap();
        assert_close(
            &format!("avgpool backward {name}"),
            &run(ctx, step, &dx),
            &r::avgpool_backward(&g, &dy),
            |_, rv| 4.0 * k.sqrt() * U * (rv.abs() + 1.0),
        );
    }
}

#[test]
fn upsampling_matches_the_reference() {
    let Some(ctx) = gpu() else { return };
    let mut g0 = rng(6);
    for (name, g) in [
        ("5x7 x2", PoolGeom::upsample(2, 3, 5, 7, 2, 2)),
        ("1x1 x3", PoolGeom::upsample(2, 17, 1, 1, 3, 3)),
        ("4x4 x2x3", PoolGeom::upsample(1, 1, 4, 4, 2, 3)),
        ("1-D 25 x2", PoolGeom::upsample(2, 3, 1, 25, 1, 2)),
    ] {
        let x = rand_vec(&mut g0, g.input_len(), -1.0, 1.0);
        let dy = rand_vec(&mut g0, g.output_len(), -1.0, 1.0);
        let (xt, dyt) = (ctx.upload("x", &x).unwrap(), ctx.upload("dy", &dy).unwrap());
        let out = poisoned(ctx, g.output_len());
        let step = ops::pool::upsample_forward(ctx, &g, &xt, &out).unwrap();
        assert_close(
            &format!("upsample {name}"),
            &run(ctx, step, &out),
            &r::upsample_forward(&g, &x),
            |_, _| 0.0,
        );
        let dx = poisoned(ctx, g.input_len());
        let step = ops::pool::upsample_backward(ctx, &g, &dyt, &dx).unwrap();
        let k = (g.kh * g.kw) as f64;
        assert_close(
            &format!("upsample backward {name}"),
            &run(ctx, step, &dx),
            &r::upsample_backward(&g, &dy),
            |_, rv| 2.0 * k.sqrt() * U * (rv.abs() + 1.0),
        );
    }
}

#[test]
fn pooling_reference_gradients_match_finite_differences() {
    let mut g0 = rng(7);
    let g = PoolGeom {
        n: 1,
        c: 2,
        h: 5,
        w: 7,
        oh: 3,
        ow: 4,
        kh: 3,
        kw: 3,
        sh: 2,
        sw: 2,
        ph: 1,
        pw: 1,
    };
    // Distinct values 2^-6 apart, so a step of 2^-7 moves no argmax.
    let mut x: Vec<f32> = (0..g.input_len()).map(|i| i as f32 / 64.0 - 0.5).collect();
    for i in (1..x.len()).rev() {
        let j = (rand_vec(&mut g0, 1, 0.0, 1.0)[0] * (i + 1) as f32) as usize % (i + 1);
        x.swap(i, j);
    }
    let dy = grid(&mut g0, g.output_len());
    let close = |what: &str, got: &[f64], want: &[f64]| {
        for (i, (a, e)) in got.iter().zip(want).enumerate() {
            assert!(
                (a - e).abs() <= 1e-9 * (1.0 + e.abs()),
                "{what}[{i}]: {a} vs {e}"
            );
        }
    };
    let (_, idx) = r::maxpool_forward(&g, &x);
    close(
        "maxpool dx",
        &r::maxpool_backward(&g, &dy, &idx),
        &fd(&x, |v| dot(&r::maxpool_forward(&g, v).0, &dy)),
    );
    close(
        "avgpool dx",
        &r::avgpool_backward(&g, &dy),
        &fd(&x, |v| dot(&r::avgpool_forward(&g, v), &dy)),
    );
    let u = PoolGeom::upsample(1, 2, 3, 4, 2, 3);
    let dyu = grid(&mut g0, u.output_len());
    let xu = grid(&mut g0, u.input_len());
    close(
        "upsample dx",
        &r::upsample_backward(&u, &dyu),
        &fd(&xu, |v| dot(&r::upsample_forward(&u, v), &dyu)),
    );
}

#[test]
fn bad_geometry_is_refused_without_panicking() {
    let Some(ctx) = gpu() else { return };
    let g = geom(
        1,
        2,
        (5, 5),
        3,
        (3, 3),
        (1, 1),
        (1, 1),
        (Pad::Valid, Pad::Valid),
    );
    let small = ctx.zeros("small", 4).unwrap();
    let big = ctx.zeros("big", 1000).unwrap();
    let e = ops::conv::conv_forward(ctx, &g, &small, &big, None, Activation::Identity, &big)
        .unwrap_err()
        .to_string();
    assert!(e.contains("conv_forward") && e.contains('x'), "{e}");
    let mut zero = g;
    zero.kh = 0;
    let e = ops::conv::conv_forward(ctx, &zero, &big, &big, None, Activation::Identity, &big)
        .unwrap_err()
        .to_string();
    assert!(e.contains("kh"), "{e}");
    let e = ops::conv::conv_forward(ctx, &g, &big, &big, None, Activation::Softmax, &big)
        .unwrap_err()
        .to_string();
    assert!(e.contains("softmax"), "{e}");
    let p = PoolGeom {
        n: 1,
        c: 1,
        h: 4,
        w: 4,
        oh: 2,
        ow: 2,
        kh: 2,
        kw: 2,
        sh: 2,
        sw: 2,
        ph: 2,
        pw: 0,
    };
    let e = ops::pool::avgpool_forward(ctx, &p, &big, &big)
        .unwrap_err()
        .to_string();
    assert!(e.contains("padding"), "{e}");
}

/// Ties (common after a ReLU: whole windows of zeros) go to the first
/// maximum in row-major order, on the GPU as in the reference.
#[test]
fn maxpool_ties_go_to_the_first_maximum() {
    let Some(ctx) = gpu() else { return };
    let mut g0 = rng(8);
    for (name, g) in pool_cases() {
        let x: Vec<f32> = rand_vec(&mut g0, g.input_len(), -1.0, 1.0)
            .into_iter()
            .map(|v| v.max(0.0).round())
            .collect();
        let xt = ctx.upload("x", &x).unwrap();
        let out = poisoned(ctx, g.output_len());
        let idx = ctx
            .upload("idx", &vec![0xdead_beefu32; g.output_len()])
            .unwrap();
        ctx.run_wait(&[&ops::pool::maxpool_forward(ctx, &g, &xt, &out, &idx).unwrap()])
            .unwrap();
        let (want, want_idx) = r::maxpool_forward(&g, &x);
        assert_close(
            &format!("maxpool ties {name}"),
            &ctx.read(&out).unwrap(),
            &want,
            |_, _| 0.0,
        );
        assert_eq!(
            ctx.read_u32(&idx).unwrap(),
            want_idx,
            "maxpool tie argmax {name}"
        );
    }
}

/// More than 65,535 x 64 outputs: the dispatch folds into 2-D.
#[test]
fn large_outputs_fold_their_dispatch() {
    let Some(ctx) = gpu() else { return };
    let mut g0 = rng(9);
    let g = geom(
        2,
        1,
        (256, 256),
        33,
        (1, 1),
        (1, 1),
        (1, 1),
        (Pad::Valid, Pad::Valid),
    );
    assert!(g.output_len() > 65_535 * 64);
    let x = rand_vec(&mut g0, g.input_len(), -1.0, 1.0);
    let wt = rand_vec(&mut g0, g.weight_len(), -1.0, 1.0);
    let (xt, wtt) = (ctx.upload("x", &x).unwrap(), ctx.upload("w", &wt).unwrap());
    let out = poisoned(ctx, g.output_len());
    let step =
        ops::conv::conv_forward(ctx, &g, &xt, &wtt, None, Activation::Identity, &out).unwrap();
    assert!(step.workgroups()[1] > 1, "{:?}", step.workgroups());
    let (want, scale) = r::conv_forward(&g, &x, &wt, None, Activation::Identity);
    assert_close(
        "conv_forward 4.3M",
        &run(ctx, step, &out),
        &want,
        tol(&scale, 1),
    );
    let u = PoolGeom::upsample(2, 33, 128, 128, 2, 2);
    let xu = rand_vec(&mut g0, u.input_len(), -1.0, 1.0);
    let xut = ctx.upload("x", &xu).unwrap();
    let out = poisoned(ctx, u.output_len());
    let step = ops::pool::upsample_forward(ctx, &u, &xut, &out).unwrap();
    assert_close(
        "upsample 4.3M",
        &run(ctx, step, &out),
        &r::upsample_forward(&u, &xu),
        |_, _| 0.0,
    );
}

/// The im2col path's kernels: im2col, col2im (with bias and activation, as a
/// transposed convolution's last step), and the layout swaps around the
/// products.
#[test]
fn im2col_kernels_match_the_reference() {
    let Some(ctx) = gpu() else { return };
    let mut g0 = rng(10);
    for (name, g) in cases() {
        let x = rand_vec(&mut g0, g.input_len(), -1.0, 1.0);
        let xt = ctx.upload("x", &x).unwrap();
        let col = poisoned(ctx, g.col_len());
        let step = ops::conv::im2col(ctx, &g, &xt, &col).unwrap();
        assert_close(
            &format!("im2col {name}"),
            &run(ctx, step, &col),
            &r::im2col(&g, &x),
            |_, _| 0.0,
        );

        let cols = rand_vec(&mut g0, g.col_len(), -1.0, 1.0);
        let b = rand_vec(&mut g0, g.c, -0.5, 0.5);
        let (colt, bt) = (
            ctx.upload("cols", &cols).unwrap(),
            ctx.upload("b", &b).unwrap(),
        );
        for (bias, act) in [(false, Activation::Identity), (true, Activation::Sigmoid)] {
            let out = poisoned(ctx, g.input_len());
            let bb = bias.then_some(&bt);
            let step = ops::conv::col2im(ctx, &g, &colt, bb, act, &out).unwrap();
            let (want, scale) = r::col2im(&g, &cols, bias.then_some(&b[..]), act);
            assert_close(
                &format!("col2im {name} {act:?}"),
                &run(ctx, step, &out),
                &want,
                |i, rv| {
                    2.0 * ((g.kh * g.kw + 1) as f64).sqrt() * U * (scale[i] + 1.0)
                        + 4.0 * U * rv.abs()
                },
            );
        }

        let y = rand_vec(&mut g0, g.output_len(), -1.0, 1.0);
        let bo = rand_vec(&mut g0, g.o, -0.5, 0.5);
        let (yt, bot) = (ctx.upload("y", &y).unwrap(), ctx.upload("bo", &bo).unwrap());
        let out = poisoned(ctx, g.output_len());
        let step = ops::conv::to_cnhw(ctx, &g, &yt, &out).unwrap();
        assert_close(
            &format!("to_cnhw {name}"),
            &run(ctx, step, &out),
            &r::to_cnhw(&g, &y),
            |_, _| 0.0,
        );
        let out = poisoned(ctx, g.output_len());
        let step = ops::conv::from_cnhw(ctx, &g, &yt, Some(&bot), Activation::Relu, &out).unwrap();
        assert_close(
            &format!("from_cnhw {name}"),
            &run(ctx, step, &out),
            &r::from_cnhw(&g, &y, Some(&bo), Activation::Relu),
            |_, rv| 2.0 * U * (rv.abs() + 1.0),
        );
    }
}
