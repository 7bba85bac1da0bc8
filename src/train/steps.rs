//! What a training step and a validation pass are made of, planned once:
//! the arenas beside the parameters (gradients, optimizer moments and
//! state, the best and last finite copies), the step list (forward, loss,
//! backward, metrics, weight decay, clipping, the optimizer) and the
//! evaluation pass's.

use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GpuTensor, Step};
use crate::infer::INFERENCE_BATCH;
use crate::kernels::{self as ops, ReduceMode, MISSING, OPT_STATE_WORDS};
use crate::model::ModelConfig;
use crate::op::{OptimConfig, OptimizerName};
use crate::plan::{Mode, Net, ParamLayout, PlanOptions};
use crate::train::config::TrainConfig;
use crate::train::resident::Input;

/// The arenas a trainer keeps beside the parameters. Gradients and moments
/// cover the trainable part of the parameter arena; the buffers after it
/// (running statistics) are not trained.
pub struct Arenas {
    /// (trainable) Owned here so that it counts as live; the steps bind it.
    pub grads: GpuTensor,
    /// (trainable) Adam's first and second moments.
    pub m: GpuTensor,
    pub v: GpuTensor,
    /// (OPT_STATE_WORDS) The step counter, the learning rate, and the rest.
    pub state: GpuTensor,
    /// (1) The gradient's squared norm, for clipping, and its reduction's
    /// partial sums.
    pub gsq: GpuTensor,
    pub gsq_partials: GpuTensor,
    /// (total) Early stopping's best weights.
    pub best: Option<GpuTensor>,
    /// The weights and optimizer state at the start of the epoch: the last
    /// finite ones if the epoch diverges.
    pub good: [GpuTensor; 4],
    /// (1) The epoch, which the shuffle reads.
    pub epoch_buf: GpuTensor,
}

impl Arenas {
    pub fn new(ctx: &GpuContext, layout: &ParamLayout, tcfg: &TrainConfig) -> Result<Self> {
        let (total, trainable) = (layout.total, layout.trainable);
        Ok(Self {
            grads: ctx.zeros("grads", trainable)?,
            m: ctx.zeros("adam m", trainable)?,
            v: ctx.zeros("adam v", trainable)?,
            state: ctx.zeros("optimizer state", OPT_STATE_WORDS)?,
            gsq: ctx.zeros("grad norm^2", 1)?,
            gsq_partials: ctx.zeros("clip partials", ops::REDUCE_PARTIALS)?,
            best: if tcfg.early_stopping.is_some() {
                Some(ctx.zeros("best params", total)?)
            } else {
                None
            },
            good: [
                ctx.zeros("last finite params", total)?,
                ctx.zeros("last finite m", trainable)?,
                ctx.zeros("last finite v", trainable)?,
                ctx.zeros("last finite state", OPT_STATE_WORDS)?,
            ],
            epoch_buf: ctx.upload("epoch", &[0u32])?,
        })
    }
}

/// The validation pass: its net, its steps for a full batch and for the
/// last one, and the step that clears its metrics.
pub struct EvalPlan {
    pub net: Net,
    pub full: Vec<Step>,
    pub rest: Option<Vec<Step>>,
    pub clear: Step,
}

/// What the step lists are planned from.
pub struct StepPlan<'a> {
    pub ctx: &'a GpuContext,
    pub net: &'a Net,
    pub layout: &'a ParamLayout,
    pub params: &'a GpuTensor,
    pub tcfg: &'a TrainConfig,
    pub plan: &'a PlanOptions,
    pub optim: OptimConfig,
}

