//! The smallest honest wgae program: open the GPU, run one fused matmul
//! (relu(x . w^T + b)) and check it against the f64 reference.
//!
//!     cargo run --release --example hello_gpu

use wgae::kernels::{self as ops, MatmulSpec};
use wgae::{reference, Activation, GpuContext};

fn main() -> wgae::Result<()> {
    let ctx = GpuContext::new()?;
    println!(
        "adapter: {} ({:?}{})",
        ctx.adapter_name(),
        ctx.adapter_info().backend,
        if ctx.is_software() { ", software" } else { "" }
    );

    let (m, n, k) = (4, 3, 5);
    let x: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
    let w: Vec<f32> = (0..n * k).map(|i| (i as f32 * 0.21).cos()).collect();
    let b = vec![0.1f32, -0.2, 0.3];

    let tx = ctx.upload("x", &x)?;
    let tw = ctx.upload("w", &w)?;
    let tb = ctx.upload("b", &b)?;
    let th = ctx.zeros("h", m * n)?;
    let spec = MatmulSpec {
        act: Activation::Relu,
        ..MatmulSpec::new(m, n, k, false, true)
    };
    let step = ops::matmul(&ctx, &spec, &tx, &tw, Some(&tb), &th)?;
    ctx.run(&[&step])?;
    let h = ctx.read(&th)?;

    let (acc, _) = reference::matmul(&x, &w, m, n, k, false, true);
    let want = reference::matmul_epilogue(&acc, n, 1.0, Some(&b), Activation::Relu, 0.0, &[]);
    let maxdiff = h
        .iter()
        .zip(&want)
        .map(|(g, r)| (f64::from(*g) - r).abs())
        .fold(0.0, f64::max);
    for row in h.chunks(n) {
        println!("  {row:?}");
    }
    println!("max |gpu - f64 reference| = {maxdiff:.2e}");
    Ok(())
}
