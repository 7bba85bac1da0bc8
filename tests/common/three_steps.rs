//! The training engine against its f64 twin, shared by the test binaries
//! that check a model kind: three GPU training steps (one epoch of 21 rows
//! at batch 8, so the last batch is partial) match three f64 reference
//! steps on the same shuffled batches, the same initial weights and the
//! same random draws, under both of the GPU's plans.

use super::{assert_close, gpu, rand_vec, rng};
use wgae::reference::epoch::reference_epoch;
use wgae::train::OptimizerName;
use wgae::{Control, Dataset, GpuContext, ModelConfig, TrainConfig};

pub const ROWS: usize = 21;
pub const DIM: usize = 13;
pub const BATCH: usize = 8;

pub fn toy_data(seed: u64) -> Dataset {
    toy_data_of(seed, DIM)
}

/// ROWS rows of `dim` values in [0, 1).
pub fn toy_data_of(seed: u64, dim: usize) -> Dataset {
    let mut g = rng(seed);
    Dataset::new(rand_vec(&mut g, ROWS * dim, 0.0, 1.0), ROWS, dim, None).unwrap()
}

pub fn sgd(lr: f32) -> TrainConfig {
    TrainConfig {
        epochs: 1,
        batch_size: BATCH,
        optimizer: OptimizerName::Sgd,
        lr,
        seed: 7,
        ..TrainConfig::default()
    }
}

/// Trains one epoch on the GPU and three steps in f64, then compares the
/// parameter arenas, each element to the steps' f32 rounding
/// (`reference::epoch::RefEpoch::tolerance`: 1e-4 of the sum of its step
/// sizes, plus 1e-4 of the largest step in its tensor, plus the rounding of
/// the stored value). A wrong term of relative size >1e-3 in any gradient
/// fails.
pub fn check_three_steps(name: &str, cfg: &ModelConfig, tcfg: &TrainConfig) {
    let (Some(ctx), Some(other)) = (gpu(), super::gpu_other_plan()) else {
        return;
    };
    let mut results: Vec<(String, Vec<f32>)> = Vec::new();
    for ctx in [ctx, other] {
        let opts = super::plan_for(ctx);
        let plan = format!(
            "{name} [{} conv, {} matmul, activation gradients {}]",
            if opts.im2col() { "im2col" } else { "direct" },
            if ctx.matmul_direct() {
                "direct"
            } else {
                "tiled"
            },
            if opts.fuses_act_grad(ctx) {
                "fused"
            } else {
                "written"
            }
        );
        let params = check_three_steps_on(ctx, &plan, cfg, tcfg);
        results.push((plan, params));
    }
    // The plans differ in kernels and in where dz is formed, never in the
    // arithmetic: they train to the same bits, which is what lets wgae
    // choose kernels per shape by speed (crate::kernels::matmul::tune). The
    // two convolution algorithms (direct loops, im2col and a matmul) sum in
    // other orders, so a conv model's plans are each held to the reference
    // alone.
    if cfg.layers().iter().any(|l| {
        matches!(
            l.kind,
            wgae::model::LayerKind::Conv(_) | wgae::model::LayerKind::ConvTranspose(_)
        )
    }) {
        return;
    }
    let (first, want) = &results[0];
    for (plan, got) in &results[1..] {
        let differ = want
            .iter()
            .zip(got)
            .filter(|(x, y)| x.to_bits() != y.to_bits())
            .count();
        assert_eq!(
            differ,
            0,
            "{plan} trained to different bits than {first} in {differ} of {} parameters",
            want.len()
        );
    }
}

/// Returns the trained parameters.
pub fn check_three_steps_on(
    ctx: &GpuContext,
    name: &str,
    cfg: &ModelConfig,
    tcfg: &TrainConfig,
) -> Vec<f32> {
    let mut data = toy_data_of(3, cfg.input_dim);
    if cfg.missing == wgae::model::Missing::Mask {
        // About a quarter of the entries missing.
        let mut g = rng(4);
        for v in &mut data.data {
            if rand::Rng::random::<f32>(&mut g) < 0.25 {
                *v = wgae::kernels::MISSING;
            }
        }
    }
    let mut trainer = super::trainer(ctx, cfg, tcfg, &data);
    assert_eq!(trainer.steps_per_epoch(), 3);
    let p0 = trainer.model().params_host().unwrap();
    trainer.fit(|_| Control::Continue, |_| {}).unwrap();
    assert_eq!(trainer.step_count().unwrap(), 3, "{name}: step counter");
    let p_gpu = trainer.model().params_host().unwrap();

    let reference = reference_epoch(cfg, tcfg, trainer.model().layout(), &p0, &data);
    assert!(reference.losses.iter().all(|l| l.is_finite()));
    let moved = reference.moved;
    assert!(
        moved > p0.len() / 3,
        "{name}: the reference barely moved ({moved} of {})",
        p0.len()
    );
    assert_close(
        &format!("{name}: params after 3 steps"),
        &p_gpu,
        &reference.params,
        |i, _| reference.tolerance[i],
    );
    p_gpu
}
