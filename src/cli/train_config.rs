//! The flags of `wgae train`, and the model and training settings they
//! make: a checkpoint's or a config file's (or the defaults), then the
//! flags on top, checked against the data.

use std::path::PathBuf;

use clap::Args;
use wgae::data::files;
use wgae::data::ratings::RowsAre;
use wgae::model::{LossKind, Missing, Variant};
use wgae::train::{ConfigFile, OptimizerName, ScheduleName, TrainConfig};
use wgae::{Activation, ModelConfig};

use crate::cli::series::SeriesArgs;
use crate::cli::size::parse_size;
use crate::cli::Scale;

#[derive(Args)]
pub struct TrainArgs {
    /// Training data: an IDX file (.gz or raw), .npy, CSV, or a folder of images.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Override format detection: idx, npy, csv, images.
    #[arg(long)]
    pub format: Option<files::Format>,
    /// Encoder widths from the input to the code, e.g. 784,128,32 (the
    /// decoder mirrors them). The first must match the data's width.
    #[arg(long, value_delimiter = ',')]
    pub arch: Option<Vec<usize>>,
    /// Hidden-layer activation: relu, leaky_relu[:slope], sigmoid, tanh, gelu, identity.
    #[arg(long)]
    pub act: Option<Activation>,
    /// Code-layer activation (default: --act).
    #[arg(long)]
    pub code_act: Option<Activation>,
    /// Output activation: sigmoid or identity.
    #[arg(long)]
    pub out_act: Option<Activation>,
    /// Reconstruction loss: bce or mse.
    #[arg(long)]
    pub loss: Option<LossKind>,
    /// plain, sparse, kl-sparse, denoising, contractive, vae.
    #[arg(long)]
    pub variant: Option<Variant>,
    /// L1 activity penalty on the code.
    #[arg(long)]
    pub l1: Option<f32>,
    /// KL sparsity target (with --beta).
    #[arg(long)]
    pub rho: Option<f32>,
    /// KL sparsity weight, or the VAE's KL weight.
    #[arg(long)]
    pub beta: Option<f32>,
    /// Contractive penalty weight.
    #[arg(long)]
    pub contractive: Option<f32>,
    /// Input noise for denoising: gaussian:STD, mask:P, salt-pepper:P.
    #[arg(long)]
    pub noise: Option<wgae::op::Noise>,
    /// Tie the decoder's weights to the encoder's.
    #[arg(long)]
    pub tied: bool,
    /// Dropout probability on hidden layers during training, in [0, 1).
    #[arg(long)]
    pub dropout: Option<f32>,
    /// L2 weight decay (decoupled for adamw).
    #[arg(long)]
    pub weight_decay: Option<f32>,
    /// Clip gradients to this global norm.
    #[arg(long)]
    pub clip_norm: Option<f32>,
    /// adam, adamw, sgd, momentum, nesterov, rmsprop.
    #[arg(long)]
    pub optimizer: Option<OptimizerName>,
    /// Learning rate (default 1e-3).
    #[arg(long)]
    pub lr: Option<f32>,
    /// constant, step, cosine.
    #[arg(long)]
    pub schedule: Option<ScheduleName>,
    /// Linear learning-rate warm-up over this many steps.
    #[arg(long)]
    pub warmup: Option<u32>,
    /// Epochs in all (default 10; with --resume, the total to reach).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Batch size (default 256).
    #[arg(long)]
    pub batch: Option<usize>,
    /// Use only the first N samples.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Hold out this fraction for validation (default 0.1 without --val).
    #[arg(long, conflicts_with = "val")]
    pub val_split: Option<f32>,
    /// A separate validation set.
    #[arg(long)]
    pub val: Option<PathBuf>,
    /// Stop after N epochs without improvement and restore the best weights.
    #[arg(long)]
    pub early_stop: Option<usize>,
    /// Seed for weights, shuffling and noise (default 42): the same seed gives
    /// the same weights on the same device.
    #[arg(long)]
    pub seed: Option<u64>,
    /// A TOML file with [model] and [train] tables; flags override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Rescale the features: none (as loaded; images are already in [0, 1]),
    /// unit (each column to [0, 1]) or standard (zero mean, unit variance).
    /// The model file keeps the transform and applies it to later data.
    #[arg(long, default_value = "none")]
    pub scale: Scale,
    /// Read image folders as RGB (three values per pixel) instead of grayscale.
    #[arg(long)]
    pub rgb: bool,
    /// What a missing entry (NaN, or an empty, NaN or NA CSV field) means:
    /// refuse (the default) or mask (the model reads it as 0 and learns from
    /// the observed entries alone; `wgae impute` fills them in).
    #[arg(long, value_name = "refuse|mask")]
    pub missing: Option<Missing>,
    /// Read --data as ratings (user, item, rating per line: CSV, MovieLens
    /// u.data or ratings.dat, RecBole .inter) and train AutoRec on the
    /// rating matrix, its rows items (I-AutoRec) or users (U-AutoRec).
    #[arg(long, value_name = "items|users")]
    pub rows: Option<RowsAre>,
    /// With --rows: the share of ratings held out at random (seeded by
    /// --seed) for the RMSE and MAE reported at the end (default 0.1).
    #[arg(long, value_name = "F", conflicts_with = "test")]
    pub test_split: Option<f32>,
    /// Implicit feedback: --data lists interactions (user, item; a rating
    /// column is ignored), and a denoising autoencoder ranks each user's
    /// unseen items (CDAE); recall@k and NDCG@k on held-out interactions.
    #[arg(long)]
    pub implicit: bool,
    /// With --implicit: the k of recall@k and NDCG@k (default 10).
    #[arg(long)]
    pub k: Option<usize>,
    /// With --rows: held-out ratings from their own file instead of a split
    /// (pairs whose user or item is not in --data are left out and counted).
    #[arg(long, value_name = "FILE")]
    pub test: Option<PathBuf>,
    #[command(flatten)]
    pub series: SeriesArgs,
    /// Samples of built-in synthetic digits when no --data is given.
    #[arg(long, default_value_t = 10_000)]
    pub synthetic: usize,
    /// Save the trained model (safetensors, PyTorch names and layout).
    #[arg(long)]
    pub save: Option<PathBuf>,
    /// Write a checkpoint (model + optimizer state) here after every epoch.
    #[arg(long)]
    pub checkpoint_dir: Option<PathBuf>,
    /// Continue training from a checkpoint (same data; --epochs may extend
    /// it). Checkpoints go on being written to the same file, or to
    /// --checkpoint-dir.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Write pictures here: reconstructions, loss curves, the code space, samples.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Overwrite existing outputs.
    #[arg(long)]
    pub force: bool,
    /// End with one JSON line of results on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress bar or per-epoch lines.
    #[arg(long)]
    pub quiet: bool,
    /// When the loss becomes NaN or infinite: stop (with the last finite
    /// weights), or restore them, halve the learning rate and go on.
    #[arg(long)]
    pub on_divergence: Option<wgae::train::OnDivergence>,
    /// With --on-divergence restore: the most restores before stopping (default 3).
    #[arg(long)]
    pub max_restores: Option<u32>,
    /// The most GPU memory wgae may use, e.g. 512M or 2G: data that does
    /// not fit beside the model is streamed from host memory.
    #[arg(long, value_parser = parse_size)]
    pub gpu_memory: Option<u64>,
    /// The most data to hold in host memory (default: half of what is
    /// available): a larger .npy or raw IDX file is read from disk as
    /// training needs it.
    #[arg(long, value_parser = parse_size)]
    pub host_memory: Option<u64>,
}

