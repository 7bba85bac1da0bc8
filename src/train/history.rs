//! What training reports: each epoch's measures, progress within an epoch,
//! the whole run's history, and what a callback asks for.

use serde::Serialize;

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
#[derive(Clone, Debug, Default, Serialize)]
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
