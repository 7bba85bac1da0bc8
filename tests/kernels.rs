//! Every kernel against its f64 reference on fresh random inputs at odd shapes,
//! with outputs poisoned beforehand; every gradient reference against finite
//! differences. Tolerances are `atol + rtol * |ref|` from f32 rounding.

mod common;

use common::{assert_close, gpu, gpu_other_plan, poisoned, rand_vec, rng, tol, U};
use rand::Rng;
use wgae::kernels::Operand;
use wgae::kernels::{
    self as ops, Loss, MatmulKernel, MatmulSpec, Prologue, ReduceMode, REDUCE_PARTIALS,
};
use wgae::reference as r;
use wgae::Activation;

const ACTS: [Activation; 7] = [
    Activation::Identity,
    Activation::Relu,
    Activation::LeakyRelu(0.1),
    Activation::Sigmoid,
    Activation::Tanh,
    Activation::Gelu,
    Activation::Softmax,
];

/// Odd shapes, never only tile multiples, plus the 1000x777 case.
const SHAPES: [(usize, usize); 6] = [(1, 1), (1, 7), (7, 33), (65, 127), (127, 65), (1000, 777)];

// --------------------------------------------------------------------- matmul

/// Every matmul kernel. The subgroup kernel only where the adapter has
/// subgroups of 8 lanes or more; CI's lavapipe does, so there it always runs
/// (and fails if the adapter lost them).
fn kernels() -> Vec<MatmulKernel> {
    let mut k = vec![
        MatmulKernel::Tiled,
        MatmulKernel::TiledLarge,
        MatmulKernel::TiledLargeVec,
        MatmulKernel::TiledVec,
        MatmulKernel::TiledSmall,
        MatmulKernel::Direct,
    ];
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    if gpu().is_some_and(|c| c.has_subgroups()) || in_ci {
        k.push(MatmulKernel::DirectSubgroup);
    } else {
        eprintln!("NOTE: no subgroups of >= 8 lanes here; the subgroup matmul is not tested");
    }
    k
}

/// Every kernel (64x64 and 128x128 tiles, direct) on the same inputs.
fn check_matmul(seed: u64, m: usize, n: usize, k: usize, trans_a: bool, trans_b: bool) {
    for kernel in kernels() {
        check_matmul_kernel(kernel, seed, m, n, k, trans_a, trans_b);
    }
}

#[allow(clippy::too_many_arguments)]
fn check_matmul_kernel(
    kernel: MatmulKernel,
    seed: u64,
    m: usize,
    n: usize,
    k: usize,
    trans_a: bool,
    trans_b: bool,
) {
    let Some(ctx) = gpu() else { return };
    let mut g = rng(seed);
    let a = rand_vec(&mut g, m * k, -1.0, 1.0);
    let b = rand_vec(&mut g, k * n, -1.0, 1.0);
    let ta = ctx.upload("a", &a).unwrap();
    let tb = ctx.upload("b", &b).unwrap();
    let tc = poisoned(ctx, m * n);
    let spec = MatmulSpec::new(m, n, k, trans_a, trans_b);
    let step = ops::matmul_with(ctx, kernel, &spec, &ta, &tb, None, &tc).unwrap();
    ctx.run(&[&step]).unwrap();
    let out = ctx.read(&tc).unwrap();
    let (want, abs) = r::matmul(&a, &b, m, n, k, trans_a, trans_b);
    // Higham's probabilistic bound for an f32 dot product of length K.
    let sk = (k as f64).sqrt();
    assert_close(
        &format!("matmul {kernel:?} ta={trans_a} tb={trans_b} {m}x{n}x{k}"),
        &out,
        &want,
        |i, rv| 2.0 * sk * U * abs[i] + U * rv.abs() + 1e-30,
    );
}

#[test]
fn matmul_all_layouts_odd_shapes() {
    let shapes = [
        (1, 1, 1),
        (1, 7, 33),
        (7, 1, 65),
        (33, 65, 7),
        (65, 33, 127),
        (127, 127, 127),
        (1000, 777, 33),
        // Outputs at most 32 wide take the direct kernels' narrow workgroups,
        // and outputs at most 64 wide the subgroup kernel's middle ones.
        (37, 29, 45),
        (64, 32, 20),
        (37, 61, 45),
        (40, 64, 20),
    ];
    for (si, &(m, n, k)) in shapes.iter().enumerate() {
        for (li, &(ta, tb)) in [(false, false), (true, false), (false, true), (true, true)]
            .iter()
            .enumerate()
        {
            check_matmul(100 + si as u64 * 4 + li as u64, m, n, k, ta, tb);
        }
    }
}

/// Shapes whose contiguous dimensions are multiples of 4 take the vec4
/// loads; none is a multiple of a tile, and K is not a multiple of a slice.
/// With K odd, only At.B (whose contiguous dimensions are M and N) takes
/// them.
#[test]
fn matmul_vec4_loads_all_layouts() {
    let shapes = [
        (4, 4, 4),
        (68, 132, 36),
        (260, 124, 516),
        (4, 8, 12),
        (36, 40, 71),
    ];
    for (si, &(m, n, k)) in shapes.iter().enumerate() {
        for (li, &(ta, tb)) in [(false, false), (true, false), (false, true), (true, true)]
            .iter()
            .enumerate()
        {
            check_matmul(900 + si as u64 * 4 + li as u64, m, n, k, ta, tb);
        }
    }
}

