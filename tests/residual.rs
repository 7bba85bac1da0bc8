//! Residual blocks: a block's output is `act(body(x) + x)`, or
//! `act(body(x) + proj(x))` through a Dense or 1x1 (transposed) convolution
//! where the shapes differ. The f64 twin's gradients match finite differences of its
//! loss; three GPU steps match the twin under both plans (both convolution
//! algorithms); mirrored decoders, names and refusals.

mod common;

use common::three_steps::{check_three_steps, sgd, toy_data_of, DIM};
use common::twin_gradients::check_gradients;
use wgae::kernels::Activation;
use wgae::model::{LayerDesc, LayerKind, Padding, Projection, Size};
use wgae::plan::ParamLayout;
use wgae::reference::trainer::RefTrainer;
use wgae::{LossKind, ModelConfig};

fn conv(filters: usize, stride: usize) -> LayerDesc {
    LayerDesc::Conv2d {
        filters,
        kernel: Size::One(3),
        stride: Size::One(stride),
        padding: Padding::same(),
        dilation: Size::One(1),
        act: None,
        bias: true,
    }
}

/// Dense blocks: one with the identity shortcut, one projected (9 -> 6).
fn dense_blocks() -> ModelConfig {
    let mut cfg = ModelConfig::layered(
        &[DIM],
        vec![
            LayerDesc::dense(9),
            LayerDesc::residual(vec![
                LayerDesc::dense(9).with_act(Activation::Tanh),
                LayerDesc::dense(9),
            ]),
            LayerDesc::residual(vec![LayerDesc::dense(7), LayerDesc::dense(6)]),
            LayerDesc::dense(5),
        ],
        vec![],
    )
    .loss(LossKind::Mse)
    .out_act(Activation::Sigmoid);
    cfg.decoder_layers = None;
    cfg
}

/// Convolutional blocks with batch normalization, ResNet's shape: one
/// keeping the image, one halving it (a strided 1x1 projection); the
/// mirrored decoder undoes it with a transposed 1x1 projection.
fn conv_blocks() -> ModelConfig {
    let mut cfg = ModelConfig::layered(
        &[2, 6, 6],
        vec![
            conv(3, 1),
            LayerDesc::residual(vec![
                conv(3, 1).without_bias(),
                LayerDesc::batch_norm2d().with_act(Activation::Relu),
                conv(3, 1),
            ]),
            LayerDesc::residual(vec![conv(4, 2), conv(4, 1)]),
            LayerDesc::Flatten,
            LayerDesc::dense(5),
        ],
        vec![],
    );
    cfg.decoder_layers = None;
    cfg
}

/// A 1-D block over a sequence, projected to more channels.
fn conv1d_block() -> ModelConfig {
    let c1 = |filters, stride| LayerDesc::Conv1d {
        filters,
        kernel: 3,
        stride,
        padding: Padding::same(),
        dilation: 1,
        act: None,
        bias: true,
    };
    let mut cfg = ModelConfig::layered(
        &[2, 8],
        vec![
            LayerDesc::residual(vec![c1(3, 2), c1(3, 1)]),
            LayerDesc::Flatten,
            LayerDesc::dense(4),
        ],
        vec![],
    )
    .loss(LossKind::Mse)
    .out_act(Activation::Identity);
    cfg.decoder_layers = None;
    cfg
}

#[test]
fn twin_gradients_match_finite_differences() {
    check_gradients("dense blocks", &dense_blocks());
    check_gradients("conv blocks", &conv_blocks());
    check_gradients("conv1d block", &conv1d_block());
}

#[test]
fn dense_blocks_train_as_the_twin() {
    check_three_steps("dense residual", &dense_blocks(), &sgd(0.3));
}

#[test]
fn conv_blocks_train_as_the_twin() {
    check_three_steps("conv residual", &conv_blocks(), &sgd(0.2));
}

#[test]
fn conv1d_block_trains_as_the_twin() {
    check_three_steps("conv1d residual", &conv1d_block(), &sgd(0.2));
}

#[test]
fn dense_blocks_with_dropout_train_as_the_twin() {
    let cfg = dense_blocks().dropout(0.2);
    check_three_steps("dense residual dropout", &cfg, &sgd(0.3));
}

/// Each block is its body's layers, then its end, whose shortcut is the
/// identity or a projection chosen by the shapes; the names are PyTorch's
/// for a module holding `body` (a Sequential) and `proj`.
#[test]
fn blocks_lay_out_their_layers_and_names() {
    let cfg = conv_blocks();
    cfg.validate().unwrap();
    let layers = cfg.layers();
    let ends: Vec<_> = layers.iter().filter_map(|l| l.skip()).collect();
    assert_eq!(ends.len(), 4, "two blocks and their two mirrors");
    assert_eq!(ends[0].proj, Projection::Identity);
    assert!(matches!(ends[1].proj, Projection::Conv(w) if w.sh == 2 && w.kh == 1));
    assert!(matches!(ends[2].proj, Projection::ConvTranspose(w) if w.sh == 2));
    assert_eq!(ends[3].proj, Projection::Identity);
    let layout = ParamLayout::new(&cfg, 1);
    let names: Vec<&str> = layout.entries.iter().map(|e| e.name.as_str()).collect();
    for want in [
        "encoder.0.weight",
        "encoder.2.body.0.weight",
        "encoder.2.body.2.running_var",
        "encoder.2.body.4.bias",
        "encoder.4.body.0.weight",
        "encoder.4.proj.weight",
        "encoder.4.proj.bias",
        "decoder.4.proj.weight",
    ] {
        assert!(names.contains(&want), "{want} not in {names:?}");
    }
    assert!(!names.contains(&"encoder.2.body.0.bias"), "{names:?}");
    let proj = layout.find("encoder.4.proj.weight").unwrap();
    assert_eq!(layout.entries[proj].shape, vec![4, 3, 1, 1]);
    // The body's last layer has no activation: the block's follows the sum.
    let last_body = layers
        .iter()
        .rfind(|l| l.inner.is_some() && l.encoder)
        .unwrap();
    assert_eq!(last_body.act, Activation::Identity);
    let end = layers.iter().find(|l| l.kind.name() == "Residual").unwrap();
    assert_eq!(end.act, Activation::Relu);
    assert!(cfg.summary().contains("encoder.2.body.2"));
}

