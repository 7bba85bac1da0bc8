//! Swapping each sample's two axes (the `permute` layer).

use crate::common::{assert_close, gpu, poisoned, rand_vec, rng, tol};
use wgae::kernels as ops;
use wgae::reference as r;

#[test]
fn swap_axes_matches_the_twin_and_undoes_itself() {
    let Some(ctx) = gpu() else { return };
    for (si, &(rows, a, b)) in [
        (1usize, 1usize, 1usize),
        (3, 7, 5),
        (17, 33, 3),
        (2, 1, 9),
        (5, 64, 16),
    ]
    .iter()
    .enumerate()
    {
        let x = rand_vec(&mut rng(9400 + si as u64), rows * a * b, -1.0, 1.0);
        let tx = ctx.upload("x", &x).unwrap();
        let ty = poisoned(ctx, rows * a * b);
        let back = poisoned(ctx, rows * a * b);
        ctx.run(&[
            &ops::swap_axes(ctx, rows, a, b, &tx, &ty).unwrap(),
            &ops::swap_axes(ctx, rows, b, a, &ty, &back).unwrap(),
        ])
        .unwrap();
        let name = format!("swap {rows}x{a}x{b}");
        assert_close(
            &name,
            &ctx.read(&ty).unwrap(),
            &r::swap_axes(&x, rows, a, b),
            tol(0.0, 0.0),
        );
        let x64: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
        assert_close(
            &format!("{name} back"),
            &ctx.read(&back).unwrap(),
            &x64,
            tol(0.0, 0.0),
        );
    }
    let t = ctx.zeros("t", 10).unwrap();
    assert!(
        ops::swap_axes(ctx, 2, 2, 3, &t, &t).is_err(),
        "12 values in 10"
    );
}
