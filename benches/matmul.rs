//! Matmul throughput for the three layouts backprop uses, at several sizes,
//! in f32 and, where the adapter has shader-f16, in mixed precision ("/f16").
//! Criterion's "elem/s" here counts floating-point operations (2·M·N·K per
//! product), so "Gelem/s" reads as GFLOP/s. The device is waited on inside
//! the timed region.
//!
//! Sizes come from WGAE_BENCH_SIZES ("MxNxK,..."), default a set that runs in
//! reasonable time on a software adapter; on a real GPU try
//! WGAE_BENCH_SIZES=1024x1024x1024,4096x4096x4096.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use wgae::kernels::{self as ops, MatmulSpec};
use wgae::GpuContext;

fn sizes() -> Vec<(usize, usize, usize)> {
    let spec = std::env::var("WGAE_BENCH_SIZES")
        .unwrap_or_else(|_| "256x784x32,256x32x784,512x512x512,1024x1024x1024".into());
    spec.split(',')
        .map(|s| {
            let d: Vec<usize> = s
                .split('x')
                .map(|v| v.trim().parse().expect("size MxNxK"))
                .collect();
            assert_eq!(d.len(), 3, "size {s} is not MxNxK");
            (d[0], d[1], d[2])
        })
        .collect()
}

fn bench_matmul(c: &mut Criterion) {
    let opts = wgae::env::context_options().expect("WGAE_* settings");
    let ctx = GpuContext::with_options(&opts)
        .expect("a GPU adapter (or lavapipe) is needed for benchmarks");
    eprintln!(
        "adapter: {} ({:?})",
        ctx.adapter_name(),
        ctx.adapter_info().backend
    );
    let mut group = c.benchmark_group("matmul");
    for (m, n, k) in sizes() {
        for (layout, ta, tb) in [
            ("A.B", false, false),
            ("At.B", true, false),
            ("A.Bt", false, true),
        ] {
            let spec = MatmulSpec::new(m, n, k, ta, tb);
            let a = ctx.upload("a", &vec![0.5f32; m * k]).unwrap();
            let b = ctx.upload("b", &vec![0.25f32; k * n]).unwrap();
            let out = ctx.zeros("c", m * n).unwrap();
            let mut steps = vec![(
                layout.to_string(),
                ops::matmul(&ctx, &spec, &a, &b, None, &out).unwrap(),
            )];
            // Mixed precision (f16 operands, f32 sums) where the adapter has it.
            let half = if ctx.has_f16() {
                let a16 = ctx.upload_f16("a16", &vec![0.5f32; m * k]).unwrap();
                let b16 = ctx.upload_f16("b16", &vec![0.25f32; k * n]).unwrap();
                let out = ops::MatmulOut::F32(&out);
                let step = ops::matmul_f16(&ctx, &spec, &a16, &b16, None, out).unwrap();
                steps.push((format!("{layout}/f16"), step));
                Some((a16, b16))
            } else {
                None
            };
            for (name, step) in &steps {
                ctx.run_wait(&[step]).unwrap(); // pipeline warm-up
                group.throughput(Throughput::Elements(spec.flops() as u64));
                group.bench_with_input(
                    BenchmarkId::new(name, format!("{m}x{n}x{k}")),
                    step,
                    |bch, step| {
                        bch.iter_custom(|iters| {
                            let start = Instant::now();
                            for _ in 0..iters {
                                ctx.run(&[step]).unwrap();
                            }
                            ctx.wait().unwrap();
                            start.elapsed()
                        })
                    },
                );
            }
            drop(half);
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = bench_matmul
}
criterion_main!(benches);