impl StepPlan<'_> {
    /// One training step on `rows` rows: forward, loss, backward, metrics,
    /// then weight decay, clipping's norm and the optimizer.
    pub fn train_steps(&self, a: &Arenas, rows: usize) -> Result<Vec<Step>> {
        let (ctx, net, params, tcfg) = (self.ctx, self.net, self.params, self.tcfg);
        let mut s = net.forward_steps(ctx, params, rows, 0, Some(&a.state))?;
        s.extend(net.loss_steps(ctx, rows)?);
        s.extend(net.backward_steps(ctx, params, &a.grads, rows)?);
        s.extend(net.metric_steps(ctx, params, rows)?);
        if tcfg.weight_decay > 0.0 && tcfg.optimizer != OptimizerName::Adamw {
            for (i, e) in self.layout.entries.iter().enumerate() {
                if e.decay {
                    let w = self.layout.view(params, i)?;
                    let g = self.layout.view(&a.grads, i)?;
                    s.push(ops::l2_grad(ctx, tcfg.weight_decay, &w, &g)?);
                }
            }
        }
        if tcfg.clip_norm > 0.0 {
            s.extend(ops::reduce(
                ctx,
                ReduceMode::SumSquares,
                1.0,
                0.0,
                &a.grads,
                &a.gsq_partials,
                &a.gsq,
                0,
            )?);
        }
        s.push(ops::optim_tick(ctx, &self.optim, &a.state, &a.gsq)?);
        s.push(ops::optim_update(
            ctx,
            &self.optim,
            &a.state,
            &params.view(0, self.layout.trainable)?,
            &a.grads,
            &a.m,
            &a.v,
        )?);
        Ok(s)
    }

    /// The validation pass over `rows` rows, in large batches, or in the
    /// training batch's under a memory cap.
    pub fn eval_plan(&self, cfg: &ModelConfig, rows: usize, batch: usize) -> Result<EvalPlan> {
        let ctx = self.ctx;
        let eval_batch = match ctx.gpu_memory_cap() {
            Some(_) => batch,
            None => INFERENCE_BATCH.max(batch),
        };
        let cap = rows.min(eval_batch);
        let net = Net::new(
            ctx,
            cfg,
            self.layout,
            cap,
            Mode::Eval,
            self.tcfg.seed,
            self.plan,
        )?;
        let steps = |r: usize| -> Result<Vec<Step>> {
            let mut s = net.forward_steps(ctx, self.params, r, 0, None)?;
            s.extend(net.loss_steps(ctx, r)?);
            s.extend(net.metric_steps(ctx, self.params, r)?);
            Ok(s)
        };
        let full = steps(cap)?;
        let rest = if !rows.is_multiple_of(cap) {
            Some(steps(rows % cap)?)
        } else {
            None
        };
        let clear = ops::fill(ctx, 0.0, net.metrics())?;
        Ok(EvalPlan {
            net,
            full,
            rest,
            clear,
        })
    }
}

/// The training and validation inputs: a validation split cut from the
/// training rows, or the set given; columns that fit the model; values in
/// [0, 1] under BCE (rows in memory here, rows from a source as they are
/// read).
pub fn check_inputs<'a>(
    cfg: &ModelConfig,
    tcfg: &TrainConfig,
    train: Input<'a>,
    val: Option<Input<'a>>,
) -> Result<(Input<'a>, Option<Input<'a>>)> {
    let (train, split_val) = if tcfg.validation_split > 0.0 {
        if val.is_some() {
            return Err(Error::InvalidArgument(
                "give a validation split or a validation set, not both".into(),
            ));
        }
        let (t, v) = train.split_validation(tcfg.validation_split)?;
        (t, Some(v))
    } else {
        (train, None)
    };
    let val = val.or(split_val);
    if tcfg.early_stopping.is_some() && val.is_none() {
        return Err(Error::InvalidArgument(
            "early stopping watches the validation loss, but there is no validation data: give \
             a validation split (`validation_split`) or set (`val`)"
                .into(),
        ));
    }
    for (what, ds) in [("training", Some(&train)), ("validation", val.as_ref())] {
        let Some(ds) = ds else { continue };
        if ds.cols() != cfg.input_dim {
            return Err(Error::InvalidArgument(format!(
                "the {what} data has {} columns but the model's input is {} wide (check \
                 `input_dim`)",
                ds.cols(),
                cfg.input_dim
            )));
        }
        if let Input::Source(s) = ds {
            let missing_cells = s.sparse_rows_absent().is_some_and(|a| a == MISSING);
            if missing_cells && cfg.missing != crate::model::Missing::Mask {
                return Err(Error::InvalidArgument(format!(
                    "the {what} rows are sparse with their unset cells missing (ratings); \
                     train them with `missing` mask, which leaves those cells out of the loss"
                )));
            }
        }
        if cfg.loss != crate::model::LossKind::Bce {
            continue;
        }
        let Input::Rows(ds) = ds else { continue };
        if let Some(i) = ds
            .data
            .iter()
            .position(|v| !(0.0..=1.0).contains(v) && *v != MISSING)
        {
            return Err(Error::InvalidArgument(format!(
                "BCE compares each value with a probability, but the {what} data holds {} (row \
                 {}, column {}), outside [0, 1]; scale the data to [0, 1] (`scale` unit) or use \
                 `loss` mse",
                ds.data[i],
                i / ds.cols,
                i % ds.cols
            )));
        }
    }
    Ok((train, val))
}
