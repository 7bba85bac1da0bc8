//! Sparse rows in CSR form (compressed sparse rows): a rating matrix whose
//! cells are mostly unrated, held as the entries it has, so that memory
//! grows with the number of ratings rather than with rows x columns. A
//! cell with no entry reads as `absent`: [`MISSING`] for ratings (masked
//! out of the loss), 0 for implicit interactions.
//!
//! A [`crate::data::Source`] holds one ([`crate::data::Source::sparse`]):
//! training keeps it sparse on the GPU and gathers each batch's dense rows
//! there (`kernels::gather_sparse`); streaming and inference densify a
//! block of rows at a time on the host.

use crate::data::MISSING;
use crate::error::{Error, Result};

/// Rows of `cols` columns, row `r`'s entries at `offsets[r]..offsets[r+1]`
/// of `columns` (strictly increasing within a row) and `values`.
#[derive(Clone, Debug, PartialEq)]
pub struct Csr {
    pub rows: usize,
    pub cols: usize,
    pub offsets: Vec<u32>,
    pub columns: Vec<u32>,
    pub values: Vec<f32>,
    /// What a cell with no entry holds.
    pub absent: f32,
}

fn bad(message: String) -> Error {
    Error::InvalidArgument(format!("sparse rows: {message}"))
}

impl Csr {
    /// Checks the parts: `rows + 1` non-decreasing offsets from 0 to the
    /// entry count, columns below `cols` and strictly increasing within
    /// each row, finite values; at most `u32::MAX` entries.
    pub fn new(
        rows: usize,
        cols: usize,
        offsets: Vec<u32>,
        columns: Vec<u32>,
        values: Vec<f32>,
        absent: f32,
    ) -> Result<Self> {
        if rows == 0 || cols == 0 {
            return Err(bad(format!(
                "need at least one row and one column, got {rows}x{cols}"
            )));
        }
        if cols > u32::MAX as usize {
            return Err(bad(format!("{cols} columns are more than 2^32")));
        }
        if offsets.len() != rows + 1 || offsets[0] != 0 {
            return Err(bad(format!(
                "{} offsets for {rows} rows (rows + 1, the first 0)",
                offsets.len()
            )));
        }
        let nnz = columns.len();
        if values.len() != nnz || offsets[rows] as usize != nnz {
            return Err(bad(format!(
                "{nnz} columns, {} values and a last offset of {}",
                values.len(),
                offsets[rows]
            )));
        }
        for r in 0..rows {
            let (a, b) = (offsets[r] as usize, offsets[r + 1] as usize);
            if a > b {
                return Err(bad(format!("the offsets of row {r} decrease")));
            }
            let row = &columns[a..b];
            if row.iter().any(|&c| c as usize >= cols) || row.windows(2).any(|w| w[0] >= w[1]) {
                return Err(bad(format!(
                    "row {r}'s columns are not distinct, increasing and below {cols}"
                )));
            }
        }
        if let Some(k) = values.iter().position(|v| !v.is_finite()) {
            return Err(bad(format!(
                "value {} (entry {k}) is not finite",
                values[k]
            )));
        }
        Ok(Self {
            rows,
            cols,
            offsets,
            columns,
            values,
            absent,
        })
    }

    /// The entries (`row[k]`, `col[k]`, `value[k]`) of a `rows` x `cols`
    /// matrix, in any order; a cell given twice keeps its last value.
    pub fn from_triples(
        rows: usize,
        cols: usize,
        row: &[u32],
        col: &[u32],
        value: &[f32],
        absent: f32,
    ) -> Result<Self> {
        if row.len() != col.len() || row.len() != value.len() {
            return Err(bad(format!(
                "{} rows, {} columns and {} values",
                row.len(),
                col.len(),
                value.len()
            )));
        }
        if row.len() > u32::MAX as usize {
            return Err(bad(format!("{} entries are more than 2^32", row.len())));
        }
        if let Some(k) =
            (0..row.len()).find(|&k| row[k] as usize >= rows || col[k] as usize >= cols)
        {
            return Err(bad(format!(
                "entry {k} at ({}, {}) lies outside {rows}x{cols}",
                row[k], col[k]
            )));
        }
        // Counting sort by row, then each row by column (stable: the last
        // of a repeated cell is last).
        let mut offsets = vec![0u32; rows + 1];
        for &r in row {
            offsets[r as usize + 1] += 1;
        }
        for r in 0..rows {
            offsets[r + 1] += offsets[r];
        }
        let mut next: Vec<u32> = offsets[..rows].to_vec();
        let mut order = vec![0u32; row.len()];
        for (k, &r) in row.iter().enumerate() {
            order[next[r as usize] as usize] = k as u32;
            next[r as usize] += 1;
        }
        let (mut columns, mut values) = (Vec::with_capacity(row.len()), Vec::new());
        values.reserve(row.len());
        let mut kept = vec![0u32; rows + 1];
        for r in 0..rows {
            let slot = &mut order[offsets[r] as usize..offsets[r + 1] as usize];
            slot.sort_by_key(|&k| col[k as usize]);
            for (i, &k) in slot.iter().enumerate() {
                let next_same = slot
                    .get(i + 1)
                    .is_some_and(|&n| col[n as usize] == col[k as usize]);
                if !next_same {
                    columns.push(col[k as usize]);
                    values.push(value[k as usize]);
                }
            }
            kept[r + 1] = columns.len() as u32;
        }
        Self::new(rows, cols, kept, columns, values, absent)
    }

