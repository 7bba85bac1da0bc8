//! Predictions from an AutoRec model for chosen cells of a rating matrix
//! kept sparse: the rows that hold the cells are reconstructed a block at a
//! time (never the whole matrix in memory), and each cell's prediction is
//! picked out. The held-out RMSE and MAE of `wgae train --rows`, and the
//! scores of `wgae recommend`, are read this way.

use wgae::data::ratings::{Ratings, RowsAre};
use wgae::data::Source;
use wgae::{Autoencoder, Precision};

/// The held-out ratings' errors.
pub struct Errors {
    pub rmse: f64,
    pub mae: f64,
    /// Ratings in rows with no training rating (predicted as the mean).
    pub cold: usize,
}

/// The reconstruction at each of `cells` (row, column) of `src`'s rows.
/// Only the rows from the first cell's to the last's are reconstructed.
pub fn predict_cells(
    model: &Autoencoder,
    src: &Source,
    cells: &[(usize, usize)],
) -> wgae::Result<Vec<f32>> {
    let mut out = vec![0f32; cells.len()];
    let (Some(lo), Some(hi)) = (
        cells.iter().map(|c| c.0).min(),
        cells.iter().map(|c| c.0).max(),
    ) else {
        return Ok(out);
    };
    let mut order: Vec<usize> = (0..cells.len()).collect();
    order.sort_by_key(|&k| cells[k].0);
    let cols = src.cols();
    let mut next = 0;
    model.reconstruct_source(&src.slice(lo, hi + 1), Precision::F32, |r0, block| {
        let end = lo + r0 + block.len() / cols;
        while next < order.len() && cells[order[next]].0 < end {
            let (r, c) = cells[order[next]];
            out[order[next]] = block[(r - lo - r0) * cols + c];
            next += 1;
        }
        Ok(())
    })?;
    Ok(out)
}

/// The RMSE and MAE of `held` (ratings not in the training matrix `src`,
/// whose rows are `rows`): each predicted by the reconstruction of its row
/// from the row's training ratings `train`, clipped to their range; a row
/// with none predicts their mean.
pub fn held_out_errors(
    model: &Autoencoder,
    src: &Source,
    train: &Ratings,
    rows: RowsAre,
    held: &Ratings,
) -> wgae::Result<Errors> {
    let (lo, hi) = range_of(train);
    let mean = mean_of(train);
    let mut rated = vec![false; src.rows()];
    for k in 0..train.len() {
        rated[train.cell(k, rows).0] = true;
    }
    let cells: Vec<(usize, usize)> = (0..held.len()).map(|k| held.cell(k, rows)).collect();
    let warm: Vec<(usize, usize)> = cells.iter().copied().filter(|c| rated[c.0]).collect();
    let mut warm_pred = predict_cells(model, src, &warm)?.into_iter();
    let (mut se, mut ae, mut cold) = (0.0, 0.0, 0usize);
    for (k, &(r, _)) in cells.iter().enumerate() {
        let p = if rated[r] {
            f64::from(warm_pred.next().unwrap_or(0.0).clamp(lo, hi))
        } else {
            cold += 1;
            mean
        };
        let d = p - f64::from(held.rating[k]);
        se += d * d;
        ae += d.abs();
    }
    let n = held.len().max(1) as f64;
    Ok(Errors {
        rmse: (se / n).sqrt(),
        mae: ae / n,
        cold,
    })
}

/// The ratings' smallest and largest values.
pub fn range_of(r: &Ratings) -> (f32, f32) {
    r.rating
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &v| {
            (l.min(v), h.max(v))
        })
}

/// The ratings' mean.
pub fn mean_of(r: &Ratings) -> f64 {
    r.rating.iter().map(|&v| f64::from(v)).sum::<f64>() / r.len().max(1) as f64
}
