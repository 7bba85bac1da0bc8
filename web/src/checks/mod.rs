//! The kernel checks that run inside a browser: every pipeline compiled by
//! the browser's WGSL compiler (Tint in Chromium), a representative set of
//! kernels against their f64 twins on odd shapes with poisoned outputs,
//! and whole training steps against the f64 trainer. The same code runs
//! natively (`native-checks`), so that the browser's figures can be set
//! beside the native adapter's: the same checks, the same data, the same
//! seeds.
//!
//! Everything here is async and reads back with `read_async`: a browser's
//! thread cannot wait for the GPU.

mod compile;
mod kernels;
mod training;

use serde::Serialize;
use wgae::GpuContext;

/// f32's unit roundoff.
pub(crate) use wgae::reference::bounds::U;

/// One check's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// What was checked ("matmul Direct 33x65x7", "train dense adam").
    pub name: String,
    pub ok: bool,
    /// Why it failed, or what was skipped and why.
    pub detail: String,
    /// The largest error over its tolerance (<= 1 passes).
    pub worst: f64,
    /// What a second run (the other adapter) must reproduce: a training
    /// check's trained parameters, sampled.
    pub values: Vec<f64>,
    /// Each sampled value's tolerance against the f64 reference: two runs
    /// that both pass differ by at most the sum of theirs.
    pub tolerances: Vec<f64>,
}

impl Check {
    fn pass(name: impl Into<String>, worst: f64) -> Self {
        Self {
            name: name.into(),
            ok: true,
            detail: String::new(),
            worst,
            values: Vec::new(),
            tolerances: Vec::new(),
        }
    }

    fn fail(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ok: false,
            detail: detail.into(),
            worst: f64::INFINITY,
            values: Vec::new(),
            tolerances: Vec::new(),
        }
    }
}

/// What the adapter offers that the checks depend on.
#[derive(Clone, Debug, Serialize)]
pub struct Adapter {
    pub name: String,
    pub backend: String,
    pub subgroups: bool,
    pub f16: bool,
    pub max_storage_buffer_binding_size: u64,
    pub max_buffer_size: u64,
    pub max_compute_workgroup_storage_size: u32,
    pub max_compute_invocations_per_workgroup: u32,
    pub max_compute_workgroups_per_dimension: u32,
    pub max_storage_buffers_per_shader_stage: u32,
}

impl Adapter {
    pub fn of(ctx: &GpuContext) -> Self {
        let l = ctx.limits();
        Self {
            name: ctx.adapter_name().to_string(),
            backend: format!("{:?}", ctx.adapter_info().backend),
            subgroups: ctx.has_subgroups(),
            f16: ctx.has_f16(),
            max_storage_buffer_binding_size: l.max_storage_buffer_binding_size,
            max_buffer_size: l.max_buffer_size,
            max_compute_workgroup_storage_size: l.max_compute_workgroup_storage_size,
            max_compute_invocations_per_workgroup: l.max_compute_invocations_per_workgroup,
            max_compute_workgroups_per_dimension: l.max_compute_workgroups_per_dimension,
            max_storage_buffers_per_shader_stage: l.max_storage_buffers_per_shader_stage,
        }
    }
}

/// Every check's outcome on one adapter.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub adapter: Adapter,
    pub checks: Vec<Check>,
    pub passed: bool,
    pub seconds: f64,
}

/// Runs every check on `ctx`; `progress` hears each one as it ends (a page
/// shows them as they come).
pub async fn run_all(ctx: &GpuContext, mut progress: impl FnMut(&Check)) -> Report {
    let t0 = web_time::Instant::now();
    let mut checks = Vec::new();
    let mut add = |c: Check, checks: &mut Vec<Check>| {
        progress(&c);
        checks.push(c);
    };
    for c in compile::every_pipeline(ctx).await {
        add(c, &mut checks);
    }
    for c in kernels::all(ctx).await {
        add(c, &mut checks);
    }
    for c in training::all(ctx).await {
        add(c, &mut checks);
    }
    Report {
        adapter: Adapter::of(ctx),
        passed: checks.iter().all(|c| c.ok),
        checks,
        seconds: t0.elapsed().as_secs_f64(),
    }
}

/// The largest `|got - want| / tol(i, want)` (NaN, a poisoned output left
/// unwritten, counts as infinite).
pub(crate) fn worst(got: &[f32], want: &[f64], tol: impl Fn(usize, f64) -> f64) -> f64 {
    if got.len() != want.len() {
        return f64::INFINITY;
    }
    got.iter()
        .zip(want)
        .enumerate()
        .map(|(i, (&g, &w))| {
            let e = (f64::from(g) - w).abs() / tol(i, w);
            if e.is_nan() {
                f64::INFINITY
            } else {
                e
            }
        })
        .fold(0.0, f64::max)
}

/// A check from its worst ratio.
pub(crate) fn judged(name: String, worst: f64) -> Check {
    if worst <= 1.0 {
        Check::pass(name, worst)
    } else {
        let mut c = Check::fail(name, format!("error {worst:.3e} times the tolerance"));
        c.worst = worst;
        c
    }
}

/// A check that could not run (an error from the engine).
pub(crate) fn errored(name: String, e: impl std::fmt::Display) -> Check {
    Check::fail(name, e.to_string())
}
