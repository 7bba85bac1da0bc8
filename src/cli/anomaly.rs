//! `wgae anomaly`: per-sample reconstruction errors to a CSV, flagging those
//! above a threshold or a percentile.

use wgae::io;

use crate::cli::{interrupt, open_gpu, out_format, ModelData};

pub fn anomaly(
    input: &ModelData,
    percentile: Option<f64>,
    threshold: Option<f32>,
    out: &std::path::Path,
    force: bool,
) -> wgae::Result<()> {
    let kind = out_format(out, &["csv", "npy"])?;
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
    let ctx = open_gpu(input.gpu_memory)?;
    let (m, data) = input.load(&ctx)?;
    // One score per row (4 bytes each) is kept for the percentile; the
    // input is read block by block.
    let mut scores = Vec::with_capacity(data.source.rows());
    m.reconstruction_error_source(&data.source, input.precision, |_, s| {
        interrupt::check(out)?;
        scores.extend_from_slice(s);
        Ok(())
    })?;
    let cut = match threshold {
        Some(t) => t,
        None => {
            let p = percentile.unwrap_or(95.0);
            let k = ((p / 100.0) * (scores.len() - 1) as f64).round() as usize;
            let mut sorted = scores.clone();
            *sorted.select_nth_unstable_by(k, f32::total_cmp).1
        }
    };
    let labels = data.labels.as_deref();
    let flagged = scores.iter().filter(|&&s| s > cut).count();
    if kind == "npy" {
        // The scores alone, float32, one per row.
        let mut file = io::AtomicFile::create(out, force)?;
        file.write(&io::npy_header_of("<f4", &[scores.len()], 0))?;
        file.write(&io::f32_bytes(&scores))?;
        interrupt::check(out)?;
        file.commit()?;
        println!(
            "{flagged} of {} samples score above {cut:.6} (reconstruction MSE per feature); \
             scores written to {}",
            scores.len(),
            out.display()
        );
        return Ok(());
    }
    let mut file = io::AtomicFile::create(out, force)?;
    file.write(if labels.is_some() {
        b"index,score,anomaly,label\n"
    } else {
        b"index,score,anomaly\n"
    })?;
    let mut csv = String::new();
    for (i, s) in scores.iter().enumerate() {
        let a = u8::from(*s > cut);
        csv += &format!("{i},{s},{a}");
        if let Some(l) = labels {
            csv += &format!(",{}", l[i]);
        }
        csv.push('\n');
        if csv.len() > 1 << 20 {
            interrupt::check(out)?;
            file.write(csv.as_bytes())?;
            csv.clear();
        }
    }
    file.write(csv.as_bytes())?;
    interrupt::check(out)?;
    file.commit()?;
    println!(
        "{flagged} of {} samples score above {cut:.6} (reconstruction MSE per feature); scores written to {}",
        scores.len(),
        out.display()
    );
    Ok(())
}
