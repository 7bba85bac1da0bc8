//! One epoch of the f64 trainer over the batches the GPU trains on (the
//! same shuffle of the same rows), with the tolerance an f32 run of the
//! same steps is held to. The GPU's three-step tests and the browser's
//! checks (`web/src/checks/training.rs`) compare against this.

use crate::data::Dataset;
use crate::model::ModelConfig;
use crate::plan::ParamLayout;
use crate::reference::trainer::RefTrainer;
use crate::train::TrainConfig;

/// f32's unit roundoff.
use crate::reference::bounds::U;

/// What one reference epoch gives.
pub struct RefEpoch {
    /// The parameter arena after the epoch.
    pub params: Vec<f64>,
    /// Each parameter's tolerance for an f32 run of the same steps: 1e-4 of
    /// the sum of its step sizes (a forward and a backward pass through up
    /// to seven layers, each matmul good to ~sqrt(K) u of its terms, with
    /// cancellation), plus 1e-4 of the largest step in its tensor (for
    /// parameters whose gradient cancels to ~0), plus the rounding of the
    /// stored value. A wrong term of relative size >1e-3 in any gradient
    /// fails it.
    pub tolerance: Vec<f64>,
    /// Each step's loss.
    pub losses: Vec<f64>,
    /// How many parameters moved.
    pub moved: usize,
}

/// The epoch from the initial arena `p0` (a host copy of the GPU's, laid
/// out by `layout`), at `tcfg.batch_size`, in the order of the GPU's first
/// epoch.
pub fn reference_epoch(
    cfg: &ModelConfig,
    tcfg: &TrainConfig,
    layout: &ParamLayout,
    p0: &[f32],
    data: &Dataset,
) -> RefEpoch {
    let (rows, batch) = (data.rows, tcfg.batch_size);
    let steps = rows.div_ceil(batch);
    let mut reference = RefTrainer::new(cfg, tcfg, layout.clone(), p0, steps);
    let perm = crate::reference::permute(rows, tcfg.seed, 0);
    let mut step_abs = vec![0.0f64; p0.len()];
    let mut losses = Vec::with_capacity(steps);
    for k in 0..steps {
        let idx = &perm[k * batch..((k + 1) * batch).min(rows)];
        let rows_of: Vec<f32> = idx
            .iter()
            .flat_map(|&i| data.row(i as usize).to_vec())
            .collect();
        let before = reference.params.clone();
        losses.push(reference.step(&rows_of, idx.len()));
        for (a, (p, q)) in step_abs
            .iter_mut()
            .zip(reference.params.iter().zip(&before))
        {
            *a += (p - q).abs();
        }
    }
    // The largest step per tensor.
    let mut tensor_scale = vec![0.0f64; p0.len()];
    for e in &layout.entries {
        let m = step_abs[e.offset..e.offset + e.len()]
            .iter()
            .fold(0.0, |a: f64, &b| a.max(b));
        tensor_scale[e.offset..e.offset + e.len()].fill(m);
    }
    let tolerance = (0..p0.len())
        .map(|i| 1e-4 * (step_abs[i] + tensor_scale[i]) + 4.0 * U * reference.params[i].abs())
        .collect();
    RefEpoch {
        moved: step_abs.iter().filter(|&&v| v > 0.0).count(),
        params: reference.params,
        tolerance,
        losses,
    }
}
