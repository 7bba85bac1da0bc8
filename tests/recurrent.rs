//! Recurrent layers in a model: LSTM and GRU encoders (PyTorch's
//! `batch_first` layout: a sample is `[T, F]`, time steps first) train as
//! their f64 twin does, three steps under both plans; their parameters keep
//! PyTorch's names.

mod common;

use common::three_steps::{check_three_steps, sgd};
use wgae::model::LayerDesc;
use wgae::plan::ParamLayout;
use wgae::{Activation, LossKind, ModelConfig};

const T: usize = 5;
const F: usize = 3;

fn lstm(hidden: usize, return_sequences: bool) -> LayerDesc {
    LayerDesc::Lstm {
        hidden,
        return_sequences,
    }
}

fn gru(hidden: usize, return_sequences: bool) -> LayerDesc {
    LayerDesc::Gru {
        hidden,
        return_sequences,
    }
}

/// A model of `encoder` over `[T, F]` sequences, with a Dense decoder back
/// to the sequence (a reshape, so the output is linear under MSE).
fn model(encoder: Vec<LayerDesc>) -> ModelConfig {
    ModelConfig::layered(
        &[T, F],
        encoder,
        vec![
            LayerDesc::dense(T * F),
            LayerDesc::Reshape { shape: vec![T, F] },
        ],
    )
    .loss(LossKind::Mse)
    .out_act(Activation::Identity)
}

#[test]
fn an_lstm_encoder_trains_as_the_twin() {
    check_three_steps("lstm", &model(vec![lstm(6, false)]), &sgd(0.5));
}

#[test]
fn a_gru_encoder_trains_as_the_twin() {
    let cfg = model(vec![gru(4, true), LayerDesc::Flatten, LayerDesc::dense(5)]);
    check_three_steps("gru", &cfg, &sgd(0.5));
}

#[test]
fn stacked_recurrent_layers_train_as_the_twin() {
    let cfg = model(vec![lstm(6, true), gru(4, false)]);
    check_three_steps("lstm then gru", &cfg, &sgd(0.5));
}

#[test]
fn parameters_keep_pytorch_names_and_shapes() {
    let cfg = model(vec![lstm(6, true), gru(4, false)]);
    cfg.validate().unwrap();
    let layout = ParamLayout::new(&cfg, 1);
    let shape = |name: &str| layout.entries[layout.find(name).unwrap()].shape.clone();
    assert_eq!(shape("encoder.0.weight_ih_l0"), vec![24, F]);
    assert_eq!(shape("encoder.0.weight_hh_l0"), vec![24, 6]);
    assert_eq!(shape("encoder.0.bias_hh_l0"), vec![24]);
    assert_eq!(shape("encoder.2.weight_ih_l0"), vec![12, 6]);
    assert_eq!(shape("encoder.2.weight_hh_l0"), vec![12, 4]);
    assert_eq!(cfg.code_dim(), 4);
    assert!(cfg.summary().contains("LSTM") && cfg.summary().contains("GRU"));
}

/// A decoder that ends in a layer with no activation (a reshape) cannot
/// take a sigmoid output or BCE: refused with what to change, before any
/// planning.
#[test]
fn an_output_without_an_activation_is_refused_under_bce() {
    let cfg = model(vec![lstm(6, false)])
        .loss(LossKind::Bce)
        .out_act(Activation::Sigmoid);
    let err = cfg.validate().unwrap_err().to_string();
    assert!(
        err.contains("ends in a Reshape layer") && err.contains("`out_act` identity"),
        "{err}"
    );
}

/// The seq2seq autoencoder (the Keras blog's, EncDec-AD): an LSTM encoder
/// whose last state is the code, mirrored into repeat, an LSTM returning
/// every step, and a per-step Dense back to the features.
fn seq2seq(encoder: Vec<LayerDesc>) -> ModelConfig {
    let mut cfg = ModelConfig::layered(&[T, F], encoder, vec![])
        .loss(LossKind::Mse)
        .out_act(Activation::Identity);
    cfg.decoder_layers = None;
    cfg
}

#[test]
fn a_mirrored_seq2seq_lstm_autoencoder_trains_as_the_twin() {
    let cfg = seq2seq(vec![lstm(6, false)]);
    let kinds: Vec<&str> = cfg.layers().iter().map(|l| l.kind.name()).collect();
    assert_eq!(kinds, ["LSTM", "RepeatVector", "LSTM", "Linear"]);
    assert_eq!(cfg.layers().last().unwrap().out_shape, [T, 1, F]);
    check_three_steps("seq2seq lstm", &cfg, &sgd(0.5));
}

#[test]
fn a_mirrored_stacked_gru_autoencoder_trains_as_the_twin() {
    let cfg = seq2seq(vec![gru(6, true), gru(3, false)]);
    let kinds: Vec<&str> = cfg.layers().iter().map(|l| l.kind.name()).collect();
    assert_eq!(
        kinds,
        ["GRU", "GRU", "RepeatVector", "GRU", "GRU", "Linear"]
    );
    check_three_steps("seq2seq gru", &cfg, &sgd(0.5));
}

