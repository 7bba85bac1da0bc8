//! Scaling statistics, fitted block by block in row order so that rows in
//! memory and rows read from a file give the same transform: per column
//! (per channel for windows), skipping missing entries ([`MISSING`]).

use crate::data::{Source, MISSING};
use crate::error::Result;

/// Per-column mean and standard deviation, accumulated block by block in
/// row order (two passes: the means, then the squared deviations), so that
/// rows in memory and rows streamed from a file give the same transform.
pub(crate) struct StandardFit {
    mean: Vec<f64>,
    var: Vec<f64>,
    /// Values seen per column (missing entries, [`MISSING`], are skipped).
    n: Vec<usize>,
}

impl StandardFit {
    pub fn new(cols: usize) -> Self {
        Self {
            mean: vec![0.0; cols],
            var: vec![0.0; cols],
            n: vec![0; cols],
        }
    }

    pub fn add_mean(&mut self, block: &[f32]) {
        for row in block.chunks(self.mean.len()) {
            for ((m, n), &v) in self.mean.iter_mut().zip(&mut self.n).zip(row) {
                if v != MISSING {
                    *m += f64::from(v);
                    *n += 1;
                }
            }
        }
    }

    pub fn end_mean(&mut self) {
        for (m, &n) in self.mean.iter_mut().zip(&self.n) {
            *m /= n.max(1) as f64;
        }
    }

    pub fn add_var(&mut self, block: &[f32]) {
        for row in block.chunks(self.mean.len()) {
            for ((s, &m), &v) in self.var.iter_mut().zip(&self.mean).zip(row) {
                if v != MISSING {
                    *s += (f64::from(v) - m).powi(2);
                }
            }
        }
    }

    /// (offset, scale): a constant column keeps scale 1 (it is only centred).
    pub fn finish(self) -> (Vec<f32>, Vec<f32>) {
        let scale = self
            .var
            .iter()
            .zip(&self.mean)
            .zip(&self.n)
            .map(|((v, m), &n)| {
                let sd = (v / n.max(1) as f64).sqrt();
                // Below f32's resolution of the mean, the column is constant.
                if sd > 1e-6 * m.abs().max(1e-6) {
                    sd as f32
                } else {
                    1.0
                }
            })
            .collect();
        (self.mean.iter().map(|&v| v as f32).collect(), scale)
    }
}

/// Per-column minimum and maximum, accumulated block by block.
pub(crate) struct UnitFit {
    lo: Vec<f32>,
    hi: Vec<f32>,
}

impl UnitFit {
    pub fn new(cols: usize) -> Self {
        Self {
            lo: vec![f32::INFINITY; cols],
            hi: vec![f32::NEG_INFINITY; cols],
        }
    }

    pub fn add(&mut self, block: &[f32]) {
        for row in block.chunks(self.lo.len()) {
            for ((l, h), &v) in self.lo.iter_mut().zip(self.hi.iter_mut()).zip(row) {
                if v != MISSING {
                    *l = l.min(v);
                    *h = h.max(v);
                }
            }
        }
    }

    /// (offset, scale): a constant column keeps scale 1 (it becomes 0).
    pub fn finish(self) -> (Vec<f32>, Vec<f32>) {
        let scale = self
            .lo
            .iter()
            .zip(&self.hi)
            .map(|(l, h)| if h > l { h - l } else { 1.0 })
            .collect();
        // A column with no value seen keeps offset 0.
        let lo = self
            .lo
            .iter()
            .map(|&l| if l.is_finite() { l } else { 0.0 })
            .collect();
        (lo, scale)
    }
}

impl Source {
    /// Zero mean and unit variance per column over these rows, as
    /// [`crate::Dataset::standard_transform`] computes it (the same sums in
    /// the same order, so the same numbers), read block by block.
    /// For windows: each channel's over the steps they cover, the same at
    /// every step of a window.
    pub fn standard_transform(&self) -> Result<(Vec<f32>, Vec<f32>)> {
        if let Some(w) = self.window() {
            let (o, s) = self.series().standard_transform()?;
            return Ok((w.tile(&o), w.tile(&s)));
        }
        let mut fit = StandardFit::new(self.cols());
        self.for_each_block(|_, b| {
            fit.add_mean(b);
            Ok(())
        })?;
        fit.end_mean();
        self.for_each_block(|_, b| {
            fit.add_var(b);
            Ok(())
        })?;
        Ok(fit.finish())
    }

    /// The largest magnitude of any value (after the transform), read
    /// block by block.
    pub fn max_abs(&self) -> Result<f32> {
        let mut largest = 0f32;
        self.for_each_block(|_, b| {
            largest = b.iter().fold(largest, |m, v| m.max(v.abs()));
            Ok(())
        })?;
        Ok(largest)
    }

    /// Each column to [0, 1] over these rows, as
    /// [`crate::Dataset::unit_transform`] computes it.
    /// For windows: each channel's over the steps they cover.
    pub fn unit_transform(&self) -> Result<(Vec<f32>, Vec<f32>)> {
        if let Some(w) = self.window() {
            let (o, s) = self.series().unit_transform()?;
            return Ok((w.tile(&o), w.tile(&s)));
        }
        let mut fit = UnitFit::new(self.cols());
        self.for_each_block(|_, b| {
            fit.add(b);
            Ok(())
        })?;
        Ok(fit.finish())
    }
}
