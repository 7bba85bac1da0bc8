//! Shared by the GPU tests: one context for the whole test binary, random
//! inputs, poisoned outputs, and an llm.c-style comparison that prints the
//! first mismatches.
#![allow(dead_code)]

pub mod three_steps;
pub mod twin_gradients;

use std::sync::OnceLock;

use rand::{rngs::StdRng, Rng, SeedableRng};
use wgae::plan::PlanOptions;
use wgae::{GpuContext, GpuTensor};

/// f32 unit roundoff.
#[allow(unused_imports)] // not every test binary compares with a twin
pub use wgae::reference::bounds::U;

/// The GPU every test uses. There is no silent skip: without an adapter the
/// test fails and says how to get one (lavapipe). Outside CI only, setting
/// WGAE_SKIP_GPU_TESTS=1 turns that into a loud skip.
pub fn gpu() -> Option<&'static GpuContext> {
    static CTX: OnceLock<Result<GpuContext, String>> = OnceLock::new();
    let ctx =
        CTX.get_or_init(|| GpuContext::with_options(&context_options()).map_err(|e| e.to_string()));
    match ctx {
        Ok(c) => Some(c),
        Err(e) => {
            let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
            let skip = std::env::var("WGAE_SKIP_GPU_TESTS").is_ok_and(|v| v == "1");
            if skip && !in_ci {
                eprintln!("SKIPPED (WGAE_SKIP_GPU_TESTS=1): no GPU adapter: {e}");
                return None;
            }
            panic!(
                "no GPU adapter, so this GPU test cannot run: {e}\n\
                 Install Mesa's software Vulkan driver: apt-get install mesa-vulkan-drivers libvulkan1\n\
                 (outside CI, WGAE_SKIP_GPU_TESTS=1 skips GPU tests with a message)"
            );
        }
    }
}

/// The context options the environment asks for (`WGAE_*`, through
/// `wgae::env`); the defaults where that module is left out.
pub fn context_options() -> wgae::gpu::ContextOptions {
    #[cfg(feature = "env")]
    return wgae::env::context_options().unwrap();
    #[cfg(not(feature = "env"))]
    return wgae::gpu::ContextOptions::default();
}

/// The plan options the environment asks for (`WGAE_FUSE_ACT_GRAD`,
/// `WGAE_CONV`); the defaults where `wgae::env` is left out.
pub fn plan_options() -> PlanOptions {
    #[cfg(feature = "env")]
    return wgae::env::plan_options().unwrap();
    #[cfg(not(feature = "env"))]
    return PlanOptions::default();
}

/// A second context on the same adapter with the other kernels: the other
/// matmul kernel and the other width of the per-row loss kernels. Models
/// on it are planned with [`other_plan_options`] (see [`plan_for`]): the
/// other choice of fusing activation gradients and the other convolution
/// algorithm. So both plans are tested whichever one the adapter prefers.
pub fn gpu_other_plan() -> Option<&'static GpuContext> {
    static CTX: OnceLock<Option<GpuContext>> = OnceLock::new();
    CTX.get_or_init(|| {
        let first = gpu()?;
        let mut opts = context_options();
        opts.matmul_direct = Some(!first.matmul_direct());
        opts.row_lanes = Some(if first.row_lanes() == 8 { 64 } else { 8 });
        Some(GpuContext::with_options(&opts).expect("a second context on the same adapter"))
    })
    .as_ref()
}

/// The first plan's choices, each flipped (`WGAE_FUSE_ACT_GRAD` and
/// `WGAE_CONV` set the first).
pub fn other_plan_options() -> PlanOptions {
    let first = plan_options();
    gpu().map_or(first, |ctx| first.flipped(ctx))
}

/// How a test's models on `ctx` are planned: the other plan's options on
/// [`gpu_other_plan`], the environment's (the defaults) elsewhere.
pub fn plan_for(ctx: &GpuContext) -> PlanOptions {
    match gpu_other_plan() {
        Some(other) if std::ptr::eq(other, ctx) => other_plan_options(),
        _ => plan_options(),
    }
}

/// A trainer of a fresh model of `cfg` on `ctx`, planned as [`plan_for`]
/// says.
pub fn trainer(
    ctx: &GpuContext,
    cfg: &wgae::ModelConfig,
    tcfg: &wgae::TrainConfig,
    data: &wgae::Dataset,
) -> wgae::Trainer {
    let model = wgae::Autoencoder::new(ctx, cfg, tcfg.seed)
        .unwrap()
        .with_plan_options(plan_for(ctx));
    wgae::Trainer::with_model(model, tcfg, data, None).unwrap()
}

pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

pub fn rand_vec(r: &mut StdRng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n).map(|_| r.random_range(lo..hi)).collect()
}

/// An output tensor filled with NaN, so any element a kernel fails to write
/// shows up in the comparison.
pub fn poisoned(ctx: &GpuContext, n: usize) -> GpuTensor {
    ctx.upload("poisoned output", &vec![f32::NAN; n]).unwrap()
}

/// Compares GPU results with the f64 reference element by element:
/// |gpu - ref| <= tol(i, ref). Prints the first mismatches and maxdiff, then
/// panics if any element is off (or NaN).
pub fn assert_close(name: &str, gpu: &[f32], reference: &[f64], tol: impl Fn(usize, f64) -> f64) {
    assert_eq!(gpu.len(), reference.len(), "{name}: length mismatch");
    let mut bad = 0usize;
    let mut maxdiff = 0.0f64;
    let mut worst_ratio = 0.0f64;
    for (i, (&g, &r)) in gpu.iter().zip(reference).enumerate() {
        let d = (f64::from(g) - r).abs();
        let t = tol(i, r);
        if d.is_finite() {
            maxdiff = maxdiff.max(d);
        }
        if t > 0.0 && d.is_finite() {
            worst_ratio = worst_ratio.max(d / t);
        }
        // NaN in either fails: `d > t` alone would let NaN through.
        if d.is_nan() || d > t {
            if bad < 8 {
                eprintln!("{name}: mismatch at {i}: gpu {g:e} ref {r:e} diff {d:e} tol {t:e}");
            }
            bad += 1;
        }
    }
    if std::env::var("WGAE_TEST_VERBOSE").is_ok() {
        eprintln!("{name}: maxdiff {maxdiff:e}, worst diff/tol {worst_ratio:.3}");
    }
    assert!(
        bad == 0,
        "{name}: {bad} of {} elements out of tolerance (maxdiff {maxdiff:e})",
        gpu.len()
    );
}

/// atol + rtol * |ref|.
pub fn tol(atol: f64, rtol: f64) -> impl Fn(usize, f64) -> f64 {
    move |_, r| atol + rtol * r.abs()
}

/// The MNIST directory: `WGAE_MNIST_DIR`, or `../shared/data/mnist`.
pub fn mnist_dir() -> std::path::PathBuf {
    std::env::var_os("WGAE_MNIST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from("../shared/data/mnist"))
}
