//! Where a trainer's batches come from: a dataset resident on the GPU
//! (resident.rs) when it fits, or streamed through a ring of buffers
//! (stream.rs) when it does not. The choice is made once, at planning, from
//! the adapter's binding limit and the GPU memory left under the cap
//! (`ContextOptions::gpu_memory`); both give the same batches in the same
//! order. The trainer submits its steps through [`Feed::submit`], which
//! records each batch's gather before the batch's own steps.

use crate::data::Source;
use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GpuTensor, Step};
use crate::train::resident::{ByteTable, Input, Resident};
use crate::train::stream::{Stream, SLOT_BYTES};

/// Training steps per submission within an epoch. The GPU starts on the
/// first ones while the host records the rest (recording costs about half a
/// microsecond per dispatch, against a few microseconds of GPU time for
/// each of a small model's dispatches), instead of idling until a whole
/// epoch is recorded. Submissions on one queue run in order, so the steps
/// and their results are the same.
pub const STEPS_PER_SUBMIT: usize = 8;

pub(crate) enum Feed {
    Resident(Resident),
    Streamed(Stream),
}

/// How a dataset is fed: its rows, where they live, and its order.
pub(crate) struct FeedSpec<'a> {
    pub what: &'static str,
    pub input: Input<'a>,
    pub batch: usize,
    /// (seed, the epoch-number buffer) for a shuffled training set.
    pub shuffle: Option<(u64, &'a GpuTensor)>,
    /// Whether values must lie in [0, 1] (BCE); checked as streamed rows
    /// are read (rows in memory are checked before).
    pub unit_range: bool,
    /// The share of the GPU memory left that this set may take.
    pub share: f64,
}

impl Feed {
    /// Keeps the set resident where it fits (in at most `MAX_CHUNKS`
    /// buffers, within the memory cap, and without an out-of-memory error
    /// from the driver); streams it otherwise.
    pub fn place(ctx: &GpuContext, spec: FeedSpec, out: &GpuTensor) -> Result<Self> {
        let (rows, cols) = (spec.input.rows(), spec.input.cols());
        let u8_rows = matches!(&spec.input, Input::Source(s) if s.is_u8());
        let row_bytes = if u8_rows { cols } else { cols * 4 };
        let bytes = spec.input.stored_bytes();
        let left = ctx.memory_left();
        // The index and the batch's own buffers are small; keep a margin.
        let fits_cap = left.is_none_or(|l| bytes + rows as u64 * 4 <= l);
        let fits_bindings = spec.input.chunk_rows(ctx, row_bytes).is_some();
        if fits_cap && fits_bindings && !ctx.force_stream() {
            match Resident::upload(ctx, spec.what, &spec.input, spec.unit_range) {
                Ok(mut r) => {
                    r.plan_gathers(ctx, spec.batch, out)?;
                    if let Some((seed, epoch)) = spec.shuffle {
                        r.shuffle(ctx, seed, epoch)?;
                    }
                    return Ok(Feed::Resident(r));
                }
                // The driver's own limit, or the cap reached by what the
                // estimate left out (the index, a byte table): stream
                // instead, the resident buffers freed.
                Err(Error::OutOfMemory { .. } | Error::MemoryBudget { .. }) => {
                    tracing::warn!(
                        set = spec.what,
                        bytes,
                        "the GPU ran out of memory for the resident set; streaming it"
                    );
                }
                Err(e) => return Err(e),
            }
        }
        let slot_bytes = match ctx.memory_left() {
            // Two slots within this set's share of what is left.
            Some(l) => ((l as f64 * spec.share) as u64 / 2).min(SLOT_BYTES),
            None => SLOT_BYTES,
        };
        let slot_bytes = ctx.stream_slot().map_or(slot_bytes, |s| s.min(slot_bytes));
        let (what, batch, shuffle, unit_range) =
            (spec.what, spec.batch, spec.shuffle, spec.unit_range);
        let stream =
            (|| {
                let table = ByteTable::of(ctx, &spec.input, unit_range)?;
                let source = match spec.input {
                    Input::Source(s) => s,
                    // Borrowed rows are copied once: the stream outlives the borrow.
                    Input::Rows(r) => Source::memory(r.data.to_vec(), r.rows, r.cols)?,
                };
                Stream::new(
                    ctx,
                    source,
                    batch,
                    out,
                    shuffle.map(|(seed, _)| seed),
                    unit_range,
                    slot_bytes,
                    table,
                )
            })()
            .map_err(|e| match (e, left, ctx.memory_limit) {
                (Error::MemoryBudget { .. } | Error::InvalidArgument(_), Some(l), Some(limit)) => {
                    Error::InvalidArgument(format!(
                    "the GPU memory cap of {limit} bytes (`gpu_memory`) leaves {l} bytes after \
                     the model{}, too few to stream the {what} set ({rows} rows of {cols} values) \
                     even one batch of {batch} rows at a time; raise `gpu_memory` or lower `batch_size`",
                    if what == "validation" { " and the training set" } else { "" }
                ))
                }
                (e, _, _) => e,
            })?;
        Ok(Feed::Streamed(stream))
    }

