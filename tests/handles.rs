//! Models and trainers own a handle on the context: they can be kept in a
//! struct with no lifetime, outlive the context value they were made from,
//! and move to another thread.

mod common;

use common::gpu;
use wgae::{Autoencoder, Control, GpuContext, ModelConfig, TrainConfig, Trainer};

fn send_sync<T: Send + Sync>() {}
fn send<T: Send>() {}

#[test]
fn public_types_are_thread_safe_as_documented() {
    send_sync::<GpuContext>();
    send_sync::<Autoencoder>();
    send_sync::<wgae::GpuTensor>();
    send_sync::<wgae::Step>();
    send_sync::<wgae::data::Source>();
    send::<Trainer>();
}

/// Two trainers on one context train at the same time on two threads and
/// each ends with the bits it has alone; four threads encode with one
/// shared model at once and each gets the codes of a single thread.
#[test]
fn trainers_and_inference_run_concurrently_on_one_context() {
    let Some(ctx) = gpu() else { return };
    let ds = wgae::data::synthetic::digits(96, 5);
    let cfg = ModelConfig::dense(784, &[16, 4]);
    let tcfg = |seed| TrainConfig {
        epochs: 3,
        batch_size: 16,
        seed,
        ..TrainConfig::default()
    };
    let alone = |seed| {
        let mut t = Trainer::new(ctx, &cfg, &tcfg(seed), &ds, None).unwrap();
        t.fit(|_| Control::Continue, |_| {}).unwrap();
        t.model().params_host().unwrap()
    };
    let want = [alone(1), alone(2)];
    let got: Vec<Vec<f32>> = std::thread::scope(|s| {
        let runs: Vec<_> = [1u64, 2]
            .into_iter()
            .map(|seed| s.spawn(move || alone(seed)))
            .collect();
        runs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(got, want);

    let mut t = Trainer::new(ctx, &cfg, &tcfg(3), &ds, None).unwrap();
    t.fit(|_| Control::Continue, |_| {}).unwrap();
    let model = t.into_model();
    let codes = model.encode(&ds).unwrap();
    std::thread::scope(|s| {
        let all: Vec<_> = (0..4)
            .map(|_| s.spawn(|| model.encode(&ds).unwrap()))
            .collect();
        for h in all {
            assert_eq!(h.join().unwrap(), codes);
        }
    });
}

/// A service that keeps a model, as a host program or a Python object would.
struct Service {
    model: Autoencoder,
}

fn train_service(ctx: &GpuContext) -> Service {
    // A clone of the context, dropped when this function returns.
    let own = ctx.clone();
    let ds = wgae::data::synthetic::digits(40, 3);
    let tcfg = TrainConfig {
        epochs: 1,
        batch_size: 16,
        ..TrainConfig::default()
    };
    let mut t = Trainer::new(&own, &ModelConfig::dense(784, &[32, 8]), &tcfg, &ds, None).unwrap();
    t.fit(|_| Control::Continue, |_| {}).unwrap();
    Service {
        model: t.into_model(),
    }
}

#[test]
fn a_model_outlives_its_context_value_and_moves_to_another_thread() {
    let Some(ctx) = gpu() else { return };
    let svc = train_service(ctx);
    let ds = wgae::data::synthetic::digits(10, 9);
    let here = svc.model.encode(&ds).unwrap();
    assert_eq!(here.len(), 10 * 8);
    assert!(here.iter().all(|v| v.is_finite()));
    let ds2 = ds.clone();
    let there = std::thread::spawn(move || svc.model.encode(&ds2).unwrap())
        .join()
        .unwrap();
    assert_eq!(
        here, there,
        "the same model gives the same codes on another thread"
    );
}

#[test]
fn a_trainer_moves_to_a_worker_thread() {
    let Some(ctx) = gpu() else { return };
    let ds = wgae::data::synthetic::digits(24, 4);
    let tcfg = TrainConfig {
        epochs: 2,
        batch_size: 8,
        ..TrainConfig::default()
    };
    let cfg = ModelConfig::dense(784, &[16, 4]);
    let mut here = Trainer::new(ctx, &cfg, &tcfg, &ds, None).unwrap();
    let there = Trainer::new(ctx, &cfg, &tcfg, &ds, None).unwrap();
    here.fit(|_| Control::Continue, |_| {}).unwrap();
    let worker = std::thread::spawn(move || {
        let mut t = there;
        t.fit(|_| Control::Continue, |_| {}).unwrap();
        t.model().params_host().unwrap()
    });
    assert_eq!(here.model().params_host().unwrap(), worker.join().unwrap());
}

/// A device lost in the middle of training (destroyed here) comes back as
/// an error from the next call, never a panic or an abort.
#[test]
fn a_lost_device_is_an_error() {
    let Ok(ctx) = GpuContext::new() else { return };
    let ds = wgae::data::synthetic::digits(64, 6);
    let tcfg = TrainConfig {
        epochs: 3,
        batch_size: 16,
        ..TrainConfig::default()
    };
    let cfg = ModelConfig::dense(784, &[8]);
    let mut t = Trainer::new(&ctx, &cfg, &tcfg, &ds, None).unwrap();
    let mut epochs = 0;
    let r = t.fit(
        |_| {
            epochs += 1;
            if epochs == 1 {
                ctx.device.destroy();
            }
            Control::Continue
        },
        |_| {},
    );
    let e = r.expect_err("training on a destroyed device");
    eprintln!("{e}");
    assert!(
        matches!(
            e,
            wgae::Error::DeviceLost { .. }
                | wgae::Error::Validation { .. }
                | wgae::Error::Internal { .. }
        ),
        "{e:?}"
    );
    assert!(t.model().params_host().is_err());
}
