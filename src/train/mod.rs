//! Training. A [`Trainer`] adds to an [`Autoencoder`] the gradient and
//! optimizer arenas, the dataset resident on the GPU, and the planned steps,
//! then records whole epochs of prebuilt dispatches with no host writes or
//! reads inside an epoch. It writes no files: checkpoints go to a sink.

pub mod config;
mod feed;
mod fit;
mod history;
pub mod order;
mod resident;
mod steps;
mod stream;

use crate::data::{Dataset, Rows, Source};
use crate::error::Result;
use crate::gpu::{GpuContext, GpuTensor, Step};
pub use crate::infer::{Autoencoder, Precision, INFERENCE_BATCH};
use crate::kernels as ops;
use crate::model::ModelConfig;
pub use crate::op::{OptimizerName, ScheduleName};
pub use crate::plan::ParamLayout;
use crate::plan::{Mode, Net};
pub use config::{ConfigFile, OnDivergence, TrainConfig};
pub use feed::STEPS_PER_SUBMIT;
use feed::{Feed, FeedSpec};
pub use history::{Control, EpochReport, History, StepProgress};
use resident::Input;
use steps::{Arenas, EvalPlan};
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

/// Trains an [`Autoencoder`] with everything resident on the GPU. It holds
/// its own handle on the context. `Send` (it may move to a worker thread),
/// not `Sync`: training takes `&mut self`.
pub struct Trainer {
    ctx: GpuContext,
    model: Autoencoder,
    tcfg: TrainConfig,
    net: Net,
    /// The gradient and optimizer arenas.
    a: Arenas,
    train: Feed,
    val: Option<Feed>,
    clear_metrics: Step,
    /// The validation pass, where there is validation data.
    eval: Option<EvalPlan>,
    full: Vec<Step>,
    rest: Option<Vec<Step>>,
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
        let (train, val) = steps::check_inputs(&cfg, tcfg, train, val)?;
        let bce = cfg.loss == crate::model::LossKind::Bce;
        let train_rows = train.rows();
        let batch = tcfg.batch_size.min(train_rows);
        let steps_per_epoch = train_rows.div_ceil(batch);
        let net = Net::new(
            ctx,
            &cfg,
            &model.layout,
            batch,
            Mode::Train,
            tcfg.seed,
            &model.plan,
        )?;
        let a = Arenas::new(ctx, &model.layout, tcfg)?;
        let plan = steps::StepPlan {
            ctx,
            net: &net,
            layout: &model.layout,
            params: &model.params,
            tcfg,
            plan: &model.plan,
            optim: tcfg.optim(steps_per_epoch),
        };
        let full = plan.train_steps(&a, batch)?;
        let rem = train_rows % batch;
        let rest = if rem > 0 {
            Some(plan.train_steps(&a, rem)?)
        } else {
            None
        };
        let clear_metrics = ops::fill(ctx, 0.0, net.metrics())?;
        let eval = match &val {
            Some(vds) => Some(plan.eval_plan(&cfg, vds.rows(), batch)?),
            None => None,
        };
        // The datasets last, in the memory the model leaves: on the GPU
        // where they fit, streamed otherwise (see feed.rs).
        let train_feed = Feed::place(
            ctx,
            FeedSpec {
                what: "training",
                input: train,
                batch,
                shuffle: Some((tcfg.seed, &a.epoch_buf)),
                unit_range: bce,
                share: if val.is_some() { 0.5 } else { 1.0 },
            },
            net.input(),
        )?;
        let val_feed = match (val, &eval) {
            (Some(vds), Some(e)) => Some(Feed::place(
                ctx,
                FeedSpec {
                    what: "validation",
                    input: vds,
                    batch: e.net.cap(),
                    shuffle: None,
                    unit_range: bce,
                    share: 1.0,
                },
                e.net.input(),
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
            a,
            train: train_feed,
            val: val_feed,
            clear_metrics,
            eval,
            full,
            rest,
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
        Ok(self.ctx.read_u32(&self.a.state)?[0])
    }

    /// Host copies of the gradient and optimizer arenas (tests, checkpoints).
    pub fn optimizer_state_host(&self) -> Result<(Vec<f32>, Vec<f32>, Vec<u32>)> {
        Ok((
            self.ctx.read(&self.a.m)?,
            self.ctx.read(&self.a.v)?,
            self.ctx.read_u32(&self.a.state)?,
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

    async fn read_metrics(&self, t: &GpuTensor) -> Result<Vec<f64>> {
        Ok(self
            .ctx
            .read_async(t)
            .await?
            .into_iter()
            .map(f64::from)
            .collect())
    }

    async fn evaluate(&self) -> Result<Option<Vec<f64>>> {
        let (Some(e), Some(feed)) = (&self.eval, &self.val) else {
            return Ok(None);
        };
        let last = feed.batches() - 1;
        feed.submit(&self.ctx, 0, 0, feed.batches(), &[&e.clear], |pass, k| {
            let steps = match &e.rest {
                Some(rest) if k == last => rest,
                _ => &e.full,
            };
            for s in steps {
                s.record(pass);
            }
        })?;
        let m = self.read_metrics(e.net.metrics()).await?;
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
        t.resumed(ck)
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
        t.resumed(ck)
    }

    /// This trainer (of the checkpoint's model and parameters) with the
    /// checkpoint's optimizer state and epoch count.
    pub fn resumed(mut self, ck: &Checkpoint) -> Result<Self> {
        let ctx = &self.ctx;
        ctx.write(&self.a.m, &ck.m)?;
        ctx.write(&self.a.v, &ck.v)?;
        ctx.write(&self.a.state, &ck.state)?;
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
}
