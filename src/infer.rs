//! Inference: an [`Autoencoder`] keeps its weights in one GPU arena and
//! runs the model planned by the same layer code as training (`plan::Net` in
//! evaluation mode, `plan::mixed::MixedNet` in mixed precision) over its
//! input in batches: codes, decodings, reconstructions, per-sample errors
//! and samples from a VAE's prior.

use crate::data::{Rows, Source};
use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GpuTensor, Step};
use crate::kernels as ops;
use crate::model::ModelConfig;
use crate::plan::mixed::MixedNet;
use crate::plan::{Mode, Net, ParamLayout, PlanOptions};

/// A model with its weights resident on the GPU. It holds its own handle on
/// the context, so it can be stored anywhere and outlive the code that made
/// it. `Send + Sync`: inference takes `&self`, and several threads may
/// encode with one model at once (each call plans its own buffers).
#[derive(Debug)]
pub struct Autoencoder {
    pub(crate) ctx: GpuContext,
    pub(crate) cfg: ModelConfig,
    pub(crate) layout: ParamLayout,
    pub(crate) params: GpuTensor,
    /// How the model is planned (the adapter's defaults unless set).
    pub(crate) plan: PlanOptions,
}

/// Inference input must be `rows` whole rows of `cols`.
fn check_rows(data: &[f32], rows: usize, cols: usize) -> Result<()> {
    if rows == 0 || data.len() != rows * cols {
        return Err(Error::InvalidArgument(format!(
            "inference: {} values are not {rows} rows of {cols}",
            data.len()
        )));
    }
    Ok(())
}

/// The parameter arena is one buffer: a model too wide for it is refused
/// with its size, before anything is allocated.
fn check_arena_fits(ctx: &GpuContext, cfg: &ModelConfig, layout: &ParamLayout) -> Result<()> {
    let bytes = layout.total as u64 * 4;
    let l = ctx.limits();
    let limit = l.max_storage_buffer_binding_size.min(l.max_buffer_size);
    if bytes > limit {
        return Err(Error::InvalidArgument(format!(
            "the model {} has {} parameters ({bytes} bytes), but adapter '{}' holds at most \
             {limit} bytes in one buffer, where wgae keeps all the parameters; use narrower or \
             fewer layers",
            cfg.arch_name(),
            cfg.parameter_count(),
            ctx.adapter_name()
        )));
    }
    Ok(())
}

/// `plan(cap)`, halving `cap` while the GPU memory cap
/// (`ContextOptions::gpu_memory`) refuses the plan's buffers: inference
/// runs in smaller batches rather than not at all.
fn within_cap<T>(mut cap: usize, plan: impl Fn(usize) -> Result<T>) -> Result<(usize, T)> {
    loop {
        match plan(cap) {
            Ok(t) => return Ok((cap, t)),
            Err(Error::MemoryBudget { .. }) if cap > 1 => cap /= 2,
            Err(e) => return Err(e),
        }
    }
}

/// What f32 inference reads back of each batch.
#[derive(Clone, Copy)]
enum Fetch {
    /// The code (a VAE's mean).
    Code,
    /// The last layer's output.
    Output,
    /// Each row's reconstruction error.
    RowError,
}

/// The largest batch inference runs at once.
pub const INFERENCE_BATCH: usize = 1024;

/// The most input bytes streamed inference holds at once (one block).
pub const STREAM_BLOCK_BYTES: u64 = 16 << 20;

/// The arithmetic of inference.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Precision {
    /// f32 storage and arithmetic throughout.
    #[default]
    F32,
    /// Mixed precision: the weights, the input and the activations between
    /// layers stored as f16; products, sums, bias and activation in f32; the
    /// result in f32. Needs shader-f16 ([`GpuContext::has_f16`]).
    F16,
}

impl Precision {
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
        }
    }
}

impl std::str::FromStr for Precision {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "f32" | "fp32" | "float32" => Ok(Precision::F32),
            "f16" | "fp16" | "half" | "float16" => Ok(Precision::F16),
            other => Err(Error::InvalidArgument(format!(
                "precision '{other}': expected f32 or f16"
            ))),
        }
    }
}

impl Autoencoder {
    /// A freshly initialized model: Glorot-uniform weights drawn on the GPU
    /// from `seed`, zero biases.
    pub fn new(ctx: &GpuContext, cfg: &ModelConfig, seed: u64) -> Result<Self> {
        cfg.validate()?;
        let layout = ParamLayout::for_context(ctx, cfg);
        check_arena_fits(ctx, cfg, &layout)?;
        let params = ctx.zeros("params", layout.total)?;
        let init = layout.init_steps(ctx, cfg, &params, seed)?;
        ctx.run(&init.iter().collect::<Vec<_>>())?;
        Ok(Self {
            ctx: ctx.clone(),
            cfg: cfg.clone(),
            layout,
            params,
            plan: PlanOptions::default(),
        })
    }

