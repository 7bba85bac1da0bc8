//! axpby, fill and L2 decay.

use crate::common::{assert_close, gpu, poisoned, rand_vec, rng, tol, U};
use crate::SHAPES;
use wgae::kernels::{self as ops};
use wgae::reference as r;

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
