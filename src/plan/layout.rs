//! Where each parameter lives in the arenas. Parameters, gradients and each
//! optimizer moment are one GPU buffer apiece with the same layout, so
//! the optimizer is one dispatch over the whole buffer, and the gradient
//! clipping norm is one reduction. Tensors start at offsets aligned to the
//! adapter's storage-binding alignment; the padding stays zero in every arena
//! (zero gradient, zero moments), so it never moves.
//!
//! Buffers (batch normalization's running statistics) are saved with the
//! model but not trained: they follow every trainable tensor in the
//! parameter arena, and the gradient and moment arenas stop before them
//! (`ParamLayout::trainable`), so no optimizer or weight decay touches them,
//! while checkpoints, early stopping's best copy and inference carry them
//! with the weights.

use crate::error::Result;
use crate::gpu::{GpuContext, GpuTensor, Step};
use crate::kernels::{self as ops, RandomFill, RngSpec};
use crate::model::{LayerSpec, ModelConfig, WeightInit};
use crate::plan::stream;

/// One named tensor in the arena.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamEntry {
    /// PyTorch-style name: `encoder.0.weight`, `decoder.2.bias`.
    pub name: String,
    /// Offset in 32-bit words.
    pub offset: usize,
    /// PyTorch's shape (see [`LayerSpec::params`]).
    pub shape: Vec<usize>,
    /// Whether L2 weight decay applies (as its kind declared it).
    pub decay: bool,
}

impl ParamEntry {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Which entries a layer uses, by the names its kind declares (none for a
/// kind without parameters).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerParams {
    /// Each parameter's name and entry, in the kind's order. A tied layer's
    /// `weight` is its mirror's entry (tied by name), used transposed.
    pub params: Vec<(&'static str, usize)>,
    pub transposed: bool,
    /// The layer's first buffer entry; its others follow it.
    pub buffers: Option<usize>,
    /// How many buffer entries the layer has.
    pub n_buffers: usize,
}

impl LayerParams {
    /// The entry of the parameter named `name`.
    pub fn get(&self, name: &str) -> Option<usize> {
        self.params
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, i)| i)
    }

    /// The `weight` entry (a tied layer's: its mirror's).
    pub fn weight(&self) -> Option<usize> {
        self.get("weight")
    }

    /// The entries the layer owns (not a tied mirror's weight).
    pub fn owned(&self) -> impl Iterator<Item = (&'static str, usize)> + '_ {
        self.params
            .iter()
            .copied()
            .filter(|(n, _)| !(self.transposed && *n == "weight"))
    }
}

/// A layer's buffers as one view of the arena, and where each of them
/// starts in it.
#[derive(Clone, Debug)]
pub struct BufferView {
    pub t: GpuTensor,
    pub at: Vec<usize>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ParamLayout {
    pub entries: Vec<ParamEntry>,
    pub layers: Vec<LayerParams>,
    /// Arena length in words, padding included.
    pub total: usize,
    /// Words of the trainable part (every buffer lies after it): the length
    /// of the gradient and moment arenas.
    pub trainable: usize,
}

impl ParamLayout {
    /// `align_words`: the storage offset alignment in words (64 for 256 bytes).
    pub fn new(cfg: &ModelConfig, align_words: usize) -> Self {
        let layers = cfg.layers();
        let mut entries: Vec<ParamEntry> = Vec::new();
        // Where the next entry starts: after the last, aligned.
        let end = |entries: &[ParamEntry]| {
            entries.last().map_or(0, |e: &ParamEntry| {
                e.offset + e.len().div_ceil(align_words) * align_words
            })
        };
        let push = |entries: &mut Vec<ParamEntry>, name: String, shape: Vec<usize>, decay| {
            entries.push(ParamEntry {
                name,
                offset: end(entries),
                shape,
                decay,
            });
            entries.len() - 1
        };
        let mut out: Vec<LayerParams> = Vec::new();
        for l in &layers {
            let module = l.module_name();
            let mut params = Vec::new();
            for p in l.params() {
                // A tied layer uses its mirror's weight (found by name),
                // transposed; every other parameter is its own.
                let mirror = l
                    .tied_to
                    .filter(|_| p.name == "weight")
                    .and_then(|e| out.get(e)?.get(p.name));
                let i = match mirror {
                    Some(i) => i,
                    None => push(
                        &mut entries,
                        format!("{module}.{}", p.name),
                        p.shape,
                        p.decay,
                    ),
                };
                params.push((p.name, i));
            }
            out.push(LayerParams {
                params,
                transposed: l.tied_to.is_some(),
                buffers: None,
                n_buffers: 0,
            });
        }
        let trainable = end(&entries).max(1);
        for (l, lp) in layers.iter().zip(&mut out) {
            let module = l.module_name();
            for (p, _) in l.buffers() {
                let i = push(&mut entries, format!("{module}.{}", p.name), p.shape, false);
                lp.buffers.get_or_insert(i);
                lp.n_buffers += 1;
            }
        }
        ParamLayout {
            total: end(&entries).max(1),
            entries,
            layers: out,
            trainable,
        }
    }