    /// A model whose arena holds `params` (a host copy of [`Self::params_host`]).
    pub fn from_params(ctx: &GpuContext, cfg: &ModelConfig, params: &[f32]) -> Result<Self> {
        cfg.validate()?;
        let layout = ParamLayout::for_context(ctx, cfg);
        if params.len() != layout.total {
            return Err(Error::InvalidArgument(format!(
                "parameter arena holds {} values but this architecture needs {}",
                params.len(),
                layout.total
            )));
        }
        let params = ctx.upload("params", params)?;
        Ok(Self {
            ctx: ctx.clone(),
            cfg: cfg.clone(),
            layout,
            params,
            plan: PlanOptions::default(),
        })
    }

    /// Another handle on this model's weights, not a copy: a trainer made
    /// from it trains them in place, and this model sees the result (a
    /// caller that must keep its model whatever the trainer does).
    pub fn shared(&self) -> Self {
        Self {
            ctx: self.ctx.clone(),
            cfg: self.cfg.clone(),
            layout: self.layout.clone(),
            params: self.params.clone(),
            plan: self.plan,
        }
    }

    pub fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    /// The same model planned with `plan` (by its inference and by a
    /// trainer made from it).
    pub fn with_plan_options(mut self, plan: PlanOptions) -> Self {
        self.plan = plan;
        self
    }

    pub fn plan_options(&self) -> &PlanOptions {
        &self.plan
    }

    pub fn layout(&self) -> &ParamLayout {
        &self.layout
    }

    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    /// The parameter arena on the GPU.
    pub fn params(&self) -> &GpuTensor {
        &self.params
    }

    /// A host copy of the parameter arena.
    pub fn params_host(&self) -> Result<Vec<f32>> {
        self.ctx.read(&self.params)
    }

    /// [`Self::params_host`] as a future (a browser's read-back).
    pub async fn params_host_async(&self) -> Result<Vec<f32>> {
        self.ctx.read_async(&self.params).await
    }

    /// Runs the model in evaluation mode over `data` in batches from layer
    /// `start` and gathers what `fetch` names of each batch, read back
    /// without blocking (the blocking API resolves this future; a browser
    /// awaits it).
    async fn batched(
        &self,
        data: &[f32],
        rows: usize,
        cols: usize,
        start: usize,
        fetch: Fetch,
    ) -> Result<Vec<f32>> {
        check_rows(data, rows, cols)?;
        let (cap, net) = within_cap(rows.min(INFERENCE_BATCH), |cap| {
            Net::new(
                &self.ctx,
                &self.cfg,
                &self.layout,
                cap,
                Mode::Eval,
                0,
                &self.plan,
            )
        })?;
        // The forward steps and the scoring step, planned once per batch
        // size (the last batch may be smaller), not per batch.
        let mut plans: Vec<(usize, Vec<Step>)> = Vec::new();
        let mut scoring: Vec<(usize, Step, GpuTensor)> = Vec::new();
        let c = self.cfg.code_dim();
        let mut out = Vec::with_capacity(
            rows * match fetch {
                Fetch::Code => c,
                Fetch::Output => self.cfg.input_dim,
                Fetch::RowError => 1,
            },
        );
        for b0 in (0..rows).step_by(cap) {
            let r = cap.min(rows - b0);
            if !plans.iter().any(|(pr, _)| *pr == r) {
                plans.push((
                    r,
                    net.forward_steps(&self.ctx, &self.params, r, start, None)?,
                ));
            }
            self.ctx
                .write(&net.input_of(start, r)?, &data[b0 * cols..(b0 + r) * cols])?;
            let steps = &plans.iter().find(|(pr, _)| *pr == r).unwrap().1;
            self.ctx.run(&steps.iter().collect::<Vec<_>>())?;
            match fetch {
                Fetch::Code => {
                    let (code, width) = net.code(r)?;
                    for row in self.ctx.read_async(&code).await?.chunks(width) {
                        out.extend_from_slice(&row[..c]);
                    }
                }
                Fetch::Output => out.extend(self.ctx.read_async(&net.output(r)?).await?),
                Fetch::RowError => {
                    if !scoring.iter().any(|(pr, ..)| *pr == r) {
                        let (step, errors) = net.row_error_step(&self.ctx, r)?;
                        scoring.push((r, step, errors));
                    }
                    let (_, step, errors) = scoring.iter().find(|(pr, ..)| *pr == r).unwrap();
                    self.ctx.run(&[step])?;
                    out.extend(self.ctx.read_async(errors).await?);
                }
            }
        }
        Ok(out)
    }

