//! The model description round-trips through TOML, the shipped example
//! configs parse, and bad configs say what is wrong.

use wgae::model::{LossKind, Variant};
use wgae::train::ConfigFile;
use wgae::{Activation, ModelConfig};

#[test]
fn builder_and_toml_describe_the_same_model() {
    let built = ModelConfig::dense(784, &[128, 32])
        .act(Activation::LeakyRelu(0.2))
        .loss(LossKind::Bce)
        .tied(true)
        .dropout(0.1)
        .noise("salt-pepper:0.1".parse().unwrap())
        .l1(1e-4);
    let text = built.to_toml();
    let parsed = ModelConfig::from_toml(&text).unwrap();
    assert_eq!(built, parsed, "round trip through:\n{text}");
    let vae = ModelConfig::dense(784, &[256, 2]).with_variant(Variant::Vae);
    assert_eq!(ModelConfig::from_toml(&vae.to_toml()).unwrap(), vae);
}

#[test]
fn shipped_example_configs_parse() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/configs");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&path).unwrap();
            let file =
                ConfigFile::from_toml(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            // And describes a model that plans: every shape fits.
            file.model
                .validate()
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            n += 1;
        }
    }
    assert!(n >= 3);
}

#[test]
fn bad_configs_name_the_problem() {
    let err = ConfigFile::from_toml("[model]\ninput_dim = 784\nencoder = [32]\nact = \"swish\"\n")
        .unwrap_err();
    assert!(
        err.to_string().contains("unknown activation 'swish'"),
        "{err}"
    );
    let err =
        ConfigFile::from_toml("[model]\ninput_dim = 784\nencoder = [32]\nlearning_rate = 1\n")
            .unwrap_err();
    assert!(err.to_string().contains("learning_rate"), "{err}");
    let err =
        ConfigFile::from_toml("[model]\ninput_dim = 784\nencoder = [32]\n[train]\nepochs = 0\n")
            .unwrap_err();
    assert!(err.to_string().contains("epochs"), "{err}");
    let err = ModelConfig::dense(784, &[64, 32])
        .variational(1.0)
        .tied(true)
        .validate()
        .unwrap_err();
    assert!(err.to_string().contains("tied"), "{err}");
}

#[test]
fn variants_set_their_options() {
    let base = ModelConfig::dense(784, &[32]);
    assert!(base.clone().with_variant(Variant::Sparse).l1 > 0.0);
    let kl = base.clone().with_variant(Variant::KlSparse);
    assert!(kl.kl_sparsity.is_some() && kl.code_activation() == Activation::Sigmoid);
    assert!(base
        .clone()
        .with_variant(Variant::Denoising)
        .noise
        .is_some());
    assert!(base.clone().with_variant(Variant::Contractive).contractive > 0.0);
    assert!(base
        .clone()
        .with_variant(Variant::Vae)
        .variational
        .is_some());
    for v in [
        Variant::Plain,
        Variant::Sparse,
        Variant::KlSparse,
        Variant::Denoising,
        Variant::Contractive,
        Variant::Vae,
    ] {
        base.clone().with_variant(v).validate().unwrap();
    }
}

fn keras_conv() -> ModelConfig {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/configs/conv.toml"
    ))
    .unwrap();
    ConfigFile::from_toml(&text).unwrap().model
}

/// The Keras blog's convolutional autoencoder, from examples/configs/conv.toml:
/// its shapes layer by layer and Keras' parameter count (4,385).
#[test]
fn the_keras_conv_autoencoder_has_its_shapes_and_parameters() {
    let cfg = keras_conv();
    assert_eq!(cfg.input_dim, 784);
    let shapes: Vec<[usize; 3]> = cfg.layers().iter().map(|l| l.out_shape).collect();
    assert_eq!(
        shapes,
        vec![
            [16, 28, 28],
            [16, 14, 14],
            [8, 14, 14],
            [8, 7, 7],
            [8, 7, 7],
            [8, 4, 4],
            [8, 4, 4],
            [8, 8, 8],
            [8, 8, 8],
            [8, 16, 16],
            [16, 14, 14],
            [16, 28, 28],
            [1, 28, 28],
        ]
    );
    assert_eq!(cfg.parameter_count(), 4385);
    assert_eq!(cfg.code_dim(), 128);
    assert_eq!(cfg.arch_name(), "1x28x28-8x4x4-1x28x28");
    let table = cfg.summary();
    assert!(
        table.contains("Conv2d") && table.contains("MaxPool2d") && table.contains("4385"),
        "{table}"
    );
    // The description round-trips through TOML (the model file's metadata).
    assert_eq!(ModelConfig::from_toml(&cfg.to_toml()).unwrap(), cfg);
}

