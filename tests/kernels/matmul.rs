//! The matmul kernels: every kernel and layout at odd shapes, the epilogue and
//! prologues, bit-for-bit agreement, and the gradients by finite differences.

use crate::common::{assert_close, gpu, poisoned, rand_vec, rng, U};
use crate::ACTS;
use wgae::kernels::Operand;
use wgae::kernels::{self as ops, MatmulKernel, MatmulSpec, Prologue};
use wgae::reference as r;
use wgae::Activation;

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
    assert_close(
        &format!("matmul {kernel:?} ta={trans_a} tb={trans_b} {m}x{n}x{k}"),
        &out,
        &want,
        |i, rv| r::bounds::dot(k, abs[i], 1.0, rv),
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
pub(crate) fn gate_values(g: &mut rand::rngs::StdRng, n: usize, act: Activation) -> Vec<f32> {
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
