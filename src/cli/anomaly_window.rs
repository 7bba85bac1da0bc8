//! `wgae anomaly --window`: a score for every time step of one long
//! series. Every window (stride 1 by default) is reconstructed, and each
//! step gets the mean (or `--point-score max`) of the errors the windows
//! that cover it make there, with each channel's share; flagged ranges,
//! the ROC AUC against a label column, and `--plot` follow.

use std::path::Path;

use wgae::data::windows::{WindowLayout, Windows};
use wgae::io::{self, WindowInfo};
use wgae::points::{self, PointScore, PointScores};

use crate::cli::anomaly::Rule;
use crate::cli::series::{self, OpenSeries, SeriesArgs};
use crate::cli::{interrupt, open_gpu, out_format, ModelData};

/// What `anomaly` does with a series.
pub struct PointArgs<'a> {
    pub series: &'a SeriesArgs,
    pub how: PointScore,
    pub plot: Option<&'a Path>,
}

pub fn anomaly(
    input: &ModelData,
    rule: Rule,
    per_feature: bool,
    p: &PointArgs,
    out: &Path,
    force: bool,
) -> wgae::Result<()> {
    let kind = out_format(out, &["csv", "npy"])?;
    io::check_writable(out, force)?;
    if let Some(plot) = p.plot {
        out_format(plot, &["png"])?;
        io::check_writable(plot, force)?;
    }
    let ctx = open_gpu(input.gpu_memory)?;
    let (m, extras) = io::load_model_with_extras(&ctx, &input.model)?;
    let m = m.with_plan_options(crate::cli::plan_options()?);
    let held = crate::cli::data::DataPath::new(&input.data, crate::cli::data::host_budget(None))?;
    let s = series::open(
        held.path(),
        input.format,
        p.series,
        None,
        crate::cli::data::host_budget(None),
    )
    .map_err(|e| held.name_errors(e))?;
    let info = window_of(&m, extras.window.as_ref(), p.series.window, &s, &input.data)?;
    let (windows, _) = series::windows_of(&s, info.len, p.series.stride(), info.layout)?;
    let windows = match &extras.transform {
        Some((o, sc)) => windows.with_transform_clipped(
            o.clone(),
            sc.clone(),
            m.config().loss == wgae::LossKind::Bce,
        )?,
        None => windows,
    };
    let w = windows.window().expect("cut as windows");
    let mut acc = PointScores::new(s.source.rows(), w.channels, p.how);
    let mut x = Vec::new();
    m.reconstruct_source(&windows, input.precision, |r0, rec| {
        interrupt::check(out)?;
        x.resize(rec.len(), 0.0);
        windows.read(r0, r0 + rec.len() / w.cols(), &mut x)?;
        for (k, (xs, rs)) in x.chunks(w.cols()).zip(rec.chunks(w.cols())).enumerate() {
            acc.add(&w, (r0 + k) * w.stride, xs, rs);
        }
        Ok(())
    })?;
    let (scores, shares) = acc.finish();
    let scored: Vec<f32> = scores.iter().copied().filter(|v| v.is_finite()).collect();
    let (cut, how) = rule.cut(&scored, extras.train_errors);
    let flagged: Vec<bool> = scores.iter().map(|&v| v > cut).collect();
    let ranges = points::ranges(flagged.iter().copied());
    let mut file = io::AtomicFile::create(out, force)?;
    if kind == "npy" {
        let (values, shape) = match per_feature {
            false => (scores.as_slice(), vec![scores.len()]),
            true => (shares.as_slice(), vec![scores.len(), w.channels]),
        };
        file.write(&io::npy_header_of("<f4", &shape, 0))?;
        file.write(&io::f32_bytes(values))?;
    } else {
        write_csv(&mut file, &s, &scores, &shares, &flagged, out)?;
    }
    interrupt::check(out)?;
    file.commit()?;
    if let Some(plot) = p.plot {
        let view = wgae::report::SeriesView {
            values: &raw_steps(&s)?,
            names: &s.names,
            scores: &scores,
            cut,
            ranges: &ranges,
            labels: s.labels.as_deref(),
        };
        wgae::report::save_series_plot(plot, &view)?;
    }
    report(&s, &w, &scores, &ranges, cut, &how, out, p.plot);
    Ok(())
}