/// The same model from TOML: `lstm`, `repeat` and `time_dense`, with a
/// sigmoid output under BCE.
#[test]
fn sequence_layers_read_from_toml() {
    let text = r#"
        input_shape = [5, 3]
        out_act = "sigmoid"
        loss = "bce"
        [[encoder_layers]]
        type = "lstm"
        hidden = 4
        [[decoder_layers]]
        type = "repeat"
        times = 5
        [[decoder_layers]]
        type = "gru"
        hidden = 4
        return_sequences = true
        [[decoder_layers]]
        type = "time_dense"
        units = 3
    "#;
    let cfg = ModelConfig::from_toml(text).unwrap();
    cfg.validate().unwrap();
    assert_eq!(cfg.code_dim(), 4);
    let again = ModelConfig::from_toml(&cfg.to_toml()).unwrap();
    assert_eq!(again.decoder_layers, cfg.decoder_layers);
    check_three_steps("toml seq2seq bce", &cfg, &sgd(0.5));
}

/// A recurrent layer right after a flatten or a Dense layer would read a
/// flat vector as steps of one feature: refused, saying to repeat or
/// reshape.
#[test]
fn a_recurrent_layer_after_a_flat_vector_is_refused() {
    let cfg = model(vec![lstm(6, true), LayerDesc::Flatten, gru(4, false)]);
    let err = cfg.validate().unwrap_err().to_string();
    assert!(
        err.contains("encoder layer 2 (gru)") && err.contains("type = \"repeat\""),
        "{err}"
    );
    let cfg = model(vec![
        LayerDesc::Flatten,
        LayerDesc::dense(8),
        lstm(4, false),
    ]);
    assert!(cfg.validate().is_err());
}

/// A hidden per-step Dense layer, whose activation gradient the fused plan
/// applies as the backward matmuls load it, trains as the twin does under
/// both plans.
#[test]
fn a_hidden_time_dense_layer_trains_as_the_twin() {
    let cfg = ModelConfig::layered(
        &[T, F],
        vec![lstm(6, false)],
        vec![
            LayerDesc::Repeat { times: T },
            lstm(6, true),
            LayerDesc::TimeDense {
                units: 5,
                act: Some(Activation::Tanh),
                bias: true,
            },
            LayerDesc::TimeDense {
                units: F,
                act: None,
                bias: true,
            },
        ],
    )
    .loss(LossKind::Mse)
    .out_act(Activation::Identity);
    check_three_steps("hidden time_dense", &cfg, &sgd(0.5));
}

/// A CNN-LSTM autoencoder: a Conv1d over `[channels, length]`, a permute to
/// `[steps, features]`, an LSTM; mirrored into repeat, LSTM, permute and a
/// Conv1d back to the channels. Its twin's gradients match finite
/// differences, and it trains as the twin under both plans.
fn cnn_lstm() -> ModelConfig {
    let text = r#"
        input_shape = [3, 8]
        loss = "mse"
        out_act = "identity"
        [[encoder_layers]]
        type = "conv1d"
        filters = 4
        kernel = 3
        padding = "same"
        act = "tanh"
        [[encoder_layers]]
        type = "permute"
        [[encoder_layers]]
        type = "lstm"
        hidden = 5
    "#;
    ModelConfig::from_toml(text).unwrap()
}

#[test]
fn a_mirrored_cnn_lstm_autoencoder_trains_as_the_twin() {
    let cfg = cnn_lstm();
    cfg.validate().unwrap();
    let layers = cfg.layers();
    let kinds: Vec<&str> = layers.iter().map(|l| l.kind.name()).collect();
    assert_eq!(
        kinds,
        [
            "Conv1d",
            "Permute",
            "LSTM",
            "RepeatVector",
            "LSTM",
            "Permute",
            "Conv1d"
        ]
    );
    assert_eq!(layers[1].out_shape, [8, 1, 4]);
    assert_eq!(layers[5].out_shape, [5, 1, 8]);
    assert_eq!(layers.last().unwrap().out_shape, [3, 1, 8]);
    common::twin_gradients::check_gradients("cnn-lstm", &cfg);
    check_three_steps("cnn-lstm", &cfg, &sgd(0.3));
    let again = ModelConfig::from_toml(&cfg.to_toml()).unwrap();
    assert_eq!(again.encoder_layers, cfg.encoder_layers);
}

/// A permute needs a sequence: on a flat vector it is refused.
#[test]
fn a_permute_of_a_flat_vector_is_refused() {
    let cfg = model(vec![LayerDesc::Flatten, LayerDesc::Permute, lstm(4, false)]);
    let err = cfg.validate().unwrap_err().to_string();
    assert!(err.contains("permute swaps a sequence's two axes"), "{err}");
}
