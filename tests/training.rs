//! The training engine against its f64 twin: for every variant, three GPU
//! training steps (one epoch of 21 rows at batch 8, so the last batch is
//! partial) match three f64 reference steps on the same shuffled batches,
//! the same initial weights and the same random draws.

mod common;

use common::{assert_close, gpu, rand_vec, rng};
use wgae::kernels::{Activation, Noise};
use wgae::model::{LayerDesc, Padding, Size};
use wgae::reference::trainer::RefTrainer;
use wgae::train::{OptimizerName, ScheduleName};
use wgae::{Control, Dataset, GpuContext, LossKind, ModelConfig, TrainConfig, Trainer};

use common::three_steps::{check_three_steps, sgd, toy_data, toy_data_of, BATCH, DIM};

#[test]
fn plain_dense_bce() {
    check_three_steps("plain", &ModelConfig::dense(DIM, &[9, 5]), &sgd(0.5));
}

#[test]
fn deep_mse_tanh_identity_output() {
    let cfg = ModelConfig::dense(DIM, &[11, 9, 4])
        .act(Activation::Tanh)
        .out_act(Activation::Identity)
        .loss(LossKind::Mse);
    check_three_steps("deep mse", &cfg, &sgd(0.2));
}

#[test]
fn mse_with_sigmoid_output_and_gelu_leaky_hidden() {
    let cfg = ModelConfig::dense(DIM, &[10, 6])
        .act(Activation::Gelu)
        .code_act(Activation::LeakyRelu(0.1))
        .loss(LossKind::Mse);
    check_three_steps("gelu/leaky mse", &cfg, &sgd(0.5));
}

#[test]
fn tied_weights() {
    check_three_steps(
        "tied",
        &ModelConfig::dense(DIM, &[9, 5]).tied(true),
        &sgd(0.5),
    );
}

#[test]
fn sparse_l1() {
    check_three_steps(
        "sparse l1",
        &ModelConfig::dense(DIM, &[9, 5]).l1(0.05),
        &sgd(0.5),
    );
}

#[test]
fn kl_sparse() {
    let cfg = ModelConfig::dense(DIM, &[9, 5])
        .code_act(Activation::Sigmoid)
        .kl_sparsity(0.1, 0.5);
    check_three_steps("kl sparse", &cfg, &sgd(0.5));
}

#[test]
fn denoising_all_noise_kinds() {
    for noise in [
        Noise::Gaussian(0.3),
        Noise::Mask(0.3),
        Noise::SaltPepper(0.2),
    ] {
        check_three_steps(
            &format!("denoising {noise}"),
            &ModelConfig::dense(DIM, &[9, 5]).noise(noise),
            &sgd(0.5),
        );
    }
}

#[test]
fn contractive() {
    for act in [Activation::Sigmoid, Activation::Tanh] {
        let cfg = ModelConfig::dense(DIM, &[6]).code_act(act).contractive(0.5);
        check_three_steps(&format!("contractive {act}"), &cfg, &sgd(0.5));
    }
}

#[test]
fn variational() {
    let cfg = ModelConfig::dense(DIM, &[9, 4]).variational(1.0);
    check_three_steps("vae", &cfg, &sgd(0.05));
}

#[test]
fn dropout_weight_decay_and_clipping() {
    let cfg = ModelConfig::dense(DIM, &[9, 5]).dropout(0.3);
    check_three_steps("dropout", &cfg, &sgd(0.5));
    let t = TrainConfig {
        weight_decay: 0.1,
        clip_norm: 0.05,
        ..sgd(0.5)
    };
    check_three_steps("weight decay + clip", &ModelConfig::dense(DIM, &[9, 5]), &t);
}

#[test]
fn every_optimizer_and_schedule_in_the_loop() {
    let cfg = ModelConfig::dense(DIM, &[9, 5]).tied(true).dropout(0.2);
    for opt in [
        OptimizerName::Momentum,
        OptimizerName::Nesterov,
        OptimizerName::Rmsprop,
        OptimizerName::Adam,
        OptimizerName::Adamw,
    ] {
        let t = TrainConfig {
            optimizer: opt,
            lr: 0.01,
            weight_decay: 0.01,
            schedule: ScheduleName::Cosine,
            warmup_steps: 2,
            ..sgd(0.01)
        };
        check_three_steps(&format!("{opt:?}"), &cfg, &t);
    }
}

