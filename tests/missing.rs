//! Missing values masked out of the loss (`missing = "mask"`): the model
//! reads a missing entry as 0 and learns from the observed ones alone. Three
//! GPU steps match the f64 twin under both plans, for the plain model and
//! with the variants that make sense with it; a VAE is refused.

mod common;

use common::three_steps::{check_three_steps, sgd, DIM};
use wgae::kernels::Noise;
use wgae::{Activation, LossKind, ModelConfig};

fn masked(hidden: &[usize]) -> ModelConfig {
    ModelConfig::dense(DIM, hidden)
        .loss(LossKind::Mse)
        .out_act(Activation::Identity)
        .masked()
}

#[test]
fn a_masked_model_trains_as_the_twin() {
    check_three_steps("masked", &masked(&[9, 5]), &sgd(0.3));
}

#[test]
fn masked_variants_train_as_the_twin() {
    check_three_steps("masked dropout", &masked(&[9, 5]).dropout(0.2), &sgd(0.3));
    let mut denoising = masked(&[9, 5]);
    denoising.noise = Some(Noise::Gaussian(0.1));
    check_three_steps("masked denoising", &denoising, &sgd(0.3));
    let sparse = masked(&[9, 5]).l1(1e-3);
    check_three_steps("masked sparse", &sparse, &sgd(0.3));
}

#[test]
fn a_masked_vae_is_refused() {
    let e = masked(&[9, 4]).variational(1.0).validate().unwrap_err();
    assert!(e.to_string().contains("`missing` = mask with a VAE"), "{e}");
}
