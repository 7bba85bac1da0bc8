//! How to train: the optimizer, its schedule, the batches, early stopping,
//! and the file that pairs a model with its training (`ConfigFile`, TOML).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::ModelConfig;
use crate::op::{OptimConfig, OptimizerKind, OptimizerName, Schedule, ScheduleName};

/// How to train. Defaults: 10 epochs, batch 256, Adam at 1e-3, seed 42.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub optimizer: OptimizerName,
    pub lr: f32,
    /// Momentum (momentum, nesterov) and Adam's beta1.
    pub beta1: f32,
    /// Adam's beta2 and RMSprop's smoothing constant alpha.
    pub beta2: f32,
    pub eps: f32,
    /// L2 weight decay on the weights (decoupled for AdamW, on all parameters).
    pub weight_decay: f32,
    /// Clip gradients to this global L2 norm (0 = off).
    pub clip_norm: f32,
    pub schedule: ScheduleName,
    /// For the step schedule: multiply the rate by `gamma` every `step_epochs`.
    pub step_epochs: usize,
    pub gamma: f32,
    /// For the cosine schedule: the final rate.
    pub min_lr: f32,
    /// Linear warm-up over this many steps.
    pub warmup_steps: u32,
    pub seed: u64,
    /// Fraction of the data held out for validation (the last rows, as Keras).
    pub validation_split: f32,
    /// Stop after this many epochs without improvement, restoring the best weights.
    pub early_stopping: Option<usize>,
    /// The least improvement that counts.
    pub min_delta: f32,
    /// Read the loss back every N steps (for progress display); otherwise once per epoch.
    pub log_every_steps: Option<usize>,
    /// What to do when the loss becomes NaN or infinite.
    pub on_divergence: OnDivergence,
    /// With `OnDivergence::Restore`: the most times training goes back and
    /// halves the rate before it stops.
    pub max_restores: u32,
}

/// What training does when the loss becomes NaN or infinite (a learning
/// rate too high, say). Either way the model first goes back to the last
/// finite weights: those from before the epoch in which it diverged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnDivergence {
    /// Stop with an error naming the epoch and step.
    #[default]
    Stop,
    /// Go back to the weights and optimizer state from before the epoch,
    /// halve the learning rate and train the epoch again, at most
    /// `max_restores` times in a run; then stop.
    Restore,
}

impl std::str::FromStr for OnDivergence {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "stop" => Ok(OnDivergence::Stop),
            "restore" => Ok(OnDivergence::Restore),
            other => Err(Error::InvalidArgument(format!(
                "`on_divergence` '{other}': expected stop or restore"
            ))),
        }
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 10,
            batch_size: 256,
            optimizer: OptimizerName::Adam,
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            clip_norm: 0.0,
            schedule: ScheduleName::Constant,
            step_epochs: 10,
            gamma: 0.5,
            min_lr: 0.0,
            warmup_steps: 0,
            seed: 42,
            validation_split: 0.0,
            early_stopping: None,
            min_delta: 0.0,
            log_every_steps: None,
            on_divergence: OnDivergence::Stop,
            max_restores: 3,
        }
    }
}

