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

/// The other variants the README names with the mask: tied, deep,
/// KL-sparse and contractive, and the masked BCE.
#[test]
fn more_masked_variants_train_as_the_twin() {
    check_three_steps("masked tied", &masked(&[9, 5]).tied(true), &sgd(0.3));
    check_three_steps("masked deep", &masked(&[11, 7, 4]), &sgd(0.3));
    let kl = masked(&[9, 5])
        .code_act(Activation::Sigmoid)
        .kl_sparsity(0.1, 0.5);
    check_three_steps("masked kl sparse", &kl, &sgd(0.3));
    check_three_steps(
        "masked contractive",
        &masked(&[9]).code_act(Activation::Sigmoid).contractive(0.05),
        &sgd(0.3),
    );
    let bce = ModelConfig::dense(DIM, &[9, 5])
        .loss(LossKind::Bce)
        .masked();
    check_three_steps("masked bce", &bce, &sgd(0.5));
}

#[test]
fn a_masked_vae_is_refused() {
    let e = masked(&[9, 4]).variational(1.0).validate().unwrap_err();
    assert!(e.to_string().contains("`missing` = mask with a VAE"), "{e}");
}

#[path = "common/cli.rs"]
mod common_cli;

/// A CSV of `rows` x 6 values on a 2-D subspace, about a fifth of the
/// cells empty (row 3 entirely).
fn table_with_gaps(path: &std::path::Path, rows: usize) {
    let mut g = common::rng(21);
    let mut s = String::from("a,b,c,d,e,f\n");
    for i in 0..rows {
        let (u, v): (f32, f32) = (rand::Rng::random(&mut g), rand::Rng::random(&mut g));
        let row = [u, v, u + v, u - v, 2.0 * u, 0.5 * v + 1.0];
        let cells: Vec<String> = row
            .iter()
            .map(|x| {
                if i == 3 || rand::Rng::random::<f32>(&mut g) < 0.2 {
                    String::new()
                } else {
                    format!("{x}")
                }
            })
            .collect();
        s += &(cells.join(",") + "\n");
    }
    std::fs::write(path, s).unwrap();
}

/// From the command line: gaps are refused by default (naming the flag),
/// trained on with `--missing mask`, scored on the observed entries, and
/// filled in by `wgae impute`, which keeps every observed entry as it was.
#[test]
fn the_cli_trains_on_gaps_scores_and_imputes() {
    use common_cli::{fails, ok, wgae, workdir};
    let Some(_) = common::gpu() else { return };
    let dir = workdir("missing");
    table_with_gaps(&dir.join("t.csv"), 300);
    let run = |line: &str| wgae(&line.split_whitespace().collect::<Vec<_>>(), &dir);
    fails(
        &run("train --data t.csv --arch 6,2"),
        &["t.csv", "line 2", "--missing mask"],
    );
    ok(&run(
        "train --data t.csv --arch 6,4,2 --loss mse --scale standard --missing mask --epochs 60 \
         --batch 16 --lr 0.01 --save m.safetensors --quiet",
    ));
    ok(&run(
        "anomaly --model m.safetensors --data t.csv --per-feature --out a.csv",
    ));
    let shares: Vec<Vec<String>> = std::fs::read_to_string(dir.join("a.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    let given = std::fs::read_to_string(dir.join("t.csv")).unwrap();
    let given: Vec<Vec<&str>> = given
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    for (row, cells) in shares.iter().zip(&given) {
        let score: f64 = row[1].parse().unwrap();
        let sum: f64 = row[3..].iter().map(|v| v.parse::<f64>().unwrap()).sum();
        assert!((score - sum).abs() <= 1e-5 * score.max(1e-3), "{row:?}");
        for (share, cell) in row[3..].iter().zip(cells) {
            if cell.is_empty() {
                assert_eq!(share, "0", "a missing entry has no share");
            }
        }
    }
    let out = ok(&run(
        "impute --model m.safetensors --data t.csv --out i.csv",
    ));
    assert!(out.contains("missing entries in"), "{out}");
    assert!(out.contains("1 rows had no observed entry"), "{out}");
    let imputed = std::fs::read_to_string(dir.join("i.csv")).unwrap();
    for (line, cells) in imputed.lines().skip(1).zip(&given) {
        for (v, cell) in line.split(',').zip(cells) {
            let v: f32 = v.parse().unwrap();
            assert!(v.is_finite());
            if !cell.is_empty() {
                assert_eq!(v, cell.parse::<f32>().unwrap(), "an observed entry changed");
            }
        }
    }
    // A model that never saw gaps cannot fill them.
    ok(&run(
        "train --data i.csv --arch 6,2 --loss mse --epochs 1 --save plain.safetensors --quiet",
    ));
    fails(
        &run("impute --model plain.safetensors --data t.csv --out j.csv"),
        &["plain.safetensors", "--missing mask"],
    );
    fails(
        &run("impute --model m.safetensors --data t.csv --out j.png"),
        &["--out must end in"],
    );
}

/// `missing = "mask"` in a config round-trips, and the default is left out.
#[test]
fn the_setting_reads_from_toml() {
    let cfg = ModelConfig::from_toml("input_dim = 4\nencoder = [2]\nmissing = \"mask\"\n").unwrap();
    assert_eq!(cfg.missing, wgae::model::Missing::Mask);
    assert!(cfg.to_toml().contains("missing = \"mask\""));
    assert!(!ModelConfig::dense(4, &[2]).to_toml().contains("missing"));
}

/// f16 inference of a masked model reads a missing entry as 0 and scores
/// the observed entries, as the f32 plan does.
#[test]
fn f16_inference_of_a_masked_model_matches_f32() {
    let Some(ctx) = common::gpu() else { return };
    if !ctx.has_f16() {
        return;
    }
    let cfg = masked(&[9, 5]);
    let mut data = common::three_steps::toy_data_of(3, DIM);
    for (i, v) in data.data.iter_mut().enumerate() {
        if i % 4 == 1 {
            *v = wgae::kernels::MISSING;
        }
    }
    let mut tr = common::trainer(ctx, &cfg, &sgd(0.3), &data);
    tr.fit(|_| wgae::Control::Continue, |_| {}).unwrap();
    let m = tr.model();
    let e32 = m
        .reconstruction_error_with(&data, wgae::Precision::F32)
        .unwrap();
    let e16 = m
        .reconstruction_error_with(&data, wgae::Precision::F16)
        .unwrap();
    for (a, b) in e32.iter().zip(&e16) {
        assert!(
            (a - b).abs() <= 1e-2 * a.abs().max(1e-2),
            "f32 {a} vs f16 {b}"
        );
    }
    let r32 = m.reconstruct_with(&data, wgae::Precision::F32).unwrap();
    let r16 = m.reconstruct_with(&data, wgae::Precision::F16).unwrap();
    let worst = r32
        .iter()
        .zip(&r16)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(worst < 1e-2, "reconstructions differ by {worst}");
}
