//! Anomaly detection by reconstruction error: train on digits 0-4 only, then
//! score held-out digits. Digits the model never saw (5-9) reconstruct worse,
//! and the per-sample error separates them.
//!
//!     cargo run --release --example anomaly_detection

#[path = "common/mod.rs"]
mod common;

use wgae::{Control, Dataset, GpuContext, ModelConfig, TrainConfig, Trainer};

fn subset(d: &Dataset, keep: impl Fn(u32) -> bool) -> wgae::Result<Dataset> {
    let labels = d.labels.as_ref().expect("labelled data");
    let rows: Vec<usize> = (0..d.rows).filter(|&i| keep(labels[i])).collect();
    let data = rows.iter().flat_map(|&i| d.row(i).to_vec()).collect();
    Dataset::new(
        data,
        rows.len(),
        d.cols,
        Some(rows.iter().map(|&i| labels[i]).collect()),
    )
}

fn main() -> wgae::Result<()> {
    let ctx = GpuContext::new()?;
    let data = common::digits(8000);
    let (train, test) = data.split_validation(0.25)?;
    let normal = subset(&train, |l| l < 5)?;
    let model = ModelConfig::dense(784, &[64, 16]);
    let t = TrainConfig {
        epochs: common::epochs(8),
        batch_size: 128,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(&ctx, &model, &t, &normal, None)?;
    trainer.fit(|_| Control::Continue, |_| {})?;
    let scores = trainer.model().reconstruction_error(&test)?;
    let labels = test.labels.as_ref().unwrap();
    // Threshold: the 95th percentile of the scores of normal training digits.
    let mut normal_scores = trainer.model().reconstruction_error(&normal)?;
    normal_scores.sort_by(f32::total_cmp);
    let cut = normal_scores[normal_scores.len() * 95 / 100];
    let (mut tp, mut fp, mut pos, mut neg) = (0, 0, 0, 0);
    for (s, &l) in scores.iter().zip(labels) {
        let anomalous = l >= 5;
        pos += usize::from(anomalous);
        neg += usize::from(!anomalous);
        if *s > cut {
            if anomalous {
                tp += 1
            } else {
                fp += 1
            }
        }
    }
    // AUC: the chance that a random unseen digit scores above a random seen one.
    let (a, n): (Vec<f32>, Vec<f32>) = (
        scores
            .iter()
            .zip(labels)
            .filter(|(_, &l)| l >= 5)
            .map(|(s, _)| *s)
            .collect(),
        scores
            .iter()
            .zip(labels)
            .filter(|(_, &l)| l < 5)
            .map(|(s, _)| *s)
            .collect(),
    );
    let wins: f64 = a
        .iter()
        .map(|x| {
            n.iter()
                .map(|y| {
                    if x > y {
                        1.0
                    } else if x == y {
                        0.5
                    } else {
                        0.0
                    }
                })
                .sum::<f64>()
        })
        .sum();
    println!("threshold {cut:.4} (95th percentile of training scores)");
    println!("flagged {tp} of {pos} unseen digits (5-9) and {fp} of {neg} seen ones (0-4)");
    println!("ROC AUC {:.3}", wins / (a.len() * n.len()) as f64);
    Ok(())
}