fn conv_err(toml: &str) -> String {
    ConfigFile::from_toml(toml).unwrap_err().to_string()
}

/// Architectures that do not fit the data get one clear error naming the
/// layer and the shapes.
#[test]
fn bad_conv_architectures_name_the_layer_and_the_shapes() {
    let head = "[model]\ninput_shape = [1, 5, 5]\n";
    let dec = "[[model.decoder_layers]]\ntype = \"dense\"\nunits = 25\n";
    // A kernel larger than the input under valid padding.
    let e = conv_err(&format!(
        "{head}[[model.encoder_layers]]\ntype = \"conv2d\"\nfilters = 2\nkernel = 7\n{dec}"
    ));
    assert!(
        e.contains("encoder layer 0 (conv2d)") && e.contains("1x5x5") && e.contains("same"),
        "{e}"
    );
    // A decoder that does not return to the input's shape.
    let e = conv_err(&format!(
        "{head}[[model.encoder_layers]]\ntype = \"conv2d\"\nfilters = 2\nkernel = 3\n\
         [[model.decoder_layers]]\ntype = \"dense\"\nunits = 24\n"
    ));
    assert!(
        e.contains("decoder ends in 24 values") && e.contains("1x5x5"),
        "{e}"
    );
    // Convolutions on data without a spatial shape.
    let e = conv_err(
        "[model]\ninput_dim = 25\n[[model.encoder_layers]]\ntype = \"conv2d\"\nfilters = 2\n\
         kernel = 3\n[[model.decoder_layers]]\ntype = \"dense\"\nunits = 25\n",
    );
    assert!(
        e.contains("needs an image") && e.contains("input_shape"),
        "{e}"
    );
    // A 1-D layer on an image, an unknown padding, a stride of 0, a zero-sized output.
    let e = conv_err(&format!(
        "{head}[[model.encoder_layers]]\ntype = \"conv1d\"\nfilters = 2\nkernel = 3\n{dec}"
    ));
    assert!(e.contains("sequence"), "{e}");
    let e = conv_err(&format!(
        "{head}[[model.encoder_layers]]\ntype = \"conv2d\"\nfilters = 2\nkernel = 3\npadding = \"full\"\n{dec}"
    ));
    assert!(e.contains("unknown padding 'full'"), "{e}");
    let e = conv_err(&format!(
        "{head}[[model.encoder_layers]]\ntype = \"max_pool2d\"\nsize = 2\nstride = 0\n{dec}"
    ));
    assert!(e.contains("stride must be at least 1"), "{e}");
    let e = conv_err(&format!(
        "{head}[[model.encoder_layers]]\ntype = \"reshape\"\nshape = [2, 3]\n{dec}"
    ));
    assert!(e.contains("cannot reshape 25 values"), "{e}");
    // Variants that need a Dense layer, or tied weights.
    let e = conv_err(&format!(
        "{head}variational = {{ beta = 1.0 }}\n[[model.encoder_layers]]\ntype = \"conv2d\"\nfilters = 2\nkernel = 3\npadding = \"same\"\n{dec}"
    ));
    assert!(e.contains("VAE") && e.contains("dense"), "{e}");
    let e = conv_err(&format!(
        "{head}tied = true\n[[model.encoder_layers]]\ntype = \"flatten\"\n{dec}"
    ));
    assert!(e.contains("tied"), "{e}");
    // Pooling padding as large as the window.
    let e = conv_err(&format!(
        "{head}[[model.encoder_layers]]\ntype = \"max_pool2d\"\nsize = 2\npadding = 2\n{dec}"
    ));
    assert!(e.contains("padding") && e.contains("window"), "{e}");
}

