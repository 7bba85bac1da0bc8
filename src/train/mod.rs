//! Training. A [`Trainer`] adds to an [`Autoencoder`] the gradient and
//! optimizer arenas, the dataset resident on the GPU, and the planned steps,
//! then records whole epochs of prebuilt dispatches with no host writes or
//! reads inside an epoch. It writes no files: checkpoints go to a sink.

pub mod config;
mod feed;
pub mod order;
mod resident;
mod stream;

use std::time::Instant;

use serde::Serialize;

use crate::data::{Dataset, Rows, Source};
use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GpuTensor, Step};
pub use crate::infer::{Autoencoder, Precision, INFERENCE_BATCH};
use crate::kernels::{self as ops, ReduceMode, OPT_STATE_WORDS};
use crate::model::ModelConfig;
pub use crate::op::{OptimizerName, ScheduleName};
pub use crate::plan::ParamLayout;
use crate::plan::{slot, Mode, Net};
pub use config::{ConfigFile, OnDivergence, TrainConfig};
pub use feed::STEPS_PER_SUBMIT;
use feed::{Feed, FeedSpec};
use resident::Input;
pub use stream::StreamStats;

/// Everything `--resume` needs (`io::save_checkpoint` writes it).
#[derive(Clone, Debug)]
pub struct Checkpoint {
    pub model: ModelConfig,
    pub train: TrainConfig,
    pub params: Vec<f32>,
    pub m: Vec<f32>,
    pub v: Vec<f32>,
    pub state: Vec<u32>,
    pub epochs_done: usize,
    /// What the program that trained kept beside it (the CLI: the data it
    /// trained on), as `wgae.note.KEY` metadata; nothing the trainer reads.
    pub notes: std::collections::BTreeMap<String, String>,
}

/// Where [`Trainer::fit`] hands a checkpoint after every epoch (a file
/// writer, in the CLI: `train` itself writes no files).
pub type CheckpointSink = Box<dyn FnMut(&Checkpoint, &ParamLayout) -> Result<()> + Send>;

/// What one epoch measured. Losses are means over samples.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EpochReport {
    /// 1-based.
    pub epoch: usize,
    /// The training objective: reconstruction loss plus penalties.
    pub train_loss: f64,
    pub val_loss: Option<f64>,
    /// Squared error per feature on the training data.
    pub recon_mse: f64,
    /// Binary cross-entropy per feature on the training data (sigmoid outputs).
    pub recon_bce: Option<f64>,
    pub val_recon_mse: Option<f64>,
    pub val_recon_bce: Option<f64>,
    /// The penalties' share of train_loss.
    pub penalty: f64,
    /// A VAE's evidence lower bound per sample (higher is better).
    pub elbo: Option<f64>,
    pub samples_per_sec: f64,
    pub seconds: f64,
}

/// Progress within an epoch, when `log_every_steps` is set.
#[derive(Clone, Copy, Debug)]
pub struct StepProgress {
    pub epoch: usize,
    pub step: usize,
    pub steps: usize,
    /// The running mean of the training loss this epoch.
    pub loss: f64,
    pub samples_per_sec: f64,
}

/// The outcome of [`Trainer::fit`].
#[derive(Clone, Debug, Default)]
pub struct History {
    pub epochs: Vec<EpochReport>,
    /// 1-based epoch whose weights the model holds after early stopping.
    pub best_epoch: Option<usize>,
    pub stopped_early: bool,
    /// Each divergence training went back from (`OnDivergence::Restore`):
    /// the epoch, the step by which the loss was not finite, that loss, and
    /// the learning-rate factor after halving.
    pub restores: Vec<(usize, usize, f64, f32)>,
    /// Training stopped because the interrupt flag was raised
    /// ([`Trainer::set_interrupt`]); the model holds the weights of the last
    /// whole epoch.
    pub interrupted: bool,
}

/// What a callback wants after an epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    Continue,
    Stop,
}

