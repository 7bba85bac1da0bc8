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
            ConfigFile::from_toml(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
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
