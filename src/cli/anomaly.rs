//! `wgae anomaly`: per-sample reconstruction errors to a CSV (or the
//! scores to a .npy), flagging those above a threshold: a given one, a
//! percentile of the scores, or a robust rule from the training errors
//! (median + k robust standard deviations). With `--per-feature`, each
//! feature's share of a row's error too.

use wgae::io;

use crate::cli::{interrupt, open_gpu, out_format, ModelData};

/// How the threshold is chosen.
#[derive(Clone, Copy, Debug)]
pub enum Rule {
    Threshold(f32),
    Percentile(f64),
    /// median + k * 1.4826 * MAD of the training errors.
    Mad(f64),
}

impl Rule {
    /// The rule of the flags (at most one is given; clap refuses more),
    /// checked; the 95th percentile by default.
    pub fn of(
        threshold: Option<f32>,
        percentile: Option<f64>,
        mad: Option<f64>,
    ) -> wgae::Result<Self> {
        let bad = |m: String| Err(wgae::Error::InvalidArgument(m));
        match (threshold, percentile, mad) {
            (Some(t), _, _) if !t.is_finite() || t < 0.0 => bad(format!(
                "--threshold {t} must be a reconstruction error: a finite number >= 0"
            )),
            (Some(t), _, _) => Ok(Rule::Threshold(t)),
            (_, Some(p), _) if !(0.0..=100.0).contains(&p) => {
                bad(format!("--percentile {p} must be between 0 and 100"))
            }
            (_, Some(p), _) => Ok(Rule::Percentile(p)),
            (_, _, Some(k)) if !k.is_finite() || k <= 0.0 => bad(format!(
                "--mad {k} counts robust standard deviations above the median: a number > 0"
            )),
            (_, _, Some(k)) => Ok(Rule::Mad(k)),
            _ => Ok(Rule::Percentile(95.0)),
        }
    }

    /// The threshold over `scores`, and how it was found.
    pub(crate) fn cut(self, scores: &[f32], trained: Option<io::ErrorStats>) -> (f32, String) {
        match self {
            Rule::Threshold(t) => (t, "the given threshold".into()),
            Rule::Percentile(p) => {
                let k = ((p / 100.0) * (scores.len() - 1) as f64).round() as usize;
                let mut sorted = scores.to_vec();
                (
                    *sorted.select_nth_unstable_by(k, f32::total_cmp).1,
                    format!("the {p}th percentile of these scores"),
                )
            }
            Rule::Mad(k) => match trained {
                Some(s) => (
                    s.threshold(k) as f32,
                    format!(
                        "the training errors' median {:.6} + {k} x 1.4826 x their MAD {:.6}",
                        s.median, s.mad
                    ),
                ),
                // A model file from before the statistics were kept.
                None => {
                    let s = io::ErrorStats::of(scores).unwrap_or(io::ErrorStats {
                        median: 0.0,
                        mad: 0.0,
                    });
                    (
                        s.threshold(k) as f32,
                        format!(
                            "these scores' median + {k} x 1.4826 x their MAD (the model file \
                             keeps no training errors)"
                        ),
                    )
                }
            },
        }
    }
}

pub fn anomaly(
    input: &ModelData,
    rule: Rule,
    per_feature: bool,
    out: &std::path::Path,
    force: bool,
) -> wgae::Result<()> {
    let kind = out_format(out, &["csv", "npy"])?;
    io::check_writable(out, force)?;
    let ctx = open_gpu(input.gpu_memory)?;
    let (m, data) = input.load(&ctx)?;
    // One score per row (4 bytes each) is kept for the threshold; the
    // input is read block by block.
    let mut scores = Vec::with_capacity(data.source.rows());
    m.reconstruction_error_source(&data.source, input.precision, |_, s| {
        interrupt::check(out)?;
        scores.extend_from_slice(s);
        Ok(())
    })?;
    let (cut, how) = rule.cut(&scores, data.extras.train_errors);
    let flagged = scores.iter().filter(|&&s| s > cut).count();
    let mut file = io::AtomicFile::create(out, force)?;
    match (kind, per_feature) {
        // The scores alone, float32, one per row.
        ("npy", false) => {
            file.write(&io::npy_header_of("<f4", &[scores.len()], 0))?;
            file.write(&io::f32_bytes(&scores))?;
        }
        // Each feature's share, (rows, features), float32.
        ("npy", true) => {
            let cols = data.source.cols();
            file.write(&io::npy_header_of("<f4", &[scores.len(), cols], 0))?;
            shares(&m, &data.source, input.precision, out, |_, s| {
                file.write(&io::f32_bytes(s))
            })?;
        }
        _ => write_csv(
            &mut file,
            &m,
            &data,
            input.precision,
            &scores,
            cut,
            per_feature,
            out,
        )?,
    }
    interrupt::check(out)?;
    file.commit()?;
    println!(
        "{flagged} of {} samples score above {cut:.6} ({how}; the score is the reconstruction \
         MSE per feature); written to {}",
        scores.len(),
        out.display()
    );
    Ok(())
}