/// The metrics an epoch reports (the loss, MSE and BCE per feature, summed
/// from the loss kernel's per-row outputs during training) match the same
/// quantities computed on the host from the model's reconstructions of its
/// training rows. The model is held still (SGD with a step far below f32's
/// resolution), so every batch saw the same weights.
#[test]
fn training_metrics_match_the_models_reconstructions() {
    let (Some(ctx), Some(other)) = (gpu(), common::gpu_other_plan()) else {
        return;
    };
    let (rows, dim) = (50, 13);
    let mut g = rng(77);
    let data = Dataset::new(rand_vec(&mut g, rows * dim, 0.05, 0.95), rows, dim, None).unwrap();
    let still = TrainConfig {
        epochs: 1,
        batch_size: 16,
        optimizer: OptimizerName::Sgd,
        lr: 1e-30,
        validation_split: 0.0,
        seed: 3,
        ..TrainConfig::default()
    };
    let configs = [
        ("bce, sigmoid output", ModelConfig::dense(dim, &[9, 5])),
        (
            "mse, sigmoid output",
            ModelConfig::dense(dim, &[9, 5]).loss(LossKind::Mse),
        ),
        (
            "mse, identity output",
            ModelConfig::dense(dim, &[9, 5])
                .out_act(Activation::Identity)
                .loss(LossKind::Mse),
        ),
    ];
    for ctx in [ctx, other] {
        for (name, cfg) in &configs {
            let mut t = common::trainer(ctx, cfg, &still, &data);
            let history = t.fit(|_| Control::Continue, |_| {}).unwrap();
            let e = history.epochs.last().unwrap();
            let y = t.model().reconstruct(&data).unwrap();
            let n = (rows * dim) as f64;
            let mse: f64 = y
                .iter()
                .zip(&data.data)
                .map(|(&y, &x)| (f64::from(y) - f64::from(x)).powi(2))
                .sum::<f64>()
                / n;
            let bce: f64 = y
                .iter()
                .zip(&data.data)
                .map(|(&y, &x)| {
                    let (y, x) = (f64::from(y), f64::from(x));
                    -(x * y.ln() + (1.0 - x) * (1.0 - y).ln())
                })
                .sum::<f64>()
                / n;
            // Sums of ~650 f32 terms, and the logits' path against the
            // output's (a few ulps of each y): 1e-5 relative is ~100 ulps.
            let close = |what: &str, got: f64, want: f64| {
                assert!(
                    (got - want).abs() <= 1e-5 * want.abs(),
                    "{name}: {what} {got} vs {want} from the reconstructions"
                );
            };
            close("MSE per feature", e.recon_mse, mse);
            match cfg.loss {
                LossKind::Bce => close("loss", e.train_loss, bce),
                LossKind::Mse => close("loss", e.train_loss, mse),
            }
            if cfg.out_act == Activation::Sigmoid {
                close("BCE per feature", e.recon_bce.unwrap(), bce);
            } else {
                assert!(e.recon_bce.is_none(), "{name}");
            }
        }
    }
}

/// `profile_step` times every dispatch of one step and does exactly what
/// `run_steps(1)` does to the model.
#[test]
fn profiling_a_step_times_each_dispatch_and_is_a_real_step() {
    let Some(ctx) = gpu() else { return };
    let data = toy_data(9);
    let cfg = ModelConfig::dense(DIM, &[9, 5]);
    let tcfg = TrainConfig {
        batch_size: BATCH,
        seed: 4,
        ..TrainConfig::default()
    };
    let mut profiled = Trainer::new(ctx, &cfg, &tcfg, &data, None).unwrap();
    let mut plain = Trainer::new(ctx, &cfg, &tcfg, &data, None).unwrap();
    if !ctx.has_timestamps() {
        let err = profiled.profile_step().unwrap_err().to_string();
        assert!(err.contains("timestamp"), "{err}");
        return;
    }
    let labels: Vec<String> = profiled
        .step_labels()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let p0 = profiled.model().params_host().unwrap();
    let profile = profiled.profile_step().unwrap();
    plain.run_steps(1).unwrap();
    // Clear the metrics, shuffle, gather the batch, then the step itself.
    assert_eq!(profile.len(), labels.len() + 3);
    assert!(profile[1].0.starts_with("permute"), "{profile:?}");
    assert!(profile[2].0.starts_with("gather"), "{profile:?}");
    let step: Vec<&String> = profile[3..].iter().map(|(l, _)| l).collect();
    assert_eq!(step, labels.iter().collect::<Vec<_>>());
    assert!(
        profile.iter().all(|(_, t)| t.is_finite() && *t >= 0.0),
        "{profile:?}"
    );
    let total: f64 = profile.iter().map(|(_, t)| t).sum();
    assert!(total > 0.0 && total < 10.0, "{profile:?}");
    assert_eq!(profiled.step_count().unwrap(), 1);
    let (a, b) = (
        profiled.model().params_host().unwrap(),
        plain.model().params_host().unwrap(),
    );
    assert!(
        a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()),
        "a profiled step changed the model differently from run_steps(1)"
    );
    assert!(a != p0, "the profiled step did not move the model");
}

