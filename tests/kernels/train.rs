//! The kernels the training engine adds on top of the core library: mul,
//! input noise, the GPU shuffle, the VAE's reparameterization and KL, and the
//! contractive penalty. Each against its f64 reference on odd shapes, with
//! gradients checked by finite differences.

use crate::common::{assert_close, gpu, poisoned, rand_vec, rng, tol, U};
use rand::Rng;
use wgae::kernels::{self as ops, Noise, RngSpec};
use wgae::reference as r;
use wgae::Activation;

const SHAPES: [(usize, usize); 6] = [(1, 1), (1, 7), (7, 33), (65, 127), (127, 65), (1000, 777)];

#[test]
fn mul_odd_shapes() {
    let Some(ctx) = gpu() else { return };
    for (si, &(rows, cols)) in SHAPES.iter().enumerate() {
        let n = rows * cols;
        let mut g = rng(100 + si as u64);
        let x = rand_vec(&mut g, n, -2.0, 2.0);
        let y = rand_vec(&mut g, n, -2.0, 2.0);
        let (tx, ty, to) = (
            ctx.upload("x", &x).unwrap(),
            ctx.upload("y", &y).unwrap(),
            poisoned(ctx, n),
        );
        ctx.run(&[&ops::mul(ctx, n, &tx, &ty, &to).unwrap()])
            .unwrap();
        assert_close("mul", &ctx.read(&to).unwrap(), &r::mul(&x, &y), tol(0.0, U));
    }
}

#[test]
fn noise_kinds_match_reference() {
    let Some(ctx) = gpu() else { return };
    let spec = RngSpec {
        seed: 77,
        stream: 4,
        offset: 2,
    };
    let counter = ctx.upload("counter", &[3u32]).unwrap();
    for (si, &(rows, cols)) in SHAPES.iter().enumerate() {
        let n = rows * cols;
        let mut g = rng(200 + si as u64);
        let src = rand_vec(&mut g, n, 0.0, 1.0);
        let ts = ctx.upload("src", &src).unwrap();
        for kind in [
            Noise::Gaussian(0.3),
            Noise::Mask(0.25),
            Noise::SaltPepper(0.2),
        ] {
            let out = poisoned(ctx, n);
            ctx.run(&[&ops::noise(ctx, kind, spec, Some(&counter), &ts, &out).unwrap()])
                .unwrap();
            let got = ctx.read(&out).unwrap();
            // The counter (3) adds to the offset (2).
            let want = r::noise(kind, 77, 4, 5, &src);
            match kind {
                // Box-Muller through WGSL's log and sin/cos bounds (see optim_rng.rs).
                Noise::Gaussian(s) => assert_close("gaussian noise", &got, &want, |_, rv| {
                    f64::from(s) * 2.0 * (5.8 * 2f64.powi(-11) + 2f64.powi(-19))
                        + 2.0 * U * rv.abs()
                }),
                _ => assert_close(&format!("{kind:?}"), &got, &want, tol(0.0, 0.0)),
            }
        }
    }
}

#[test]
fn noise_statistics() {
    let Some(ctx) = gpu() else { return };
    let n = 200_003;
    let src = vec![0.5f32; n];
    let ts = ctx.upload("src", &src).unwrap();
    let out = ctx.zeros("out", n).unwrap();
    let spec = RngSpec {
        seed: 1,
        stream: 0,
        offset: 0,
    };
    let se = |p: f64| 5.0 * (p * (1.0 - p) / n as f64).sqrt();

    ctx.run(&[&ops::noise(ctx, Noise::Mask(0.3), spec, None, &ts, &out).unwrap()])
        .unwrap();
    let v = ctx.read(&out).unwrap();
    let zeros = v.iter().filter(|&&x| x == 0.0).count() as f64 / n as f64;
    assert!((zeros - 0.3).abs() < se(0.3), "masked fraction {zeros}");
    assert!(v.iter().all(|&x| x == 0.0 || x == 0.5));

    ctx.run(&[&ops::noise(ctx, Noise::SaltPepper(0.2), spec, None, &ts, &out).unwrap()])
        .unwrap();
    let v = ctx.read(&out).unwrap();
    let salt = v.iter().filter(|&&x| x == 1.0).count() as f64 / n as f64;
    let pepper = v.iter().filter(|&&x| x == 0.0).count() as f64 / n as f64;
    assert!(
        (salt - 0.1).abs() < se(0.1) && (pepper - 0.1).abs() < se(0.1),
        "salt {salt} pepper {pepper}"
    );

    ctx.run(&[&ops::noise(ctx, Noise::Gaussian(0.2), spec, None, &ts, &out).unwrap()])
        .unwrap();
    let v = ctx.read(&out).unwrap();
    let mean = v.iter().map(|&x| f64::from(x)).sum::<f64>() / n as f64;
    let var = v
        .iter()
        .map(|&x| (f64::from(x) - mean).powi(2))
        .sum::<f64>()
        / n as f64;
    assert!(
        (mean - 0.5).abs() < 5.0 * 0.2 / (n as f64).sqrt(),
        "mean {mean}"
    );
    assert!(
        (var - 0.04).abs() < 5.0 * 0.04 * (2.0 / n as f64).sqrt(),
        "variance {var}"
    );

    assert!(ops::noise(ctx, Noise::Mask(1.5), spec, None, &ts, &out).is_err());
}