/// The model description round-trips through TOML, blocks included.
#[test]
fn blocks_read_from_toml() {
    let text = r#"
        input_shape = [1, 8, 8]
        act = "relu"
        [[encoder_layers]]
        type = "residual"
        act = "tanh"
        layers = [
          { type = "conv2d", filters = 4, kernel = 3, stride = 2, padding = "same" },
          { type = "conv2d", filters = 4, kernel = 3, padding = "same" },
        ]
        [[encoder_layers]]
        type = "flatten"
        [[encoder_layers]]
        type = "dense"
        units = 3
    "#;
    let cfg = ModelConfig::from_toml(text).unwrap();
    cfg.validate().unwrap();
    let end = cfg
        .layers()
        .into_iter()
        .find(|l| l.skip().is_some())
        .unwrap();
    assert_eq!(end.act, Activation::Tanh);
    assert!(matches!(end.kind, LayerKind::Residual(_)));
    let again = ModelConfig::from_toml(&cfg.to_toml()).unwrap();
    assert_eq!(again.encoder_layers, cfg.encoder_layers);
}

fn refused(enc: Vec<LayerDesc>, shape: &[usize], words: &[&str]) {
    let mut cfg = ModelConfig::layered(shape, enc, vec![]);
    cfg.decoder_layers = None;
    let err = cfg.validate().unwrap_err().to_string();
    for w in words {
        assert!(err.contains(w), "{err:?} should say {w:?}");
    }
}

#[test]
fn bad_blocks_are_refused_with_what_to_change() {
    refused(
        vec![LayerDesc::residual(vec![]), LayerDesc::dense(3)],
        &[DIM],
        &["encoder layer 0 (residual)", "at least one layer"],
    );
    refused(
        vec![
            LayerDesc::residual(vec![LayerDesc::residual(vec![LayerDesc::dense(4)])]),
            LayerDesc::dense(3),
        ],
        &[DIM],
        &["inside a residual block", "one after another"],
    );
    refused(
        vec![
            LayerDesc::residual(vec![LayerDesc::dense(4).with_act(Activation::Relu)]),
            LayerDesc::dense(3),
        ],
        &[DIM],
        &["act = \"relu\"", "block's `act`"],
    );
    // 7x7 -> 5x5 (a valid 3x3 window) is no 1x1 window of any stride.
    refused(
        vec![
            LayerDesc::residual(vec![LayerDesc::Conv2d {
                filters: 2,
                kernel: Size::One(3),
                stride: Size::One(1),
                padding: Padding::default(),
                dilation: Size::One(1),
                act: None,
                bias: true,
            }]),
            LayerDesc::Flatten,
            LayerDesc::dense(3),
        ],
        &[1, 7, 7],
        &["1x7x7 to 2x5x5", "no 1x1 convolution"],
    );
}

#[test]
fn vae_with_blocks_trains_as_the_twin() {
    let cfg = dense_blocks().variational(1.0);
    check_three_steps("vae residual", &cfg, &sgd(0.05));
}

/// Inference in f16 (the blocks' ends in f32 between casts, their inputs
/// widened) follows the f32 reconstruction to f16 rounding.
#[test]
fn f16_inference_runs_blocks() {
    let Some(ctx) = common::gpu() else { return };
    ctx.require_f16("the f16 residual check").unwrap();
    for cfg in [dense_blocks(), conv_blocks()] {
        let data = toy_data_of(4, cfg.input_dim);
        let ae = wgae::Autoencoder::new(ctx, &cfg, 3).unwrap();
        let f32s = ae.reconstruct(&data).unwrap();
        let f16s = ae.reconstruct_with(&data, wgae::Precision::F16).unwrap();
        let worst = f32s
            .iter()
            .zip(&f16s)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 2e-2, "f16 differs from f32 by {worst}");
        assert!(f32s != f16s, "f16 gave the f32 bits: it did not run in f16");
    }
}

/// After training, inference (evaluation mode: batch norm's running
/// statistics, no dropout) through the blocks matches the twin's
/// evaluation pass over the same weights and statistics.
#[test]
fn inference_through_blocks_matches_the_twin() {
    let Some(ctx) = common::gpu() else { return };
    for cfg in [dense_blocks().dropout(0.2), conv_blocks(), conv1d_block()] {
        let data = toy_data_of(5, cfg.input_dim);
        let mut trainer = common::trainer(ctx, &cfg, &sgd(0.3), &data);
        trainer.fit(|_| wgae::Control::Continue, |_| {}).unwrap();
        let model = trainer.into_model();
        let params = model.params_host().unwrap();
        let reference = RefTrainer::new(&cfg, &sgd(0.3), model.layout().clone(), &params, 3);
        let x: Vec<f32> = (0..6).flat_map(|i| data.row(i).to_vec()).collect();
        let rows = wgae::Dataset::new(x.clone(), 6, cfg.input_dim, None).unwrap();
        let got = model.reconstruct(&rows).unwrap();
        let want = reference.predict(&x, 6);
        common::assert_close(
            &format!("{}: eval reconstruction", cfg.arch_name()),
            &got,
            &want,
            common::tol(1e-5, 1e-4),
        );
    }
}