/// The kernels are compiled without wgpu's guard against endless loops
/// (`GpuContext::loop_bounding`); with the guard, every variant (and so
/// every training kernel: shuffle, gather, noise, matmuls, losses,
/// penalties, reductions, optimizer) trains to the same bits, and
/// reconstructs to the same bits.
#[test]
fn kernels_without_the_loop_guard_train_to_the_same_bits() {
    let Some(plain) = gpu() else { return };
    assert!(!plain.loop_bounding(), "the guard is off by default");
    let guarded = GpuContext::with_options(&wgae::gpu::ContextOptions {
        adapter: Some(plain.adapter_name().to_string()),
        loop_bounding: Some(true),
        ..common::context_options()
    })
    .unwrap();
    assert!(guarded.loop_bounding());
    let mut g = rng(29);
    let (rows, dim) = (75, 37);
    let data = Dataset::new(rand_vec(&mut g, rows * dim, 0.0, 1.0), rows, dim, None).unwrap();
    for variant in [
        wgae::Variant::Plain,
        wgae::Variant::Sparse,
        wgae::Variant::KlSparse,
        wgae::Variant::Denoising,
        wgae::Variant::Contractive,
        wgae::Variant::Vae,
    ] {
        // (The contractive penalty is exact for one encoder layer.)
        let widths: &[usize] = if variant == wgae::Variant::Contractive {
            &[12]
        } else {
            &[20, 5]
        };
        let cfg = ModelConfig::dense(dim, widths).with_variant(variant);
        let tcfg = TrainConfig {
            epochs: 2,
            batch_size: 16,
            seed: 3,
            ..TrainConfig::default()
        };
        let mut out = Vec::new();
        for ctx in [plain, &guarded] {
            let mut t = Trainer::new(ctx, &cfg, &tcfg, &data, None).unwrap();
            t.fit(|_| Control::Continue, |_| {}).unwrap();
            let m = t.model();
            let mut bits: Vec<u32> = m
                .params_host()
                .unwrap()
                .iter()
                .map(|x| x.to_bits())
                .collect();
            bits.extend(m.reconstruct(&data).unwrap().iter().map(|x| x.to_bits()));
            out.push(bits);
        }
        let differ = out[0].iter().zip(&out[1]).filter(|(a, b)| a != b).count();
        assert_eq!(out[0].len(), out[1].len());
        assert_eq!(
            differ,
            0,
            "{variant:?}: {differ} of {} values differ",
            out[0].len()
        );
    }
}

/// An epoch longer than one submission (`STEPS_PER_SUBMIT` steps) is
/// submitted in pieces; it trains to the same bits as one step per
/// submission with the metrics read after each (`log_every_steps = 1`), and
/// reports the same loss.
#[test]
fn an_epoch_in_several_submissions_trains_to_the_same_bits() {
    let Some(ctx) = gpu() else { return };
    let per = wgae::train::STEPS_PER_SUBMIT;
    let (dim, batch) = (13, 4);
    // Two and a half submissions' worth of steps, the last batch partial.
    let rows = (2 * per + per / 2) * batch + 3;
    let mut g = rng(41);
    let data = Dataset::new(rand_vec(&mut g, rows * dim, 0.0, 1.0), rows, dim, None).unwrap();
    let cfg = ModelConfig::dense(dim, &[7, 3]);
    let mut runs = Vec::new();
    for log_every_steps in [None, Some(1)] {
        let tcfg = TrainConfig {
            epochs: 2,
            batch_size: batch,
            seed: 9,
            validation_split: 0.0,
            log_every_steps,
            ..TrainConfig::default()
        };
        let mut t = Trainer::new(ctx, &cfg, &tcfg, &data, None).unwrap();
        assert!(t.steps_per_epoch() > 2 * per);
        let mut logged = 0;
        let h = t.fit(|_| Control::Continue, |_| logged += 1).unwrap();
        let bits: Vec<u32> = t
            .model()
            .params_host()
            .unwrap()
            .iter()
            .map(|x| x.to_bits())
            .collect();
        let losses: Vec<u64> = h.epochs.iter().map(|e| e.train_loss.to_bits()).collect();
        runs.push((bits, losses, logged));
    }
    assert_eq!(runs[0].0, runs[1].0, "the trained weights differ");
    assert_eq!(runs[0].1, runs[1].1, "the epochs' losses differ");
    // (The one-step run really ran one step per submission.)
    assert_eq!(runs[0].2, 0);
    assert!(runs[1].2 > 2 * per, "{} progress reports", runs[1].2);
}

// ------------------------------------------------------ convolutional models

fn conv(filters: usize, kernel: usize) -> LayerDesc {
    LayerDesc::conv2d(filters, kernel, Padding::same())
}