/// The windows the model reads: the model file's, or `--window` over the
/// series' channels for a model trained on windows cut elsewhere.
fn window_of(
    m: &wgae::Autoencoder,
    kept: Option<&WindowInfo>,
    given: Option<usize>,
    s: &OpenSeries,
    data: &Path,
) -> wgae::Result<WindowInfo> {
    let channels = s.source.cols();
    let input = m.config().input_dim;
    let file_err = |message: String| wgae::Error::File {
        path: data.to_path_buf(),
        message,
    };
    if let Some(k) = kept {
        if given.is_some_and(|g| g != k.len) {
            return Err(wgae::Error::InvalidArgument(format!(
                "--window {}: the model was trained on windows of {} time steps; give \
                 --window {} or leave it out",
                given.unwrap_or(0),
                k.len,
                k.len
            )));
        }
        if channels != k.channels {
            return Err(file_err(format!(
                "holds {channels} channels, but the model was trained on {} ({})",
                k.channels,
                k.names.join(", ")
            )));
        }
        return Ok(k.clone());
    }
    let Some(len) = given else {
        return Err(wgae::Error::InvalidArgument(
            "--point-score, --plot and --stride score a series by its windows; give --window W \
             (the model file keeps no window: it was not trained with --window)"
                .into(),
        ));
    };
    if len * channels != input {
        return Err(file_err(format!(
            "windows of {len} steps over its {channels} channels hold {} values, but the model \
             takes {input}; give the --window it was trained on",
            len * channels
        )));
    }
    let w = Windows::new(len, 1, channels, WindowLayout::Time)?;
    Ok(WindowInfo {
        len,
        channels,
        layout: series::layout_for(m.config(), &w),
        names: s.names.clone(),
    })
}

/// The series as stored, step after step (for the plot).
fn raw_steps(s: &OpenSeries) -> wgae::Result<Vec<f32>> {
    s.source.head(s.source.rows())
}

/// The CSV: step (and time), score, flag (and label), each channel's share.
fn write_csv(
    file: &mut io::AtomicFile,
    s: &OpenSeries,
    scores: &[f32],
    shares: &[f32],
    flagged: &[bool],
    out: &Path,
) -> wgae::Result<()> {
    let f = s.names.len();
    let mut header = String::from("step");
    if s.times.is_some() {
        header += ",time";
    }
    header += ",score,anomaly";
    if s.labels.is_some() {
        header += ",label";
    }
    for n in &s.names {
        header += &format!(",share_{n}");
    }
    let mut csv = format!("{header}\n");
    for (i, &score) in scores.iter().enumerate() {
        csv += &i.to_string();
        if let Some(t) = &s.times {
            csv += &format!(",{}", t[i]);
        }
        // A step no window covers (past the last window at a stride) has
        // no score.
        let text = |v: f32| {
            if v.is_finite() {
                v.to_string()
            } else {
                String::new()
            }
        };
        csv += &format!(",{},{}", text(score), u8::from(flagged[i]));
        if let Some(l) = &s.labels {
            csv += &format!(",{}", l[i]);
        }
        for v in &shares[i * f..(i + 1) * f] {
            csv += &format!(",{}", text(*v));
        }
        csv.push('\n');
        if csv.len() > 1 << 20 {
            interrupt::check(out)?;
            file.write(csv.as_bytes())?;
            csv.clear();
        }
    }
    file.write(csv.as_bytes())
}

/// The summary: flagged steps and ranges, the ROC AUC against the labels.
#[allow(clippy::too_many_arguments)]
fn report(
    s: &OpenSeries,
    w: &Windows,
    scores: &[f32],
    ranges: &[(usize, usize)],
    cut: f32,
    how: &str,
    out: &Path,
    plot: Option<&Path>,
) {
    let flagged: usize = ranges.iter().map(|(a, b)| b - a + 1).sum();
    let shown: Vec<String> = ranges
        .iter()
        .take(8)
        .map(|(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect();
    println!(
        "{flagged} of {} time steps score above {cut:.6} ({how}; a step's score is the \
         reconstruction error there, over the windows of {} steps that cover it), in {} \
         range{}{}{}; written to {}{}",
        scores.len(),
        w.len,
        ranges.len(),
        if ranges.len() == 1 { "" } else { "s" },
        if shown.is_empty() { "" } else { ": steps " },
        shown.join(", ") + if ranges.len() > 8 { ", ..." } else { "" },
        out.display(),
        plot.map_or(String::new(), |p| format!(" and {}", p.display()))
    );
    let unscored = scores.iter().filter(|v| !v.is_finite()).count();
    if unscored > 0 {
        println!(
            "the last {unscored} steps lie in no window at --stride {}: they have no score \
             (--stride 1 scores every step)",
            w.stride
        );
    }
    if let Some(labels) = &s.labels {
        let (sc, lb): (Vec<f32>, Vec<u32>) = scores
            .iter()
            .zip(labels.iter())
            .filter(|(v, _)| v.is_finite())
            .map(|(v, l)| (*v, *l))
            .unzip();
        if lb.contains(&1) && lb.contains(&0) {
            println!(
                "ROC AUC of the step scores against the label column: {:.4}",
                wgae::data::sensors::roc_auc(&sc, &lb)
            );
        }
    }
}
