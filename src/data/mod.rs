//! Datasets: rows of f32 features (scaled to [0, 1] or standardized), with
//! optional labels, and the loaders that make them.

pub mod bounded;
pub mod files;
mod fit;
pub mod idx;
mod mapped;
pub mod memory;
pub mod npz;
pub mod ratings;
pub mod sensors;
pub mod series;
pub mod source;
pub mod sparse;
pub mod synthetic;
pub mod windows;

pub use source::Source;

/// How a missing entry (NaN, an empty CSV cell) is held where a model
/// masks missing entries out of its loss: f32's lowest value, which no
/// finite scaled value equals, so that rows stay NaN-free on the GPU (WGSL
/// leaves NaN's behaviour to the implementation).
pub const MISSING: f32 = f32::MIN;

use crate::error::{Error, Result};
use fit::{StandardFit, UnitFit};

/// `rows` samples of `cols` features each, row-major, plus optional labels,
/// and each sample's shape as the file stored it where it has one.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    pub data: Vec<f32>,
    pub rows: usize,
    pub cols: usize,
    pub labels: Option<Vec<u32>>,
    /// A sample's dimensions as stored: `[h, w]` for IDX images, `[h, w, c]`
    /// for a folder of colour images, a `.npy`'s dimensions after the first.
    /// `None` for flat rows (CSV, synthetic data).
    pub dims: Option<Vec<usize>>,
}

/// Rows of features borrowed from whoever holds them (a [`Dataset`], or a
/// caller's array such as a numpy array's buffer): what training and
/// inference read, so that data already laid out as row-major f32 reaches
/// the GPU without a copy.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rows<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
}

impl<'a> Rows<'a> {
    /// Checks the shape and that every value is finite, as [`Dataset::new`].
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Result<Self> {
        if rows == 0 || cols == 0 {
            return Err(Error::InvalidArgument(format!(
                "the data needs at least one row and one column, got {rows}x{cols}"
            )));
        }
        if rows.checked_mul(cols) != Some(data.len()) {
            return Err(Error::InvalidArgument(format!(
                "{} values are not {rows} rows of {cols}",
                data.len()
            )));
        }
        if let Some(i) = data.iter().position(|v| !v.is_finite()) {
            return Err(Error::InvalidArgument(format!(
                "value {} at row {}, column {} (counting from 1) is not finite; clean the \
                 data (NaN and infinity cannot be trained on or scored), or, where NaN marks a \
                 missing entry, train with `missing` mask",
                data[i],
                i / cols + 1,
                i % cols + 1
            )));
        }
        Ok(Self { data, rows, cols })
    }

    /// Rows `start..end` (clamped), without a copy.
    pub fn slice(&self, start: usize, end: usize) -> Rows<'a> {
        let end = end.min(self.rows);
        let start = start.min(end);
        Rows {
            data: &self.data[start * self.cols..end * self.cols],
            rows: end - start,
            cols: self.cols,
        }
    }

    /// Splits off the last `fraction` of the rows (as Keras' validation_split).
    pub fn split_validation(&self, fraction: f32) -> Result<(Rows<'a>, Rows<'a>)> {
        let cut = validation_cut(self.rows, fraction)?;
        Ok((self.slice(0, cut), self.slice(cut, self.rows)))
    }
}

/// Where a validation split of `fraction` cuts `rows` rows: the training
/// rows are those before it.
pub fn validation_cut(rows: usize, fraction: f32) -> Result<usize> {
    if !(fraction > 0.0 && fraction < 1.0) {
        return Err(Error::InvalidArgument(format!(
            "validation split {fraction} must be in (0, 1)"
        )));
    }
    let n_val = ((rows as f64) * f64::from(fraction)).round() as usize;
    if n_val == 0 || n_val >= rows {
        return Err(Error::InvalidArgument(format!(
            "validation split {fraction} of {rows} rows leaves an empty training or validation set"
        )));
    }
    Ok(rows - n_val)
}

impl<'a> From<&'a Dataset> for Rows<'a> {
    fn from(d: &'a Dataset) -> Self {
        Rows {
            data: &d.data,
            rows: d.rows,
            cols: d.cols,
        }
    }
}

impl Dataset {
    /// Checks the shape and that every value is finite.
    pub fn new(data: Vec<f32>, rows: usize, cols: usize, labels: Option<Vec<u32>>) -> Result<Self> {
        if rows == 0 || cols == 0 {
            return Err(Error::InvalidArgument(format!(
                "a dataset needs at least one row and one column, got {rows}x{cols}"
            )));
        }
        if data.len() != rows * cols {
            return Err(Error::InvalidArgument(format!(
                "dataset: {} values for {rows} rows of {cols}",
                data.len()
            )));
        }
        if let Some(i) = data.iter().position(|v| !v.is_finite()) {
            return Err(Error::InvalidArgument(format!(
                "dataset: value {} at row {}, column {} (counting from 1) is not finite; clean \
                 the data (NaN and infinity cannot be trained on), or, where NaN marks a \
                 missing entry, train with `missing` mask",
                data[i],
                i / cols + 1,
                i % cols + 1
            )));
        }
        if let Some(l) = &labels {
            if l.len() != rows {
                return Err(Error::InvalidArgument(format!(
                    "dataset: {} labels for {rows} rows",
                    l.len()
                )));
            }
        }
        Ok(Self {
            data,
            rows,
            cols,
            labels,
            dims: None,
        })
    }