/// The Keras blog's shape of model, small: convolutions, max pooling,
/// nearest upsampling, a sigmoid output under BCE.
fn conv_pool_upsample() -> ModelConfig {
    ModelConfig::layered(
        &[1, 6, 8],
        vec![
            conv(3, 3),
            LayerDesc::max_pool2d(2, Padding::default()),
            conv(2, 3),
        ],
        vec![LayerDesc::upsample2d(2), conv(3, 3), conv(1, 3)],
    )
}

#[test]
fn conv_model() {
    check_three_steps("conv", &conv_pool_upsample(), &sgd(0.5));
}

#[test]
fn conv_model_denoising_dropout_l1_adam() {
    let cfg = conv_pool_upsample()
        .noise(Noise::Mask(0.3))
        .dropout(0.2)
        .l1(0.01);
    let t = TrainConfig {
        optimizer: OptimizerName::Adam,
        lr: 0.01,
        ..sgd(0.01)
    };
    check_three_steps("conv denoising dropout l1 adam", &cfg, &t);
}

/// Strided convolution, average pooling, a Dense code through Flatten and
/// Reshape, a transposed convolution, dilation, two channels in and out.
#[test]
fn conv_strided_transposed_dense_code() {
    let cfg = ModelConfig::layered(
        &[2, 5, 7],
        vec![
            LayerDesc::Conv2d {
                filters: 4,
                kernel: Size::One(3),
                stride: Size::One(2),
                padding: Padding::same(),
                dilation: Size::One(1),
                act: Some(Activation::Tanh),
                bias: true,
            },
            LayerDesc::AvgPool2d {
                size: Size::One(2),
                stride: Some(Size::One(1)),
                padding: Padding::default(),
            },
            LayerDesc::Flatten,
            LayerDesc::dense(5),
        ],
        vec![
            LayerDesc::dense(24),
            LayerDesc::Reshape {
                shape: vec![4, 2, 3],
            },
            LayerDesc::ConvTranspose2d {
                filters: 3,
                kernel: Size::One(3),
                stride: Size::One(2),
                padding: Padding::default(),
                output_padding: None,
                act: None,
                bias: true,
            },
            LayerDesc::Conv2d {
                filters: 2,
                kernel: Size::One(3),
                stride: Size::One(1),
                padding: Padding::same(),
                dilation: Size::One(2),
                act: None,
                bias: true,
            },
        ],
    );
    check_three_steps("conv strided/transposed/dense code", &cfg, &sgd(0.5));
}

#[test]
fn conv_vae() {
    let cfg = ModelConfig::layered(
        &[1, 6, 8],
        vec![
            conv(2, 3),
            LayerDesc::max_pool2d(2, Padding::default()),
            LayerDesc::Flatten,
            LayerDesc::dense(3),
        ],
        vec![
            LayerDesc::dense(24),
            LayerDesc::Reshape {
                shape: vec![2, 3, 4],
            },
            LayerDesc::upsample2d(2),
            conv(1, 3),
        ],
    )
    .variational(1.0);
    check_three_steps("conv vae", &cfg, &sgd(0.1));
}

/// A 1-D model for sequences: strided Conv1d, MaxPool1d, Upsample1d and a
/// transposed Conv1d with 'same' padding back to the length, MSE.
#[test]
fn conv1d_sequence_model() {
    let cfg = ModelConfig::layered(
        &[2, 12],
        vec![
            LayerDesc::Conv1d {
                filters: 3,
                kernel: 5,
                stride: 2,
                padding: Padding::same(),
                dilation: 1,
                act: None,
                bias: true,
            },
            LayerDesc::MaxPool1d {
                size: 2,
                stride: None,
                padding: Padding::default(),
            },
        ],
        vec![
            LayerDesc::Upsample1d { factor: 2 },
            LayerDesc::ConvTranspose1d {
                filters: 2,
                kernel: 4,
                stride: 2,
                padding: Padding::same(),
                output_padding: None,
                act: None,
                bias: true,
            },
        ],
    )
    .out_act(Activation::Identity)
    .loss(LossKind::Mse);
    check_three_steps("conv1d", &cfg, &sgd(0.2));
}

/// A decoder mirrored from the encoder (no decoder_layers) trains as the
/// f64 twin does.
#[test]
fn conv_mirrored_decoder() {
    let mut cfg = ModelConfig::layered(
        &[2, 8, 8],
        vec![
            LayerDesc::Conv2d {
                filters: 3,
                kernel: Size::One(3),
                stride: Size::One(2),
                padding: Padding::same(),
                dilation: Size::One(1),
                act: None,
                bias: true,
            },
            LayerDesc::max_pool2d(2, Padding::default()),
        ],
        vec![],
    );
    cfg.decoder_layers = None;
    check_three_steps("conv mirrored", &cfg, &sgd(0.5));
}

// ------------------------------------------------------ batch normalization

