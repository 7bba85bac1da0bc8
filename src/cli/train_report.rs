//! The pictures and history that `wgae train --report DIR` writes.

use wgae::data::Dataset;
use wgae::train::History;
use wgae::{io, report, Autoencoder};

use crate::cli::generate::generate_samples;

/// Rows of the held-out data a report draws from (its code-space plot
/// shows up to this many).
pub const REPORT_ROWS: usize = 2000;

pub const REPORT_FILES: [&str; 5] = [
    "reconstructions.png",
    "loss.png",
    "codes.png",
    "samples.png",
    "history.csv",
];

/// Writes the report's files into `dir` and returns their names: the
/// pictures of samples only where `pic` says how they make one.
pub fn write_report(
    dir: &std::path::Path,
    model: &Autoencoder,
    history: &History,
    shown: &Dataset,
    pic: Option<report::Picture>,
    stats: &io::CodeStats,
    force: bool,
) -> wgae::Result<Vec<&'static str>> {
    let mut written = Vec::new();
    if let Some(pic) = pic {
        let n = shown.rows.min(10);
        let sample = shown.take(n);
        let rec = model.reconstruct(&sample)?;
        report::save_picture_pairs(&dir.join("reconstructions.png"), &sample.data, &rec, pic, n)?;
        written.push("reconstructions.png");
    }
    let train: Vec<f64> = history.epochs.iter().map(|e| e.train_loss).collect();
    let val: Option<Vec<f64>> = history.epochs.iter().map(|e| e.val_loss).collect();
    report::save_loss_curve(
        &dir.join("loss.png"),
        &train,
        val.as_deref(),
        "loss per epoch",
    )?;
    let few = shown.take(2000);
    let codes = model.encode(&few)?;
    let c = model.config().code_dim();
    let pts = report::pca_2d(&codes, few.rows, c);
    let (title, axes) = if c == 2 {
        ("codes", ("code 1", "code 2"))
    } else {
        ("codes, first two principal components", ("PC 1", "PC 2"))
    };
    report::save_scatter(
        &dir.join("codes.png"),
        &pts,
        few.labels.as_deref(),
        title,
        axes,
    )?;
    written.extend(["loss.png", "codes.png"]);
    if let Some(pic) = pic {
        let samples = generate_samples(model, Some(stats), 40, 1)?;
        let imgs: Vec<&[f32]> = samples.chunks(pic.values()).collect();
        report::save_picture_grid(&dir.join("samples.png"), &imgs, pic, 10, 3)?;
        written.push("samples.png");
    }
    let mut csv =
        String::from("epoch,train_loss,val_loss,recon_mse,recon_bce,elbo,samples_per_sec\n");
    let opt = |v: Option<f64>| v.map_or(String::new(), |x| x.to_string());
    for e in &history.epochs {
        csv += &format!(
            "{},{},{},{},{},{},{}\n",
            e.epoch,
            e.train_loss,
            opt(e.val_loss),
            e.recon_mse,
            opt(e.recon_bce),
            opt(e.elbo),
            e.samples_per_sec
        );
    }
    io::write_atomic(&dir.join("history.csv"), csv.as_bytes(), force)?;
    written.push("history.csv");
    Ok(written)
}