    pub fn rows(&self) -> usize {
        match self {
            Feed::Resident(r) => r.rows,
            Feed::Streamed(s) => s.rows,
        }
    }

    pub fn batches(&self) -> usize {
        match self {
            Feed::Resident(r) => r.gathers.len(),
            Feed::Streamed(s) => s.batches,
        }
    }

    pub fn is_streamed(&self) -> bool {
        matches!(self, Feed::Streamed(_))
    }

    /// Records and submits batches `first..end` of the epoch `epoch`, at
    /// most [`STEPS_PER_SUBMIT`] per submission: `prologue` first, then
    /// (at the epoch's start) the shuffle, then for each batch its gather
    /// and `body`. Returns without waiting for the GPU.
    pub fn submit(
        &self,
        ctx: &GpuContext,
        epoch: u32,
        first: usize,
        end: usize,
        prologue: &[&Step],
        body: impl Fn(&mut wgpu::ComputePass<'_>, usize),
    ) -> Result<()> {
        let mut prologue = prologue;
        let mut k = first;
        while k < end {
            let n = match self {
                Feed::Resident(_) => STEPS_PER_SUBMIT.min(end - k),
                Feed::Streamed(s) => {
                    s.fill(ctx, epoch, k)?;
                    s.run_length(k, end, STEPS_PER_SUBMIT)
                }
            };
            let index = ctx.submit_pass("wgae batches", |pass| {
                for s in prologue {
                    s.record(pass);
                }
                if let (0, Feed::Resident(r)) = (k, self) {
                    if let Some(p) = &r.permute {
                        p.record(pass);
                    }
                }
                for j in k..k + n {
                    self.gather(j).record(pass);
                    body(pass, j);
                }
            })?;
            if let Feed::Streamed(s) = self {
                s.used(k, index);
            }
            prologue = &[];
            k += n;
        }
        Ok(())
    }

    /// The gather of batch `k` (a streamed chunk must be filled first).
    fn gather(&self, k: usize) -> &Step {
        match self {
            Feed::Resident(r) => &r.gathers[k],
            Feed::Streamed(s) => s.gather(k),
        }
    }

    /// What runs before the first batch's own steps (the shuffle, where
    /// there is one, and its gather), with its data in place: for profiling.
    pub fn first_batch(&self, ctx: &GpuContext, epoch: u32) -> Result<Vec<&Step>> {
        Ok(match self {
            Feed::Resident(r) => r.permute.iter().chain([&r.gathers[0]]).collect(),
            Feed::Streamed(s) => {
                s.fill(ctx, epoch, 0)?;
                vec![s.gather(0)]
            }
        })
    }
}
