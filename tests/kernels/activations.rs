//! Activations forward and backward, their extremes and derivatives.

use crate::common::{assert_close, gpu, poisoned, rand_vec, rng, tol, U};
use crate::{ACTS, SHAPES};
use rand::Rng;
use wgae::kernels::{self as ops};
use wgae::reference as r;
use wgae::Activation;

/// Rounding allowed for f(x): exact for the piecewise-linear ones; for the
/// transcendental ones a few ulps of f32 exp/tanh (WGSL gives exp 3 + 2|x| ulp).
pub(crate) fn act_tol(a: Activation) -> (f64, f64) {
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