/// BatchNorm2d between convolutions (Conv -> BN -> ReLU, as Keras and
/// PyTorch write it) and BatchNorm1d on a Dense code: the weights, biases
/// and the running statistics after three steps (the last batch partial)
/// match the f64 twin, and num_batches_tracked counts them.
#[test]
fn conv_model_with_batch_norm() {
    let cfg = ModelConfig::layered(
        &[2, 6, 8],
        vec![
            conv(3, 3).with_act(Activation::Identity).without_bias(),
            LayerDesc::batch_norm2d().with_act(Activation::Relu),
            LayerDesc::max_pool2d(2, Padding::default()),
            LayerDesc::Flatten,
            LayerDesc::dense(5)
                .with_act(Activation::Identity)
                .without_bias(),
            LayerDesc::BatchNorm1d {
                momentum: Some(0.3),
                eps: Some(1e-3),
                act: Some(Activation::Tanh),
            },
        ],
        vec![
            LayerDesc::dense(36),
            LayerDesc::Reshape {
                shape: vec![3, 3, 4],
            },
            LayerDesc::upsample2d(2),
            LayerDesc::batch_norm2d(),
            conv(2, 3),
        ],
    );
    check_three_steps("conv batch norm", &cfg, &sgd(0.3));
    let Some(ctx) = gpu() else { return };
    let data = toy_data_of(3, cfg.input_dim);
    let mut trainer = Trainer::new(ctx, &cfg, &sgd(0.3), &data, None).unwrap();
    trainer.fit(|_| Control::Continue, |_| {}).unwrap();
    let layout = trainer.model().layout().clone();
    let params = trainer.model().params_host().unwrap();
    for e in layout
        .entries
        .iter()
        .filter(|e| e.name.ends_with("num_batches_tracked"))
    {
        assert_eq!(params[e.offset], 3.0, "{}", e.name);
    }
    let var = layout.find("encoder.2.running_var").unwrap();
    let var = &params[layout.entries[var].offset..][..3];
    assert!(
        var.iter().all(|v| *v != 1.0 && *v > 0.0),
        "running_var {var:?}"
    );
}

/// Dense layers with BatchNorm1d, under Adam with weight decay (AdamW
/// decays the scale and shift but never the running statistics), dropout
/// and clipping; every plan trains to the same bits.
#[test]
fn dense_batch_norm_adamw() {
    let cfg = ModelConfig::layered(
        &[DIM],
        vec![
            LayerDesc::dense(9)
                .with_act(Activation::Identity)
                .without_bias(),
            LayerDesc::batch_norm1d().with_act(Activation::Relu),
            LayerDesc::dense(4),
        ],
        vec![
            LayerDesc::dense(9),
            LayerDesc::batch_norm1d(),
            LayerDesc::dense(DIM),
        ],
    )
    .dropout(0.1);
    let t = TrainConfig {
        optimizer: OptimizerName::Adamw,
        weight_decay: 0.1,
        clip_norm: 1.0,
        lr: 0.01,
        ..sgd(0.01)
    };
    check_three_steps("dense batch norm adamw", &cfg, &t);
}

/// A trained batch-norm model infers with its running statistics, as
/// PyTorch's eval() does: its reconstructions match the f64 twin's
/// evaluation pass over the same weights and statistics.
#[test]
fn batch_norm_inference_uses_the_running_statistics() {
    let Some(ctx) = gpu() else { return };
    let cfg = ModelConfig::layered(
        &[1, 6, 8],
        vec![
            conv(3, 3).with_act(Activation::Identity),
            LayerDesc::batch_norm2d().with_act(Activation::Relu),
            LayerDesc::max_pool2d(2, Padding::default()),
        ],
        vec![LayerDesc::upsample2d(2), conv(1, 3)],
    );
    let data = toy_data_of(5, cfg.input_dim);
    let mut trainer = Trainer::new(ctx, &cfg, &sgd(0.3), &data, None).unwrap();
    trainer.fit(|_| Control::Continue, |_| {}).unwrap();
    let model = trainer.into_model();
    let params = model.params_host().unwrap();
    let reference = RefTrainer::new(&cfg, &sgd(0.3), model.layout().clone(), &params, 3);
    let x: Vec<f32> = (0..4).flat_map(|i| data.row(i).to_vec()).collect();
    let got = model
        .reconstruct(&Dataset::new(x.clone(), 4, cfg.input_dim, None).unwrap())
        .unwrap();
    let want = reference.predict(&x, 4);
    assert_close(
        "batch norm eval reconstruction",
        &got,
        &want,
        common::tol(1e-5, 1e-4),
    );
    // The batch's own statistics would give other values.
    let out = reference.forward(&x, 4).ys.pop().unwrap();
    assert!(
        out.iter()
            .zip(&got)
            .any(|(a, b)| (a - f64::from(*b)).abs() > 1e-3),
        "evaluation used the batch statistics"
    );
}

