//! Whole training steps against the f64 trainer (`reference::trainer`),
//! as `tests/common/three_steps.rs` checks them natively: one epoch of 21
//! rows at batch 8 (three steps, the last partial) on the same shuffled
//! batches, initial weights and random draws. One dense model under Adam,
//! one conv model with batch norm, max pooling and upsampling under SGD.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use wgae::reference::epoch::reference_epoch;
use wgae::train::config::ConfigFile;
use wgae::{Autoencoder, Control, Dataset, GpuContext, Result, Trainer};

use super::{errored, judged, Check};

/// One epoch of 21 rows at batch 8: three steps, the last partial.
const ROWS: usize = 21;

/// A dense autoencoder with a tanh code, under Adam with weight decay.
const DENSE: &str = r#"
[model]
input_dim = 13
encoder = [9, 4]
act = "tanh"
out_act = "sigmoid"
loss = "bce"

[train]
epochs = 1
batch_size = 8
optimizer = "adam"
lr = 0.01
weight_decay = 0.001
seed = 7
"#;

/// Conv -> batch norm -> ReLU -> max pool, a dense code, then upsampling
/// back through batch norm and a convolution.
const CONV: &str = r#"
[model]
input_shape = [2, 6, 8]
act = "relu"
loss = "mse"

[[model.encoder_layers]]
type = "conv2d"
filters = 3
kernel = 3
padding = "same"
act = "identity"
bias = false

[[model.encoder_layers]]
type = "batch_norm2d"
act = "relu"

[[model.encoder_layers]]
type = "max_pool2d"
size = 2

[[model.encoder_layers]]
type = "flatten"

[[model.encoder_layers]]
type = "dense"
units = 5
act = "tanh"

[[model.decoder_layers]]
type = "dense"
units = 36

[[model.decoder_layers]]
type = "reshape"
shape = [3, 3, 4]

[[model.decoder_layers]]
type = "upsample2d"
factor = 2

[[model.decoder_layers]]
type = "batch_norm2d"

[[model.decoder_layers]]
type = "conv2d"
filters = 2
kernel = 3
padding = "same"
act = "identity"

[train]
epochs = 1
batch_size = 8
optimizer = "sgd"
lr = 0.3
seed = 7
"#;

pub async fn all(ctx: &GpuContext) -> Vec<Check> {
    let mut out = Vec::new();
    for (name, text) in [
        ("train dense adam", DENSE),
        ("train conv batch-norm pool", CONV),
    ] {
        out.push(match three_steps(ctx, text).await {
            Ok((worst, values, tolerances)) => {
                let mut c = judged(name.to_string(), worst);
                c.values = values;
                c.tolerances = tolerances;
                c
            }
            Err(e) => errored(name.to_string(), e),
        });
    }
    out
}

/// The worst error of the trained parameters over their tolerance, and a
/// sample of them (every parameter of a small model, at most 256) with
/// their tolerances.
async fn three_steps(ctx: &GpuContext, text: &str) -> Result<(f64, Vec<f64>, Vec<f64>)> {
    let f = ConfigFile::from_toml(text)?;
    let (cfg, tcfg) = (f.model, f.train);
    let mut g = StdRng::seed_from_u64(3);
    let values: Vec<f32> = (0..ROWS * cfg.input_dim)
        .map(|_| g.random_range(0.0..1.0))
        .collect();
    let data = Dataset::new(values, ROWS, cfg.input_dim, None)?;
    let model = Autoencoder::new(ctx, &cfg, tcfg.seed)?;
    let p0 = model.params_host_async().await?;
    let mut trainer = Trainer::with_model(model, &tcfg, &data, None)?;
    trainer.fit_async(|_| Control::Continue, |_| {}).await?;
    let got = trainer.model().params_host_async().await?;
    let layout = trainer.model().layout();
    let reference = reference_epoch(&cfg, &tcfg, layout, &p0, &data);
    let tol = |i: usize| reference.tolerance[i] + 1e-30;
    let worst = super::worst(&got, &reference.params, |i, _| tol(i));
    // Tensor by tensor, so that the arena's alignment (the adapter's) does
    // not shift the sample.
    let packed: Vec<usize> = layout
        .entries
        .iter()
        .flat_map(|e| e.offset..e.offset + e.len())
        .collect();
    let step = (packed.len() / 256).max(1);
    let picked: Vec<usize> = packed.into_iter().step_by(step).collect();
    let sample = picked.iter().map(|&i| f64::from(got[i])).collect();
    let tolerances = picked.iter().map(|&i| tol(i)).collect();
    Ok((worst, sample, tolerances))
}
