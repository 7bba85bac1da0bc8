//! Point-wise anomaly scores: each time step of a long series scored from
//! the reconstruction errors of the windows that cover it. A window's
//! error at one of its steps is the mean over channels of the squared
//! differences there (so that a window's score is the mean of its steps');
//! a step's score is the mean of those over its windows ([`PointScore::Mean`])
//! or the largest ([`PointScore::Max`]), and each channel's share of it
//! says which sensor moved (a step's shares add up to its score).

use crate::data::windows::Windows;
use crate::error::{Error, Result};

/// How a step's score combines the windows that cover it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PointScore {
    Mean,
    Max,
}

impl PointScore {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "mean" => Ok(PointScore::Mean),
            "max" => Ok(PointScore::Max),
            _ => Err(Error::InvalidArgument(format!(
                "--point-score {s}: give mean (the windows' mean error at a step) or max"
            ))),
        }
    }
}

/// Scores of `steps` time steps, accumulated window by window.
pub struct PointScores {
    how: PointScore,
    channels: usize,
    /// Per step and channel: the sum over windows (Mean) or the chosen
    /// window's error (Max), each divided by the channel count.
    parts: Vec<f64>,
    /// Per step: windows seen (Mean), or the best window's total (Max).
    count: Vec<u32>,
    best: Vec<f64>,
    /// One window's errors, step after step (reused window to window).
    here: Vec<f64>,
}

impl PointScores {
    pub fn new(steps: usize, channels: usize, how: PointScore) -> Self {
        Self {
            how,
            channels,
            parts: vec![0.0; steps * channels],
            count: vec![0; steps],
            best: vec![f64::NEG_INFINITY; steps],
            here: Vec::new(),
        }
    }

    /// Adds the window that starts at step `first`: `x` its values and
    /// `rec` their reconstruction, both in `w`'s layout.
    pub fn add(&mut self, w: &Windows, first: usize, x: &[f32], rec: &[f32]) {
        let f = self.channels;
        let mut here = std::mem::take(&mut self.here);
        here.clear();
        here.resize(w.len * f, 0.0);
        for (c, (a, b)) in x.iter().zip(rec).enumerate() {
            let (t, ch) = w.place(c);
            let d = f64::from(*a) - f64::from(*b);
            here[t * f + ch] = d * d / f as f64;
        }
        for t in 0..w.len {
            let step = first + t;
            let errs = &here[t * f..(t + 1) * f];
            let dst = &mut self.parts[step * f..(step + 1) * f];
            self.count[step] += 1;
            match self.how {
                PointScore::Mean => dst.iter_mut().zip(errs).for_each(|(d, e)| *d += e),
                PointScore::Max => {
                    let total: f64 = errs.iter().sum();
                    if total > self.best[step] {
                        self.best[step] = total;
                        dst.copy_from_slice(errs);
                    }
                }
            }
        }
        self.here = here;
    }

    /// Each step's score, and each channel's share of it (steps x channels);
    /// a step no window covered scores NaN.
    pub fn finish(self) -> (Vec<f32>, Vec<f32>) {
        let f = self.channels;
        let mut scores = Vec::with_capacity(self.count.len());
        let mut shares = Vec::with_capacity(self.parts.len());
        for (step, &n) in self.count.iter().enumerate() {
            let part = &self.parts[step * f..(step + 1) * f];
            if n == 0 {
                scores.push(f32::NAN);
                shares.extend(std::iter::repeat_n(f32::NAN, f));
                continue;
            }
            let div = match self.how {
                PointScore::Mean => f64::from(n),
                PointScore::Max => 1.0,
            };
            scores.push((part.iter().sum::<f64>() / div) as f32);
            shares.extend(part.iter().map(|v| (v / div) as f32));
        }
        (scores, shares)
    }
}

/// The runs of consecutive flagged steps, as (first, last) inclusive.
pub fn ranges(flagged: impl IntoIterator<Item = bool>) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for (i, f) in flagged.into_iter().enumerate() {
        if !f {
            continue;
        }
        match out.last_mut() {
            Some((_, last)) if *last + 1 == i => *last = i,
            _ => out.push((i, i)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::windows::WindowLayout;

    /// Two windows of 3 steps over 4 steps of 2 channels, stride 1: the
    /// middle steps are covered twice.
    #[test]
    fn mean_and_max_by_hand() {
        let w = Windows::new(3, 1, 2, WindowLayout::Time).unwrap();
        let zero = [0.0f32; 6];
        // a: errors at its steps 0 (channel 0) and 2 (both channels);
        // b: at its step 1 (channel 1), which is step 2 of the series.
        let a = [1.0, 0.0, 0.0, 0.0, 2.0, 2.0];
        let b = [0.0, 0.0, 0.0, 4.0, 0.0, 0.0];
        let mut mean = PointScores::new(4, 2, PointScore::Mean);
        mean.add(&w, 0, &a, &zero);
        mean.add(&w, 1, &b, &zero);
        let (s, sh) = mean.finish();
        // Step 2: a gives (4, 4) / 2 channels, b (0, 16) / 2; over 2 windows.
        assert_eq!(s, [0.5, 0.0, 6.0, 0.0]);
        assert_eq!(&sh[4..6], &[1.0, 5.0]);
        let mut max = PointScores::new(5, 2, PointScore::Max);
        max.add(&w, 0, &a, &zero);
        max.add(&w, 1, &b, &zero);
        let (s, sh) = max.finish();
        assert_eq!(&s[..4], &[0.5, 0.0, 8.0, 0.0]);
        assert_eq!(&sh[4..6], &[0.0, 8.0]);
        assert!(s[4].is_nan(), "a step no window covers");
        assert_eq!(ranges([false, true, true, false, true]), [(1, 2), (4, 4)]);
    }
}