/// Without decoder_layers, the encoder is mirrored: strided convolutions by
/// transposed ones, pooling by upsampling, Dense and Flatten by Dense and
/// Reshape; where that cannot return to the input's shape, the error says to
/// give the decoder.
#[test]
fn a_conv_encoder_mirrors_into_its_decoder() {
    use wgae::model::{LayerDesc, LayerKind, Padding, Size};
    let strided = |filters| LayerDesc::Conv2d {
        filters,
        kernel: Size::One(3),
        stride: Size::One(2),
        padding: Padding::same(),
        dilation: Size::One(1),
        act: None,
        bias: true,
    };
    let mut cfg = ModelConfig::layered(&[1, 28, 28], vec![strided(16), strided(8)], vec![]);
    cfg.decoder_layers = None;
    cfg.validate().unwrap();
    let layers = cfg.layers();
    let shapes: Vec<[usize; 3]> = layers.iter().map(|l| l.out_shape).collect();
    assert_eq!(
        shapes,
        vec![[16, 14, 14], [8, 7, 7], [16, 14, 14], [1, 28, 28]]
    );
    assert!(matches!(layers[2].kind, LayerKind::ConvTranspose(_)));
    assert_eq!(layers[3].act, Activation::Sigmoid);

    // Conv, pool, a Dense code through Flatten: Dense, Reshape, Upsample, Conv.
    let mut cfg = ModelConfig::layered(
        &[1, 8, 8],
        vec![
            LayerDesc::conv2d(4, 3, Padding::same()),
            LayerDesc::max_pool2d(2, Padding::default()),
            LayerDesc::Flatten,
            LayerDesc::dense(6),
        ],
        vec![],
    );
    cfg.decoder_layers = None;
    cfg.validate().unwrap();
    let names: Vec<&str> = cfg.layers()[4..].iter().map(|l| l.kind.name()).collect();
    assert_eq!(names, vec!["Linear", "Reshape", "Upsample2d", "Conv2d"]);

    // The Keras model pools 7 to 4 with 'same' padding: its mirror ends at 32x32.
    let mut keras = keras_conv();
    keras.decoder_layers = None;
    let e = keras.validate().unwrap_err().to_string();
    assert!(
        e.contains("1x32x32") && e.contains("give decoder_layers"),
        "{e}"
    );
}

/// Batch normalization in TOML: its type per dimensionality, its PyTorch
/// constants, `bias = false` on the layer before it, its place in a
/// mirrored decoder, and clear errors for what does not fit.
#[test]
fn batch_norm_layers_describe_and_refuse_clearly() {
    use wgae::model::{LayerKind, Norm};
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/configs/conv_bn.toml"
    ))
    .unwrap();
    let cfg = ConfigFile::from_toml(&text).unwrap().model;
    let layers = cfg.layers();
    let names: Vec<&str> = layers.iter().map(|l| l.kind.name()).collect();
    assert_eq!(
        names,
        vec![
            "Conv2d",
            "BatchNorm2d",
            "Conv2d",
            "BatchNorm2d",
            "Flatten",
            "Linear",
            "Linear",
            "BatchNorm1d",
            "Reshape",
            "ConvTranspose2d",
            "BatchNorm2d",
            "ConvTranspose2d"
        ]
    );
    assert!(!layers[0].bias && layers[0].params().len() == 1);
    assert_eq!(
        layers[1].kind,
        LayerKind::BatchNorm(Norm {
            momentum: 0.1,
            eps: 1e-5,
            two_d: true
        })
    );
    assert_eq!(layers[1].act, Activation::Relu);
    // Parameters as PyTorch counts them: scale and shift, not the running
    // statistics.
    let want = 16 * 9
        + 2 * 16
        + 32 * 16 * 9
        + 2 * 32
        + 1568 * 32
        + 32
        + 32 * 1568
        + 2 * 1568
        + 32 * 16 * 9
        + 2 * 16
        + 16 * 9
        + 1;
    assert_eq!(cfg.parameter_count(), want);
    let table = cfg.summary();
    assert!(
        table.contains("BatchNorm2d") && table.contains("BatchNorm1d"),
        "{table}"
    );
    assert_eq!(ModelConfig::from_toml(&cfg.to_toml()).unwrap(), cfg);

    // Without an activation given, a hidden batch norm has none (as in Keras
    // and PyTorch); as the code layer it takes code_act.
    let head = "[model]\ninput_shape = [2, 6, 6]\n";
    let dec = "[[model.decoder_layers]]\ntype = \"flatten\"\n[[model.decoder_layers]]\n\
               type = \"dense\"\nunits = 72\n[[model.decoder_layers]]\ntype = \"reshape\"\n\
               shape = [2, 6, 6]\n[[model.decoder_layers]]\ntype = \"conv2d\"\nfilters = 2\n\
               kernel = 3\npadding = \"same\"\n";
    let bn = |extra: &str| {
        format!(
            "{head}[[model.encoder_layers]]\ntype = \"conv2d\"\nfilters = 3\nkernel = 3\n\
             padding = \"same\"\n[[model.encoder_layers]]\ntype = \"batch_norm2d\"\n{extra}\
             [[model.encoder_layers]]\ntype = \"conv2d\"\nfilters = 2\nkernel = 3\n\
             padding = \"same\"\n{dec}"
        )
    };
    let cfg = ConfigFile::from_toml(&bn("")).unwrap().model;
    assert_eq!(cfg.layers()[1].act, Activation::Identity);
    let e = conv_err(&bn("momentum = 1.5\n"));
    assert!(
        e.contains("encoder layer 1 (batch_norm2d)") && e.contains("momentum 1.5"),
        "{e}"
    );
    let e = conv_err(&bn("eps = 0.0\n"));
    assert!(e.contains("eps 0"), "{e}");
    let e = conv_err(&bn("").replace("batch_norm2d", "batch_norm1d"));
    assert!(e.contains("use type = \"batch_norm2d\""), "{e}");
    let e = conv_err(
        "[model]\ninput_dim = 25\n[[model.encoder_layers]]\ntype = \"dense\"\nunits = 4\n\
         [[model.encoder_layers]]\ntype = \"batch_norm2d\"\n\
         [[model.decoder_layers]]\ntype = \"dense\"\nunits = 25\n",
    );
    assert!(e.contains("BatchNorm2d needs an image"), "{e}");

    // A mirrored decoder keeps each normalization where it was, over the
    // same channels, but not one on the input itself.
    use wgae::model::{LayerDesc, Padding};
    let mut cfg = ModelConfig::layered(
        &[1, 8, 8],
        vec![
            LayerDesc::batch_norm2d(),
            LayerDesc::conv2d(4, 3, Padding::same()).without_bias(),
            LayerDesc::batch_norm2d().with_act(Activation::Relu),
            LayerDesc::max_pool2d(2, Padding::default()),
        ],
        vec![],
    );
    cfg.decoder_layers = None;
    cfg.validate().unwrap();
    let names: Vec<&str> = cfg.layers()[4..].iter().map(|l| l.kind.name()).collect();
    assert_eq!(names, vec!["Upsample2d", "BatchNorm2d", "Conv2d"]);
}