#[test]
fn matmul_large() {
    for (i, &(ta, tb)) in [(false, false), (true, false), (false, true)]
        .iter()
        .enumerate()
    {
        check_matmul(7 + i as u64, 257, 1031, 509, ta, tb);
    }
}

#[test]
fn matmul_epilogue_bias_activation_accumulate() {
    let Some(ctx) = gpu() else { return };
    let (m, n, k) = (65, 33, 127);
    let acts = ACTS.iter().filter(|a| a.is_elementwise()).enumerate();
    for ((ai, act), kernel) in acts.flat_map(|x| kernels().into_iter().map(move |k| (x, k))) {
        let mut g = rng(300 + ai as u64);
        let a = rand_vec(&mut g, m * k, -1.0, 1.0);
        let b = rand_vec(&mut g, n * k, -1.0, 1.0);
        let bias = rand_vec(&mut g, n, -1.0, 1.0);
        let c0 = rand_vec(&mut g, m * n, -1.0, 1.0);
        let ta = ctx.upload("a", &a).unwrap();
        let tb = ctx.upload("b", &b).unwrap();
        let tbias = ctx.upload("bias", &bias).unwrap();
        let tc = ctx.upload("c", &c0).unwrap();
        let spec = MatmulSpec {
            alpha: 0.75,
            beta: 0.5,
            act: *act,
            ..MatmulSpec::new(m, n, k, false, true)
        };
        let step = ops::matmul_with(ctx, kernel, &spec, &ta, &tb, Some(&tbias), &tc).unwrap();
        ctx.run(&[&step]).unwrap();
        let out = ctx.read(&tc).unwrap();
        let (acc, abs) = r::matmul(&a, &b, m, n, k, false, true);
        let want = r::matmul_epilogue(&acc, n, 0.75, Some(&bias), *act, 0.5, &c0);
        let sk = (k as f64).sqrt();
        // The dot-product bound, carried through an activation of slope <= 1.13,
        // plus a few roundings in the epilogue and the activation itself.
        assert_close(
            &format!("matmul {kernel:?} epilogue {act:?}"),
            &out,
            &want,
            |i, rv| 1.13 * 2.0 * sk * U * 0.75 * abs[i] + 16.0 * U * (rv.abs() + 1.0),
        );
    }
}

/// Every kernel computes each output element as the same chain of `fma`s in
/// ascending k, so all give the same bits: plain, with the bias/activation/
/// accumulate epilogue, and with a fused activation gradient on either
/// operand, for every layout, at odd shapes and at multiples of 4 (vec4
/// loads). This is what lets wgae pick a kernel per shape by speed alone
/// (crate::kernels::matmul::tune) without changing any result.
/// Builds one matmul step with the given kernel, writing into the given C.
type MakeStep<'a> = dyn Fn(MatmulKernel, &wgae::GpuTensor) -> wgae::Step + 'a;

#[test]
fn matmul_kernels_agree_bit_for_bit() {
    let Some(ctx) = gpu() else { return };
    let kernels = kernels();
    assert!(kernels.len() >= 3, "{kernels:?}");
    let mut seed = 900;
    for (m, n, k) in [
        (33, 65, 71),
        (36, 68, 72),
        (36, 68, 71),
        (130, 20, 257),
        (5, 300, 9),
        (41, 52, 30),
    ] {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            seed += 1;
            let mut g = rng(seed);
            let a = ctx
                .upload("a", &rand_vec(&mut g, m * k, -1.0, 1.0))
                .unwrap();
            let b = ctx
                .upload("b", &rand_vec(&mut g, k * n, -1.0, 1.0))
                .unwrap();
            let bias = ctx.upload("bias", &rand_vec(&mut g, n, -1.0, 1.0)).unwrap();
            let c0 = rand_vec(&mut g, m * n, -1.0, 1.0);
            let gate_a = ctx
                .upload("gate a", &gate_values(&mut g, m * k, Activation::Tanh))
                .unwrap();
            let gate_b = ctx
                .upload("gate b", &gate_values(&mut g, k * n, Activation::Gelu))
                .unwrap();
            let epilogue = MatmulSpec {
                alpha: 0.75,
                beta: 0.5,
                act: Activation::Sigmoid,
                ..MatmulSpec::new(m, n, k, ta, tb)
            };
            let plain = MatmulSpec::new(m, n, k, ta, tb);
            let variants: [(&str, &MakeStep); 4] = [
                ("plain", &|kernel, c| {
                    ops::matmul_with(ctx, kernel, &plain, &a, &b, None, c).unwrap()
                }),
                ("epilogue", &|kernel, c| {
                    ops::matmul_with(ctx, kernel, &epilogue, &a, &b, Some(&bias), c).unwrap()
                }),
                ("tanh'(A)", &|kernel, c| {
                    let pro = Prologue {
                        operand: Operand::A,
                        act: Activation::Tanh,
                        gate: &gate_a,
                    };
                    ops::matmul_prologue(ctx, kernel, &plain, &a, &b, pro, c).unwrap()
                }),
                ("gelu'(B)", &|kernel, c| {
                    let pro = Prologue {
                        operand: Operand::B,
                        act: Activation::Gelu,
                        gate: &gate_b,
                    };
                    ops::matmul_prologue(ctx, kernel, &plain, &a, &b, pro, c).unwrap()
                }),
            ];
            for (what, make) in variants {
                let mut first: Option<(MatmulKernel, Vec<f32>)> = None;
                for &kernel in &kernels {
                    let c = ctx.upload("c", &c0).unwrap();
                    ctx.run(&[&make(kernel, &c)]).unwrap();
                    let out = ctx.read(&c).unwrap();
                    assert!(out.iter().all(|v| v.is_finite()), "{what} {kernel:?}");
                    match &first {
                        None => first = Some((kernel, out)),
                        Some((k0, want)) => {
                            let differ = want
                                .iter()
                                .zip(&out)
                                .filter(|(x, y)| x.to_bits() != y.to_bits())
                                .count();
                            assert_eq!(
                                differ,
                                0,
                                "{what} {m}x{n}x{k} ta={ta} tb={tb}: {kernel:?} differs from \
                                 {k0:?} in {differ} of {} elements",
                                m * n
                            );
                        }
                    }
                }
            }
        }
    }
}