    /// Weight init: Glorot-uniform weights drawn on the GPU (a
    /// normalization's scale: ones); biases stay zero; buffers take their
    /// starting values.
    pub fn init_steps(
        &self,
        ctx: &GpuContext,
        cfg: &ModelConfig,
        params: &GpuTensor,
        seed: u64,
    ) -> Result<Vec<Step>> {
        let mut steps = Vec::new();
        for (i, v) in self.buffer_inits(cfg) {
            if v != 0.0 {
                steps.push(ops::fill(ctx, v, &self.view(params, i)?)?);
            }
        }
        for (l, lp) in self.zip(&cfg.layers()) {
            // Each parameter the layer owns starts as its kind declared:
            // Glorot draws come from the layer's stream, one after another.
            let specs = l.params();
            let mut drawn = 0;
            for (name, i) in lp.owned() {
                let init = specs
                    .iter()
                    .find(|p| p.name == name)
                    .map_or(WeightInit::Zeros, |p| p.init);
                let w = self.view(params, i)?;
                let bound = match init {
                    // The arena starts at zero.
                    WeightInit::Zeros => continue,
                    WeightInit::Ones => {
                        steps.push(ops::fill(ctx, 1.0, &w)?);
                        continue;
                    }
                    WeightInit::Glorot => {
                        let (fan_in, fan_out) = l.fan();
                        (6.0 / (fan_in + fan_out) as f64).sqrt() as f32
                    }
                    WeightInit::InvSqrt(n) => (1.0 / (n.max(1) as f64).sqrt()) as f32,
                };
                let spec = RngSpec {
                    seed,
                    stream: stream::INIT_BASE + l.index as u32,
                    offset: drawn,
                };
                drawn += w.len() as u32;
                steps.push(ops::random(
                    ctx,
                    RandomFill::Uniform {
                        lo: -bound,
                        hi: bound,
                    },
                    spec,
                    None,
                    &w,
                )?);
            }
        }
        Ok(steps)
    }

    /// Whether entry `i` is a buffer (not trained).
    pub fn is_buffer(&self, i: usize) -> bool {
        self.entries[i].offset >= self.trainable
    }

    /// Layer `l`'s buffers in an arena with this layout, as one view.
    pub fn buffer_view(&self, arena: &GpuTensor, l: usize) -> Result<Option<BufferView>> {
        let lp = &self.layers[l];
        let Some(first) = lp.buffers else {
            return Ok(None);
        };
        let entries = &self.entries[first..first + lp.n_buffers];
        let start = entries[0].offset;
        let end = entries
            .iter()
            .map(|e| e.offset + e.len().max(1))
            .max()
            .unwrap_or(start + 1);
        Ok(Some(BufferView {
            t: arena.view(start, end - start)?,
            at: entries.iter().map(|e| e.offset - start).collect(),
        }))
    }

    /// The starting value of each buffer entry (by position in `entries`).
    pub fn buffer_inits(&self, cfg: &ModelConfig) -> Vec<(usize, f32)> {
        let mut out = Vec::new();
        for (l, lp) in cfg.layers().iter().zip(&self.layers) {
            if let Some(first) = lp.buffers {
                for (k, (_, v)) in l.buffers().into_iter().enumerate() {
                    out.push((first + k, v));
                }
            }
        }
        out
    }

    pub fn for_context(ctx: &GpuContext, cfg: &ModelConfig) -> Self {
        let align = (ctx.limits().min_storage_buffer_offset_alignment as usize / 4).max(1);
        Self::new(cfg, align)
    }

    /// A view of entry `i` in an arena with this layout.
    pub fn view(&self, arena: &GpuTensor, i: usize) -> Result<GpuTensor> {
        let e = &self.entries[i];
        arena.view(e.offset, e.len())
    }

    /// Views of layer `l`'s parameters in an arena, by name (none where
    /// the layer's kind has none).
    pub fn layer_views(
        &self,
        arena: &GpuTensor,
        l: usize,
    ) -> Result<Vec<(&'static str, GpuTensor)>> {
        self.layers[l]
            .params
            .iter()
            .map(|&(name, i)| Ok((name, self.view(arena, i)?)))
            .collect()
    }

    pub fn find(&self, name: &str) -> Option<usize> {
        self.entries.iter().position(|e| e.name == name)
    }

    /// Copies the named tensors out of a host copy of the arena.
    pub fn unpack(&self, arena: &[f32]) -> Vec<(String, Vec<usize>, Vec<f32>)> {
        self.entries
            .iter()
            .map(|e| {
                (
                    e.name.clone(),
                    e.shape.clone(),
                    arena[e.offset..e.offset + e.len()].to_vec(),
                )
            })
            .collect()
    }

    /// Layers paired with their parameters.
    pub fn zip<'a>(
        &'a self,
        layers: &'a [LayerSpec],
    ) -> impl Iterator<Item = (&'a LayerSpec, &'a LayerParams)> {
        layers.iter().zip(&self.layers)
    }
}
