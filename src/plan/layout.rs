//! Where each parameter lives in the arenas. Parameters, gradients and each
//! optimizer moment are one GPU buffer apiece with the same layout, so
//! the optimizer is one dispatch over the whole buffer, and the gradient
//! clipping norm is one reduction. Tensors start at offsets aligned to the
//! adapter's storage-binding alignment; the padding stays zero in every arena
//! (zero gradient, zero moments), so it never moves.

use crate::error::Result;
use crate::gpu::{GpuContext, GpuTensor};
use crate::model::{LayerSpec, ModelConfig};

/// One named tensor in the arena.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamEntry {
    /// PyTorch-style name: `encoder.0.weight`, `decoder.2.bias`.
    pub name: String,
    /// Offset in 32-bit words.
    pub offset: usize,
    /// PyTorch's shape (see [`LayerSpec::params`]).
    pub shape: Vec<usize>,
}

impl ParamEntry {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Which entries a layer uses (none for a kind without parameters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerParams {
    /// The weight entry; for a tied layer, the encoder weight it transposes.
    pub weight: Option<usize>,
    pub transposed: bool,
    pub bias: Option<usize>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ParamLayout {
    pub entries: Vec<ParamEntry>,
    pub layers: Vec<LayerParams>,
    /// Arena length in words, padding included.
    pub total: usize,
}

impl ParamLayout {
    /// `align_words`: the storage offset alignment in words (64 for 256 bytes).
    pub fn new(cfg: &ModelConfig, align_words: usize) -> Self {
        let layers = cfg.layers();
        let mut entries: Vec<ParamEntry> = Vec::new();
        let mut offset = 0usize;
        let mut push = |name: String, shape: Vec<usize>| {
            let len: usize = shape.iter().product();
            entries.push(ParamEntry {
                name,
                offset,
                shape,
            });
            offset += len.div_ceil(align_words) * align_words;
            entries.len() - 1
        };
        let n_enc = layers.iter().filter(|l| l.encoder).count();
        let mut weight_of: Vec<usize> = Vec::new();
        let mut out = Vec::new();
        for l in &layers {
            let module = l.module_name(n_enc);
            let mut weight = None;
            let mut bias = None;
            for p in l.params() {
                let slot = match p.name {
                    "weight" => &mut weight,
                    _ => &mut bias,
                };
                *slot = Some(match (p.name, l.tied_to) {
                    // A tied layer uses its mirror's weight, transposed.
                    ("weight", Some(e)) => weight_of[e],
                    _ => push(format!("{module}.{}", p.name), p.shape),
                });
            }
            weight_of.push(weight.unwrap_or(usize::MAX));
            out.push(LayerParams {
                weight,
                transposed: l.tied_to.is_some(),
                bias,
            });
        }
        ParamLayout {
            entries,
            layers: out,
            total: offset.max(1),
        }
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

    /// Views of layer `l`'s weight and bias in an arena (None where the
    /// layer's kind has none).
    pub fn layer_views(
        &self,
        arena: &GpuTensor,
        l: usize,
    ) -> Result<(Option<GpuTensor>, Option<GpuTensor>)> {
        let lp = self.layers[l];
        Ok((
            lp.weight.map(|i| self.view(arena, i)).transpose()?,
            lp.bias.map(|i| self.view(arena, i)).transpose()?,
        ))
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
