//! Training and inference throughput. A training step is one prerecorded pass
//! of dispatches; the clock stops after waiting for the device. Criterion's
//! "elem/s" here counts samples.
//!
//! Configurations: 784-32-784 at batch 256 (always), the Keras blog's
//! convolutional autoencoder (examples/configs/conv.toml) at batch 128
//! (always; WGAE_CONV=direct measures the direct loops instead of im2col),
//! and the wide 4096-1024-256 at batch 1024 when WGAE_BENCH_WIDE=1 (minutes
//! per step on a software adapter).

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use wgae::{Dataset, GpuContext, ModelConfig, TrainConfig, Trainer};

fn data(rows: usize, cols: usize) -> Dataset {
    let v = (0..rows * cols)
        .map(|i| ((i * 2_654_435_761usize) % 1000) as f32 / 1000.0)
        .collect();
    Dataset::new(v, rows, cols, None).unwrap()
}

fn bench_training(c: &mut Criterion) {
    let opts = wgae::env::context_options().expect("WGAE_* settings");
    let ctx = GpuContext::with_options(&opts)
        .expect("a GPU adapter (or lavapipe) is needed for benchmarks");
    let plan = wgae::env::plan_options().expect("WGAE_CONV, WGAE_FUSE_ACT_GRAD");
    eprintln!("adapter: {}", ctx.adapter_name());
    let conv = wgae::train::ConfigFile::from_toml(include_str!("../examples/configs/conv.toml"))
        .unwrap()
        .model;
    let mut configs = vec![(ModelConfig::dense(784, &[32]), 256usize), (conv, 128)];
    if std::env::var("WGAE_BENCH_WIDE").is_ok_and(|v| v == "1") {
        configs.push((ModelConfig::dense(4096, &[1024, 256]), 1024));
    }
    let mut group = c.benchmark_group("train");
    for (model, batch) in configs {
        let name = if model.is_layered() {
            "conv".to_string()
        } else {
            std::iter::once(model.input_dim)
                .chain(model.encoder.iter().copied())
                .map(|w| w.to_string())
                .collect::<Vec<_>>()
                .join("-")
        };
        let ds = data(batch * 8, model.input_dim);
        let t = TrainConfig {
            epochs: 1,
            batch_size: batch,
            ..TrainConfig::default()
        };
        let m = wgae::Autoencoder::new(&ctx, &model, t.seed)
            .unwrap()
            .with_plan_options(plan);
        let mut trainer = Trainer::with_model(m, &t, &ds, None).unwrap();
        trainer.run_steps(2).unwrap(); // warm-up
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(BenchmarkId::new("step", format!("{name} b{batch}")), |b| {
            b.iter_custom(|iters| {
                let t0 = Instant::now();
                trainer.run_steps(iters as usize).unwrap();
                t0.elapsed()
            })
        });
        group.throughput(Throughput::Elements((batch * 8) as u64));
        group.bench_function(
            BenchmarkId::new("epoch", format!("{name} b{batch}, 8 steps")),
            |b| {
                b.iter_custom(|iters| {
                    let t0 = Instant::now();
                    for _ in 0..iters {
                        trainer.run_steps(8).unwrap();
                    }
                    t0.elapsed()
                })
            },
        );
        let m = trainer.model();
        let probe = ds.take(1024);
        group.throughput(Throughput::Elements(probe.rows as u64));
        group.bench_function(
            BenchmarkId::new("reconstruct", format!("{name} {} rows", probe.rows)),
            |b| {
                b.iter_custom(|iters| {
                    let t0 = Instant::now();
                    for _ in 0..iters {
                        m.reconstruct(&probe).unwrap();
                    }
                    t0.elapsed()
                })
            },
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(4));
    targets = bench_training
}
criterion_main!(benches);