/// Trains an [`Autoencoder`] with everything resident on the GPU. It holds
/// its own handle on the context. `Send` (it may move to a worker thread),
/// not `Sync`: training takes `&mut self`.
pub struct Trainer {
    ctx: GpuContext,
    model: Autoencoder,
    tcfg: TrainConfig,
    net: Net,
    eval: Option<Net>,
    /// Owns the gradient arena (the steps bind it), so that it counts as live.
    _grads: GpuTensor,
    m: GpuTensor,
    v: GpuTensor,
    state: GpuTensor,
    best: Option<GpuTensor>,
    /// The weights and optimizer state at the start of the epoch: the last
    /// finite ones if the epoch diverges.
    good: [GpuTensor; 4],
    epoch_buf: GpuTensor,
    train: Feed,
    val: Option<Feed>,
    clear_metrics: Step,
    clear_eval_metrics: Option<Step>,
    full: Vec<Step>,
    rest: Option<Vec<Step>>,
    eval_full: Vec<Step>,
    eval_rest: Option<Vec<Step>>,
    epochs_done: usize,
    checkpoint_sink: Option<CheckpointSink>,
    interrupt: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

impl Trainer {
    /// Plans training of a fresh model (initialized from `tcfg.seed`) on
    /// `train`, validating on `val` or on `tcfg.validation_split` of `train`.
    pub fn new(
        ctx: &GpuContext,
        cfg: &ModelConfig,
        tcfg: &TrainConfig,
        train: &Dataset,
        val: Option<&Dataset>,
    ) -> Result<Self> {
        let model = Autoencoder::new(ctx, cfg, tcfg.seed)?;
        Self::with_model(model, tcfg, train, val)
    }

    /// Plans training of an existing model.
    pub fn with_model(
        model: Autoencoder,
        tcfg: &TrainConfig,
        train: &Dataset,
        val: Option<&Dataset>,
    ) -> Result<Self> {
        Self::from_rows(model, tcfg, train.into(), val.map(Rows::from))
    }

    /// Plans training of an existing model on borrowed rows (uploaded
    /// straight from them, with no copy on the host).
    pub fn from_rows(
        model: Autoencoder,
        tcfg: &TrainConfig,
        train: Rows<'_>,
        val: Option<Rows<'_>>,
    ) -> Result<Self> {
        Self::build(model, tcfg, Input::Rows(train), val.map(Input::Rows))
    }

    /// Plans training of an existing model on rows read from sources (a
    /// mapped file, say): they stay on the GPU where they fit and are
    /// streamed from the host otherwise, with the same result.
    pub fn from_source(
        model: Autoencoder,
        tcfg: &TrainConfig,
        train: &Source,
        val: Option<&Source>,
    ) -> Result<Self> {
        Self::build(
            model,
            tcfg,
            Input::Source(train.clone()),
            val.map(|v| Input::Source(v.clone())),
        )
    }

