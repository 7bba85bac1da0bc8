//! Pins what the engine computes, bit for bit, across refactoring: a few
//! configurations are trained from a fixed seed and the trained parameters,
//! the codes and the reconstructions are hashed. The digests were recorded on
//! lavapipe (the CI adapter) before the layer/kernel-family redesign, and the
//! redesign must leave them unchanged.
//!
//! Other adapters round differently (fused multiply-adds, other libm), so
//! there the pinned values are not asserted; the tests still check that the
//! rule plan and the tuned plan, and two runs of each, agree bit for bit.
//! `WGAE_TEST_VERBOSE=1` prints the digests.

mod common;

use common::gpu;
use wgae::kernels::{Activation, Noise};
use wgae::train::OptimizerName;
use wgae::{Control, Dataset, GpuContext, LossKind, ModelConfig, Precision, TrainConfig};

/// FNV-1a over the bits of every value.
fn digest(values: &[f32]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for v in values {
        for b in v.to_bits().to_le_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// 37 rows of 784 synthetic digit pixels: batch 16 leaves a partial batch.
fn data() -> Dataset {
    wgae::data::synthetic::digits(37, 5)
}

fn train_cfg() -> TrainConfig {
    TrainConfig {
        epochs: 2,
        batch_size: 16,
        optimizer: OptimizerName::Adam,
        lr: 3e-3,
        seed: 11,
        ..TrainConfig::default()
    }
}

/// Digests after two epochs: the parameters, then the codes and the
/// reconstructions in f32 and, where the adapter has shader-f16, in mixed
/// precision (0 where it has not).
fn run(ctx: &GpuContext, cfg: &ModelConfig) -> [u64; 5] {
    let ds = data();
    let mut t = common::trainer(ctx, cfg, &train_cfg(), &ds);
    t.fit(|_| Control::Continue, |_| {}).unwrap();
    let model = t.model();
    let params = model.params_host().unwrap();
    let codes = model.encode(&ds).unwrap();
    let rec = model.reconstruct(&ds).unwrap();
    let (codes16, rec16) = if ctx.has_f16() {
        (
            digest(&model.encode_with(&ds, Precision::F16).unwrap()),
            digest(&model.reconstruct_with(&ds, Precision::F16).unwrap()),
        )
    } else {
        (0, 0)
    };
    [
        digest(&params),
        digest(&codes),
        digest(&rec),
        codes16,
        rec16,
    ]
}

fn tuned() -> Option<&'static GpuContext> {
    static CTX: std::sync::OnceLock<Option<GpuContext>> = std::sync::OnceLock::new();
    CTX.get_or_init(|| {
        gpu()?;
        let mut opts = common::context_options();
        opts.tune = Some(true);
        Some(GpuContext::with_options(&opts).expect("a tuned context"))
    })
    .as_ref()
}

/// Trains `cfg` on the rule plan twice, on the tuned plan and on the other
/// plan (see `common::gpu_other_plan`) once each; all four must agree, and on lavapipe they must equal `pinned`.
fn check(name: &str, cfg: &ModelConfig, pinned: [u64; 5]) {
    let (Some(ctx), Some(tuned)) = (gpu(), tuned()) else {
        return;
    };
    let a = run(ctx, cfg);
    let b = run(ctx, cfg);
    let c = run(tuned, cfg);
    let other = common::gpu_other_plan().map(|o| run(o, cfg));
    if std::env::var("WGAE_TEST_VERBOSE").is_ok() {
        eprintln!(
            "{name}: [{:#018x}, {:#018x}, {:#018x}, {:#018x}, {:#018x}]",
            a[0], a[1], a[2], a[3], a[4]
        );
    }
    assert_eq!(a, b, "{name}: two runs from one seed differ");
    assert_eq!(a, c, "{name}: the tuned plan differs from the rule plan");
    assert_eq!(
        Some(a),
        other,
        "{name}: the other plan (other matmul kernels, fusion and loss lanes) differs"
    );
    if ctx.adapter_name().to_ascii_lowercase().contains("llvmpipe") {
        assert_eq!(
            a, pinned,
            "{name}: the trained bits changed (params; codes, reconstructions in f32 and f16); \
             a refactoring must not change results"
        );
    } else {
        eprintln!(
            "{name}: digests pinned on lavapipe only; adapter '{}' checked for determinism",
            ctx.adapter_name()
        );
    }
}

#[test]
fn plain() {
    check(
        "plain",
        &ModelConfig::dense(784, &[64, 16]),
        [
            0x1a2ca1a4e22f9246,
            0x2892a7434633057a,
            0x3e174f4f766be0b8,
            0x1549848cc670d2f5,
            0x95f318e6b3886e6b,
        ],
    );
}

#[test]
fn deep_mse() {
    let cfg = ModelConfig::dense(784, &[96, 48, 12])
        .act(Activation::Tanh)
        .out_act(Activation::Identity)
        .loss(LossKind::Mse);
    check(
        "deep mse",
        &cfg,
        [
            0x86f6fd5515973183,
            0x283e49a5ecbb6ab2,
            0xe33d9ea5cafcd5f5,
            0x4f8514b00c80b07d,
            0xcf7dfe6f7c481098,
        ],
    );
}

#[test]
fn tied() {
    check(
        "tied",
        &ModelConfig::dense(784, &[64, 16]).tied(true),
        [
            0x86add40716e9aeaf,
            0xdb3799445e59fedc,
            0x2dd8de7ea6266130,
            0x4c95b98b668c7ab8,
            0xd767a70ab284a1b8,
        ],
    );
}

#[test]
fn vae() {
    check(
        "vae",
        &ModelConfig::dense(784, &[64, 8]).variational(1.0),
        [
            0x08924e7f70725b84,
            0xa42c25a39b2e85ec,
            0x94f6970c612690bd,
            0xed86d9fe75c01ed9,
            0x90100bee2715485e,
        ],
    );
}

#[test]
fn contractive() {
    let cfg = ModelConfig::dense(784, &[32])
        .code_act(Activation::Sigmoid)
        .contractive(0.05);
    check(
        "contractive",
        &cfg,
        [
            0xcf9d784be4e8e914,
            0xa9811b3ab241fc3e,
            0x8f9372dffa01db37,
            0xb57eb94c07a28da9,
            0xaaf9375d50e8f033,
        ],
    );
}

#[test]
fn denoising_with_dropout_and_sparsity() {
    let cfg = ModelConfig::dense(784, &[64, 16])
        .act(Activation::Gelu)
        .noise(Noise::Mask(0.3))
        .dropout(0.2)
        .l1(1e-3);
    check(
        "denoising dropout",
        &cfg,
        [
            0xa80d0a0cd174f301,
            0x4a9b54851e1402fd,
            0xf3af5a47631bf498,
            0x8830fd7bb88b94ed,
            0x98ba161bee99e6e7,
        ],
    );
}