#[test]
fn shuffle_is_a_permutation_matching_reference() {
    let Some(ctx) = gpu() else { return };
    let epoch = ctx.upload("epoch", &[0u32]).unwrap();
    for n in [1usize, 2, 7, 33, 65, 127, 1000, 60_000, 4_200_001] {
        let perm = ctx.upload("perm", &vec![u32::MAX; n]).unwrap();
        let step = ops::permute(ctx, n, 1234, &epoch, &perm).unwrap();
        let mut previous: Option<Vec<u32>> = None;
        for e in 0..2u32 {
            ctx.write(&epoch, &[e]).unwrap();
            ctx.run(&[&step]).unwrap();
            let got = ctx.read_u32(&perm).unwrap();
            assert_eq!(got, r::permute(n, 1234, e), "n = {n}, epoch {e}");
            let mut seen = vec![false; n];
            for &v in &got {
                assert!(
                    (v as usize) < n && !seen[v as usize],
                    "not a permutation (n = {n})"
                );
                seen[v as usize] = true;
            }
            if n > 7 {
                if let Some(prev) = &previous {
                    assert_ne!(prev, &got, "two epochs gave the same order (n = {n})");
                }
                let fixed = got
                    .iter()
                    .enumerate()
                    .filter(|(i, &v)| *i as u32 == v)
                    .count();
                assert!(
                    fixed < n / 4 + 2,
                    "barely shuffled: {fixed} fixed points of {n}"
                );
            }
            previous = Some(got);
        }
    }
}

#[test]
fn vae_kernels_odd_shapes() {
    let Some(ctx) = gpu() else { return };
    for (si, &(rows, code)) in [(1usize, 1usize), (7, 2), (33, 7), (127, 65), (1000, 32)]
        .iter()
        .enumerate()
    {
        let mut g = rng(300 + si as u64);
        let head = rand_vec(&mut g, rows * 2 * code, -2.0, 2.0);
        let eps = rand_vec(&mut g, rows * code, -3.0, 3.0);
        let dz = rand_vec(&mut g, rows * code, -1.0, 1.0);
        let (th, te, td) = (
            ctx.upload("head", &head).unwrap(),
            ctx.upload("eps", &eps).unwrap(),
            ctx.upload("dz", &dz).unwrap(),
        );
        let z = poisoned(ctx, rows * code);
        let dh = poisoned(ctx, rows * 2 * code);
        let kl = poisoned(ctx, rows);
        ctx.run(&[
            &ops::vae_reparam(ctx, rows, code, &th, &te, &z).unwrap(),
            &ops::vae_backward(ctx, rows, code, 0.7, &th, &te, &td, &dh).unwrap(),
            &ops::vae_kl_rows(ctx, rows, code, 1.0, &th, &kl).unwrap(),
        ])
        .unwrap();
        // exp is good to (3 + 2|x|) ulp in WGSL; |lv| <= 2 here.
        let e_ulps = 8.0 * U;
        let want = r::vae_reparam(&head, &eps, rows, code);
        assert_close("reparam", &ctx.read(&z).unwrap(), &want, |i, rv| {
            e_ulps * (f64::from(eps[i]).abs() * 2.72 + rv.abs()) + U
        });
        let want = r::vae_backward(&head, &eps, &dz, rows, code, 0.7);
        assert_close("vae backward", &ctx.read(&dh).unwrap(), &want, |_, rv| {
            e_ulps * (8.0 + rv.abs())
        });
        let h64: Vec<f64> = head.iter().map(|&v| f64::from(v)).collect();
        let want = r::vae_kl_rows(&h64, rows, code, 1.0);
        assert_close("vae kl", &ctx.read(&kl).unwrap(), &want, |_, rv| {
            e_ulps * 10.0 * code as f64 + 4.0 * U * rv.abs()
        });
    }
}

