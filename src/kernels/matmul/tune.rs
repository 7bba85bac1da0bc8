//! Measured matmul kernel choice ("autotuning").
//!
//! Which matmul kernel is fastest depends on the adapter and on the shape:
//! 128x128 tiles need enough output tiles to fill the GPU, the direct
//! kernels win on CPU adapters, and narrow outputs favour the 32-wide direct
//! workgroups. The fixed rule in [`super::rule_kernel`] is measured on
//! lavapipe only. With tuning on, the first time a plan asks for a matmul
//! shape, every candidate kernel runs that shape on scratch buffers and the
//! fastest is kept for the context's lifetime. This happens while a model is
//! planned, never inside a training step.
//!
//! Every kernel computes each output element as the same chain of `fma`s in
//! ascending k, so the choice changes the speed and never the result
//! (`tests/kernels/matmul.rs` and `tests/training.rs` check this bit for bit).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use web_time::Instant;

use crate::error::{Error, Result};
use crate::gpu::{GpuContext, Step};
use crate::kernels::matmul::{
    gated_label, matmul_prologue, matmul_with, tile_fits, MatmulKernel, MatmulSpec, Operand,
    Prologue,
};
use crate::op::{Activation, Tile};

/// What a kernel's speed depends on: the sizes, the stored layouts, and
/// which operand (if any) carries a fused activation gradient.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MatmulShape {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub trans_a: bool,
    pub trans_b: bool,
    pub pro: Option<Operand>,
}

impl MatmulShape {
    pub fn of(spec: &MatmulSpec, pro: Option<Operand>) -> Self {
        Self {
            m: spec.m,
            n: spec.n,
            k: spec.k,
            trans_a: spec.trans_a,
            trans_b: spec.trans_b,
            pro,
        }
    }

    /// `A.Bt(256x32x784)`, with `*f'(A)` when a prologue is fused.
    pub fn label(&self) -> String {
        let spec = MatmulSpec::new(self.m, self.n, self.k, self.trans_a, self.trans_b);
        format!(
            "{}{}({}x{}x{})",
            spec.layout_name(),
            gated_label(self.pro),
            self.m,
            self.n,
            self.k
        )
    }
}

/// One shape's measurements: seconds per matmul for each candidate that can
/// run the shape, in the order tried, and the fastest. A candidate whose
/// first run was already far slower than the best is not timed further; its
/// time is that run's.
#[derive(Clone, Debug, PartialEq)]
pub struct Tuning {
    pub best: MatmulKernel,
    pub times: Vec<(MatmulKernel, f64)>,
}

/// The per-context table of tuned shapes.
#[derive(Default)]
pub(crate) struct TuneTable(Mutex<HashMap<MatmulShape, Tuning>>);

/// Each timed batch of dispatches lasts about this long.
const BATCH_TIME: Duration = Duration::from_millis(2);
/// At most this many dispatches per batch (small shapes).
const MAX_REPS: usize = 256;
/// Timed batches per candidate; the fastest counts.
const TRIALS: usize = 3;
/// A candidate whose first run is this many times slower than the best so
/// far is dropped without further timing.
const HOPELESS: f64 = 4.0;
/// A single run longer than this is timed once more, not in batches.
const LONG_RUN: Duration = Duration::from_millis(20);

/// The kernels tuning chooses among on this adapter: the 64x64 tiles;
/// the 128x128 tiles, the vec4-fed 128x128 and 64x64 tiles and the 16x16
/// tiles where the limits allow them; the direct kernel; and
/// its subgroup variant where the adapter has subgroups of >= 8 lanes
/// (and `WGAE_SUBGROUPS` does not turn them off).
pub fn candidates(ctx: &GpuContext) -> Vec<MatmulKernel> {
    let mut out = vec![MatmulKernel::Tiled];
    for tile in [Tile::T128, Tile::T128V, Tile::T64V, Tile::T16] {
        if tile_fits(ctx, tile) {
            out.push(MatmulKernel::tiled(tile));
        }
    }
    out.push(MatmulKernel::Direct);
    if ctx.subgroup_matmul() {
        out.push(MatmulKernel::DirectSubgroup);
    }
    out
}