/// Each feature's share of each row's error, `(x - x')^2 / features` (a
/// row's shares add up to its score; a masked model's missing entries have
/// none, and the others divide by the row's observed entries), block by
/// block.
fn shares(
    m: &wgae::Autoencoder,
    src: &wgae::data::Source,
    precision: wgae::Precision,
    out: &std::path::Path,
    mut sink: impl FnMut(usize, &[f32]) -> wgae::Result<()>,
) -> wgae::Result<()> {
    let cols = src.cols();
    let mut x = Vec::new();
    m.reconstruct_source(src, precision, |r0, rec| {
        interrupt::check(out)?;
        let rows = rec.len() / cols;
        x.resize(rec.len(), 0.0);
        src.read(r0, r0 + rows, &mut x)?;
        // A missing entry (a masked model's) has no share; the others
        // divide by the row's observed entries, as its score does.
        let missing = wgae::data::MISSING;
        let mut s = Vec::with_capacity(x.len());
        for (xs, rs) in x.chunks(cols).zip(rec.chunks(cols)) {
            let seen = xs.iter().filter(|&&v| v != missing).count().max(1) as f64;
            s.extend(xs.iter().zip(rs).map(|(a, b)| {
                if *a == missing {
                    return 0.0;
                }
                let d = f64::from(*a) - f64::from(*b);
                (d * d / seen) as f32
            }));
        }
        sink(r0, &s)
    })
}

/// The CSV: index, score, flag (and label), and with `per_feature` each
/// feature's share.
#[allow(clippy::too_many_arguments)]
fn write_csv(
    file: &mut io::AtomicFile,
    m: &wgae::Autoencoder,
    data: &crate::cli::Input,
    precision: wgae::Precision,
    scores: &[f32],
    cut: f32,
    per_feature: bool,
    out: &std::path::Path,
) -> wgae::Result<()> {
    let labels = data.labels.as_deref();
    let cols = data.source.cols();
    let mut header = String::from("index,score,anomaly");
    if labels.is_some() {
        header += ",label";
    }
    if per_feature {
        for j in 0..cols {
            header += &format!(",share{j}");
        }
    }
    file.write(format!("{header}\n").as_bytes())?;
    let mut csv = String::new();
    {
        let mut row = |i: usize, share: Option<&[f32]>| -> wgae::Result<()> {
            let s = scores[i];
            csv += &format!("{i},{s},{}", u8::from(s > cut));
            if let Some(l) = labels {
                csv += &format!(",{}", l[i]);
            }
            for v in share.unwrap_or(&[]) {
                csv += &format!(",{v}");
            }
            csv.push('\n');
            if csv.len() > 1 << 20 {
                interrupt::check(out)?;
                file.write(csv.as_bytes())?;
                csv.clear();
            }
            Ok(())
        };
        if per_feature {
            shares(m, &data.source, precision, out, |r0, s| {
                for (k, share) in s.chunks(cols).enumerate() {
                    row(r0 + k, Some(share))?;
                }
                Ok(())
            })?;
        } else {
            for i in 0..scores.len() {
                row(i, None)?;
            }
        }
    }
    file.write(csv.as_bytes())
}