    fn build(
        model: Autoencoder,
        tcfg: &TrainConfig,
        train: Input<'_>,
        val: Option<Input<'_>>,
    ) -> Result<Self> {
        let ctx = &model.ctx.clone();
        let cfg = model.cfg.clone();
        tcfg.validate()?;
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
                "early stopping watches the validation loss, but there is no validation data: \
                 give a validation split (`validation_split`) or set (`val`)"
                    .into(),
            ));
        }
        for (what, ds) in [("training", Some(&train)), ("validation", val.as_ref())] {
            if let Some(ds) = ds {
                if ds.cols() != cfg.input_dim {
                    return Err(Error::InvalidArgument(format!(
                        "the {what} data has {} columns but the model's input is {} wide (check `input_dim`)",
                        ds.cols(), cfg.input_dim
                    )));
                }
            }
        }
        let bce = cfg.loss == crate::model::LossKind::Bce;
        if bce {
            // Rows in memory are checked here; rows from a source as they
            // are read.
            for (what, ds) in [("training", Some(&train)), ("validation", val.as_ref())] {
                let Some(Input::Rows(ds)) = ds else { continue };
                if let Some(i) = ds.data.iter().position(|v| !(0.0..=1.0).contains(v)) {
                    return Err(Error::InvalidArgument(format!(
                        "BCE compares each value with a probability, but the {what} data holds \
                         {} (row {}, column {}), outside [0, 1]; scale the data to [0, 1] \
                         (`scale` unit) or use `loss` mse",
                        ds.data[i],
                        i / ds.cols,
                        i % ds.cols
                    )));
                }
            }
        }
        let train_rows = train.rows();
        let batch = tcfg.batch_size.min(train_rows);
        let steps_per_epoch = train_rows.div_ceil(batch);
        let optim = tcfg.optim(steps_per_epoch);
        let net = Net::new(ctx, &cfg, &model.layout, batch, Mode::Train, tcfg.seed)?;
        // Gradients and moments cover the trainable part of the arena; the
        // buffers after it (running statistics) are not trained.
        let total = model.layout.total;
        let trainable = model.layout.trainable;
        let grads = ctx.zeros("grads", trainable)?;
        let m = ctx.zeros("adam m", trainable)?;
        let v = ctx.zeros("adam v", trainable)?;
        let state = ctx.zeros("optimizer state", OPT_STATE_WORDS)?;
        let gsq = ctx.zeros("grad norm^2", 1)?;
        let best = if tcfg.early_stopping.is_some() {
            Some(ctx.zeros("best params", total)?)
        } else {
            None
        };
        let epoch_buf = ctx.upload("epoch", &[0u32])?;
        let good = [
            ctx.zeros("last finite params", total)?,
            ctx.zeros("last finite m", trainable)?,
            ctx.zeros("last finite v", trainable)?,
            ctx.zeros("last finite state", OPT_STATE_WORDS)?,
        ];

        let params = model.params.clone();
        let step_list = |rows: usize| -> Result<Vec<Step>> {
            let mut s = net.forward_steps(ctx, &params, rows, 0, Some(&state))?;
            s.extend(net.metric_steps(ctx, rows)?);
            s.extend(net.backward_steps(ctx, &params, &grads, rows)?);
            if tcfg.weight_decay > 0.0 && tcfg.optimizer != OptimizerName::Adamw {
                for (i, e) in model.layout.entries.iter().enumerate() {
                    if e.decay {
                        let w = model.layout.view(&params, i)?;
                        let g = model.layout.view(&grads, i)?;
                        s.push(ops::l2_grad(ctx, tcfg.weight_decay, &w, &g)?);
                    }
                }
            }
            if tcfg.clip_norm > 0.0 {
                let partials = ctx.zeros("clip partials", ops::REDUCE_PARTIALS)?;
                s.extend(ops::reduce(
                    ctx,
                    ReduceMode::SumSquares,
                    1.0,
                    0.0,
                    &grads,
                    &partials,
                    &gsq,
                    0,
                )?);
            }
            s.push(ops::optim_tick(ctx, &optim, &state, &gsq)?);
            s.push(ops::optim_update(
                ctx,
                &optim,
                &state,
                &params.view(0, trainable)?,
                &grads,
                &m,
                &v,
            )?);
            Ok(s)
        };
        let full = step_list(batch)?;
        let rem = train_rows % batch;
        let rest = if rem > 0 { Some(step_list(rem)?) } else { None };
        let clear_metrics = ops::fill(ctx, 0.0, &net.metrics)?;

        let (eval, eval_full, eval_rest, clear_eval_metrics) = match &val {
            Some(vds) => {
                let vrows = vds.rows();
                // Validation runs in large batches, or in the training
                // batch's under a memory cap.
                let eval_batch = match ctx.gpu_memory_cap() {
                    Some(_) => batch,
                    None => INFERENCE_BATCH.max(batch),
                };
                let cap = vrows.min(eval_batch);
                let en = Net::new(ctx, &cfg, &model.layout, cap, Mode::Eval, tcfg.seed)?;
                let eval_steps = |rows: usize| -> Result<Vec<Step>> {
                    let mut s = en.forward_steps(ctx, &params, rows, 0, None)?;
                    s.extend(en.metric_steps(ctx, rows)?);
                    Ok(s)
                };
                let ef = eval_steps(cap)?;
                let er = if vrows % cap > 0 {
                    Some(eval_steps(vrows % cap)?)
                } else {
                    None
                };
                let clear = ops::fill(ctx, 0.0, &en.metrics)?;
                (Some(en), ef, er, Some(clear))
            }
            None => (None, Vec::new(), None, None),
        };
        // The datasets last, in the memory the model leaves: on the GPU
        // where they fit, streamed otherwise (see feed.rs).
        let train_feed = Feed::place(
            ctx,
            FeedSpec {
                what: "training",
                input: train,
                batch,
                shuffle: Some((tcfg.seed, &epoch_buf)),
                unit_range: bce,
                share: if val.is_some() { 0.5 } else { 1.0 },
            },
            &net.x,
        )?;
        let val_feed = match (val, &eval) {
            (Some(vds), Some(en)) => Some(Feed::place(
                ctx,
                FeedSpec {
                    what: "validation",
                    input: vds,
                    batch: en.cap,
                    shuffle: None,
                    unit_range: bce,
                    share: 1.0,
                },
                &en.x,
            )?),
            _ => None,
        };
        tracing::info!(
            params = model.cfg.parameter_count(),
            steps_per_epoch,
            dispatches_per_step = full.len() + 1,
            streamed = train_feed.is_streamed(),
            "training planned"
        );
        Ok(Self {
            ctx: ctx.clone(),
            model,
            tcfg: tcfg.clone(),
            net,
            eval,
            _grads: grads,
            m,
            v,
            state,
            best,
            good,
            epoch_buf,
            train: train_feed,
            val: val_feed,
            clear_metrics,
            clear_eval_metrics,
            full,
            rest,
            eval_full,
            eval_rest,
            epochs_done: 0,
            checkpoint_sink: None,
            interrupt: None,
        })
    }

    pub fn model(&self) -> &Autoencoder {
        &self.model
    }

    pub fn into_model(self) -> Autoencoder {
        self.model
    }

    pub fn train_rows(&self) -> usize {
        self.train.rows()
    }

    pub fn steps_per_epoch(&self) -> usize {
        self.train.batches()
    }

    /// Whether the training set is streamed from the host (it did not fit
    /// on the GPU, or under the memory cap) rather than resident.
    pub fn is_streamed(&self) -> bool {
        self.train.is_streamed()
    }

    /// What streaming the training set has cost the host so far, and the
    /// batches per chunk; `None` for a resident set.
    pub fn stream_stats(&self) -> Option<(StreamStats, usize)> {
        match &self.train {
            Feed::Streamed(s) => Some((s.stats(), s.slot_batches())),
            Feed::Resident(_) => None,
        }
    }

    /// Dispatches recorded per training step.
    pub fn dispatches_per_step(&self) -> usize {
        self.full.len() + 1
    }

    /// The labels of a full training step's dispatches, in order (the
    /// matmuls' name their layout, kernel and shape).
    pub fn step_labels(&self) -> Vec<&str> {
        self.full.iter().map(|s| s.label()).collect()
    }

    /// One training step (the first batch of an epoch, as `run_steps(1)`
    /// runs it: clear the metrics, shuffle, gather, then the step's
    /// dispatches) with the GPU time of every dispatch, from timestamp
    /// queries. The step really happens: the model and optimizer advance by
    /// one step, exactly as with `run_steps(1)`.
    pub fn profile_step(&mut self) -> Result<Vec<(String, f64)>> {
        let mut steps = vec![&self.clear_metrics];
        steps.extend(self.train.first_batch(&self.ctx, self.epochs_done as u32)?);
        steps.extend(self.body_of(0));
        let times = self.ctx.profile(&steps)?;
        Ok(steps
            .iter()
            .zip(times)
            .map(|(s, t)| (s.label().to_string(), t))
            .collect())
    }

    /// The optimizer's step count, read from the GPU.
    pub fn step_count(&self) -> Result<u32> {
        Ok(self.ctx.read_u32(&self.state)?[0])
    }

    /// Host copies of the gradient and optimizer arenas (tests, checkpoints).
    pub fn optimizer_state_host(&self) -> Result<(Vec<f32>, Vec<f32>, Vec<u32>)> {
        Ok((
            self.ctx.read(&self.m)?,
            self.ctx.read(&self.v)?,
            self.ctx.read_u32(&self.state)?,
        ))
    }

    /// The steps of batch `k` after its gather: the full step, or the
    /// epoch's last, partial one.
    fn body_of(&self, k: usize) -> &[Step] {
        match &self.rest {
            Some(rest) if k + 1 == self.train.batches() => rest,
            _ => &self.full,
        }
    }

    /// Records `count` training steps of the current epoch, from batch
    /// `first`, and submits them (see [`Feed::submit`]) without waiting.
    fn submit_steps(&self, first: usize, count: usize, prologue: &[&Step]) -> Result<()> {
        self.train.submit(
            &self.ctx,
            self.epochs_done as u32,
            first,
            first + count,
            prologue,
            |pass, k| {
                for s in self.body_of(k) {
                    s.record(pass);
                }
            },
        )
    }

    /// Runs `n` training steps (cycling through the epoch's batches and
    /// reshuffling where an epoch would start) and waits for them: for
    /// benchmarks, which want steps without epoch bookkeeping.
    pub fn run_steps(&mut self, n: usize) -> Result<()> {
        let spe = self.steps_per_epoch();
        let mut i = 0;
        while i < n {
            let k = i % spe;
            let count = (spe - k).min(n - i);
            let prologue: Vec<&Step> = if k == 0 {
                vec![&self.clear_metrics]
            } else {
                Vec::new()
            };
            self.submit_steps(k, count, &prologue)?;
            i += count;
        }
        self.ctx.wait()
    }

    fn read_metrics(&self, t: &GpuTensor) -> Result<Vec<f64>> {
        Ok(self.ctx.read(t)?.into_iter().map(f64::from).collect())
    }

    fn evaluate(&self) -> Result<Option<Vec<f64>>> {
        let (Some(en), Some(feed), Some(clear)) = (&self.eval, &self.val, &self.clear_eval_metrics)
        else {
            return Ok(None);
        };
        let last = feed.batches() - 1;
        feed.submit(&self.ctx, 0, 0, feed.batches(), &[clear], |pass, k| {
            let steps = match &self.eval_rest {
                Some(rest) if k == last => rest,
                _ => &self.eval_full,
            };
            for s in steps {
                s.record(pass);
            }
        })?;
        let m = self.read_metrics(&en.metrics)?;
        Ok(Some(
            m.into_iter().map(|v| v / feed.rows() as f64).collect(),
        ))
    }

    /// Everything needed to resume training exactly: parameters, optimizer
    /// moments and state, the epochs done, both configs.
    pub fn checkpoint(&self) -> Result<Checkpoint> {
        let (m, v, state) = self.optimizer_state_host()?;
        Ok(Checkpoint {
            model: self.model.cfg.clone(),
            train: self.tcfg.clone(),
            params: self.model.params_host()?,
            m,
            v,
            state,
            epochs_done: self.epochs_done,
            notes: Default::default(),
        })
    }

    /// Continues from a checkpoint on the same data: the result is the same
    /// as if training had never stopped. `tcfg` may raise the epoch count.
    pub fn resume(
        ctx: &GpuContext,
        ck: &Checkpoint,
        tcfg: &TrainConfig,
        train: &Dataset,
        val: Option<&Dataset>,
    ) -> Result<Self> {
        let model = Autoencoder::from_params(ctx, &ck.model, &ck.params)?;
        let t = Self::with_model(model, tcfg, train, val)?;
        t.restore(ctx, ck)
    }

    /// [`Self::resume`] on rows read from sources.
    pub fn resume_source(
        ctx: &GpuContext,
        ck: &Checkpoint,
        tcfg: &TrainConfig,
        train: &Source,
        val: Option<&Source>,
    ) -> Result<Self> {
        let model = Autoencoder::from_params(ctx, &ck.model, &ck.params)?;
        let t = Self::from_source(model, tcfg, train, val)?;
        t.restore(ctx, ck)
    }

    /// The checkpoint's optimizer state and epoch count.
    fn restore(mut self, ctx: &GpuContext, ck: &Checkpoint) -> Result<Self> {
        ctx.write(&self.m, &ck.m)?;
        ctx.write(&self.v, &ck.v)?;
        ctx.write(&self.state, &ck.state)?;
        self.epochs_done = ck.epochs_done;
        Ok(self)
    }

    /// Hands a checkpoint to `sink` after every epoch (for example
    /// `io::save_checkpoint` to a file, replacing the last one); `None`
    /// stops.
    pub fn set_checkpoint_sink(&mut self, sink: Option<CheckpointSink>) {
        self.checkpoint_sink = sink;
    }

    pub fn epochs_done(&self) -> usize {
        self.epochs_done
    }

    /// A flag (set by a Ctrl-C handler, say) that [`Self::fit`] checks
    /// after every submission of steps: once it is raised, training goes
    /// back to the weights of the last whole epoch (which a checkpoint
    /// holds, so that a resumed run is exact) and `fit` returns with
    /// `History::interrupted`.
    pub fn set_interrupt(&mut self, flag: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>) {
        self.interrupt = flag;
    }

    fn interrupted(&self) -> bool {
        self.interrupt
            .as_ref()
            .is_some_and(|f| f.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Copies the weights and optimizer state aside at the start of an
    /// epoch (four GPU copies): what a divergence goes back to.
    fn keep_good(&self) -> Result<()> {
        let live = [&self.model.params, &self.m, &self.v, &self.state];
        for (from, to) in live.into_iter().zip(&self.good) {
            self.ctx.copy(from, to)?;
        }
        Ok(())
    }

    /// The loss became `loss` (not finite) in `epoch` by `step`: back to
    /// the weights and optimizer state from before the epoch, then either
    /// an error (`OnDivergence::Stop`, or no restores left) or, halving the
    /// learning rate, `Ok` to train the epoch again.
    fn diverged(
        &mut self,
        epoch: usize,
        step: usize,
        loss: f64,
        history: &mut History,
    ) -> Result<f32> {
        let restores = history.restores.len() as u32;
        let live = [&self.model.params, &self.m, &self.v, &self.state];
        for (to, from) in live.into_iter().zip(&self.good) {
            self.ctx.copy(from, to)?;
        }
        let steps = self.steps_per_epoch();
        if self.tcfg.on_divergence == OnDivergence::Stop || restores >= self.tcfg.max_restores {
            return Err(Error::Diverged {
                epoch,
                step,
                steps,
                loss,
                restores,
            });
        }
        let state = self.ctx.read(&self.state)?;
        let factor = match state[ops::LR_FACTOR_WORD] {
            f if f > 0.0 => f * 0.5,
            _ => 0.5,
        };
        self.ctx
            .write(&self.state.view(ops::LR_FACTOR_WORD, 1)?, &[factor])?;
        tracing::warn!(
            epoch,
            step,
            loss,
            lr_factor = factor,
            "training diverged: back to the weights from before the epoch, at a halved learning rate"
        );
        history.restores.push((epoch, step, loss, factor));
        Ok(factor)
    }

    /// The factor the scheduled learning rate is multiplied by: 1, halved
    /// at each restore after a divergence (`OnDivergence::Restore`).
    pub fn lr_factor(&self) -> Result<f32> {
        let f = self.ctx.read(&self.state)?[ops::LR_FACTOR_WORD];
        Ok(if f > 0.0 { f } else { 1.0 })
    }

    /// Trains until `tcfg.epochs` epochs are done in all (so a resumed run
    /// ends where an uninterrupted one would), or until early stopping or the
    /// callback says stop. `on_epoch` sees each epoch's report; `on_step`,
    /// when `log_every_steps` is set, sees the running loss.
    pub fn fit(
        &mut self,
        mut on_epoch: impl FnMut(&EpochReport) -> Control,
        mut on_step: impl FnMut(&StepProgress),
    ) -> Result<History> {
        let mut history = History::default();
        let mut best = f64::INFINITY;
        let mut since_best = 0usize;
        let steps = self.steps_per_epoch();
        // Submissions between host checks: the progress interval, or (so
        // that an interrupt is seen within a few steps) at most 32 steps;
        // neither reads anything back unless progress is asked for.
        let mut chunk = self.tcfg.log_every_steps.unwrap_or(steps).clamp(1, steps);
        if self.interrupt.is_some() {
            chunk = chunk.min(4 * STEPS_PER_SUBMIT);
        }
        let vae = self.model.cfg.variational.is_some();
        'epochs: while self.epochs_done < self.tcfg.epochs {
            let epoch = self.epochs_done + 1;
            // The only host write of an epoch: which permutation to use.
            self.ctx
                .write(&self.epoch_buf, &[self.epochs_done as u32])?;
            self.keep_good()?;
            let start = Instant::now();
            let mut done = 0;
            while done < steps {
                let count = chunk.min(steps - done);
                let prologue: Vec<&Step> = if done == 0 {
                    vec![&self.clear_metrics]
                } else {
                    Vec::new()
                };
                self.submit_steps(done, count, &prologue)?;
                done += count;
                if self.interrupted() {
                    // Back to the last whole epoch: what the checkpoint holds.
                    self.ctx.wait()?;
                    let live = [&self.model.params, &self.m, &self.v, &self.state];
                    for (to, from) in live.into_iter().zip(&self.good) {
                        self.ctx.copy(from, to)?;
                    }
                    history.interrupted = true;
                    break 'epochs;
                }
                if self.tcfg.log_every_steps.is_some() {
                    let m = self.read_metrics(&self.net.metrics)?;
                    let seen = (done * self.net.cap).min(self.train.rows()) as f64;
                    let loss = (m[slot::RECON] + m[slot::PENALTY]) / seen;
                    if !loss.is_finite() {
                        self.diverged(epoch, done, loss, &mut history)?;
                        continue 'epochs;
                    }
                    on_step(&StepProgress {
                        epoch,
                        step: done,
                        steps,
                        loss,
                        samples_per_sec: seen / start.elapsed().as_secs_f64().max(1e-9),
                    });
                }
            }
            let m = self.read_metrics(&self.net.metrics)?;
            let seconds = start.elapsed().as_secs_f64();
            let n = self.train.rows() as f64;
            let sigmoid_out = self
                .net
                .layers
                .last()
                .is_some_and(|l| l.act == ops::Activation::Sigmoid);
            let train_loss = (m[slot::RECON] + m[slot::PENALTY]) / n;
            if !train_loss.is_finite() {
                self.diverged(epoch, steps, train_loss, &mut history)?;
                continue 'epochs;
            }
            let val = self.evaluate()?;
            if val
                .as_ref()
                .is_some_and(|v| !(v[slot::RECON] + v[slot::PENALTY]).is_finite())
            {
                let v = val
                    .as_ref()
                    .map_or(f64::NAN, |v| v[slot::RECON] + v[slot::PENALTY]);
                self.diverged(epoch, steps, v, &mut history)?;
                continue 'epochs;
            }
            let report = EpochReport {
                epoch,
                train_loss,
                val_loss: val.as_ref().map(|v| v[slot::RECON] + v[slot::PENALTY]),
                recon_mse: m[slot::MSE] / n,
                recon_bce: sigmoid_out.then(|| m[slot::BCE] / n),
                val_recon_mse: val.as_ref().map(|v| v[slot::MSE]),
                val_recon_bce: if sigmoid_out {
                    val.as_ref().map(|v| v[slot::BCE])
                } else {
                    None
                },
                penalty: m[slot::PENALTY] / n,
                elbo: vae.then(|| -(m[slot::RECON] + m[slot::KL]) / n),
                samples_per_sec: n / seconds.max(1e-9),
                seconds,
            };
            self.epochs_done += 1;
            if self.checkpoint_sink.is_some() {
                let ck = self.checkpoint()?;
                if let Some(sink) = self.checkpoint_sink.as_mut() {
                    sink(&ck, &self.model.layout)?;
                }
            }
            tracing::info!(epoch, train_loss = report.train_loss, val_loss = ?report.val_loss, "epoch done");
            let monitored = report.val_loss.unwrap_or(report.train_loss);
            let stop_requested = on_epoch(&report) == Control::Stop;
            history.epochs.push(report);
            if let (Some(patience), Some(best_params)) = (self.tcfg.early_stopping, &self.best) {
                if monitored < best - f64::from(self.tcfg.min_delta) {
                    best = monitored;
                    since_best = 0;
                    history.best_epoch = Some(epoch);
                    self.ctx.copy(&self.model.params, best_params)?;
                } else {
                    since_best += 1;
                    if since_best >= patience {
                        history.stopped_early = true;
                        break;
                    }
                }
            }
            if stop_requested {
                break;
            }
        }
        if let (Some(best_params), Some(_)) = (&self.best, history.best_epoch) {
            self.ctx.copy(best_params, &self.model.params)?;
        }
        Ok(history)
    }
}
