//! A dataset streamed from host memory (or a mapped file) through a ring
//! of GPU buffers, for data that does not stay on the GPU. The host reads
//! each chunk's rows, in the epoch's order, into a slot of the ring while
//! the GPU trains on the chunk before; a step still reads nothing back.
//!
//! The ring: `slots` buffers of `slot_batches` whole batches each. Chunk c
//! goes to slot c % slots. Before the host overwrites a slot it waits for
//! the submission that last read it, so at most `slots` chunks are in
//! flight and the staging memory stays bounded; wgpu orders each write
//! after the work submitted before it. Each batch is gathered from its slot
//! into the net's input with an identity index, the same kernel that
//! gathers a resident dataset, so both read the same values.
//!
//! The order is the resident dataset's own permutation of all rows
//! ([`EpochOrder`]), so streamed and resident training see the same
//! batches and give the same weights bit for bit.

use std::cell::RefCell;

use crate::data::Source;
use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GpuTensor, Step};
use crate::kernels as ops;
use crate::train::order::EpochOrder;
use crate::train::resident::ByteTable;

/// The most bytes one slot of the ring holds by default: large enough that
/// a chunk's upload is one big copy, small enough to stay cheap on the host.
pub const SLOT_BYTES: u64 = 32 << 20;

pub(crate) struct Stream {
    source: Source,
    pub rows: usize,
    pub cols: usize,
    pub batch: usize,
    pub batches: usize,
    slot_batches: usize,
    slots: Vec<GpuTensor>,
    /// gathers[s][p]: batch position p of slot s into the input; and the
    /// last (partial) batch's gather for each slot, where there is one.
    gathers: Vec<Vec<Step>>,
    partial: Vec<Option<Step>>,
    /// The permutation's seed; `None` reads the rows in order (validation).
    shuffle: Option<u64>,
    /// Whether values must lie in [0, 1] (a BCE loss).
    unit_range: bool,
    /// Where the rows stream as bytes: their values.
    table: Option<ByteTable>,
    host: RefCell<(Vec<u32>, Vec<f32>, Vec<u8>)>,
    /// The last submission that read each slot.
    last_use: RefCell<Vec<Option<wgpu::SubmissionIndex>>>,
    /// The chunk each slot holds now, with the epoch it was read for.
    filled: RefCell<Vec<Option<(u32, usize)>>>,
    /// Host time spent reading and queueing chunks, and the bytes queued.
    stats: std::cell::Cell<StreamStats>,
}

/// What streaming cost the host: the time spent reading rows and queueing
/// their upload (the GPU works meanwhile), and the bytes uploaded.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StreamStats {
    pub fill_seconds: f64,
    pub bytes: u64,
    pub chunks: u64,
}