/// A gate for the fused activation gradient: the pre-activation z, or the
/// output f(z) rounded to f32 where the derivative reads the output.
fn gate_values(g: &mut rand::rngs::StdRng, n: usize, act: Activation) -> Vec<f32> {
    let z = rand_vec(g, n, -3.0, 3.0);
    if act.gate_is_output() {
        z.iter()
            .map(|&v| r::act(f64::from(v), act) as f32)
            .collect()
    } else {
        z
    }
}

/// The derivative read from a gate agrees with finite differences of f at z.
#[test]
fn gate_derivative_matches_finite_differences() {
    for act in ACTS.iter().filter(|a| a.is_elementwise()) {
        for i in 0..41 {
            let z = -3.0 + 0.15 * f64::from(i) + 0.01; // never at relu's kink
            let gate = if act.gate_is_output() {
                r::act(z, *act)
            } else {
                z
            };
            let h = 1e-6;
            let fd = (r::act(z + h, *act) - r::act(z - h, *act)) / (2.0 * h);
            let got = r::act_derivative_from_gate(gate, *act);
            assert!((fd - got).abs() < 1e-7, "{act:?} at {z}: fd {fd} vs {got}");
        }
    }
}

/// The backward matmul's prologue: op(A * f'(G)) . op(B) and
/// op(A) . op(B * f'(G)) for every layout, kernel and activation.
#[test]
fn matmul_prologue_fuses_activation_gradient() {
    let Some(ctx) = gpu() else { return };
    let mut seed = 500;
    // An odd shape (scalar loads) and one of multiples of 4 (vec4 loads).
    for ((m, n, k), act) in [(33, 65, 71), (36, 68, 72)].into_iter().flat_map(|s| {
        ACTS.iter()
            .filter(|a| a.is_elementwise())
            .map(move |a| (s, a))
    }) {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            for operand in [Operand::A, Operand::B] {
                for kernel in kernels() {
                    seed += 1;
                    let mut g = rng(seed);
                    let a = rand_vec(&mut g, m * k, -1.0, 1.0);
                    let b = rand_vec(&mut g, k * n, -1.0, 1.0);
                    let gate = gate_values(
                        &mut g,
                        if operand == Operand::A { m * k } else { k * n },
                        *act,
                    );
                    let (ta_t, tb_t, tg) = (
                        ctx.upload("a", &a).unwrap(),
                        ctx.upload("b", &b).unwrap(),
                        ctx.upload("gate", &gate).unwrap(),
                    );
                    let tc = poisoned(ctx, m * n);
                    let spec = MatmulSpec::new(m, n, k, ta, tb);
                    let pro = Prologue {
                        operand,
                        act: *act,
                        gate: &tg,
                    };
                    let step =
                        ops::matmul_prologue(ctx, kernel, &spec, &ta_t, &tb_t, pro, &tc).unwrap();
                    ctx.run(&[&step]).unwrap();
                    let out = ctx.read(&tc).unwrap();
                    let plain = |x: &[f32]| x.iter().map(|&v| f64::from(v)).collect::<Vec<_>>();
                    let (av, bv) = match operand {
                        Operand::A => (r::gated(&a, &gate, *act), plain(&b)),
                        Operand::B => (plain(&a), r::gated(&b, &gate, *act)),
                    };
                    let (want, abs) = r::matmul_f64(&av, &bv, m, n, k, ta, tb);
                    // The dot-product bound, plus the relative error of each
                    // gated operand: f'(g) takes a few roundings (gelu about a
                    // dozen), its product with the operand one more.
                    let sk = (k as f64).sqrt();
                    assert_close(
                        &format!("matmul {kernel:?} ta={ta} tb={tb} prologue {operand:?} {act:?}"),
                        &out,
                        &want,
                        |i, _| (2.0 * sk + 16.0) * U * abs[i] + 1e-30,
                    );
                }
            }
        }
    }
}