impl TrainConfig {
    pub fn validate(&self) -> Result<()> {
        if self.epochs == 0 {
            return Err(Error::InvalidArgument("epochs must be at least 1".into()));
        }
        if self.batch_size == 0 {
            return Err(Error::InvalidArgument(
                "batch size must be at least 1".into(),
            ));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(Error::InvalidArgument(format!(
                "learning rate {} (`lr`) must be positive",
                self.lr
            )));
        }
        // Every other number, checked here once for the CLI's flags, a TOML
        // [train] table and the library alike. NaN fails every range.
        let check = |name: &str, v: f32, ok: bool, want: &str| -> Result<()> {
            if ok {
                Ok(())
            } else {
                Err(Error::InvalidArgument(format!("{name} {v} must be {want}")))
            }
        };
        let finite_at_least_0 = |v: f32| v.is_finite() && v >= 0.0;
        check(
            "weight decay (`weight_decay`)",
            self.weight_decay,
            finite_at_least_0(self.weight_decay),
            ">= 0",
        )?;
        check(
            "gradient clipping norm (`clip_norm`)",
            self.clip_norm,
            finite_at_least_0(self.clip_norm),
            ">= 0 (0 turns clipping off)",
        )?;
        check(
            "validation split (`validation_split`)",
            self.validation_split,
            (0.0..1.0).contains(&self.validation_split),
            "in [0, 1)",
        )?;
        check(
            "beta1",
            self.beta1,
            (0.0..1.0).contains(&self.beta1),
            "in [0, 1)",
        )?;
        check(
            "beta2",
            self.beta2,
            (0.0..1.0).contains(&self.beta2),
            "in [0, 1)",
        )?;
        check(
            "eps",
            self.eps,
            self.eps.is_finite() && self.eps > 0.0,
            "> 0",
        )?;
        check(
            "gamma",
            self.gamma,
            self.gamma.is_finite() && self.gamma > 0.0,
            "> 0",
        )?;
        check(
            "min_lr",
            self.min_lr,
            finite_at_least_0(self.min_lr),
            ">= 0",
        )?;
        check(
            "min_delta",
            self.min_delta,
            finite_at_least_0(self.min_delta),
            ">= 0",
        )?;
        if self.early_stopping == Some(0) {
            return Err(Error::InvalidArgument(
                "early stopping patience (`early_stopping`) must be at least 1 epoch".into(),
            ));
        }
        if self.on_divergence == OnDivergence::Restore && self.max_restores == 0 {
            return Err(Error::InvalidArgument(
                "`on_divergence` restore with `max_restores` 0 would never restore; give at \
                 least 1, or `on_divergence` stop"
                    .into(),
            ));
        }
        if self.log_every_steps == Some(0) {
            return Err(Error::InvalidArgument(
                "log_every_steps must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// The GPU optimizer's configuration, given the steps in one epoch.
    pub fn optim(&self, steps_per_epoch: usize) -> OptimConfig {
        let kind = match self.optimizer {
            OptimizerName::Sgd => OptimizerKind::Sgd,
            OptimizerName::Momentum => OptimizerKind::Momentum {
                mu: self.beta1,
                nesterov: false,
            },
            OptimizerName::Nesterov => OptimizerKind::Momentum {
                mu: self.beta1,
                nesterov: true,
            },
            OptimizerName::Adam => OptimizerKind::Adam,
            OptimizerName::Adamw => OptimizerKind::AdamW,
            OptimizerName::Rmsprop => OptimizerKind::RmsProp { alpha: self.beta2 },
        };
        let total = (self.epochs * steps_per_epoch).min(u32::MAX as usize) as u32;
        let schedule = match self.schedule {
            ScheduleName::Constant => Schedule::Constant,
            ScheduleName::Step => Schedule::Step {
                step_size: (self.step_epochs.max(1) * steps_per_epoch).min(u32::MAX as usize)
                    as u32,
                gamma: self.gamma,
            },
            ScheduleName::Cosine => Schedule::Cosine {
                total_steps: total,
                min_lr: self.min_lr,
            },
        };
        OptimConfig {
            kind,
            lr: self.lr,
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            // Coupled L2 decay is added to the weight gradients by the plan;
            // only AdamW decays inside the optimizer.
            weight_decay: if self.optimizer == OptimizerName::Adamw {
                self.weight_decay
            } else {
                0.0
            },
            clip_norm: self.clip_norm,
            schedule,
            warmup: self.warmup_steps,
        }
    }
}

/// A model file's two halves: the architecture and how it was trained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub model: ModelConfig,
    #[serde(default)]
    pub train: TrainConfig,
}

impl ConfigFile {
    pub fn from_toml(text: &str) -> Result<Self> {
        let mut f: ConfigFile = toml::from_str(text)
            .map_err(|e| Error::InvalidArgument(format!("config: {}", one_line(text, &e))))?;
        f.model = f.model.with_input_dim_from_shape();
        f.model.validate()?;
        f.train.validate()?;
        Ok(f)
    }

    pub fn to_toml(&self) -> String {
        crate::toml_text::to_string(self).expect("a config always serializes")
    }
}

/// A TOML error in one line, in a config writer's words: where (the line
/// and its text), and what is wrong, with Rust's type names as numbers.
pub fn one_line(text: &str, e: &toml::de::Error) -> String {
    let msg = plain_types(e.message().trim());
    let Some(span) = e.span() else {
        return msg;
    };
    let line_at = |at: usize| {
        let at = at.min(text.len());
        let no = text[..at].matches('\n').count() + 1;
        (no, text.lines().nth(no - 1).unwrap_or("").trim())
    };
    let (mut no, mut line) = line_at(span.start);
    // A span over a whole table ([[model.encoder_layers]]): the line in it
    // holding the value the message quotes.
    if !line.contains('=') {
        let quoted = msg
            .split('"')
            .nth(1)
            .or_else(|| msg.split('`').nth(1))
            .or_else(|| msg.strip_prefix("not a value ")?.split(' ').next());
        let end = span.end.min(text.len());
        if let Some(q) = quoted.filter(|q| !q.is_empty()) {
            if let Some(i) = text[span.start..end]
                .lines()
                .position(|l| l.contains('=') && l.contains(q))
            {
                no = line_at(span.start).0 + i;
                line = text.lines().nth(no - 1).unwrap_or("").trim();
            }
        }
    }
    if line.is_empty() {
        format!("line {no}: {msg}")
    } else {
        format!("line {no} ({line}): {msg}")
    }
}

/// serde's Rust type names as a config writer reads them.
fn plain_types(msg: &str) -> String {
    let mut m = msg.replace('\n', " ");
    for (rust, plain) in [
        ("expected usize", "expected a whole number, 0 or more"),
        ("expected u64", "expected a whole number, 0 or more"),
        ("expected u32", "expected a whole number, 0 or more"),
        ("expected u8", "expected a whole number, 0 or more"),
        ("expected i64", "expected a whole number"),
        ("expected i32", "expected a whole number"),
        ("expected f32", "expected a number"),
        ("expected f64", "expected a number"),
    ] {
        m = m.replace(rust, plain);
    }
    if let Some(i) = m.find("data did not match any variant of untagged enum ") {
        let name = m[i..]
            .trim_start_matches("data did not match any variant of untagged enum ")
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        m = format!("not a value {name} accepts (see the README's config section)");
    }
    m
}
