//! The layer kinds. Each kind owns, here, what the rest of wgae asks of a
//! layer without a GPU: its parameters in PyTorch's order, names and
//! shapes, its fan-in and fan-out for initialization, and its FLOPs. How a
//! kind is planned onto the GPU lives in `plan/` (one file per kind), and its
//! f64 twin in `reference/` (one file per kind).

use crate::op::Activation;

/// What a layer computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerKind {
    /// `y = act(x W^T + b)`, W stored (outputs, inputs) as PyTorch's
    /// `nn.Linear` stores it.
    Dense,
}

/// One parameter tensor of a layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamSpec {
    /// PyTorch's name within the module: `weight`, `bias`.
    pub name: &'static str,
    /// PyTorch's shape: `[outputs, inputs]` for a Dense weight.
    pub shape: Vec<usize>,
}

impl ParamSpec {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl LayerKind {
    /// The parameters of a layer of this kind from `inputs` to `outputs`
    /// values per sample, in PyTorch's order.
    pub fn params(self, inputs: usize, outputs: usize) -> Vec<ParamSpec> {
        match self {
            LayerKind::Dense => vec![
                ParamSpec {
                    name: "weight",
                    shape: vec![outputs, inputs],
                },
                ParamSpec {
                    name: "bias",
                    shape: vec![outputs],
                },
            ],
        }
    }

    /// (fan-in, fan-out) of the weight, as Glorot initialization reads them.
    pub fn fan(self, inputs: usize, outputs: usize) -> (usize, usize) {
        match self {
            LayerKind::Dense => (inputs, outputs),
        }
    }

    /// Floating-point operations of the forward product, per sample.
    pub fn forward_flops(self, inputs: usize, outputs: usize) -> f64 {
        match self {
            LayerKind::Dense => 2.0 * (inputs * outputs) as f64,
        }
    }

    /// The name `wgae train`'s layer table prints.
    pub fn name(self) -> &'static str {
        match self {
            LayerKind::Dense => "Dense",
        }
    }
}

/// What a layer is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Hidden,
    /// The last encoder layer: its output is the code.
    Code,
    /// A VAE's last encoder layer: `[mu | log-variance]`, twice the code width.
    VaeHead,
    /// The reconstruction.
    Output,
}

/// One layer of a model: its kind, its widths (values per sample), its
/// activation and what it is for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerSpec {
    pub index: usize,
    pub kind: LayerKind,
    pub inputs: usize,
    pub outputs: usize,
    pub act: Activation,
    pub role: Role,
    /// For tied decoder layers: the encoder layer whose W^T this layer uses.
    pub tied_to: Option<usize>,
    pub encoder: bool,
}

impl LayerSpec {
    /// The layer's parameters, in PyTorch's order (a tied layer lists its
    /// weight too: the model stores it once, as its mirror's).
    pub fn params(&self) -> Vec<ParamSpec> {
        self.kind.params(self.inputs, self.outputs)
    }

    /// (fan-in, fan-out) for initialization.
    pub fn fan(&self) -> (usize, usize) {
        self.kind.fan(self.inputs, self.outputs)
    }

    /// Floating-point operations of the forward product, per sample.
    pub fn forward_flops(&self) -> f64 {
        self.kind.forward_flops(self.inputs, self.outputs)
    }

    /// Floating-point operations per sample in a training step: the forward
    /// product, the weight gradient, and (but for the first layer, whose
    /// input is the data) the input gradient, each as costly as the forward.
    pub fn train_flops(&self) -> f64 {
        let f = self.forward_flops();
        if self.index == 0 {
            2.0 * f
        } else {
            3.0 * f
        }
    }
}