/// The backward layouts are right: for L = sum(G * (X . W^T)), dL/dX = G . W
/// (layout A.B) and dL/dW = G^T . X (layout A^T.B), checked on the reference
/// by finite differences.
#[test]
fn matmul_backward_layouts_match_finite_differences() {
    let (b, i_dim, o) = (5, 4, 3);
    let mut g = rng(11);
    let x = rand_vec(&mut g, b * i_dim, -1.0, 1.0);
    let wt = rand_vec(&mut g, o * i_dim, -1.0, 1.0);
    let gy = rand_vec(&mut g, b * o, -1.0, 1.0);
    let loss = |x: &[f32], wt: &[f32]| -> f64 {
        let (y, _) = r::matmul(x, wt, b, o, i_dim, false, true);
        y.iter().zip(&gy).map(|(y, g)| y * f64::from(*g)).sum()
    };
    let (dx, _) = r::matmul(&gy, &wt, b, i_dim, o, false, false);
    let (dw, _) = r::matmul(&gy, &x, o, i_dim, b, true, false);
    let h = 1e-2f32; // exact in f32; the loss is bilinear, so FD is exact up to rounding
    for idx in 0..x.len() {
        let (mut xp, mut xm) = (x.clone(), x.clone());
        xp[idx] += h;
        xm[idx] -= h;
        let fd = (loss(&xp, &wt) - loss(&xm, &wt)) / f64::from(xp[idx] - xm[idx]);
        assert!(
            (fd - dx[idx]).abs() < 1e-5,
            "dX[{idx}]: fd {fd} vs {}",
            dx[idx]
        );
    }
    for idx in 0..wt.len() {
        let (mut wp, mut wm) = (wt.clone(), wt.clone());
        wp[idx] += h;
        wm[idx] -= h;
        let fd = (loss(&x, &wp) - loss(&x, &wm)) / f64::from(wp[idx] - wm[idx]);
        assert!(
            (fd - dw[idx]).abs() < 1e-5,
            "dW[{idx}]: fd {fd} vs {}",
            dw[idx]
        );
    }
}

#[test]
fn matmul_rejects_bad_shapes_without_panicking() {
    let Some(ctx) = gpu() else { return };
    let a = ctx.zeros("a", 6).unwrap();
    let c = ctx.zeros("c", 4).unwrap();
    let err = ops::matmul(
        ctx,
        &MatmulSpec::new(2, 2, 4, false, false),
        &a,
        &a,
        None,
        &c,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("A holds 6 values but 8 are needed"), "{err}");
    let err = ops::matmul(
        ctx,
        &MatmulSpec::new(0, 2, 3, false, false),
        &a,
        &a,
        None,
        &c,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("m = 0"), "{err}");
}

// ---------------------------------------------------------------- activations

/// Rounding allowed for f(x): exact for the piecewise-linear ones; for the
/// transcendental ones a few ulps of f32 exp/tanh (WGSL gives exp 3 + 2|x| ulp).
fn act_tol(a: Activation) -> (f64, f64) {
    match a {
        Activation::Identity | Activation::Relu => (0.0, 0.0),
        Activation::LeakyRelu(_) => (0.0, U),
        // sigmoid: 1/(1+e) with e accurate to ~(3+2|x|) ulp, |x| <= 8 here.
        Activation::Sigmoid => (4.0 * U, 24.0 * U),
        Activation::Tanh | Activation::Gelu => (8.0 * U, 24.0 * U),
        Activation::Softmax => (4.0 * U, 32.0 * U),
    }
}

#[test]
fn activations_forward_and_backward_odd_shapes() {
    let Some(ctx) = gpu() else { return };
    for (ai, &act) in ACTS.iter().enumerate() {
        for (si, &(rows, cols)) in SHAPES.iter().enumerate() {
            let n = rows * cols;
            let mut g = rng(1000 + ai as u64 * 10 + si as u64);
            let z = rand_vec(&mut g, n, -8.0, 8.0);
            let dy = rand_vec(&mut g, n, -1.0, 1.0);
            let tz = ctx.upload("z", &z).unwrap();
            let ty = poisoned(ctx, n);
            let step = ops::act_forward(ctx, act, rows, cols, &tz, &ty).unwrap();
            ctx.run(&[&step]).unwrap();
            let y = ctx.read(&ty).unwrap();
            let (atol, rtol) = act_tol(act);
            let want = r::act_forward(&z, act, rows, cols);
            assert_close(
                &format!("{act:?} forward {rows}x{cols}"),
                &y,
                &want,
                tol(atol, rtol),
            );

            let tdy = ctx.upload("dy", &dy).unwrap();
            let tdz = poisoned(ctx, n);
            let step = ops::act_backward(ctx, act, rows, cols, &tz, &ty, &tdy, &tdz).unwrap();
            ctx.run(&[&step]).unwrap();
            let dz = ctx.read(&tdz).unwrap();
            // The reference derivative takes the GPU's y where the kernel does,
            // so only the backward kernel's own rounding is measured.
            let want = r::act_backward(&z, &y, &dy, act, rows, cols);
            let (atol, rtol) = match act {
                Activation::Sigmoid | Activation::Tanh => (8.0 * U, 8.0 * U),
                Activation::Softmax => (8.0 * U * (cols as f64).sqrt(), 8.0 * U),
                _ => (atol, rtol.max(2.0 * U)),
            };
            let derivative_from_y = matches!(act, Activation::Sigmoid | Activation::Tanh);
            let want = if derivative_from_y {
                y.iter()
                    .zip(&dy)
                    .map(|(&y, &d)| {
                        let y = f64::from(y);
                        let dfdz = if act == Activation::Sigmoid {
                            y * (1.0 - y)
                        } else {
                            1.0 - y * y
                        };
                        f64::from(d) * dfdz
                    })
                    .collect()
            } else {
                want
            };
            if act == Activation::Gelu {
                // 1 + tanh(u) and 1 - tanh(u)^2 cancel for negative z: tanh's
                // absolute error is amplified by |z du/dz|.
                assert_close(
                    &format!("{act:?} backward {rows}x{cols}"),
                    &dz,
                    &want,
                    |i, rv| {
                        let z = f64::from(z[i]);
                        let du = 0.797_884_56 * (1.0 + 3.0 * 0.044715 * z * z);
                        16.0 * U * f64::from(dy[i]).abs() * (1.0 + (z * du).abs())
                            + 8.0 * U * rv.abs()
                    },
                );
            } else {
                assert_close(
                    &format!("{act:?} backward {rows}x{cols}"),
                    &dz,
                    &want,
                    tol(atol, rtol),
                );
            }
        }
    }
}