// ------------------------------------------------ data beyond one binding

/// A dataset larger than one storage binding (here the binding capped so
/// that its 15 training rows need 3 buffers) trains to the
/// same bits as the same data in one buffer; one that would need more than
/// four buffers is refused with one clear message.
#[test]
fn data_split_over_buffers_trains_to_the_same_bits() {
    let Some(ctx) = gpu() else { return };
    let cfg = ModelConfig::dense(DIM, &[9, 5]).dropout(0.1);
    let t = TrainConfig {
        epochs: 3,
        validation_split: 0.3,
        ..sgd(0.5)
    };
    let data = toy_data(11);
    let train = |ctx: &GpuContext| {
        let mut tr = Trainer::new(ctx, &cfg, &t, &data, None).unwrap();
        let h = tr.fit(|_| Control::Continue, |_| {}).unwrap();
        (
            tr.model().params_host().unwrap(),
            h.epochs.last().unwrap().val_loss,
        )
    };
    let whole = train(ctx);
    let mut opts = common::context_options();
    // 15 training rows of 13 f32 (52 bytes): 6 rows per buffer, 3 buffers.
    opts.max_binding = Some(6 * 52 + 7);
    let split = GpuContext::with_options(&opts).unwrap();
    assert_eq!(split.dataset_binding_limit(), 6 * 52 + 7);
    let parts = train(&split);
    assert!(
        whole
            .0
            .iter()
            .zip(&parts.0)
            .all(|(a, b)| a.to_bits() == b.to_bits()),
        "split data trained to other bits"
    );
    assert_eq!(whole.1, parts.1, "validation loss");

    opts.max_binding = Some(2 * 52);
    let tiny = GpuContext::with_options(&opts).unwrap();
    // 15 rows in buffers of 2 would need 8 buffers: the set is streamed
    // instead, and a batch of 8 rows cannot fit a 104-byte binding.
    let e = Trainer::new(&tiny, &cfg, &t, &data, None)
        .err()
        .expect("a batch of 8 rows in a 104-byte binding")
        .to_string();
    assert!(
        e.contains("one batch of 8 rows (416 bytes)") && e.contains("`batch_size`"),
        "{e}"
    );
}

/// A small .npy of f32 rows, written for a test.
fn write_npy(path: &std::path::Path, data: &Dataset) {
    let header = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {}), }}",
        data.rows, data.cols
    );
    let mut h = header.into_bytes();
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(b' ');
    }
    h.push(b'\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((h.len() as u16).to_le_bytes());
    bytes.extend(h);
    bytes.extend(data.data.iter().flat_map(|v| v.to_le_bytes()));
    std::fs::write(path, bytes).unwrap();
}

