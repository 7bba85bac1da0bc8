//! `wgae generate`: decoded samples, from the prior for a VAE or from the
//! training codes' distribution otherwise, as a PNG grid, or as rows of a
//! `.npy` or `.csv` file.

use wgae::{io, report, Autoencoder};

use crate::cli::encode::TableWriter;
use crate::cli::{interrupt, open_gpu, out_format};

pub fn generate(
    model: &std::path::Path,
    n: usize,
    out: &std::path::Path,
    seed: u64,
    force: bool,
) -> wgae::Result<()> {
    if n == 0 {
        return Err(wgae::Error::InvalidArgument(
            "--n 0 would generate nothing; give at least 1".into(),
        ));
    }
    let kind = out_format(out, &["png", "npy", "csv"])?;
    io::check_writable(out, force)?;
    let ctx = open_gpu(None)?;
    let (m, extras) = io::load_model_with_extras(&ctx, model)?;
    let m = m.with_plan_options(crate::cli::plan_options()?);
    // The samples, and the codes they decode from, must fit in memory.
    wgae::data::memory::check_host(
        &format!("--n {n}"),
        n as u128 * (m.config().input_dim + m.config().code_dim()) as u128,
        4,
    )?;
    let pic = crate::cli::picture_of(&m, &extras);
    if kind == "png" && pic.is_none() {
        return Err(wgae::Error::InvalidArgument(format!(
            "the model's {} outputs are not an image (its file keeps no image shape, and they \
             are not a square), so there is no picture to draw; write the samples to .npy or \
             .csv",
            m.config().input_dim
        )));
    }
    let samples = generate_samples(&m, extras.code_stats.as_ref(), n, seed)?;
    interrupt::check(out)?;
    let Some(pic) = pic.filter(|_| kind == "png") else {
        let cols = m.config().input_dim;
        let mut w = TableWriter::create(out, n, cols, |j| format!("x{j}"), force)?;
        w.rows(&samples, cols)?;
        w.commit()?;
        println!(
            "wrote {n} generated samples of {cols} values to {}",
            out.display()
        );
        return Ok(());
    };
    let imgs: Vec<&[f32]> = samples.chunks(pic.values()).collect();
    report::save_picture_grid(out, &imgs, pic, 10.min(imgs.len()), 3)?;
    println!(
        "wrote {} generated samples to {}",
        imgs.len(),
        out.display()
    );
    Ok(())
}

/// Decoded samples: from the prior for a VAE, otherwise from a diagonal
/// Gaussian fitted to the training codes, clipped to their range.
pub fn generate_samples(
    model: &Autoencoder,
    stats: Option<&io::CodeStats>,
    n: usize,
    seed: u64,
) -> wgae::Result<Vec<f32>> {
    if model.config().variational.is_some() {
        return model.sample_prior(n, seed);
    }
    let stats = stats.ok_or_else(|| {
        wgae::Error::InvalidArgument(
            "this model file has no statistics of its training codes (it was not saved by `wgae train --save`), so there is nothing to sample from".into(),
        )
    })?;
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let c = stats.mean.len();
    let mut codes = Vec::with_capacity(n * c);
    for _ in 0..n {
        for j in 0..c {
            // Box-Muller from two uniforms.
            let (u1, u2): (f64, f64) = (rng.random_range(1e-12..1.0), rng.random());
            let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            let v = f64::from(stats.mean[j]) + f64::from(stats.std[j]) * z;
            codes.push((v as f32).clamp(stats.min[j], stats.max[j]));
        }
    }
    model.decode(&codes, n)
}
