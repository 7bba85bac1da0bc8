//! The held-out RMSE and MAE of `wgae train --rows`: AutoRec's predictions
//! for the held-out cells of a rating matrix kept sparse
//! (`Autoencoder::reconstruct_cells`, a block of rows at a time, never the
//! whole matrix in memory), clipped to the training ratings' range.

use wgae::data::ratings::{Ratings, RowsAre};
use wgae::data::Source;
use wgae::Autoencoder;

/// The held-out ratings' errors.
pub struct Errors {
    pub rmse: f64,
    pub mae: f64,
    /// Ratings in rows with no training rating (predicted as the mean).
    pub cold: usize,
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
    let mut warm_pred = model.reconstruct_cells(src, &warm)?.into_iter();
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