/// The measured choice for `shape`, timing every candidate the first
/// time the shape is asked for. Scratch buffers of the shape's size are
/// allocated for the measurement and freed afterwards.
pub fn tune(ctx: &GpuContext, shape: MatmulShape) -> Result<Tuning> {
    if let Some(t) = with_table(ctx, |m| m.get(&shape).cloned()) {
        return Ok(t);
    }
    let tuning = measure_all(ctx, &shape)?;
    tracing::debug!(
        shape = %shape.label(),
        best = tuning.best.name(),
        times = ?tuning.times.iter().map(|(k, s)| format!("{}={:.3}ms", k.name(), s * 1e3)).collect::<Vec<_>>(),
        "tuned matmul"
    );
    Ok(with_table(ctx, |m| {
        m.entry(shape).or_insert(tuning).clone()
    }))
}

/// Every shape tuned so far, in no particular order.
pub fn tuned_shapes(ctx: &GpuContext) -> Vec<(MatmulShape, Tuning)> {
    with_table(ctx, |m| m.iter().map(|(s, t)| (*s, t.clone())).collect())
}

/// Runs `f` on the context's table of tuned shapes.
fn with_table<T>(ctx: &GpuContext, f: impl FnOnce(&mut HashMap<MatmulShape, Tuning>) -> T) -> T {
    let table = ctx.extension::<TuneTable>();
    let mut map = table.0.lock().unwrap_or_else(|p| p.into_inner());
    f(&mut map)
}

fn measure_all(ctx: &GpuContext, shape: &MatmulShape) -> Result<Tuning> {
    let spec = MatmulSpec::new(shape.m, shape.n, shape.k, shape.trans_a, shape.trans_b);
    let a = ctx.zeros("tune A", shape.m * shape.k)?;
    let b = ctx.zeros("tune B", shape.k * shape.n)?;
    let c = ctx.zeros("tune C", shape.m * shape.n)?;
    let gate = match shape.pro {
        Some(Operand::A) => Some(ctx.zeros("tune gate", shape.m * shape.k)?),
        Some(Operand::B) => Some(ctx.zeros("tune gate", shape.k * shape.n)?),
        None => None,
    };
    let mut times: Vec<(MatmulKernel, f64)> = Vec::new();
    let mut best = f64::INFINITY;
    let mut last_err = None;
    for kernel in candidates(ctx) {
        let step = match (shape.pro, &gate) {
            (Some(operand), Some(gate)) => {
                let pro = Prologue {
                    operand,
                    act: Activation::Relu,
                    gate,
                };
                matmul_prologue(ctx, kernel, &spec, &a, &b, pro, &c)
            }
            _ => matmul_with(ctx, kernel, &spec, &a, &b, None, &c),
        };
        // A kernel that cannot take this shape (its grid past the adapter's
        // limits, say) is left out; the others still compete.
        match step.and_then(|step| time_step(ctx, &step, best)) {
            Ok(secs) => {
                best = best.min(secs);
                times.push((kernel, secs));
            }
            Err(e) => {
                tracing::debug!(kernel = kernel.name(), error = %e, "matmul candidate left out");
                last_err = Some(e);
            }
        }
    }
    match times.iter().min_by(|x, y| x.1.total_cmp(&y.1)) {
        Some(&(best, _)) => Ok(Tuning { best, times }),
        None => Err(last_err.unwrap_or_else(|| {
            Error::InvalidArgument(format!("no matmul kernel can run {}", shape.label()))
        })),
    }
}

/// Seconds per dispatch of `step`: a warm-up run, then the fastest of a
/// few batches of back-to-back dispatches in one pass (as a training step
/// records them). `best` is the fastest candidate so far.
fn time_step(ctx: &GpuContext, step: &Step, best: f64) -> Result<f64> {
    let t0 = Instant::now();
    ctx.run_wait(&[step])?;
    let first = t0.elapsed();
    if first.as_secs_f64() > HOPELESS * best {
        return Ok(first.as_secs_f64());
    }
    if first > LONG_RUN {
        let t0 = Instant::now();
        ctx.run_wait(&[step])?;
        return Ok(t0.elapsed().min(first).as_secs_f64());
    }
    let per = first.as_secs_f64().max(1e-6);
    let reps = ((BATCH_TIME.as_secs_f64() / per).ceil() as usize).clamp(1, MAX_REPS);
    let batch = vec![step; reps];
    let mut fastest = f64::INFINITY;
    for _ in 0..TRIALS {
        let t0 = Instant::now();
        ctx.run_wait(&batch)?;
        fastest = fastest.min(t0.elapsed().as_secs_f64() / reps as f64);
    }
    Ok(fastest)
}