impl Stream {
    /// Plans streaming `source` in batches of `batch` rows into `out` (a
    /// (batch, cols) tensor), through slots of at most `slot_bytes`; as
    /// bytes where `table` gives their values.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        ctx: &GpuContext,
        source: Source,
        batch: usize,
        out: &GpuTensor,
        shuffle: Option<u64>,
        unit_range: bool,
        slot_bytes: u64,
        table: Option<ByteTable>,
    ) -> Result<Self> {
        let (rows, cols) = (source.rows(), source.cols());
        let batch = batch.min(rows).max(1);
        let batches = rows.div_ceil(batch);
        let value_bytes = if table.is_some() { 1 } else { 4 };
        let batch_bytes = (batch * cols * value_bytes) as u64;
        let slot_bytes = slot_bytes.min(ctx.dataset_binding_limit());
        if batch_bytes > slot_bytes {
            return Err(Error::InvalidArgument(format!(
                "streaming {}: one batch of {batch} rows ({batch_bytes} bytes) does not fit in \
                 a streaming buffer of {slot_bytes} bytes (the GPU memory cap, `gpu_memory`, or \
                 the adapter's binding limit); raise `gpu_memory` or lower `batch_size`",
                source.name()
            )));
        }
        let slot_batches = ((slot_bytes / batch_bytes) as usize).clamp(1, batches);
        let n_slots = if slot_batches < batches { 2 } else { 1 };
        let slot_rows = slot_batches * batch;
        let ident: Vec<u32> = (0..slot_rows as u32).collect();
        let ident = ctx.upload("stream rows", &ident)?;
        let mut slots = Vec::new();
        let mut gathers = Vec::new();
        let mut partial = Vec::new();
        let last = batches - 1;
        let last_rows = rows - last * batch;
        // Batch `rows` rows at slot position `at` into the input.
        let gather = |slot: &GpuTensor, rows: usize, at: usize| -> Result<Step> {
            let out = out.view(0, rows * cols)?;
            match &table {
                Some(t) => ops::gather_u8(
                    ctx,
                    rows,
                    cols,
                    at,
                    slot_rows,
                    slot_rows,
                    &ident,
                    std::slice::from_ref(slot),
                    &t.lut,
                    t.per_column,
                    &out,
                ),
                None => ops::gather_rows(ctx, rows, cols, at, slot_rows, &ident, slot, &out),
            }
        };
        for _ in 0..n_slots {
            let slot = match &table {
                Some(_) => ctx.zeros("stream slot", ops::u8_words(slot_rows * cols))?,
                None => ctx.zeros("stream slot", slot_rows * cols)?,
            };
            let g = (0..slot_batches)
                .map(|p| gather(&slot, batch, p * batch))
                .collect::<Result<Vec<_>>>()?;
            let part = if last_rows < batch {
                Some(gather(&slot, last_rows, (last % slot_batches) * batch)?)
            } else {
                None
            };
            slots.push(slot);
            gathers.push(g);
            partial.push(part);
        }
        tracing::info!(
            source = %source.name(),
            rows,
            slot_batches,
            slots = n_slots,
            "streaming the dataset through a ring of GPU buffers"
        );
        Ok(Self {
            source,
            rows,
            cols,
            batch,
            batches,
            slot_batches,
            gathers,
            partial,
            shuffle,
            unit_range,
            table,
            host: RefCell::new((Vec::new(), Vec::new(), Vec::new())),
            last_use: RefCell::new(vec![None; n_slots]),
            filled: RefCell::new(vec![None; n_slots]),
            stats: std::cell::Cell::new(StreamStats::default()),
            slots,
        })
    }

    fn slot_of(&self, k: usize) -> usize {
        (k / self.slot_batches) % self.slots.len()
    }

    /// The gather of batch `k` from its slot.
    pub fn gather(&self, k: usize) -> &Step {
        let s = self.slot_of(k);
        if k + 1 == self.batches {
            if let Some(p) = &self.partial[s] {
                return p;
            }
        }
        &self.gathers[s][k % self.slot_batches]
    }

    /// Makes sure the chunk holding batch `k` is in its slot for `epoch`:
    /// reads its rows in the epoch's order and queues their upload, after
    /// waiting for the last work that read the slot.
    pub fn fill(&self, ctx: &GpuContext, epoch: u32, k: usize) -> Result<()> {
        let chunk = k / self.slot_batches;
        let s = self.slot_of(k);
        // An unshuffled stream reads the same rows every epoch.
        let key = (if self.shuffle.is_some() { epoch } else { 0 }, chunk);
        if self.filled.borrow()[s] == Some(key) {
            return Ok(());
        }
        if let Some(index) = self.last_use.borrow_mut()[s].take() {
            ctx.wait_for(index)?;
        }
        let started = web_time::Instant::now();
        let i0 = chunk * self.slot_batches * self.batch;
        let i1 = ((chunk + 1) * self.slot_batches * self.batch).min(self.rows);
        let mut host = self.host.borrow_mut();
        let (idx, buf, bytes) = &mut *host;
        idx.clear();
        match self.shuffle {
            Some(seed) => {
                let order = EpochOrder::new(self.rows, seed, epoch);
                idx.extend((i0..i1).map(|i| order.at(i)));
            }
            None => idx.extend(i0 as u32..i1 as u32),
        }
        if self.table.is_some() {
            // Bytes, four to a word (the last word padded).
            bytes.resize((i1 - i0) * self.cols, 0);
            self.source.gather_bytes(idx, bytes)?;
            bytes.resize(ops::u8_words(bytes.len()) * 4, 0);
            ctx.write(&self.slots[s].view(0, bytes.len() / 4)?, bytes.as_slice())?;
            self.filled.borrow_mut()[s] = Some(key);
            self.count(started, bytes.len());
            return Ok(());
        }
        buf.resize((i1 - i0) * self.cols, 0.0);
        match self.shuffle {
            Some(_) => self.source.gather(idx, buf)?,
            None => self.source.read(i0, i1, buf)?,
        }
        if self.unit_range {
            let rows_read = &*idx;
            self.source.check_unit_range(buf, |i| match self.shuffle {
                Some(_) => rows_read[i] as usize,
                None => i0 + i,
            })?;
        }
        ctx.write(&self.slots[s].view(0, buf.len())?, buf.as_slice())?;
        self.filled.borrow_mut()[s] = Some(key);
        self.count(started, buf.len() * 4);
        Ok(())
    }

    fn count(&self, started: web_time::Instant, bytes: usize) {
        let mut s = self.stats.get();
        s.fill_seconds += started.elapsed().as_secs_f64();
        s.bytes += bytes as u64;
        s.chunks += 1;
        self.stats.set(s);
    }

    pub fn stats(&self) -> StreamStats {
        self.stats.get()
    }

    /// Batches per chunk (the rows of one slot of the ring).
    pub fn slot_batches(&self) -> usize {
        self.slot_batches
    }

    /// Notes that `index` read the slot holding batch `k`.
    pub fn used(&self, k: usize, index: wgpu::SubmissionIndex) {
        self.last_use.borrow_mut()[self.slot_of(k)] = Some(index);
    }

    /// Batches `k..end` that share batch k's chunk, at most `most` of them.
    pub fn run_length(&self, k: usize, end: usize, most: usize) -> usize {
        let chunk_end = (k / self.slot_batches + 1) * self.slot_batches;
        most.min(end - k).min(chunk_end - k)
    }
}