    /// Mixed-precision inference: layers `start..end` over `data` in
    /// batches, f16 between layers, the last layer's output in f32, handed
    /// to `take` with the batch's row count.
    fn batched_f16(
        &self,
        data: &[f32],
        rows: usize,
        cols: usize,
        range: (usize, usize),
        mut take: impl FnMut(&GpuTensor, usize) -> Result<()>,
    ) -> Result<()> {
        self.ctx.require_f16("f16 inference")?;
        check_rows(data, rows, cols)?;
        // f16 copies of the weights, converted on the GPU once per call.
        let (cap, (net, casts)) = within_cap(rows.min(INFERENCE_BATCH), |cap| {
            MixedNet::new(
                &self.ctx,
                &self.cfg,
                (&self.layout, &self.plan),
                &self.params,
                cap,
                range,
            )
        })?;
        self.ctx.run(&casts.iter().collect::<Vec<_>>())?;
        let mut plans: Vec<(usize, Vec<Step>)> = Vec::new();
        for b0 in (0..rows).step_by(cap) {
            let r = cap.min(rows - b0);
            if !plans.iter().any(|(pr, _)| *pr == r) {
                plans.push((
                    r,
                    net.forward_steps(&self.ctx, &self.layout, &self.params, r)?,
                ));
            }
            let block = &data[b0 * cols..(b0 + r) * cols];
            // A masked model reads a missing entry as 0 (the f32 plan's
            // first step does this on the GPU).
            let packed = if self.cfg.missing == crate::model::Missing::Mask {
                let filled: Vec<f32> = block
                    .iter()
                    .map(|&v| if v == crate::data::MISSING { 0.0 } else { v })
                    .collect();
                crate::gpu::tensor::pack_f16(&filled)
            } else {
                crate::gpu::tensor::pack_f16(block)
            };
            self.ctx
                .write(&net.input().view(0, packed.len())?, &packed)?;
            let steps = &plans.iter().find(|(pr, _)| *pr == r).unwrap().1;
            self.ctx.run(&steps.iter().collect::<Vec<_>>())?;
            take(&net.output(r)?, r)?;
        }
        Ok(())
    }

    fn check_dim(&self, what: &str, cols: usize, want: usize) -> Result<()> {
        if cols != want {
            return Err(Error::InvalidArgument(format!(
                "{what}: the data has {cols} columns but the model expects {want}"
            )));
        }
        Ok(())
    }