    /// The number of entries.
    pub fn nnz(&self) -> usize {
        self.values.len()
    }

    /// Row `r`'s columns and values.
    pub fn row(&self, r: usize) -> (&[u32], &[f32]) {
        let (a, b) = (self.offsets[r] as usize, self.offsets[r + 1] as usize);
        (&self.columns[a..b], &self.values[a..b])
    }

    /// Rows from `r` on as dense rows into `dst` (whole rows).
    pub fn densify(&self, r: usize, dst: &mut [f32]) {
        dst.fill(self.absent);
        for (i, out) in dst.chunks_exact_mut(self.cols).enumerate() {
            let (c, v) = self.row(r + i);
            for (&c, &v) in c.iter().zip(v) {
                out[c as usize] = v;
            }
        }
    }

    /// The bytes rows `r0..r1` take on the GPU: their entries' columns and
    /// values, and the offsets.
    pub fn stored_bytes(&self, r0: usize, r1: usize) -> u64 {
        let nnz = u64::from(self.offsets[r1] - self.offsets[r0]);
        nnz * 8 + (r1 - r0 + 1) as u64 * 4
    }

    /// Rows `r0..r1` on their own, with `f(column, value)` applied to each
    /// value.
    pub fn slice_map(&self, r0: usize, r1: usize, f: impl Fn(usize, f32) -> f32) -> Csr {
        let (a, b) = (self.offsets[r0] as usize, self.offsets[r1] as usize);
        let columns = self.columns[a..b].to_vec();
        let values = columns
            .iter()
            .zip(&self.values[a..b])
            .map(|(&c, &v)| f(c as usize, v))
            .collect();
        Csr {
            rows: r1 - r0,
            cols: self.cols,
            offsets: self.offsets[r0..=r1]
                .iter()
                .map(|&o| o - a as u32)
                .collect(),
            columns,
            values,
            absent: self.absent,
        }
    }

    /// Whether an absent cell is a missing entry (masked out of the loss).
    pub fn absent_is_missing(&self) -> bool {
        self.absent == MISSING
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triples_become_sorted_rows_and_the_last_of_a_repeated_cell_wins() {
        let m = Csr::from_triples(
            3,
            4,
            &[2, 0, 2, 0, 2],
            &[3, 1, 0, 1, 3],
            &[1.0, 2.0, 3.0, 4.0, 5.0],
            MISSING,
        )
        .unwrap();
        assert_eq!(m.offsets, [0, 1, 1, 3]);
        assert_eq!(m.columns, [1, 0, 3]);
        assert_eq!(m.values, [4.0, 3.0, 5.0]);
        let mut d = vec![0.0; 8];
        m.densify(1, &mut d);
        assert_eq!(
            d,
            [MISSING, MISSING, MISSING, MISSING, 3.0, MISSING, MISSING, 5.0]
        );
        assert_eq!(m.stored_bytes(0, 3), 3 * 8 + 16);
        let s = m.slice_map(1, 3, |c, v| v + c as f32);
        assert_eq!(
            (s.offsets.clone(), s.values.clone()),
            (vec![0, 0, 2], vec![3.0, 8.0])
        );
        assert!(Csr::from_triples(2, 2, &[2], &[0], &[1.0], 0.0).is_err());
        assert!(Csr::new(1, 2, vec![0, 2], vec![1, 0], vec![1.0, 1.0], 0.0).is_err());
        assert!(Csr::new(1, 2, vec![0, 1], vec![0], vec![f32::NAN], 0.0).is_err());
    }
}