    /// The same rows, with each sample's stored dimensions.
    pub fn with_dims(mut self, dims: Vec<usize>) -> Self {
        if dims.len() > 1 && dims.iter().product::<usize>() == self.cols {
            self.dims = Some(dims);
        }
        self
    }

    /// The rows as a model whose samples are shaped `shape` (channels first)
    /// reads them: unchanged where the stored dimensions already are its
    /// order (or unknown), and colour images stored (h, w, c) transposed to
    /// (c, h, w). An error names both shapes where they disagree.
    pub fn for_shape(mut self, shape: [usize; 3]) -> Result<Self> {
        let want: usize = shape.iter().product();
        if want != self.cols {
            return Err(Error::InvalidArgument(format!(
                "the data has {} values per sample but the model takes {}x{}x{} = {want}",
                self.cols, shape[0], shape[1], shape[2]
            )));
        }
        let Some(dims) = self.dims.clone() else {
            return Ok(self);
        };
        let [c, h, w] = shape;
        if c > 1 && dims == [h, w, c] {
            let mut out = vec![0.0f32; self.data.len()];
            for (r, row) in self.data.chunks(self.cols).enumerate() {
                let dst = &mut out[r * self.cols..(r + 1) * self.cols];
                for y in 0..h {
                    for x in 0..w {
                        for ch in 0..c {
                            dst[(ch * h + y) * w + x] = row[(y * w + x) * c + ch];
                        }
                    }
                }
            }
            self.data = out;
            self.dims = Some(vec![c, h, w]);
            return Ok(self);
        }
        let squeeze = |d: &[usize]| d.iter().copied().filter(|&v| v != 1).collect::<Vec<_>>();
        if squeeze(&dims) != squeeze(&shape) {
            return Err(Error::InvalidArgument(format!(
                "the data's samples are shaped {dims:?} but the model's input_shape is \
                 {c}x{h}x{w} (channels first); give input_shape in the data's order, or \
                 store the data as (channels, height, width)"
            )));
        }
        Ok(self)
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// The first `n` rows (all if fewer).
    pub fn take(&self, n: usize) -> Dataset {
        let n = n.min(self.rows);
        Dataset {
            data: self.data[..n * self.cols].to_vec(),
            rows: n,
            cols: self.cols,
            labels: self.labels.as_ref().map(|l| l[..n].to_vec()),
            dims: self.dims.clone(),
        }
    }

    /// Rows `start..end`.
    pub fn slice(&self, start: usize, end: usize) -> Dataset {
        let end = end.min(self.rows);
        let start = start.min(end);
        Dataset {
            data: self.data[start * self.cols..end * self.cols].to_vec(),
            rows: end - start,
            cols: self.cols,
            labels: self.labels.as_ref().map(|l| l[start..end].to_vec()),
            dims: self.dims.clone(),
        }
    }

    /// Splits off the last `fraction` of the rows (as Keras' validation_split).
    pub fn split_validation(&self, fraction: f32) -> Result<(Dataset, Dataset)> {
        let (train, _) = Rows::from(self).split_validation(fraction)?;
        let cut = train.rows;
        Ok((self.slice(0, cut), self.slice(cut, self.rows)))
    }

    /// The transform to zero mean and unit variance of each column,
    /// measured on the first `rows` rows (the training rows): (offset,
    /// scale) for [`Self::apply_transform`]. A constant column keeps scale 1
    /// (it is only centred), so the saved transform applies to later data.
    pub fn standard_transform(&self, rows: usize) -> (Vec<f32>, Vec<f32>) {
        let (r, c) = (rows.clamp(1, self.rows), self.cols);
        let mut fit = StandardFit::new(c);
        fit.add_mean(&self.data[..r * c]);
        fit.end_mean();
        fit.add_var(&self.data[..r * c]);
        fit.finish()
    }

    /// The transform of each column to [0, 1] by its minimum and maximum
    /// over the first `rows` rows: (offset, scale) for
    /// [`Self::apply_transform`]; a constant column keeps scale 1 (it
    /// becomes 0).
    pub fn unit_transform(&self, rows: usize) -> (Vec<f32>, Vec<f32>) {
        let (r, c) = (rows.clamp(1, self.rows), self.cols);
        let mut fit = UnitFit::new(c);
        fit.add(&self.data[..r * c]);
        fit.finish()
    }

    /// Standardizes every column in place (statistics of all rows) and
    /// returns the transform used.
    pub fn standardize(&mut self) -> (Vec<f32>, Vec<f32>) {
        let t = self.standard_transform(self.rows);
        self.apply_transform(&t.0, &t.1);
        t
    }

    /// Scales every column to [0, 1] in place (statistics of all rows) and
    /// returns the transform used.
    pub fn scale_unit(&mut self) -> (Vec<f32>, Vec<f32>) {
        let t = self.unit_transform(self.rows);
        self.apply_transform(&t.0, &t.1);
        t
    }

    /// Clips every value to [0, 1] (after a unit scaling, for a BCE model;
    /// see [`crate::data::Source::with_transform_clipped`]).
    pub fn clip_unit(&mut self) {
        for v in self.data.iter_mut().filter(|v| **v != MISSING) {
            *v = v.clamp(0.0, 1.0);
        }
    }

    /// x' = (x - offset) / scale per column (a transform saved with a model).
    pub fn apply_transform(&mut self, offset: &[f32], scale: &[f32]) {
        for row in self.data.chunks_mut(self.cols) {
            for ((v, o), s) in row.iter_mut().zip(offset).zip(scale) {
                if *v != MISSING {
                    *v = (*v - o) / s;
                }
            }
        }
    }
}