#[test]
fn activations_stay_finite_at_extremes() {
    let Some(ctx) = gpu() else { return };
    let z: Vec<f32> = vec![-100.0, -30.0, -1e-20, 0.0, 1e-20, 30.0, 100.0];
    let tz = ctx.upload("z", &z).unwrap();
    for act in ACTS {
        let ty = poisoned(ctx, z.len());
        ctx.run(&[&ops::act_forward(ctx, act, 1, z.len(), &tz, &ty).unwrap()])
            .unwrap();
        let y = ctx.read(&ty).unwrap();
        assert!(y.iter().all(|v| v.is_finite()), "{act:?}: {y:?}");
        let want = r::act_forward(&z, act, 1, z.len());
        assert_close(&format!("{act:?} extremes"), &y, &want, tol(1e-6, 1e-6));
    }
}

/// The derivative references agree with central differences of the forward
/// references (away from the kinks of relu and leaky relu).
#[test]
fn activation_derivatives_match_finite_differences() {
    let mut g = rng(5);
    for act in ACTS.iter().filter(|a| a.is_elementwise()) {
        for _ in 0..200 {
            let z: f64 = g.random_range(-6.0..6.0);
            if z.abs() < 1e-3 {
                continue;
            }
            let h = 1e-5;
            let fd = (r::act(z + h, *act) - r::act(z - h, *act)) / (2.0 * h);
            let an = r::act_derivative(z, *act);
            assert!(
                (fd - an).abs() < 1e-8 + 1e-8 * an.abs(),
                "{act:?} at {z}: fd {fd} vs {an}"
            );
        }
    }
    // softmax: d/dx of sum(dy * softmax(x)) is softmax_backward(y, dy).
    let (rows, cols) = (3, 7);
    let x: Vec<f64> = (0..rows * cols)
        .map(|_| g.random_range(-3.0..3.0))
        .collect();
    let dy: Vec<f32> = rand_vec(&mut g, rows * cols, -1.0, 1.0);
    let y = r::softmax_rows(&x, rows, cols);
    let y32: Vec<f32> = y.iter().map(|&v| v as f32).collect();
    let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
    let an = r::act_backward(&x32, &y32, &dy, Activation::Softmax, rows, cols);
    let f = |x: &[f64]| -> f64 {
        r::softmax_rows(x, rows, cols)
            .iter()
            .zip(&dy)
            .map(|(s, d)| s * f64::from(*d))
            .sum()
    };
    for i in 0..x.len() {
        let (mut xp, mut xm) = (x.clone(), x.clone());
        xp[i] += 1e-6;
        xm[i] -= 1e-6;
        let fd = (f(&xp) - f(&xm)) / 2e-6;
        // an used f32-rounded y: allow that rounding.
        assert!(
            (fd - an[i]).abs() < 1e-6,
            "softmax grad {i}: fd {fd} vs {}",
            an[i]
        );
    }
}

// ----------------------------------------------------- axpby, fill, L2 decay

#[test]
fn axpby_fill_and_l2_decay() {
    let Some(ctx) = gpu() else { return };
    for (si, &(rows, cols)) in SHAPES.iter().enumerate() {
        let n = rows * cols;
        let mut g = rng(2000 + si as u64);
        let x = rand_vec(&mut g, n, -2.0, 2.0);
        let y0 = rand_vec(&mut g, n, -2.0, 2.0);
        let tx = ctx.upload("x", &x).unwrap();
        let ty = ctx.upload("y", &y0).unwrap();
        ctx.run(&[&ops::axpby(ctx, n, 1.5, &tx, -0.25, &ty).unwrap()])
            .unwrap();
        let got = ctx.read(&ty).unwrap();
        // Each product rounds, then the sum: 2u (|alpha x| + |beta y|) per element.
        let axpby_tol = |alpha: f32, beta: f32| {
            let (x, y0) = (x.clone(), y0.clone());
            move |i: usize, _: f64| {
                2.0 * U * (f64::from(alpha * x[i]).abs() + f64::from(beta * y0[i]).abs())
            }
        };
        assert_close(
            "axpby",
            &got,
            &r::axpby(1.5, &x, -0.25, &y0),
            axpby_tol(1.5, -0.25),
        );

        // beta = 0 must not read the (poisoned) output.
        let tp = poisoned(ctx, n);
        ctx.run(&[&ops::axpby(ctx, n, 2.0, &tx, 0.0, &tp).unwrap()])
            .unwrap();
        let got = ctx.read(&tp).unwrap();
        assert_close(
            "axpby beta=0",
            &got,
            &r::axpby(2.0, &x, 0.0, &y0),
            tol(0.0, 0.0),
        );

        // L2 weight decay: g += lambda * w.
        let tg = ctx.upload("g", &y0).unwrap();
        ctx.run(&[&ops::l2_grad(ctx, 1e-2, &tx, &tg).unwrap()])
            .unwrap();
        let got = ctx.read(&tg).unwrap();
        assert_close(
            "l2 decay",
            &got,
            &r::axpby(1e-2, &x, 1.0, &y0),
            axpby_tol(1e-2, 1.0),
        );

        let tp = poisoned(ctx, n);
        ctx.run(&[&ops::fill(ctx, 0.5, &tp).unwrap()]).unwrap();
        assert!(ctx.read(&tp).unwrap().iter().all(|&v| v == 0.5));
    }
}