    /// The code of every row (a VAE's mean).
    pub fn encode<'a>(&self, data: impl Into<Rows<'a>>) -> Result<Vec<f32>> {
        self.encode_with(data, Precision::F32)
    }

    /// [`Self::encode`] at the given precision.
    pub fn encode_with<'a>(
        &self,
        data: impl Into<Rows<'a>>,
        precision: Precision,
    ) -> Result<Vec<f32>> {
        let data = data.into();
        self.check_dim("encode", data.cols, self.cfg.input_dim)?;
        if precision == Precision::F16 {
            // The last encoder layer writes f32: the code, or a VAE head's
            // [mu | logvar], of which the code is mu.
            let end = self.cfg.encoder_len();
            let c = self.cfg.code_dim();
            let width = self.cfg.layers()[end - 1].outputs;
            let mut out = Vec::with_capacity(data.rows * c);
            self.batched_f16(data.data, data.rows, data.cols, (0, end), |t, _| {
                for row in self.ctx.read(t)?.chunks(width) {
                    out.extend_from_slice(&row[..c]);
                }
                Ok(())
            })?;
            return Ok(out);
        }
        crate::gpu::resolve(
            "encoding",
            self.batched(data.data, data.rows, data.cols, 0, Fetch::Code),
        )
    }

    /// [`Self::encode`] as a future (a browser's inference).
    pub async fn encode_async<'a>(&self, data: impl Into<Rows<'a>>) -> Result<Vec<f32>> {
        let data = data.into();
        self.check_dim("encode", data.cols, self.cfg.input_dim)?;
        self.batched(data.data, data.rows, data.cols, 0, Fetch::Code)
            .await
    }

    /// Decodes codes (rows of `code_dim`) to data space.
    pub fn decode(&self, codes: &[f32], rows: usize) -> Result<Vec<f32>> {
        self.decode_with(codes, rows, Precision::F32)
    }

    /// [`Self::decode`] at the given precision.
    pub fn decode_with(
        &self,
        codes: &[f32],
        rows: usize,
        precision: Precision,
    ) -> Result<Vec<f32>> {
        let c = self.cfg.code_dim();
        let start = self.cfg.encoder_len();
        if precision == Precision::F16 {
            let end = self.cfg.layers().len();
            let mut out = Vec::with_capacity(rows * self.cfg.input_dim);
            self.batched_f16(codes, rows, c, (start, end), |t, _| {
                out.extend(self.ctx.read(t)?);
                Ok(())
            })?;
            return Ok(out);
        }
        crate::gpu::resolve(
            "decoding",
            self.batched(codes, rows, c, start, Fetch::Output),
        )
    }

    /// The reconstruction of every row.
    pub fn reconstruct<'a>(&self, data: impl Into<Rows<'a>>) -> Result<Vec<f32>> {
        self.reconstruct_with(data, Precision::F32)
    }

    /// [`Self::reconstruct`] at the given precision.
    pub fn reconstruct_with<'a>(
        &self,
        data: impl Into<Rows<'a>>,
        precision: Precision,
    ) -> Result<Vec<f32>> {
        let data = data.into();
        self.check_dim("reconstruct", data.cols, self.cfg.input_dim)?;
        let d = self.cfg.input_dim;
        if precision == Precision::F16 && self.cfg.variational.is_some() {
            // A VAE decodes its mean, which is half of the head's output:
            // through the host, in two passes.
            let codes = self.encode_with(data, precision)?;
            return self.decode_with(&codes, data.rows, precision);
        }
        if precision == Precision::F16 {
            let end = self.cfg.layers().len();
            let mut out = Vec::with_capacity(data.rows * d);
            self.batched_f16(data.data, data.rows, d, (0, end), |t, _| {
                out.extend(self.ctx.read(t)?);
                Ok(())
            })?;
            return Ok(out);
        }
        crate::gpu::resolve(
            "reconstructing",
            self.batched(data.data, data.rows, d, 0, Fetch::Output),
        )
    }

    /// [`Self::reconstruct`] as a future (a browser's inference).
    pub async fn reconstruct_async<'a>(&self, data: impl Into<Rows<'a>>) -> Result<Vec<f32>> {
        let data = data.into();
        self.check_dim("reconstruct", data.cols, self.cfg.input_dim)?;
        self.batched(data.data, data.rows, data.cols, 0, Fetch::Output)
            .await
    }

    /// The per-sample reconstruction error (mean squared error over
    /// features): the anomaly score.
    pub fn reconstruction_error<'a>(&self, data: impl Into<Rows<'a>>) -> Result<Vec<f32>> {
        self.reconstruction_error_with(data, Precision::F32)
    }

    /// [`Self::reconstruction_error`] at the given precision (with f16, the
    /// f32 reconstruction is scored on the host, in f64).
    pub fn reconstruction_error_with<'a>(
        &self,
        data: impl Into<Rows<'a>>,
        precision: Precision,
    ) -> Result<Vec<f32>> {
        let data = data.into();
        self.check_dim("reconstruction error", data.cols, self.cfg.input_dim)?;
        let d = self.cfg.input_dim;
        if precision == Precision::F16 {
            let rec = self.reconstruct_with(data, precision)?;
            // Over the observed entries (all, unless the model masks
            // missing ones).
            let missing = crate::data::MISSING;
            let masked = self.cfg.missing == crate::model::Missing::Mask;
            return Ok(rec
                .chunks(d)
                .zip(data.data.chunks(d))
                .map(|(y, x)| {
                    let (s, n) = y
                        .iter()
                        .zip(x)
                        .filter(|(_, &x)| !masked || x != missing)
                        .fold((0.0f64, 0usize), |(s, n), (&y, &x)| {
                            (s + (f64::from(y) - f64::from(x)).powi(2), n + 1)
                        });
                    (s / n.max(1) as f64) as f32
                })
                .collect());
        }
        crate::gpu::resolve(
            "scoring",
            self.batched(data.data, data.rows, d, 0, Fetch::RowError),
        )
    }

    /// [`Self::reconstruction_error`] as a future (a browser's scoring).
    pub async fn reconstruction_error_async<'a>(
        &self,
        data: impl Into<Rows<'a>>,
    ) -> Result<Vec<f32>> {
        let data = data.into();
        self.check_dim("reconstruction error", data.cols, self.cfg.input_dim)?;
        self.batched(data.data, data.rows, data.cols, 0, Fetch::RowError)
            .await
    }

    /// Runs `f` over `src` block by block (each block a few MiB of rows,
    /// whole inference batches where it can), handing `sink` the first
    /// row of each block and `f`'s result for it: inference with memory
    /// bounded by the block, whatever the input's size.
    fn per_block(
        &self,
        src: &Source,
        f: impl Fn(Rows<'_>) -> Result<Vec<f32>>,
        mut sink: impl FnMut(usize, &[f32]) -> Result<()>,
    ) -> Result<()> {
        self.check_dim("inference", src.cols(), self.cfg.input_dim)?;
        let per = (STREAM_BLOCK_BYTES / (src.cols() as u64 * 4)) as usize;
        let per = if per >= INFERENCE_BATCH {
            per / INFERENCE_BATCH * INFERENCE_BATCH
        } else {
            per.max(1)
        };
        src.for_each_block_of(per, |r0, block| {
            let rows = Rows {
                data: block,
                rows: block.len() / src.cols(),
                cols: src.cols(),
            };
            sink(r0, &f(rows)?)
        })
    }

    /// [`Self::encode_with`] over a source, streamed: `sink` gets each
    /// block's first row and its codes (`code_dim` per row).
    pub fn encode_source(
        &self,
        src: &Source,
        precision: Precision,
        sink: impl FnMut(usize, &[f32]) -> Result<()>,
    ) -> Result<()> {
        self.per_block(src, |rows| self.encode_with(rows, precision), sink)
    }

    /// [`Self::reconstruct_with`] over a source, streamed.
    pub fn reconstruct_source(
        &self,
        src: &Source,
        precision: Precision,
        sink: impl FnMut(usize, &[f32]) -> Result<()>,
    ) -> Result<()> {
        self.per_block(src, |rows| self.reconstruct_with(rows, precision), sink)
    }

    /// [`Self::reconstruction_error_with`] over a source, streamed: one
    /// score per row.
    pub fn reconstruction_error_source(
        &self,
        src: &Source,
        precision: Precision,
        sink: impl FnMut(usize, &[f32]) -> Result<()>,
    ) -> Result<()> {
        self.per_block(
            src,
            |rows| self.reconstruction_error_with(rows, precision),
            sink,
        )
    }

    /// The reconstruction at each of `cells` (row, column) of `src`'s rows
    /// (ratings kept sparse, say): only the rows from the first cell's to
    /// the last's are reconstructed, a block at a time, so memory is
    /// bounded by a block whatever the matrix's size.
    pub fn reconstruct_cells(&self, src: &Source, cells: &[(usize, usize)]) -> Result<Vec<f32>> {
        let mut out = vec![0f32; cells.len()];
        let (Some(lo), Some(hi)) = (
            cells.iter().map(|c| c.0).min(),
            cells.iter().map(|c| c.0).max(),
        ) else {
            return Ok(out);
        };
        let cols = src.cols();
        if let Some(&(r, c)) = cells.iter().find(|&&(r, c)| r >= src.rows() || c >= cols) {
            return Err(Error::InvalidArgument(format!(
                "cell ({r}, {c}) lies outside the {} x {cols} rows",
                src.rows()
            )));
        }
        let mut order: Vec<usize> = (0..cells.len()).collect();
        order.sort_by_key(|&k| cells[k].0);
        let mut next = 0;
        self.reconstruct_source(&src.slice(lo, hi + 1), Precision::F32, |r0, block| {
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

    /// `n` samples from the prior N(0, I) decoded (VAE), drawn on the GPU.
    pub fn sample_prior(&self, n: usize, seed: u64) -> Result<Vec<f32>> {
        if self.cfg.variational.is_none() {
            return Err(Error::InvalidArgument(
                "sampling from the prior needs a variational model (`variant` vae)".into(),
            ));
        }
        let c = self.cfg.code_dim();
        let z = self.ctx.zeros("prior z", n * c)?;
        let spec = ops::RngSpec {
            seed,
            stream: 7,
            offset: 0,
        };
        self.ctx.run(&[&ops::random(
            &self.ctx,
            ops::RandomFill::Normal {
                mean: 0.0,
                std: 1.0,
            },
            spec,
            None,
            &z,
        )?])?;
        let codes = self.ctx.read(&z)?;
        self.decode(&codes, n)
    }
}
