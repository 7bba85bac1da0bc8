//! A dataset resident on the GPU: its rows in one buffer, or split over up
//! to `kernels::MAX_CHUNKS` buffers of whole rows when it is larger than one
//! storage binding, or, for sparse rows, their entries (CSR, gathered into
//! dense batches by `kernels::gather_sparse`); its row order (shuffled each
//! epoch for training, the identity for validation); and the gathers that
//! assemble each batch from it, planned once.

use crate::data::sparse::Csr;
use crate::data::windows::Windows;
use crate::data::{Rows, Source};
use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GpuTensor, Step};
use crate::kernels::{self as ops, SparseTensors, MAX_CHUNKS};

pub(crate) struct Resident {
    /// The rows, `chunk_rows` per buffer (the last may hold fewer).
    pub chunks: Vec<GpuTensor>,
    pub chunk_rows: usize,
    pub rows: usize,
    pub cols: usize,
    pub index: GpuTensor,
    pub gathers: Vec<Step>,
    /// The epoch's shuffle of `index` (training sets).
    pub permute: Option<Step>,
    /// Where the rows are stored as bytes: their values.
    pub bytes: Option<ByteTable>,
    /// Where the rows are sparse: their entries (`chunks` is empty).
    pub sparse: Option<SparseRows>,
    /// Where the rows are windows over one series: how they are cut (each
    /// chunk holds the steps of its windows, see `kernels::gather_windows`).
    pub window: Option<Windows>,
}

/// Rows per buffer of a resident dataset of `rows` rows of `row_bytes`
/// on this adapter, or `None` when more than `MAX_CHUNKS` buffers would be
/// needed.
pub(crate) fn chunk_rows(ctx: &GpuContext, rows: usize, row_bytes: usize) -> Option<usize> {
    let per_chunk = (ctx.dataset_binding_limit() / row_bytes as u64) as usize;
    (per_chunk > 0 && rows.div_ceil(per_chunk) <= MAX_CHUNKS).then(|| per_chunk.min(rows))
}

/// [`chunk_rows`] for `rows` windows `w`: windows per buffer, where a
/// buffer holds the time steps its windows cover.
pub(crate) fn chunk_windows(ctx: &GpuContext, rows: usize, w: &Windows) -> Option<usize> {
    let steps = (ctx.dataset_binding_limit() / (w.channels as u64 * 4)) as usize;
    let per_chunk = match steps.checked_sub(w.len) {
        Some(extra) => extra / w.stride + 1,
        None => 0,
    };
    (per_chunk > 0 && rows.div_ceil(per_chunk) <= MAX_CHUNKS).then(|| per_chunk.min(rows))
}

/// Sparse rows on the GPU (see `kernels::gather_sparse`).
pub(crate) struct SparseRows {
    pub offsets: GpuTensor,
    pub columns: GpuTensor,
    pub values: GpuTensor,
    pub entries: usize,
    pub absent: f32,
}

impl SparseRows {
    fn upload(ctx: &GpuContext, m: &Csr) -> Result<Self> {
        // A binding holds at least one element.
        let columns: &[u32] = if m.nnz() == 0 { &[0] } else { &m.columns };
        let values: &[f32] = if m.nnz() == 0 { &[0.0] } else { &m.values };
        Ok(Self {
            offsets: ctx.upload("sparse row offsets", &m.offsets)?,
            columns: ctx.upload("sparse columns", columns)?,
            values: ctx.upload("sparse values", values)?,
            entries: m.nnz(),
            absent: m.absent,
        })
    }

    fn tensors(&self, src_rows: usize) -> SparseTensors<'_> {
        SparseTensors {
            src_rows,
            entries: self.entries,
            offsets: &self.offsets,
            columns: &self.columns,
            values: &self.values,
        }
    }
}

/// The table of a byte source's values, where its rows can stay bytes on
/// the GPU (see `kernels::gather_u8`): the f32 value of each byte (per
/// column under a transform). `None` for f32 rows, and where a BCE loss
/// needs values in [0, 1] that the table does not keep (those rows are
/// read as f32 and checked row by row).
pub(crate) struct ByteTable {
    pub lut: GpuTensor,
    pub per_column: bool,
}

impl ByteTable {
    pub fn of(ctx: &GpuContext, input: &Input, unit_range: bool) -> Result<Option<Self>> {
        let Input::Source(s) = input else {
            return Ok(None);
        };
        if !s.is_u8() {
            return Ok(None);
        }
        let (lut, per_column) = s.lut()?;
        if unit_range && lut.iter().any(|v| !(0.0..=1.0).contains(v)) {
            return Ok(None);
        }
        Ok(Some(Self {
            lut: ctx.upload("byte values", &lut)?,
            per_column,
        }))
    }
}

