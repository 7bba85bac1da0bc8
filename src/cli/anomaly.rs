//! `wgae anomaly`: per-sample reconstruction errors to a CSV, flagging those
//! above a threshold or a percentile.

use wgae::io;

use crate::cli::{open_gpu, ModelData};

pub fn anomaly(
    input: &ModelData,
    percentile: Option<f64>,
    threshold: Option<f32>,
    out: &std::path::Path,
    force: bool,
) -> wgae::Result<()> {
    io::check_writable(out, force)?;
    if let Some(t) = threshold {
        if !t.is_finite() || t < 0.0 {
            return Err(wgae::Error::InvalidArgument(format!(
                "--threshold {t} must be a reconstruction error: a finite number >= 0"
            )));
        }
    }
    if let Some(p) = percentile {
        if !(0.0..=100.0).contains(&p) {
            return Err(wgae::Error::InvalidArgument(format!(
                "--percentile {p} must be between 0 and 100"
            )));
        }
    }
    let ctx = open_gpu()?;
    let (m, ds) = input.load(&ctx)?;
    let scores = m.reconstruction_error_with(&ds, input.precision)?;
    let cut = match threshold {
        Some(t) => t,
        None => {
            let p = percentile.unwrap_or(95.0);
            let mut sorted = scores.clone();
            sorted.sort_by(f32::total_cmp);
            let k = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
            sorted[k]
        }
    };
    let mut csv = String::from(if ds.labels.is_some() {
        "index,score,anomaly,label\n"
    } else {
        "index,score,anomaly\n"
    });
    let mut flagged = 0;
    for (i, s) in scores.iter().enumerate() {
        let a = u8::from(*s > cut);
        flagged += usize::from(a);
        csv += &format!("{i},{s},{a}");
        if let Some(l) = &ds.labels {
            csv += &format!(",{}", l[i]);
        }
        csv.push('\n');
    }
    io::write_atomic(out, csv.as_bytes(), force)?;
    println!(
        "{flagged} of {} samples score above {cut:.6} (reconstruction MSE per feature); scores written to {}",
        scores.len(),
        out.display()
    );
    Ok(())
}
