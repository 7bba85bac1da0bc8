//! Large tensors fold their dispatch into 2-D.

use crate::activations::act_tol;
use crate::common::{assert_close, gpu, poisoned, rand_vec, rng, tol, U};
use wgae::kernels::{self as ops, Loss};
use wgae::reference as r;
use wgae::Activation;

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