/// The rows `r0..r1` of a dataset, from memory or read from a source.
pub(crate) enum Input<'a> {
    Rows(Rows<'a>),
    Source(Source),
}

impl Input<'_> {
    /// Splits off the last `fraction` of the rows for validation.
    pub fn split_validation(&self, fraction: f32) -> Result<(Self, Self)> {
        Ok(match self {
            Input::Rows(r) => {
                let (t, v) = r.split_validation(fraction)?;
                (Input::Rows(t), Input::Rows(v))
            }
            Input::Source(s) => {
                let (t, v) = s.split_validation(fraction)?;
                (Input::Source(t), Input::Source(v))
            }
        })
    }

    pub fn rows(&self) -> usize {
        match self {
            Input::Rows(r) => r.rows,
            Input::Source(s) => s.rows(),
        }
    }

    pub fn cols(&self) -> usize {
        match self {
            Input::Rows(r) => r.cols,
            Input::Source(s) => s.cols(),
        }
    }

    /// How the rows are cut from a series, for windows.
    pub fn window(&self) -> Option<Windows> {
        match self {
            Input::Rows(_) => None,
            Input::Source(s) => s.window(),
        }
    }

    /// The bytes the rows take on the GPU: four per value, one for a byte
    /// source, the covered series once for windows.
    pub fn stored_bytes(&self) -> u64 {
        match self {
            Input::Rows(r) => r.rows as u64 * r.cols as u64 * 4,
            Input::Source(s) => s.stored_bytes(),
        }
    }

    /// Rows per buffer of the resident set (see [`chunk_rows`]); sparse
    /// rows stay in one set of buffers, or are streamed.
    pub fn chunk_rows(&self, ctx: &GpuContext, row_bytes: usize) -> Option<usize> {
        if let Input::Source(s) = self {
            if s.is_sparse() {
                let limit = ctx.dataset_binding_limit();
                return s
                    .sparse_entries()
                    .filter(|&n| n.max(s.rows() + 1) as u64 * 4 <= limit)
                    .map(|_| s.rows());
            }
        }
        match self.window() {
            Some(w) => chunk_windows(ctx, self.rows(), &w),
            None => chunk_rows(ctx, self.rows(), row_bytes),
        }
    }
}

