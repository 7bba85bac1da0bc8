//! Shared by the GPU tests: one context for the whole test binary, random
//! inputs, poisoned outputs, and an llm.c-style comparison that prints the
//! first mismatches.
#![allow(dead_code)]

pub mod three_steps;

use std::sync::OnceLock;

use rand::{rngs::StdRng, Rng, SeedableRng};
use wgae::{GpuContext, GpuTensor};

/// f32 unit roundoff.
pub const U: f64 = f32::EPSILON as f64 / 2.0;

/// The GPU every test uses. There is no silent skip: without an adapter the
/// test fails and says how to get one (lavapipe). Outside CI only, setting
/// WGAE_SKIP_GPU_TESTS=1 turns that into a loud skip.
pub fn gpu() -> Option<&'static GpuContext> {
    static CTX: OnceLock<Result<GpuContext, String>> = OnceLock::new();
    let ctx = CTX.get_or_init(|| GpuContext::new().map_err(|e| e.to_string()));
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

/// A second context on the same adapter with the other plan: the other
/// matmul kernel, the other choice of fusing activation gradients, the
/// other width of the per-row loss kernels and the other convolution
/// algorithm, so that both plans are tested whichever one the adapter
/// prefers.
pub fn gpu_other_plan() -> Option<&'static GpuContext> {
    static CTX: OnceLock<Option<GpuContext>> = OnceLock::new();
    CTX.get_or_init(|| {
        let first = gpu()?;
        let mut opts = wgae::gpu::ContextOptions::from_env().unwrap();
        opts.matmul_direct = Some(!first.matmul_direct());
        opts.fuse_act_grad = Some(!first.fuse_act_grad());
        opts.row_lanes = Some(if first.row_lanes() == 8 { 64 } else { 8 });
        opts.conv_im2col = Some(!first.conv_im2col());
        Some(GpuContext::with_options(&opts).expect("a second context on the same adapter"))
    })
    .as_ref()
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