/// Streamed training (the rows sent from the host through a ring of GPU
/// buffers, in chunks of three batches here so that the ring wraps) gives
/// the same weights and validation loss, bit for bit, as the same data
/// resident on the GPU: from rows in memory, from a source in memory, and
/// from a mapped .npy file; and under a GPU memory cap that leaves too
/// little for the data, training streams on its own.
#[test]
fn streamed_training_gives_the_same_bits_as_resident() {
    let Some(ctx) = gpu() else { return };
    let cfg = ModelConfig::dense(DIM, &[9, 5]).dropout(0.1);
    let t = TrainConfig {
        epochs: 3,
        validation_split: 0.3,
        ..sgd(0.5)
    };
    let mut g = rng(5);
    let rows = 83;
    let data = Dataset::new(rand_vec(&mut g, rows * DIM, 0.0, 1.0), rows, DIM, None).unwrap();
    let fit = |mut tr: Trainer| {
        let h = tr.fit(|_| Control::Continue, |_| {}).unwrap();
        (
            tr.model().params_host().unwrap(),
            h.epochs.last().unwrap().val_loss,
            tr.is_streamed(),
        )
    };
    let resident = fit(Trainer::new(ctx, &cfg, &t, &data, None).unwrap());
    assert!(!resident.2);
    let mut opts = common::context_options();
    opts.stream = Some(true);
    // 58 training rows in batches of 8 (416 bytes): 3 batches per slot,
    // chunks of 3, 3 and 2 batches. 25 validation rows (1300 bytes) in one.
    opts.stream_slot = Some(1300);
    let streaming = GpuContext::with_options(&opts).unwrap();
    let dir = std::env::temp_dir().join(format!("wgae-stream-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let npy = dir.join("rows.npy");
    write_npy(&npy, &data);
    let model = || wgae::Autoencoder::new(&streaming, &cfg, t.seed).unwrap();
    let memory = wgae::data::Source::memory(data.data.clone(), rows, DIM).unwrap();
    let mapped = wgae::data::Source::map(&npy, None).unwrap();
    assert!(mapped.is_mapped());
    let runs = [
        (
            "rows",
            fit(Trainer::new(&streaming, &cfg, &t, &data, None).unwrap()),
        ),
        (
            "source in memory",
            fit(Trainer::from_source(model(), &t, &memory, None).unwrap()),
        ),
        (
            "mapped .npy",
            fit(Trainer::from_source(model(), &t, &mapped, None).unwrap()),
        ),
    ];
    for (what, run) in &runs {
        assert!(run.2, "{what}: not streamed");
        let same = resident
            .0
            .iter()
            .zip(&run.0)
            .all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(same, "{what}: streamed training gave other weights");
        assert_eq!(resident.1, run.1, "{what}: validation loss");
    }

    // A cap that leaves room for the model but not the data: streamed, and
    // the same bits. Measured on a context of its own (the live total
    // counts every trainer of a context), under a cap that binds nothing
    // (with a cap, validation runs in training-sized batches).
    let mut roomy = common::context_options();
    roomy.gpu_memory = Some(1 << 40);
    let fresh = GpuContext::with_options(&roomy).unwrap();
    let before = fresh.live_bytes();
    let tr = Trainer::new(&fresh, &cfg, &t, &data, None).unwrap();
    let need = fresh.live_bytes() - before;
    drop(tr);
    let data_bytes = (58 * DIM * 4) as u64;
    let mut capped = common::context_options();
    capped.gpu_memory = Some(need - data_bytes / 2);
    let capped_ctx = GpuContext::with_options(&capped).unwrap();
    let run = fit(Trainer::new(&capped_ctx, &cfg, &t, &data, None).unwrap());
    assert!(run.2, "a cap below the data's size streams it");
    assert!(resident
        .0
        .iter()
        .zip(&run.0)
        .all(|(a, b)| a.to_bits() == b.to_bits()));
    // A cap that leaves too little for even one batch: one clear error.
    capped.gpu_memory = Some(need - data_bytes - 200);
    let tight = GpuContext::with_options(&capped).unwrap();
    let e = Trainer::new(&tight, &cfg, &t, &data, None)
        .err()
        .expect("too small a cap")
        .to_string();
    assert!(e.contains("`gpu_memory`"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

/// Image bytes stay bytes on the GPU (resident or streamed, from memory,
/// a mapped u8 .npy or a mapped IDX file), scaled in the gather through a
/// table the host computes: the weights are the same bits as training on
/// the same rows loaded as f32, with and without a per-column transform.
#[test]
fn u8_storage_trains_to_the_same_bits_as_f32() {
    let Some(ctx) = gpu() else { return };
    let (rows, side) = (45usize, 5usize);
    let cols = side * side;
    let cfg = ModelConfig::dense(cols, &[7, 3])
        .loss(LossKind::Mse)
        .out_act(Activation::Identity);
    let t = TrainConfig {
        epochs: 2,
        validation_split: 0.2,
        ..sgd(0.5)
    };
    let mut g = rng(77);
    let bytes: Vec<u8> = (0..rows * cols)
        .map(|_| rand::Rng::random_range(&mut g, 0..=255u8))
        .collect();
    let f32_rows: Vec<f32> = bytes.iter().map(|&b| f32::from(b) / 255.0).collect();
    let dir = std::env::temp_dir().join(format!("wgae-u8-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let npy = dir.join("bytes.npy");
    let mut header =
        format!("{{'descr': '|u1', 'fortran_order': False, 'shape': ({rows}, {side}, {side}), }}")
            .into_bytes();
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(b' ');
    }
    header.push(b'\n');
    let mut file = b"\x93NUMPY\x01\x00".to_vec();
    file.extend((header.len() as u16).to_le_bytes());
    file.extend(header);
    file.extend(&bytes);
    std::fs::write(&npy, file).unwrap();
    let idx = dir.join("bytes.idx");
    let mut file = vec![0u8, 0, 8, 3];
    for d in [rows, side, side] {
        file.extend((d as u32).to_be_bytes());
    }
    file.extend(&bytes);
    std::fs::write(&idx, file).unwrap();

    let mut opts = common::context_options();
    opts.stream = Some(true);
    opts.stream_slot = Some(3 * 8 * cols as u64);
    let streaming = GpuContext::with_options(&opts).unwrap();
    let standard = {
        let ds = Dataset::new(f32_rows.clone(), rows, cols, None).unwrap();
        ds.standard_transform(36)
    };
    for transform in [None, Some(standard)] {
        let mut ds = Dataset::new(f32_rows.clone(), rows, cols, None).unwrap();
        if let Some((o, s)) = &transform {
            ds.apply_transform(o, s);
        }
        let mut want = Trainer::new(ctx, &cfg, &t, &ds, None).unwrap();
        want.fit(|_| Control::Continue, |_| {}).unwrap();
        let want = want.model().params_host().unwrap();
        let sources = [
            (
                ctx,
                "bytes in memory, resident",
                wgae::data::Source::memory_u8(bytes.clone(), rows, vec![side, side]).unwrap(),
            ),
            (
                &streaming,
                "mapped u8 .npy, streamed",
                wgae::data::Source::map(&npy, None).unwrap(),
            ),
            (
                &streaming,
                "mapped IDX, streamed",
                wgae::data::Source::map(&idx, None).unwrap(),
            ),
        ];
        for (c, what, src) in sources {
            assert!(src.is_u8(), "{what}");
            let src = match &transform {
                Some((o, s)) => src.with_transform(o.clone(), s.clone()).unwrap(),
                None => src,
            };
            let model = wgae::Autoencoder::new(c, &cfg, t.seed).unwrap();
            let mut tr = Trainer::from_source(model, &t, &src, None).unwrap();
            tr.fit(|_| Control::Continue, |_| {}).unwrap();
            let got = tr.model().params_host().unwrap();
            assert!(
                want.iter()
                    .zip(&got)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{what}, transform {}: other weights",
                transform.is_some()
            );
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// A loss that becomes NaN stops training with an error naming the epoch
/// and step, and the model goes back to the last finite weights: bit for
/// bit those of a run that stopped before the diverging epoch. With
/// `OnDivergence::Restore` the epoch is trained again at half the rate,
/// as often as `max_restores` allows.
#[test]
fn divergence_stops_or_restores_with_the_last_finite_weights() {
    let Some(ctx) = gpu() else { return };
    let cfg = ModelConfig::dense(DIM, &[9, 5])
        .act(Activation::Identity)
        .loss(LossKind::Mse)
        .out_act(Activation::Identity);
    // The rate grows a hundredfold each epoch: epochs 1 and 2 train,
    // epoch 3 (rate 50) overflows.
    let t = TrainConfig {
        epochs: 3,
        schedule: ScheduleName::Step,
        step_epochs: 1,
        gamma: 100.0,
        ..sgd(0.005)
    };
    let data = toy_data(3);
    let two = TrainConfig {
        epochs: 2,
        ..t.clone()
    };
    let mut tr = Trainer::new(ctx, &cfg, &two, &data, None).unwrap();
    tr.fit(|_| Control::Continue, |_| {}).unwrap();
    let after_two = tr.model().params_host().unwrap();

    let mut tr = Trainer::new(ctx, &cfg, &t, &data, None).unwrap();
    let mut epochs = 0;
    let e = tr
        .fit(
            |_| {
                epochs += 1;
                Control::Continue
            },
            |_| {},
        )
        .unwrap_err();
    assert!(
        matches!(
            e,
            wgae::Error::Diverged {
                epoch: 3,
                restores: 0,
                ..
            }
        ),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("epoch 3") && msg.contains("`lr`") && msg.contains("restore"),
        "{msg}"
    );
    assert_eq!(epochs, 2);
    assert_eq!(tr.epochs_done(), 2);
    let kept = tr.model().params_host().unwrap();
    assert!(kept.iter().all(|v| v.is_finite()));
    assert!(
        kept.iter()
            .zip(&after_two)
            .all(|(a, b)| a.to_bits() == b.to_bits()),
        "the weights kept are not those after epoch 2"
    );

    // Restore: epoch 3 again at half the rate, until it trains (at most 12).
    let restore = TrainConfig {
        on_divergence: wgae::train::OnDivergence::Restore,
        max_restores: 12,
        ..t.clone()
    };
    let mut tr = Trainer::new(ctx, &cfg, &restore, &data, None).unwrap();
    let h = tr.fit(|_| Control::Continue, |_| {}).unwrap();
    assert_eq!(h.epochs.len(), 3);
    assert!(h.epochs.iter().all(|e| e.train_loss.is_finite()));
    assert!(!h.restores.is_empty() && h.restores.iter().all(|r| r.0 == 3));
    let f = tr.lr_factor().unwrap();
    assert!(f < 1.0 && (f.log2().fract() == 0.0), "lr factor {f}");
    assert!(tr
        .model()
        .params_host()
        .unwrap()
        .iter()
        .all(|v| v.is_finite()));
    // Too few restores: the error counts them.
    let few = TrainConfig {
        max_restores: 1,
        ..restore.clone()
    };
    let mut tr = Trainer::new(ctx, &cfg, &few, &data, None).unwrap();
    let e = tr.fit(|_| Control::Continue, |_| {}).unwrap_err();
    assert!(
        matches!(e, wgae::Error::Diverged { restores: 1, .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("after 1 restores"), "{e}");
    // Restore with no restores allowed is refused.
    let none = TrainConfig {
        max_restores: 0,
        ..restore
    };
    assert!(Trainer::new(ctx, &cfg, &none, &data, None).is_err());
}