impl Resident {
    /// Uploads the rows once, split where one binding cannot hold them.
    /// With `unit_range`, rows read from a source are checked to lie in
    /// [0, 1] (rows in memory are checked before).
    pub fn upload(
        ctx: &GpuContext,
        what: &'static str,
        ds: &Input,
        unit_range: bool,
    ) -> Result<Self> {
        let (rows, cols) = (ds.rows(), ds.cols());
        let bytes = ByteTable::of(ctx, ds, unit_range)?;
        let row_bytes = if bytes.is_some() { cols } else { cols * 4 };
        let chunk_rows = ds.chunk_rows(ctx, row_bytes).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "the {what} set ({rows} rows of {cols} values) needs more than {MAX_CHUNKS} \
                 buffers on adapter '{}'; it is streamed instead",
                ctx.adapter_name()
            ))
        })?;
        let mut chunks = Vec::new();
        let sparse = match ds {
            Input::Source(s) => s.sparse_rows(),
            Input::Rows(_) => None,
        };
        if let (Some(m), true, Input::Source(s)) = (&sparse, unit_range, ds) {
            check_unit_range(s, m)?;
        }
        let sparse = sparse.map(|m| SparseRows::upload(ctx, &m)).transpose()?;
        let dense_rows = if sparse.is_some() { 0 } else { rows };
        for r0 in (0..dense_rows).step_by(chunk_rows) {
            let r1 = (r0 + chunk_rows).min(rows);
            chunks.push(match ds {
                Input::Rows(d) => ctx.upload(what, d.slice(r0, r1).data)?,
                // The steps these windows cover, once.
                Input::Source(s) if s.window().is_some() => {
                    upload_rows(ctx, what, &s.slice(r0, r1).series(), unit_range)?
                }
                Input::Source(s) if bytes.is_some() => {
                    // Bytes, four to a word; blocks of a multiple of four
                    // rows start on a word.
                    let t = ctx.zeros(what, ops::u8_words((r1 - r0) * cols))?;
                    let per = (crate::data::source::block_rows(cols) / 4 * 4).max(4);
                    let mut buf = Vec::new();
                    let mut idx = Vec::new();
                    for b0 in (r0..r1).step_by(per) {
                        let b1 = (b0 + per).min(r1);
                        idx.clear();
                        idx.extend(b0 as u32..b1 as u32);
                        buf.resize((b1 - b0) * cols, 0u8);
                        s.gather_bytes(&idx, &mut buf)?;
                        buf.resize(ops::u8_words(buf.len()) * 4, 0);
                        ctx.write(
                            &t.view((b0 - r0) * cols / 4, buf.len() / 4)?,
                            buf.as_slice(),
                        )?;
                        ctx.wait()?;
                    }
                    t
                }
                Input::Source(s) => upload_rows(ctx, what, &s.slice(r0, r1), unit_range)?,
            });
        }
        let idx: Vec<u32> = (0..rows as u32).collect();
        Ok(Self {
            chunks,
            chunk_rows,
            rows,
            cols,
            index: ctx.upload("row order", &idx)?,
            gathers: Vec::new(),
            permute: None,
            bytes,
            sparse,
            window: ds.window(),
        })
    }

    /// Plans the gather of every batch of `batch` rows into `out` (a
    /// (batch, cols) buffer), in the row order's order.
    pub fn plan_gathers(&mut self, ctx: &GpuContext, batch: usize, out: &GpuTensor) -> Result<()> {
        for b0 in (0..self.rows).step_by(batch) {
            let r = batch.min(self.rows - b0);
            let out = out.view(0, r * self.cols)?;
            if let Some(sp) = &self.sparse {
                self.gathers.push(ops::gather_sparse(
                    ctx,
                    r,
                    self.cols,
                    b0,
                    sp.absent,
                    &self.index,
                    &sp.tensors(self.rows),
                    &out,
                )?);
                continue;
            }
            self.gathers.push(match (&self.bytes, &self.window) {
                (_, Some(w)) => ops::gather_windows(
                    ctx,
                    r,
                    w,
                    b0,
                    self.rows,
                    self.chunk_rows,
                    &self.index,
                    &self.chunks,
                    &out,
                )?,
                (Some(b), None) => ops::gather_u8(
                    ctx,
                    r,
                    self.cols,
                    b0,
                    self.rows,
                    self.chunk_rows,
                    &self.index,
                    &self.chunks,
                    &b.lut,
                    b.per_column,
                    &out,
                )?,
                (None, None) => ops::gather_chunks(
                    ctx,
                    r,
                    self.cols,
                    b0,
                    self.rows,
                    self.chunk_rows,
                    &self.index,
                    &self.chunks,
                    &out,
                )?,
            });
        }
        Ok(())
    }

    /// Shuffles the row order at the start of each epoch, by `seed` and the
    /// epoch number in `epoch`.
    pub fn shuffle(&mut self, ctx: &GpuContext, seed: u64, epoch: &GpuTensor) -> Result<()> {
        self.permute = Some(ops::permute(ctx, self.rows, seed, epoch, &self.index)?);
        Ok(())
    }
}

/// An error naming `s` unless every value of its sparse rows `m`, and
/// an unset cell's, lies in [0, 1] (or is missing), as a BCE loss needs.
fn check_unit_range(s: &Source, m: &Csr) -> Result<()> {
    let bad = |v: f32| !(0.0..=1.0).contains(&v) && v != crate::data::MISSING;
    let at = m.values.iter().position(|&v| bad(v));
    if at.is_none() && !bad(m.absent) {
        return Ok(());
    }
    let (v, place) = match at {
        Some(k) => {
            let row = m.offsets.partition_point(|&o| o as usize <= k) - 1;
            (
                m.values[k],
                format!("row {}, column {}", row + 1, m.columns[k] + 1),
            )
        }
        None => (m.absent, "every unset cell".into()),
    };
    Err(Error::InvalidArgument(format!(
        "BCE compares each value with a probability, but {} holds {v} ({place}, counting \
         from 1), outside [0, 1]; scale the data to [0, 1] or use `loss` mse",
        s.name()
    )))
}

/// The rows of `s` in a new buffer, block by block (the host never holds
/// the whole set); with `unit_range`, each checked to lie in [0, 1].
fn upload_rows(
    ctx: &GpuContext,
    what: &'static str,
    s: &Source,
    unit_range: bool,
) -> Result<GpuTensor> {
    let (rows, cols) = (s.rows(), s.cols());
    let t = ctx.zeros(what, rows * cols)?;
    let per = crate::data::source::block_rows(cols);
    let mut buf = Vec::new();
    for b0 in (0..rows).step_by(per) {
        let b1 = (b0 + per).min(rows);
        buf.resize((b1 - b0) * cols, 0.0);
        s.read(b0, b1, &mut buf)?;
        if unit_range {
            s.check_unit_range(&buf, |i| b0 + i)?;
        }
        ctx.write(&t.view(b0 * cols, buf.len())?, buf.as_slice())?;
        // Bound the queued uploads' staging memory.
        ctx.wait()?;
    }
    Ok(t)
}
