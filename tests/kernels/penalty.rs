//! The L1 and KL sparsity penalties.

use crate::common::{assert_close, gpu, poisoned, rand_vec, rng, tol, U};
use crate::SHAPES;
use rand::Rng;
use wgae::kernels::{self as ops};
use wgae::reference as r;

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