/// The model: the checkpoint's or config file's (a one-layer 32-wide code
/// by default), then the flags on top, checked against the data.
pub fn model_config(
    a: &TrainArgs,
    file: Option<&ConfigFile>,
    cols: usize,
    resuming: bool,
) -> wgae::Result<ModelConfig> {
    let mut model = match file.map(|f| f.model.clone()) {
        Some(m) => m,
        None => ModelConfig::dense(cols, &[32]),
    };
    // A resumed run continues the checkpoint's model: --arch may repeat
    // it, not change it.
    let same_arch = a.arch.as_ref().is_some_and(|arch| {
        !model.is_layered()
            && arch.first() == Some(&model.input_dim)
            && arch[1..] == model.encoder[..]
    });
    if resuming && ((a.arch.is_some() && !same_arch) || a.variant.is_some()) {
        return Err(wgae::Error::InvalidArgument(
            "--resume continues the checkpoint's model; drop --arch (or give the checkpoint's \
             own) and --variant"
                .into(),
        ));
    }
    if let Some(arch) = &a.arch {
        if model.is_layered() {
            return Err(wgae::Error::InvalidArgument(
                "--arch sets Dense widths, but this config's model is a list of layers \
                 (encoder_layers); drop --arch, or edit the layers in the config"
                    .into(),
            ));
        }
        if arch.len() < 2 {
            return Err(wgae::Error::InvalidArgument(format!(
                "--arch needs the input width and at least the code width, e.g. {},32",
                cols
            )));
        }
        model.input_dim = arch[0];
        model.encoder = arch[1..].to_vec();
    }
    if model.is_layered() && model.input_dim != cols {
        return Err(wgae::Error::InvalidArgument(format!(
            "the data has {} values per sample but the model's input_shape {:?} holds {}; \
             change input_shape in the config to the data's shape",
            cols,
            model.input_shape.as_deref().unwrap_or(&[]),
            model.input_dim
        )));
    }
    if model.input_dim != cols {
        return Err(wgae::Error::InvalidArgument(format!(
            "the data has {} features per sample but the architecture starts at {}; use --arch {},...",
            cols, model.input_dim, cols
        )));
    }
    if let Some(v) = a.act {
        model.act = v;
    }
    if let Some(v) = a.code_act {
        model.code_act = Some(v);
    }
    if let Some(v) = a.out_act {
        model.out_act = v;
    }
    if let Some(v) = a.loss {
        model.loss = v;
        if v == LossKind::Mse && a.out_act.is_none() && a.config.is_none() {
            // The usual regression setup; BCE keeps its sigmoid.
            model.out_act = Activation::Identity;
        }
    }
    if a.tied {
        model.tied = true;
    }
    if let Some(v) = a.dropout {
        model.dropout = v;
    }
    if let Some(v) = a.noise {
        model.noise = Some(v);
    }
    if let Some(v) = a.l1 {
        model.l1 = v;
    }
    if let Some(rho) = a.rho {
        model = model.kl_sparsity(rho, a.beta.unwrap_or(1.0));
    }
    if let Some(v) = a.contractive {
        model.contractive = v;
    }
    if let Some(v) = a.variant {
        model = model.with_variant(v);
    }
    if let Some(m) = a.missing {
        model.missing = m;
    }
    // --beta weighs whichever KL term the model has, however it came (the
    // variant's default rho, --rho, a config, --variant vae); with none, it
    // would do nothing, so it is refused.
    if let Some(b) = a.beta {
        if model.variational.is_some() {
            model = model.variational(b);
        } else if let Some(k) = model.kl_sparsity {
            model = model.kl_sparsity(k.rho, b);
        } else {
            return Err(wgae::Error::InvalidArgument(
                "--beta weighs a KL term, and this model has none: add --variant kl-sparse (or \
                 --rho) for KL sparsity, or --variant vae"
                    .into(),
            ));
        }
    }
    model.validate()?;
    Ok(model)
}

/// How to train: the config file's settings (or the defaults), then the
/// flags; a validation split of 0.1 unless one is given or a validation set.
pub fn train_config(a: &TrainArgs, file: Option<TrainConfig>, has_val: bool) -> TrainConfig {
    let mut t = file.unwrap_or_default();
    macro_rules! set {
        ($($flag:ident => $field:ident),*) => { $( if let Some(v) = a.$flag { t.$field = v; } )* };
    }
    set!(epochs => epochs, batch => batch_size, optimizer => optimizer, lr => lr, weight_decay => weight_decay,
         clip_norm => clip_norm, schedule => schedule, warmup => warmup_steps, seed => seed,
         on_divergence => on_divergence, max_restores => max_restores);
    if let Some(p) = a.early_stop {
        t.early_stopping = Some(p);
    }
    t.validation_split = match (a.val_split, has_val) {
        (Some(f), _) => f,
        (None, false) if t.validation_split == 0.0 => 0.1,
        _ => t.validation_split,
    };
    if has_val {
        t.validation_split = 0.0;
    }
    t
}