/// Every training number is validated in one place, so a TOML [train]
/// table gets the same refusals as the CLI's flags.
#[test]
fn out_of_range_training_numbers_are_refused_from_toml() {
    for (line, says) in [
        ("weight_decay = -1.0", "weight decay"),
        ("clip_norm = -1.0", "clipping"),
        ("validation_split = 1.5", "validation split"),
        ("validation_split = nan", "validation split"),
        ("beta1 = 1.0", "beta1"),
        ("eps = 0.0", "eps"),
        ("early_stopping = 0", "patience"),
    ] {
        let text = format!("[model]\ninput_dim = 4\nencoder = [2]\n[train]\n{line}\n");
        let e = ConfigFile::from_toml(&text).unwrap_err().to_string();
        assert!(e.contains(says), "{line}: {e}");
    }
}

/// Parameters are laid out by the names their kinds declare: every tensor
/// its own entry (a tied layer's weight is its mirror's, found by name),
/// with the kind's decay flag, and buffers after the trainable part.
#[test]
fn parameters_are_laid_out_by_name() {
    use wgae::train::ParamLayout;
    let tied = ModelConfig::dense(12, &[6, 3]).tied(true);
    let layout = ParamLayout::new(&tied, 1);
    let names: Vec<Vec<&str>> = layout
        .layers
        .iter()
        .map(|lp| lp.params.iter().map(|(n, _)| *n).collect())
        .collect();
    assert_eq!(names, vec![vec!["weight", "bias"]; 4]);
    // decoder.0 transposes encoder.2's weight, decoder.2 encoder.0's.
    assert_eq!(layout.layers[2].weight(), layout.layers[1].weight());
    assert_eq!(layout.layers[3].weight(), layout.layers[0].weight());
    assert!(layout.layers[2].transposed && !layout.layers[1].transposed);
    assert_eq!(
        layout.layers[3].owned().count(),
        1,
        "a tied layer owns its bias only"
    );
    let entry = |n: &str| &layout.entries[layout.find(n).unwrap()];
    assert!(entry("encoder.0.weight").decay && !entry("encoder.0.bias").decay);
    assert_eq!(entry("decoder.2.bias").shape, vec![12]);
    assert!(layout.find("decoder.0.weight").is_none());
    // Batch norm: gamma and beta by name, then its buffers, untrained.
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/configs/conv_bn.toml"
    ))
    .unwrap();
    let bn = ConfigFile::from_toml(&text).unwrap().model;
    let layout = ParamLayout::new(&bn, 64);
    let names: Vec<&str> = layout.entries.iter().map(|e| e.name.as_str()).collect();
    let gamma = layout
        .find("encoder.2.weight")
        .unwrap_or_else(|| panic!("{names:?}"));
    assert!(layout.entries[gamma].decay && !layout.is_buffer(gamma));
    let mean = layout.find("encoder.2.running_mean").unwrap();
    assert!(layout.is_buffer(mean) && !layout.entries[mean].decay);
    assert!(layout.entries.iter().all(|e| e.offset % 64 == 0));
}