/// The VAE gradient is the gradient of dz . z(mu, lv) + beta * mean_b KL_b.
#[test]
fn vae_gradient_matches_finite_differences() {
    let (rows, code, beta) = (3, 4, 0.7f32);
    let mut g = rng(12);
    let head: Vec<f64> = (0..rows * 2 * code)
        .map(|_| g.random_range(-1.5..1.5))
        .collect();
    let eps = rand_vec(&mut g, rows * code, -2.0, 2.0);
    let dz = rand_vec(&mut g, rows * code, -1.0, 1.0);
    let objective = |h: &[f64]| -> f64 {
        let mut zsum = 0.0;
        for b in 0..rows {
            for j in 0..code {
                let mu = h[b * 2 * code + j];
                let lv = h[b * 2 * code + code + j];
                zsum += f64::from(dz[b * code + j])
                    * (mu + (0.5 * lv).exp() * f64::from(eps[b * code + j]));
            }
        }
        let kl: f64 = r::vae_kl_rows(h, rows, code, 1.0).iter().sum();
        zsum + f64::from(beta) * kl / rows as f64
    };
    let h32: Vec<f32> = head.iter().map(|&v| v as f32).collect();
    let head: Vec<f64> = h32.iter().map(|&v| f64::from(v)).collect();
    let an = r::vae_backward(&h32, &eps, &dz, rows, code, beta);
    for i in 0..head.len() {
        let (mut hp, mut hm) = (head.clone(), head.clone());
        hp[i] += 1e-6;
        hm[i] -= 1e-6;
        let fd = (objective(&hp) - objective(&hm)) / 2e-6;
        assert!(
            (fd - an[i]).abs() < 1e-7 * (1.0 + fd.abs()),
            "head[{i}]: fd {fd} vs {}",
            an[i]
        );
    }
}

#[test]
fn contractive_kernels_odd_shapes() {
    let Some(ctx) = gpu() else { return };
    for act in [
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Relu,
        Activation::LeakyRelu(0.1),
    ] {
        for (si, &(rows, hidden, inputs)) in [(1usize, 1usize, 1usize), (7, 33, 65), (127, 32, 784)]
            .iter()
            .enumerate()
        {
            let mut g = rng(400 + si as u64);
            let wt = rand_vec(&mut g, hidden * inputs, -0.5, 0.5);
            let z = rand_vec(&mut g, rows * hidden, -3.0, 3.0);
            let y: Vec<f32> = r::act_forward(&z, act, rows, hidden)
                .iter()
                .map(|&v| v as f32)
                .collect();
            let dz0 = rand_vec(&mut g, rows * hidden, -1.0, 1.0);
            let dw0 = rand_vec(&mut g, hidden * inputs, -1.0, 1.0);
            let c = rand_vec(&mut g, hidden, 0.0, 5.0);
            let (tw, ty, tc) = (
                ctx.upload("w", &wt).unwrap(),
                ctx.upload("y", &y).unwrap(),
                ctx.upload("c", &c).unwrap(),
            );
            let s = poisoned(ctx, hidden);
            let fp2 = poisoned(ctx, rows * hidden);
            let dz = ctx.upload("dz", &dz0).unwrap();
            let dw = ctx.upload("dw", &dw0).unwrap();
            let lambda = 0.3f32;
            ctx.run(&[
                &ops::contractive_row_sq(ctx, hidden, inputs, &tw, &s).unwrap(),
                &ops::contractive_fp2(ctx, act, rows, hidden, &ty, &fp2).unwrap(),
            ])
            .unwrap();
            let s_gpu = ctx.read(&s).unwrap();
            let s_ref = r::row_sq(&wt, hidden, inputs);
            let si_ = (inputs as f64).sqrt();
            assert_close("row_sq", &s_gpu, &s_ref, |_, rv| {
                2.0 * si_ * U * rv + U * rv
            });
            let d: Vec<(f64, f64)> = y
                .iter()
                .map(|&v| r::contractive_derivatives(f64::from(v), act))
                .collect();
            let fp2_ref: Vec<f64> = d.iter().map(|(d1, _)| d1 * d1).collect();
            // f' = 1 - y^2 (tanh) and y (1 - y) (sigmoid) carry an absolute
            // error of a few U when they cancel; squaring doubles it, relative to f'.
            assert_close("fp2", &ctx.read(&fp2).unwrap(), &fp2_ref, |i, rv| {
                8.0 * U * d[i].0.abs() + 8.0 * U * rv.abs()
            });

            // Use the GPU's s so only jac_dz's own rounding is measured.
            let ts = ctx.upload("s", &s_gpu).unwrap();
            ctx.run(&[
                &ops::contractive_dz(ctx, act, rows, hidden, lambda, &ty, &ts, &dz).unwrap(),
                &ops::contractive_wgrad(ctx, rows, hidden, inputs, lambda, &tw, &tc, &dw).unwrap(),
            ])
            .unwrap();
            let coef = f64::from(lambda) / rows as f64;
            let dz_ref: Vec<f64> = (0..rows * hidden)
                .map(|i| {
                    f64::from(dz0[i]) + coef * 2.0 * f64::from(s_gpu[i % hidden]) * d[i].0 * d[i].1
                })
                .collect();
            // f' and f'' each to a few U absolute (cancellation near saturation).
            assert_close("jac_dz", &ctx.read(&dz).unwrap(), &dz_ref, |i, rv| {
                let term = coef * 2.0 * f64::from(s_gpu[i % hidden]);
                term * 8.0 * U * (d[i].0.abs() + d[i].1.abs())
                    + 8.0 * U * (term * (d[i].0 * d[i].1).abs() + rv.abs())
            });
            let dw_ref: Vec<f64> = (0..hidden * inputs)
                .map(|i| {
                    f64::from(dw0[i]) + coef * 2.0 * f64::from(wt[i]) * f64::from(c[i / inputs])
                })
                .collect();
            assert_close("jac_wgrad", &ctx.read(&dw).unwrap(), &dw_ref, |i, rv| {
                8.0 * U * (coef * 2.0 * f64::from(wt[i] * c[i / inputs]).abs() + rv.abs())
            });
        }
    }
}