// ----------------------------------------------------------------- reductions

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

// --------------------------------------------------------------------- losses

/// Each row's sum of |loss| + 1 over its elements: the scale of the rounding
/// in a per-row loss.
fn row_loss_scale(pred: &[f32], target: &[f32], rows: usize, cols: usize, loss: Loss) -> Vec<f64> {
    (0..rows)
        .map(|row| {
            (row * cols..(row + 1) * cols)
                .map(|i| {
                    r::element_loss(f64::from(pred[i]), f64::from(target[i]), loss).abs() + 1.0
                })
                .sum::<f64>()
        })
        .collect()
}

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
                    |_, rv| f64::from(scale) * 8.0 * U + 16.0 * U * rv.abs(),
                );

                let rscale = 1.0 / cols as f32;
                let tr = poisoned(ctx, rows);
                ctx.run(&[&ops::row_loss(ctx, loss, rows, cols, rscale, &tp, &tt, &tr).unwrap()])
                    .unwrap();
                let got = ctx.read(&tr).unwrap();
                let want = r::row_loss(&pred, &target, rows, cols, loss, rscale);
                // Per element a few ulps of exp/log; summed over cols terms.
                let abs = row_loss_scale(&pred, &target, rows, cols, loss);
                let sc = (cols as f64).sqrt();
                assert_close(
                    &format!("{loss:?} row loss {rows}x{cols}"),
                    &got,
                    &want,
                    |i, _| f64::from(rscale) * (2.0 * sc + 16.0) * U * abs[i],
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
                    |_, rv| f64::from(scale) * 8.0 * U + 16.0 * U * rv.abs(),
                );
                let want = r::row_loss(&pred, &target, rows, cols, loss, rscale);
                let abs = row_loss_scale(&pred, &target, rows, cols, loss);
                let sc = (cols as f64).sqrt();
                assert_close(
                    &format!("fused {loss:?} rows {rows}x{cols}"),
                    &ctx.read(&tr).unwrap(),
                    &want,
                    |i, _| f64::from(rscale) * (2.0 * sc + 16.0) * U * abs[i],
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

// ------------------------------------------------------------------ penalties

#[test]
fn l1_and_kl_penalties_odd_shapes() {
    let Some(ctx) = gpu() else { return };
    for (si, &(rows, cols)) in SHAPES.iter().enumerate() {
        let n = rows * cols;
        let mut g = rng(7000 + si as u64);
        let mut h = rand_vec(&mut g, n, -1.0, 1.0);
        h[0] = 0.0; // sign(0) = 0
        let g0 = rand_vec(&mut g, n, -1.0, 1.0);
        let th = ctx.upload("h", &h).unwrap();
        let tg = ctx.upload("g", &g0).unwrap();
        ctx.run(&[&ops::l1_grad(ctx, rows, cols, 0.01, &th, &tg).unwrap()])
            .unwrap();
        let got = ctx.read(&tg).unwrap();
        assert_close("l1 grad", &got, &r::l1_grad(&h, &g0, 0.01), tol(0.0, U));

        let (rho, beta) = (0.05f32, 3.0f32);
        let mut rho_hat = rand_vec(&mut g, cols, 0.001, 0.999);
        rho_hat[0] = 0.0; // clamped, still finite
        let trh = ctx.upload("rho_hat", &rho_hat).unwrap();
        let tg = ctx.upload("g", &g0).unwrap();
        ctx.run(&[&ops::kl_grad(ctx, rows, cols, rho, beta, &trh, &tg).unwrap()])
            .unwrap();
        let got = ctx.read(&tg).unwrap();
        let want = r::kl_grad(&rho_hat, &g0, rows, cols, rho, beta);
        // Terms like rho / rho_hat are large where rho_hat is near the clamp;
        // rounding is relative to the term, not to the sum.
        let term: Vec<f64> = (0..n)
            .map(|i| {
                let rh = f64::from(rho_hat[i % cols]).clamp(1e-6, 1.0 - 1e-6);
                f64::from(beta) / rows as f64
                    * (f64::from(rho) / rh + (1.0 - f64::from(rho)) / (1.0 - rh))
            })
            .collect();
        assert_close("kl grad", &got, &want, |i, rv| {
            8.0 * U * (term[i] + rv.abs())
        });

        let tl = poisoned(ctx, cols);
        ctx.run(&[&ops::kl_loss(ctx, cols, rho, beta, &trh, &tl).unwrap()])
            .unwrap();
        let got = ctx.read(&tl).unwrap();
        let want = r::kl_loss(&rho_hat, rho, beta);
        // log is good to 3 ulp, or 2^-21 absolute on [0.5, 2] (WGSL); each
        // product term can be ~beta * log(1e6).
        assert_close("kl loss", &got, &want, |_, rv| {
            f64::from(beta) * 40.0 * U + 16.0 * U * rv.abs()
        });
    }
}

#[test]
fn kl_gradient_matches_finite_differences() {
    let (rows, cols) = (6, 5);
    let (rho, beta) = (0.1, 2.0);
    let mut g = rng(8);
    let h: Vec<f64> = (0..rows * cols)
        .map(|_| g.random_range(0.05..0.95))
        .collect();
    let rho_hat: Vec<f32> = (0..cols)
        .map(|j| ((0..rows).map(|i| h[i * cols + j]).sum::<f64>() / rows as f64) as f32)
        .collect();
    let an = r::kl_grad(
        &rho_hat,
        &vec![0.0; rows * cols],
        rows,
        cols,
        rho as f32,
        beta as f32,
    );
    for i in 0..h.len() {
        let (mut hp, mut hm) = (h.clone(), h.clone());
        hp[i] += 1e-6;
        hm[i] -= 1e-6;
        let fd = (r::kl_penalty(&hp, rows, cols, rho, beta)
            - r::kl_penalty(&hm, rows, cols, rho, beta))
            / 2e-6;
        // an saw rho_hat rounded to f32 and rho, beta as f32.
        assert!(
            (fd - an[i]).abs() < 1e-5 * (1.0 + fd.abs()),
            "kl grad {i}: fd {fd} vs {}",
            an[i]
        );
    }
}

// -------------------------------------------------------------------- gather

#[test]
fn gather_rows_by_index() {
    let Some(ctx) = gpu() else { return };
    // Widths that are multiples of 4 take the vec4 kernel.
    let shapes = [
        (1usize, 1usize),
        (7, 33),
        (1000, 777),
        (1, 4),
        (9, 36),
        (1000, 784),
    ];
    for (si, &(src_rows, cols)) in shapes.iter().enumerate() {
        let mut g = rng(9000 + si as u64);
        let src = rand_vec(&mut g, src_rows * cols, -1.0, 1.0);
        let off = 3;
        let rows = src_rows.min(65);
        let mut idx: Vec<u32> = (0..off + rows)
            .map(|_| g.random_range(0..src_rows as u32))
            .collect();
        idx[off] = src_rows as u32 + 5; // out of range: a zero row, no stray read
        let ti = ctx.upload("idx", &idx).unwrap();
        let ts = ctx.upload("src", &src).unwrap();
        let to = poisoned(ctx, rows * cols);
        ctx.run(&[&ops::gather_rows(ctx, rows, cols, off, src_rows, &ti, &ts, &to).unwrap()])
            .unwrap();
        let got = ctx.read(&to).unwrap();
        let want = r::gather_rows(&idx, off, &src, src_rows, rows, cols);
        assert_close(
            &format!("gather {src_rows}x{cols}"),
            &got,
            &want,
            tol(0.0, 0.0),
        );
    }
}

/// A dataset split over 2, 3 and 4 buffers of whole rows (the last one
/// short) gathers the same rows as the whole; bad chunkings are refused.
#[test]
fn gather_from_chunks_matches_the_whole() {
    let Some(ctx) = gpu() else { return };
    for (si, &(src_rows, cols, chunk_rows)) in [
        (10usize, 7usize, 5usize),
        (11, 13, 4),
        (1000, 33, 251),
        (37, 784, 10),
        (4, 1, 1),
    ]
    .iter()
    .enumerate()
    {
        let mut g = rng(9100 + si as u64);
        let src = rand_vec(&mut g, src_rows * cols, -1.0, 1.0);
        let chunks: Vec<wgae::GpuTensor> = src
            .chunks(chunk_rows * cols)
            .map(|c| ctx.upload("chunk", c).unwrap())
            .collect();
        let off = 2;
        let rows = src_rows.min(70);
        let mut idx: Vec<u32> = (0..off + rows)
            .map(|_| g.random_range(0..src_rows as u32))
            .collect();
        idx[off] = src_rows as u32; // out of range: a zero row
        idx[off + rows - 1] = (src_rows - 1) as u32; // the last chunk's last row
        let ti = ctx.upload("idx", &idx).unwrap();
        let to = poisoned(ctx, rows * cols);
        let step = ops::gather_chunks(
            ctx, rows, cols, off, src_rows, chunk_rows, &ti, &chunks, &to,
        )
        .unwrap();
        ctx.run(&[&step]).unwrap();
        assert_close(
            &format!("gather {src_rows}x{cols} in {} chunks", chunks.len()),
            &ctx.read(&to).unwrap(),
            &r::gather_rows(&idx, off, &src, src_rows, rows, cols),
            tol(0.0, 0.0),
        );
    }
    let t = ctx.zeros("t", 64).unwrap();
    let five = vec![t.clone(); 5];
    assert!(
        ops::gather_chunks(ctx, 1, 1, 0, 5, 1, &t, &five, &t).is_err(),
        "5 chunks"
    );
    let two = vec![t.clone(); 2];
    assert!(
        ops::gather_chunks(ctx, 1, 1, 0, 9, 3, &t, &two, &t).is_err(),
        "9 rows in 2x3"
    );
    assert!(
        ops::gather_chunks(ctx, 1, 1, 0, 4, 0, &t, &two, &t).is_err(),
        "0 rows per chunk"
    );
}

/// A byte dataset (one to four chunks, odd row widths so that rows start
/// mid-word) gathers through a shared or per-column table to exactly the
/// table's values; out-of-range rows give zero rows; bad chunkings are refused.
#[test]
fn gather_u8_matches_the_table() {
    let Some(ctx) = gpu() else { return };
    for (si, &(src_rows, cols, chunk_rows, per_column)) in [
        (10usize, 7usize, 10usize, false),
        (11, 13, 4, true),
        (1000, 33, 251, false),
        (37, 785, 10, true),
        (5, 1, 2, false),
    ]
    .iter()
    .enumerate()
    {
        let mut g = rng(9200 + si as u64);
        let src: Vec<u8> = (0..src_rows * cols)
            .map(|_| g.random_range(0..=255u8))
            .collect();
        let chunks: Vec<wgae::GpuTensor> = src
            .chunks(chunk_rows * cols)
            .map(|c| {
                let mut b = c.to_vec();
                b.resize(ops::u8_words(c.len()) * 4, 0xAB);
                let words: Vec<u32> = b
                    .chunks(4)
                    .map(|w| u32::from_le_bytes(w.try_into().unwrap()))
                    .collect();
                ctx.upload("bytes", &words).unwrap()
            })
            .collect();
        let lut = rand_vec(&mut g, if per_column { 256 * cols } else { 256 }, -3.0, 3.0);
        let tl = ctx.upload("lut", &lut).unwrap();
        let off = 3;
        let rows = src_rows.min(70);
        let mut idx: Vec<u32> = (0..off + rows)
            .map(|_| g.random_range(0..src_rows as u32))
            .collect();
        idx[off] = src_rows as u32 + 2; // out of range: a zero row
        idx[off + rows - 1] = (src_rows - 1) as u32;
        let ti = ctx.upload("idx", &idx).unwrap();
        let to = poisoned(ctx, rows * cols);
        let step = ops::gather_u8(
            ctx, rows, cols, off, src_rows, chunk_rows, &ti, &chunks, &tl, per_column, &to,
        )
        .unwrap();
        ctx.run(&[&step]).unwrap();
        assert_close(
            &format!("gather_u8 {src_rows}x{cols} in {} chunks", chunks.len()),
            &ctx.read(&to).unwrap(),
            &r::gather_u8(&idx, off, &src, src_rows, rows, cols, &lut, per_column),
            tol(0.0, 0.0),
        );
    }
    let t = ctx.zeros("t", 256).unwrap();
    let five = vec![t.clone(); 5];
    assert!(ops::gather_u8(ctx, 1, 1, 0, 5, 1, &t, &five, &t, false, &t).is_err());
    let one = vec![t.clone()];
    let small = ctx.zeros("lut", 255).unwrap();
    assert!(
        ops::gather_u8(ctx, 1, 1, 0, 1, 1, &t, &one, &small, false, &t).is_err(),
        "a table of 255"
    );
}

// ------------------------------------------------- dispatches folded into 2-D

#[test]
fn large_tensors_fold_dispatch_into_2d() {
    let Some(ctx) = gpu() else { return };
    let (rows, cols) = (4_300_013usize, 1usize); // > 65,535 * 64 elements
    let n = rows * cols;
    let mut g = rng(10);
    let z = rand_vec(&mut g, n, -4.0, 4.0);
    let tz = ctx.upload("z", &z).unwrap();
    let ty = poisoned(ctx, n);
    let step = ops::act_forward(ctx, Activation::Sigmoid, rows, cols, &tz, &ty).unwrap();
    assert!(
        step.workgroups()[1] > 1,
        "expected a 2-D dispatch, got {:?}",
        step.workgroups()
    );
    ctx.run(&[&step]).unwrap();
    let y = ctx.read(&ty).unwrap();
    let (atol, rtol) = act_tol(Activation::Sigmoid);
    assert_close(
        "sigmoid 4.3M",
        &y,
        &r::act_forward(&z, Activation::Sigmoid, rows, cols),
        tol(atol, rtol),
    );

    // A row-wise kernel with more rows than one dimension allows.
    let t = rand_vec(&mut g, n, 0.0, 1.0);
    let tt = ctx.upload("t", &t).unwrap();
    let tr = poisoned(ctx, rows);
    let step = ops::row_loss(ctx, Loss::Mse, rows, cols, 1.0, &tz, &tt, &tr).unwrap();
    assert!(step.workgroups()[1] > 1);
    ctx.run(&[&step]).unwrap();
    let got = ctx.read(&tr).unwrap();
    assert_close(
        "row loss 4.3M rows",
        &got,
        &r::row_loss(&z, &t, rows, cols, Loss::Mse, 1.0),
        tol(0.0, 4.0 * U),
    );

    // Gather of 4.3M elements.
    let idx: Vec<u32> = (0..rows as u32).rev().collect();
    let ti = ctx.upload("idx", &idx).unwrap();
    let to = poisoned(ctx, n);
    let step = ops::gather_rows(ctx, rows, cols, 0, rows, &ti, &tz, &to).unwrap();
    assert!(step.workgroups()[1] > 1);
    ctx.run(&[&step]).unwrap();
    let got = ctx.read(&to).unwrap();
    assert_close(
        "gather 4.3M",
        &got,
        &r::gather_rows(&idx, 0, &z, rows, rows, cols),
        tol(0.0, 0.0),
    );
}
