//! The training loop: epochs of submitted steps, the loss read back now
//! and then, validation, early stopping, checkpoints, Ctrl-C, and going
//! back to the last finite weights when the loss diverges.

use web_time::Instant;

use crate::error::{Error, Result};
use crate::gpu::Step;
use crate::kernels as ops;
use crate::plan::slot;
use crate::train::feed::STEPS_PER_SUBMIT;
use crate::train::{Control, EpochReport, History, OnDivergence, StepProgress, Trainer};

impl Trainer {
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
        let live = [&self.model.params, &self.a.m, &self.a.v, &self.a.state];
        for (from, to) in live.into_iter().zip(&self.a.good) {
            self.ctx.copy(from, to)?;
        }
        Ok(())
    }

    /// The loss became `loss` (not finite) in `epoch` by `step`: back to
    /// the weights and optimizer state from before the epoch, then either
    /// an error (`OnDivergence::Stop`, or no restores left) or, halving the
    /// learning rate, `Ok` to train the epoch again.
    async fn diverged(
        &mut self,
        epoch: usize,
        step: usize,
        loss: f64,
        history: &mut History,
    ) -> Result<f32> {
        let restores = history.restores.len() as u32;
        let live = [&self.model.params, &self.a.m, &self.a.v, &self.a.state];
        for (to, from) in live.into_iter().zip(&self.a.good) {
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
        let state = self.ctx.read_async(&self.a.state).await?;
        let factor = match state[ops::LR_FACTOR_WORD] {
            f if f > 0.0 => f * 0.5,
            _ => 0.5,
        };
        self.ctx
            .write(&self.a.state.view(ops::LR_FACTOR_WORD, 1)?, &[factor])?;
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
        let f = self.ctx.read(&self.a.state)?[ops::LR_FACTOR_WORD];
        Ok(if f > 0.0 { f } else { 1.0 })
    }

    /// Trains until `tcfg.epochs` epochs are done in all (so a resumed run
    /// ends where an uninterrupted one would), or until early stopping or the
    /// callback says stop. `on_epoch` sees each epoch's report; `on_step`,
    /// when `log_every_steps` is set, sees the running loss.
    pub fn fit(
        &mut self,
        on_epoch: impl FnMut(&EpochReport) -> Control,
        on_step: impl FnMut(&StepProgress),
    ) -> Result<History> {
        crate::gpu::resolve("training", self.fit_async(on_epoch, on_step))
    }

    /// [`Self::fit`] as a future: the loss and the validation metrics are
    /// read back without blocking, as a browser needs.
    pub async fn fit_async(
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
        'epochs: while self.epochs_done < self.tcfg.epochs {
            let epoch = self.epochs_done + 1;
            // The only host write of an epoch: which permutation to use.
            self.ctx
                .write(&self.a.epoch_buf, &[self.epochs_done as u32])?;
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
                    self.back_to_epoch_start()?;
                    history.interrupted = true;
                    break 'epochs;
                }
                if self.tcfg.log_every_steps.is_some() {
                    let m = self.read_metrics(self.net.metrics()).await?;
                    let seen = (done * self.net.cap()).min(self.train.rows()) as f64;
                    let loss = (m[slot::RECON] + m[slot::PENALTY]) / seen;
                    if !loss.is_finite() {
                        self.diverged(epoch, done, loss, &mut history).await?;
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
            let m = self.read_metrics(self.net.metrics()).await?;
            let seconds = start.elapsed().as_secs_f64();
            let train_loss = (m[slot::RECON] + m[slot::PENALTY]) / self.train.rows() as f64;
            if !train_loss.is_finite() {
                self.diverged(epoch, steps, train_loss, &mut history)
                    .await?;
                continue 'epochs;
            }
            let val = self.evaluate().await?;
            if let Some(v) = val.as_ref().map(|v| v[slot::RECON] + v[slot::PENALTY]) {
                if !v.is_finite() {
                    self.diverged(epoch, steps, v, &mut history).await?;
                    continue 'epochs;
                }
            }
            let report = self.report(epoch, &m, val.as_deref(), seconds);
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
            if let (Some(patience), Some(best_params)) = (self.tcfg.early_stopping, &self.a.best) {
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
        if let (Some(best_params), Some(_)) = (&self.a.best, history.best_epoch) {
            self.ctx.copy(best_params, &self.model.params)?;
        }
        Ok(history)
    }

    /// The epoch's report from the training metrics `m` (sums over the
    /// epoch's rows) and the validation metrics `val` (means).
    fn report(&self, epoch: usize, m: &[f64], val: Option<&[f64]>, seconds: f64) -> EpochReport {
        let n = self.train.rows() as f64;
        let sigmoid_out = self.net.output_layer().act == ops::Activation::Sigmoid;
        let vae = self.model.cfg.variational.is_some();
        EpochReport {
            epoch,
            train_loss: (m[slot::RECON] + m[slot::PENALTY]) / n,
            val_loss: val.map(|v| v[slot::RECON] + v[slot::PENALTY]),
            recon_mse: m[slot::MSE] / n,
            recon_bce: sigmoid_out.then(|| m[slot::BCE] / n),
            val_recon_mse: val.map(|v| v[slot::MSE]),
            val_recon_bce: val.filter(|_| sigmoid_out).map(|v| v[slot::BCE]),
            penalty: m[slot::PENALTY] / n,
            elbo: vae.then(|| -(m[slot::RECON] + m[slot::KL]) / n),
            samples_per_sec: n / seconds.max(1e-9),
            seconds,
        }
    }

    /// Back to the weights and optimizer state at the epoch's start (what
    /// the last checkpoint holds).
    fn back_to_epoch_start(&self) -> Result<()> {
        self.ctx.wait()?;
        let live = [&self.model.params, &self.a.m, &self.a.v, &self.a.state];
        for (to, from) in live.into_iter().zip(&self.a.good) {
            self.ctx.copy(from, to)?;
        }
        Ok(())
    }
}