/// The contractive gradient formulas (dz term carried to W by backprop, plus
/// the direct W term) match finite differences of the penalty's definition.
#[test]
fn contractive_gradient_matches_finite_differences() {
    let (rows, inputs, hidden, lambda) = (4, 5, 3, 0.3);
    let mut g = rng(13);
    for act in [Activation::Sigmoid, Activation::Tanh] {
        let x: Vec<f64> = (0..rows * inputs)
            .map(|_| g.random_range(0.0..1.0))
            .collect();
        let wt: Vec<f64> = (0..hidden * inputs)
            .map(|_| g.random_range(-1.0..1.0))
            .collect();
        let bias: Vec<f64> = (0..hidden).map(|_| g.random_range(-0.5..0.5)).collect();
        // Analytic: dz_bj = coef 2 s_j f' f'';  dW = dz^T x + coef 2 W c;  db = colsum dz.
        let coef = lambda / rows as f64;
        let s: Vec<f64> = (0..hidden)
            .map(|j| (0..inputs).map(|i| wt[j * inputs + i].powi(2)).sum())
            .collect();
        let mut dz = vec![0.0; rows * hidden];
        let mut c = vec![0.0; hidden];
        for b in 0..rows {
            for j in 0..hidden {
                let zz = bias[j]
                    + (0..inputs)
                        .map(|i| x[b * inputs + i] * wt[j * inputs + i])
                        .sum::<f64>();
                let (d1, d2) = r::contractive_derivatives(r::act(zz, act), act);
                dz[b * hidden + j] = coef * 2.0 * s[j] * d1 * d2;
                c[j] += d1 * d1;
            }
        }
        let pen = |wt: &[f64], bias: &[f64]| {
            r::contractive_penalty(&x, wt, bias, rows, inputs, hidden, act, lambda)
        };
        for j in 0..hidden {
            for i in 0..inputs {
                let an = (0..rows)
                    .map(|b| dz[b * hidden + j] * x[b * inputs + i])
                    .sum::<f64>()
                    + coef * 2.0 * wt[j * inputs + i] * c[j];
                let (mut wp, mut wm) = (wt.clone(), wt.clone());
                wp[j * inputs + i] += 1e-6;
                wm[j * inputs + i] -= 1e-6;
                let fd = (pen(&wp, &bias) - pen(&wm, &bias)) / 2e-6;
                assert!(
                    (fd - an).abs() < 1e-7 * (1.0 + fd.abs()),
                    "{act:?} dW[{j},{i}]: fd {fd} vs {an}"
                );
            }
            let an: f64 = (0..rows).map(|b| dz[b * hidden + j]).sum();
            let (mut bp, mut bm) = (bias.clone(), bias.clone());
            bp[j] += 1e-6;
            bm[j] -= 1e-6;
            let fd = (pen(&wt, &bp) - pen(&wt, &bm)) / 2e-6;
            assert!(
                (fd - an).abs() < 1e-7 * (1.0 + fd.abs()),
                "{act:?} db[{j}]: fd {fd} vs {an}"
            );
        }
    }
}
