//! A picture of a scored series: each channel over time above the
//! per-step anomaly score, with the threshold, the flagged ranges shaded
//! across every panel, and the labelled anomalies (where a label column
//! was given) marked under the score.

use std::path::Path;

use super::{Canvas, Frame, PALETTE};
use crate::error::{Error, Result};

/// The channels drawn at most; a note says how many more there are.
const MAX_PANELS: usize = 6;

/// What [`save_series_plot`] draws.
pub struct SeriesView<'a> {
    /// The series, step after step (`scores.len()` steps of `names.len()`
    /// channels), as stored.
    pub values: &'a [f32],
    pub names: &'a [String],
    /// One per step (NaN where no window covered it).
    pub scores: &'a [f32],
    pub cut: f32,
    /// Flagged steps, as (first, last) runs.
    pub ranges: &'a [(usize, usize)],
    /// 1 where a step is labelled anomalous.
    pub labels: Option<&'a [u32]>,
}

fn span(v: impl Iterator<Item = f32>) -> (f64, f64) {
    let (lo, hi) = v
        .filter(|x| x.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(f64::from(x)), b.max(f64::from(x)))
        });
    if lo > hi {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.05).max(1e-9);
    (lo - pad, hi + pad)
}

/// Draws `ys` (one per step, NaN skipped) in `f`: a line where there are
/// fewer steps than pixels, each pixel column's minimum to maximum
/// otherwise.
fn trace(c: &mut Canvas, f: &Frame, ys: &[f32], colour: [u8; 3]) {
    let n = ys.len();
    let cols = f.w as usize;
    if n <= cols {
        let pts: Vec<Option<(f64, f64)>> = ys
            .iter()
            .enumerate()
            .map(|(i, &y)| y.is_finite().then(|| f.map(i as f64, f64::from(y))))
            .collect();
        for w in pts.windows(2) {
            if let (Some(a), Some(b)) = (w[0], w[1]) {
                c.line(a, b, colour, 1);
            }
        }
        return;
    }
    // Each pixel column spans its steps' minimum to maximum, joined to the
    // column before, so that the trace stays one line and a one-step spike
    // shows at its full height.
    let mut prev: Option<f32> = None;
    for px in 0..cols {
        let (t0, t1) = (px * n / cols, ((px + 1) * n / cols).min(n));
        let here: Vec<f32> = ys[t0..t1.max(t0 + 1).min(n)]
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        let Some(&last) = here.last() else {
            prev = None;
            continue;
        };
        let (lo, hi) = here
            .iter()
            .chain(prev.as_ref())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(f64::from(v)), b.max(f64::from(v)))
            });
        let x = f.left + px as f64;
        let (_, y0) = f.map(f.x0, lo);
        let (_, y1) = f.map(f.x0, hi);
        c.line((x, y0), (x, y1), colour, 1);
        prev = Some(last);
    }
}

/// Shades the flagged ranges over the frame's height.
fn shade(c: &mut Canvas, f: &Frame, ranges: &[(usize, usize)]) {
    for &(a, b) in ranges {
        let (x0, _) = f.map(a as f64 - 0.5, f.y0);
        let (x1, _) = f.map(b as f64 + 0.5, f.y0);
        let (x0, x1) = (x0.max(f.left), x1.min(f.left + f.w).max(x0 + 1.0));
        for x in x0 as i64..=x1 as i64 {
            for y in f.top as i64 + 1..(f.top + f.h) as i64 {
                c.put(x, y, [255, 214, 214]);
            }
        }
    }
}

/// Saves the picture of `v` to `path` (PNG).
pub fn save_series_plot(path: &Path, v: &SeriesView) -> Result<()> {
    let steps = v.scores.len();
    let f = v.names.len();
    if steps == 0 || f == 0 || v.values.len() != steps * f {
        return Err(Error::InvalidArgument(format!(
            "a series plot needs steps x channels values: {} for {steps} steps of {f}",
            v.values.len()
        )));
    }
    let shown = f.min(MAX_PANELS);
    let (panel, score_h, gap, top) = (90.0, 130.0, 40.0, 40.0);
    let height = top + shown as f64 * (panel + gap) + score_h + 60.0;
    let mut c = Canvas::new(1000, height as u32);
    let frame = |top: f64, h: f64, (y0, y1): (f64, f64)| Frame {
        x0: 0.0,
        x1: (steps - 1).max(1) as f64,
        y0,
        y1,
        left: 90.0,
        top,
        w: 880.0,
        h,
        x_integer: true,
    };
    let title = format!(
        "anomaly score per time step: {} flagged range{}{}",
        v.ranges.len(),
        if v.ranges.len() == 1 { "" } else { "s" },
        if f > shown {
            format!(" ({shown} of {f} channels shown)")
        } else {
            String::new()
        }
    );
    for ch in 0..shown {
        let ys: Vec<f32> = (0..steps).map(|t| v.values[t * f + ch]).collect();
        let fr = frame(
            top + ch as f64 * (panel + gap),
            panel,
            span(ys.iter().copied()),
        );
        shade(&mut c, &fr, v.ranges);
        fr.draw(&mut c, if ch == 0 { &title } else { "" }, "", &v.names[ch]);
        trace(&mut c, &fr, &ys, PALETTE[ch % PALETTE.len()]);
    }
    let st = top + shown as f64 * (panel + gap);
    let (lo, hi) = span(v.scores.iter().copied().chain([v.cut]));
    let fr = frame(st, score_h, (lo.max(0.0), hi));
    shade(&mut c, &fr, v.ranges);
    fr.draw(&mut c, "", "time step", "score");
    trace(&mut c, &fr, v.scores, [40, 40, 40]);
    // The threshold, dashed.
    let (_, y) = fr.map(fr.x0, f64::from(v.cut));
    for x in (fr.left as i64..(fr.left + fr.w) as i64).step_by(8) {
        c.line((x as f64, y), (x as f64 + 4.0, y), PALETTE[3], 1);
    }
    c.text(
        (fr.left + fr.w) as i64 - 80,
        y as i64 - 10,
        "threshold",
        PALETTE[3],
    );
    if let Some(labels) = v.labels {
        // Labelled anomalies: a strip just under the score panel.
        let yb = st + score_h + 3.0;
        for (t, _) in labels.iter().enumerate().filter(|(_, &l)| l != 0) {
            let (x, _) = fr.map(t as f64, fr.y0);
            c.line((x, yb), (x, yb + 5.0), [200, 0, 0], 3);
        }
        c.text(4, yb as i64 - 1, "labels", [200, 0, 0]);
    }
    c.save(path)
}
