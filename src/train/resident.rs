//! A dataset resident on the GPU: its rows in one buffer, or split over up
//! to `kernels::MAX_CHUNKS` buffers of whole rows when it is larger than one
//! storage binding; its row order (shuffled in place each epoch for
//! training, the identity for validation); and the gathers that assemble
//! each batch from it, planned once.

use crate::data::Rows;
use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GpuTensor, Step};
use crate::kernels::{self as ops, MAX_CHUNKS};

pub(crate) struct Resident {
    /// The rows, `chunk_rows` per buffer (the last may hold fewer).
    pub chunks: Vec<GpuTensor>,
    pub chunk_rows: usize,
    pub rows: usize,
    pub cols: usize,
    pub index: GpuTensor,
    pub gathers: Vec<Step>,
}

impl Resident {
    /// Uploads `ds` once, split where one binding cannot hold it; the error
    /// says what to do when even `MAX_CHUNKS` cannot.
    pub fn upload(ctx: &GpuContext, what: &'static str, ds: &Rows) -> Result<Self> {
        let limit = ctx.dataset_binding_limit();
        let row_bytes = ds.cols as u64 * 4;
        let per_chunk = (limit / row_bytes) as usize;
        let bytes = ds.data.len() as u64 * 4;
        let needed = if per_chunk == 0 {
            usize::MAX
        } else {
            ds.rows.div_ceil(per_chunk)
        };
        if needed > MAX_CHUNKS {
            return Err(Error::InvalidArgument(format!(
                "the {what} set ({} rows of {} values, {bytes} bytes) does not fit on adapter \
                 '{}': wgae keeps a dataset on the GPU in at most {MAX_CHUNKS} buffers of {limit} \
                 bytes, and streaming larger ones from host memory is not implemented yet; train \
                 on fewer rows (--limit)",
                ds.rows,
                ds.cols,
                ctx.adapter_name()
            )));
        }
        let chunk_rows = per_chunk.min(ds.rows);
        let chunks = (0..ds.rows)
            .step_by(chunk_rows)
            .map(|r0| {
                let part = ds.slice(r0, r0 + chunk_rows);
                ctx.upload(what, part.data)
            })
            .collect::<Result<Vec<_>>>()?;
        let idx: Vec<u32> = (0..ds.rows as u32).collect();
        Ok(Self {
            chunks,
            chunk_rows,
            rows: ds.rows,
            cols: ds.cols,
            index: ctx.upload("row order", &idx)?,
            gathers: Vec::new(),
        })
    }

    /// Plans the gather of every batch of `batch` rows into `out` (a
    /// (batch, cols) buffer), in the row order's order.
    pub fn plan_gathers(&mut self, ctx: &GpuContext, batch: usize, out: &GpuTensor) -> Result<()> {
        for b0 in (0..self.rows).step_by(batch) {
            let r = batch.min(self.rows - b0);
            self.gathers.push(ops::gather_chunks(
                ctx,
                r,
                self.cols,
                b0,
                self.rows,
                self.chunk_rows,
                &self.index,
                &self.chunks,
                &out.view(0, r * self.cols)?,
            )?);
        }
        Ok(())
    }
}
