//! The layer kinds. Each kind owns, here, what the rest of wgae asks of a
//! layer without a GPU: its parameters in PyTorch's order, names and
//! shapes, its fan-in and fan-out for initialization, and its FLOPs. How a
//! kind is planned onto the GPU lives in `plan/` (one file per kind), and its
//! f64 twin in `reference/` (one file per kind).

use crate::op::Activation;

/// A sample's shape, channels first: `[channels, height, width]`. A flat
/// vector of n values is `[n, 1, 1]`; a sequence of c channels over l steps
/// is `[c, 1, l]`. Tensors hold each sample's values in this order (NCHW),
/// which is also the order of PyTorch's `nn.Flatten`.
pub type Shape = [usize; 3];

/// The name of a shape for messages: `1x28x28`.
pub fn shape_name(s: Shape) -> String {
    format!("{}x{}x{}", s[0], s[1], s[2])
}

/// A sliding window over the last two dimensions: kernel (kh, kw), strides
/// (sh, sw), padding before (ph, pw) (what is after follows from the output
/// size), dilation (dh, dw). `one_d`: a 1-D layer (kh = sh = dh = 1, ph =
/// 0), whose weights PyTorch stores without the height axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub ph: usize,
    pub pw: usize,
    pub dh: usize,
    pub dw: usize,
    pub one_d: bool,
}

/// Batch normalization's constants, with PyTorch's meaning: each training
/// batch moves the running statistics by `momentum` toward its own (Keras'
/// momentum 0.99 is PyTorch's 0.01), and `eps` is added to the variance.
/// `two_d`: BatchNorm2d (over images) rather than BatchNorm1d (over features
/// or sequences).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Norm {
    pub momentum: f32,
    pub eps: f32,
    pub two_d: bool,
}

/// The constants are finite (the description checks them), so equality is
/// an equivalence.
impl Eq for Norm {}

impl Norm {
    /// PyTorch's defaults.
    pub const MOMENTUM: f32 = 0.1;
    pub const EPS: f32 = 1e-5;
}

/// How a parameter starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightInit {
    /// Glorot-uniform from the layer's fans (Keras' default).
    Glorot,
    /// All ones (a normalization's scale).
    Ones,
    /// All zeros (a bias).
    Zeros,
    /// Uniform in +-1/sqrt(n) (PyTorch's for a recurrent layer of n units).
    InvSqrt(usize),
}

/// What a layer computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerKind {
    /// `y = act(x W^T + b)`, W stored (outputs, inputs) as PyTorch's
    /// `nn.Linear` stores it. Reads its input flattened.
    Dense,
    /// `y = act(conv(x, W) + b)`, W (out, in, kh, kw) as `nn.Conv2d` (or
    /// (out, in, k) as `nn.Conv1d`).
    Conv(Window),
    /// The transpose of a convolution (upsampling by its stride), W (in,
    /// out, kh, kw) as `nn.ConvTranspose2d` (or `nn.ConvTranspose1d`).
    ConvTranspose(Window),
    /// The maximum of each window; the gradient goes to the argmax.
    MaxPool(Window),
    /// The mean of each window (padding excluded).
    AvgPool(Window),
    /// Nearest-neighbour upsampling by integer factors (fh, fw).
    Upsample { fh: usize, fw: usize, one_d: bool },
    /// The same values under another shape (`Flatten`, `Reshape`).
    Reshape { flatten: bool },
    /// `y = act(gamma * (x - mean) / sqrt(var + eps) + beta)` per channel:
    /// in training over the batch's statistics (which also move the running
    /// ones), in evaluation over the running statistics. gamma and beta are
    /// parameters (`weight`, `bias`); the running statistics are buffers.
    BatchNorm(Norm),
    /// The end of a residual block: `y = act(body(x) + proj(x))`, where
    /// `body` is the `Skip::body` layers before this one (their last with
    /// no activation of its own) and `x` the block's input. `proj` is the
    /// identity where the shapes agree, else a Dense or 1x1 convolution
    /// (`proj.weight`, `proj.bias`, as PyTorch's `self.proj` submodule).
    Residual(Skip),
    /// A recurrent layer over a sequence `[T, 1, F]` (time steps first):
    /// PyTorch's `nn.LSTM` or `nn.GRU` (`batch_first=True`, one layer),
    /// giving every step's hidden state `[T, 1, H]` or the last `[H, 1, 1]`.
    Recurrent(Rnn),
    /// `times` copies of a vector `[H, 1, 1]`, a sequence `[times, 1, H]`
    /// (Keras' `RepeatVector`): the start of a seq2seq decoder.
    Repeat { times: usize },
    /// A Dense layer applied at every step of a sequence `[T, 1, F]`:
    /// `[T, 1, units]` (PyTorch's `nn.Linear` on the last axis; Keras'
    /// `TimeDistributed(Dense)`), W stored (units, F).
    StepDense,
    /// A sequence's two axes swapped, `[a, 1, b]` to `[b, 1, a]`
    /// (PyTorch's `x.permute(0, 2, 1)`): a Conv1d's `[channels, length]`
    /// to a recurrent layer's `[steps, features]`, and back.
    Permute,
}

impl LayerSpec {
    /// A per-step layer as the plain layer it is at each step: its input and
    /// output widths per step, and the rows it sees for `rows` sequences.
    pub fn per_step(&self, rows: usize) -> (LayerSpec, usize) {
        let (steps, f) = steps_features(self.in_shape);
        let spec = LayerSpec {
            inputs: f,
            outputs: self.out_shape[1] * self.out_shape[2],
            ..*self
        };
        (spec, rows * steps)
    }
}

/// Which recurrent cell, with PyTorch's gate order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recurrence {
    /// Gates i, f, g, o; a cell state beside the hidden state.
    Lstm,
    /// Gates r, z, n.
    Gru,
}

impl Recurrence {
    /// Gates per hidden unit (the rows of W_ih and W_hh are `gates * h`).
    pub fn gates(self) -> usize {
        match self {
            Recurrence::Lstm => 4,
            Recurrence::Gru => 3,
        }
    }
}

/// A recurrent layer's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rnn {
    pub cell: Recurrence,
    pub hidden: usize,
    pub return_sequences: bool,
}

impl Rnn {
    /// Gates per unit: the rows of its weights are `gates * hidden`.
    pub fn gates(&self) -> usize {
        self.cell.gates()
    }
}

/// A sequence's (time steps, features per step) from its shape `[T, 1, F]`.
pub fn steps_features(s: Shape) -> (usize, usize) {
    (s[0], s[1] * s[2])
}

/// Where a residual block's shortcut comes from and how it is carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Skip {
    /// How many layers the block's body has (the block starts `body`
    /// layers before its end).
    pub body: usize,
    /// The block's input shape (the body's first layer's input).
    pub from: Shape,
    pub proj: Projection,
}

/// The shortcut's map from the block's input to its output's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Projection {
    /// The shapes agree: the input itself.
    Identity,
    /// A Dense layer (flat shapes that differ).
    Dense,
    /// A 1x1 convolution with the body's stride (channels or a smaller
    /// image).
    Conv(Window),
    /// A 1x1 transposed convolution (a larger image: the mirror of a
    /// strided block).
    ConvTranspose(Window),
}

impl Projection {
    /// The layer kind the projection is, planned and twinned as that kind
    /// (none for the identity).
    pub fn kind(self) -> Option<LayerKind> {
        match self {
            Projection::Identity => None,
            Projection::Dense => Some(LayerKind::Dense),
            Projection::Conv(w) => Some(LayerKind::Conv(w)),
            Projection::ConvTranspose(w) => Some(LayerKind::ConvTranspose(w)),
        }
    }
}

/// One parameter tensor of a layer, as its kind declares it. A kind may
/// declare any number; the layout, the optimizer, weight decay, clipping,
/// checkpoints and model files handle each by its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamSpec {
    /// PyTorch's name within the module: `weight`, `bias`, `weight_ih_l0`.
    pub name: &'static str,
    /// PyTorch's shape: `[outputs, inputs]` for a Dense weight.
    pub shape: Vec<usize>,
    /// How it starts.
    pub init: WeightInit,
    /// Whether L2 weight decay applies to it (weights, not biases).
    pub decay: bool,
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
    /// The parameters of a layer of this kind from `input` to `output`, in
    /// PyTorch's order.
    pub fn params(self, input: Shape, output: Shape) -> Vec<ParamSpec> {
        let n = |s: Shape| s.iter().product::<usize>();
        let kernel = |w: Window| {
            if w.one_d {
                vec![w.kw]
            } else {
                vec![w.kh, w.kw]
            }
        };
        // A weight starts Glorot-uniform and is decayed; a bias starts at
        // zero and is not.
        let weight = |shape| ParamSpec {
            name: "weight",
            shape,
            init: WeightInit::Glorot,
            decay: true,
        };
        let bias = |shape| ParamSpec {
            name: "bias",
            shape,
            init: WeightInit::Zeros,
            decay: false,
        };
        match self {
            LayerKind::Dense => vec![weight(vec![n(output), n(input)]), bias(vec![n(output)])],
            LayerKind::StepDense => {
                let (units, f) = (output[1] * output[2], steps_features(input).1);
                vec![weight(vec![units, f]), bias(vec![units])]
            }
            LayerKind::Conv(w) => vec![
                weight([vec![output[0], input[0]], kernel(w)].concat()),
                bias(vec![output[0]]),
            ],
            LayerKind::ConvTranspose(w) => vec![
                weight([vec![input[0], output[0]], kernel(w)].concat()),
                bias(vec![output[0]]),
            ],
            // gamma starts at one (and, as PyTorch's weight, is decayed).
            LayerKind::BatchNorm(_) => vec![
                ParamSpec {
                    init: WeightInit::Ones,
                    ..weight(vec![input[0]])
                },
                bias(vec![input[0]]),
            ],
            // The projection's, under its submodule's name.
            LayerKind::Residual(skip) => match skip.proj.kind() {
                Some(kind) => kind
                    .params(skip.from, output)
                    .into_iter()
                    .map(|p| ParamSpec {
                        name: match p.name {
                            "weight" => "proj.weight",
                            _ => "proj.bias",
                        },
                        ..p
                    })
                    .collect(),
                None => Vec::new(),
            },
            LayerKind::Recurrent(r) => {
                let (_, f) = steps_features(input);
                let gh = r.gates() * r.hidden;
                let p = |name, shape| ParamSpec {
                    name,
                    shape,
                    init: WeightInit::InvSqrt(r.hidden),
                    decay: false,
                };
                vec![
                    ParamSpec {
                        decay: true,
                        ..p("weight_ih_l0", vec![gh, f])
                    },
                    ParamSpec {
                        decay: true,
                        ..p("weight_hh_l0", vec![gh, r.hidden])
                    },
                    p("bias_ih_l0", vec![gh]),
                    p("bias_hh_l0", vec![gh]),
                ]
            }
            LayerKind::MaxPool(_)
            | LayerKind::AvgPool(_)
            | LayerKind::Upsample { .. }
            | LayerKind::Reshape { .. }
            | LayerKind::Permute
            | LayerKind::Repeat { .. } => Vec::new(),
        }
    }

    /// The layer's buffers: state that is saved with the model but not
    /// trained (batch normalization's running statistics), in PyTorch's
    /// order and names, each with its starting value. `num_batches_tracked`
    /// is PyTorch's int64 scalar (shape `[]`); the arena holds it as f32,
    /// exact to 2^24 steps.
    pub fn buffers(self, input: Shape) -> Vec<(ParamSpec, f32)> {
        let buffer = |name, shape, start| {
            let spec = ParamSpec {
                name,
                shape,
                init: WeightInit::Zeros,
                decay: false,
            };
            (spec, start)
        };
        match self {
            LayerKind::BatchNorm(_) => vec![
                buffer("running_mean", vec![input[0]], 0.0),
                buffer("running_var", vec![input[0]], 1.0),
                buffer("num_batches_tracked", Vec::new(), 0.0),
            ],
            LayerKind::Dense
            | LayerKind::Conv(_)
            | LayerKind::ConvTranspose(_)
            | LayerKind::MaxPool(_)
            | LayerKind::AvgPool(_)
            | LayerKind::Upsample { .. }
            | LayerKind::Reshape { .. }
            | LayerKind::Permute
            | LayerKind::Residual(_)
            | LayerKind::Recurrent(_)
            | LayerKind::Repeat { .. }
            | LayerKind::StepDense => Vec::new(),
        }
    }

    /// (fan-in, fan-out) of the weight, as Glorot initialization reads them
    /// (a kernel's receptive field counts on both sides, as in Keras).
    pub fn fan(self, input: Shape, output: Shape) -> (usize, usize) {
        match self {
            LayerKind::Dense => (
                input.iter().product::<usize>(),
                output.iter().product::<usize>(),
            ),
            LayerKind::StepDense => (steps_features(input).1, output[1] * output[2]),
            LayerKind::Conv(w) | LayerKind::ConvTranspose(w) => {
                let k = w.kh * w.kw;
                (input[0] * k, output[0] * k)
            }
            LayerKind::Residual(skip) => skip
                .proj
                .kind()
                .map_or((0, 0), |kind| kind.fan(skip.from, output)),
            // Its weights start as `WeightInit::InvSqrt` says.
            LayerKind::Recurrent(_) | LayerKind::Repeat { .. } => (0, 0),
            // No Glorot-initialized weight.
            LayerKind::MaxPool(_)
            | LayerKind::AvgPool(_)
            | LayerKind::Upsample { .. }
            | LayerKind::Reshape { .. }
            | LayerKind::Permute
            | LayerKind::BatchNorm(_) => (0, 0),
        }
    }

    /// Floating-point operations of the forward pass, per sample (products;
    /// pooling and other elementwise work count nothing).
    pub fn forward_flops(self, input: Shape, output: Shape) -> f64 {
        let n = |s: Shape| s.iter().product::<usize>() as f64;
        match self {
            LayerKind::Dense => 2.0 * n(input) * n(output),
            LayerKind::Conv(w) => 2.0 * n(output) * (input[0] * w.kh * w.kw) as f64,
            LayerKind::ConvTranspose(w) => 2.0 * n(input) * (output[0] * w.kh * w.kw) as f64,
            LayerKind::Residual(skip) => skip
                .proj
                .kind()
                .map_or(0.0, |kind| kind.forward_flops(skip.from, output)),
            LayerKind::Recurrent(r) => {
                let (t, f) = steps_features(input);
                2.0 * (t * r.gates() * r.hidden * (f + r.hidden)) as f64
            }
            LayerKind::Repeat { .. } => 0.0,
            LayerKind::StepDense => 2.0 * n(input) * (output[1] * output[2]) as f64,
            LayerKind::MaxPool(_)
            | LayerKind::AvgPool(_)
            | LayerKind::Upsample { .. }
            | LayerKind::Reshape { .. }
            | LayerKind::Permute
            | LayerKind::BatchNorm(_) => 0.0,
        }
    }

    /// Whether the kind applies an activation (pooling and reshaping do
    /// not).
    pub fn has_act(self) -> bool {
        match self {
            LayerKind::Dense
            | LayerKind::StepDense
            | LayerKind::Conv(_)
            | LayerKind::ConvTranspose(_)
            | LayerKind::BatchNorm(_)
            | LayerKind::Residual(_) => true,
            // Their outputs are the cell's own (tanh'd) states.
            LayerKind::Recurrent(_)
            | LayerKind::Repeat { .. }
            | LayerKind::MaxPool(_)
            | LayerKind::AvgPool(_)
            | LayerKind::Upsample { .. }
            | LayerKind::Reshape { .. }
            | LayerKind::Permute => false,
        }
    }

    /// The name `wgae train`'s layer table prints, PyTorch's module's.
    pub fn name(self) -> &'static str {
        let one = |w: Window, a, b| if w.one_d { a } else { b };
        match self {
            LayerKind::Dense | LayerKind::StepDense => "Linear",
            LayerKind::Conv(w) => one(w, "Conv1d", "Conv2d"),
            LayerKind::ConvTranspose(w) => one(w, "ConvTranspose1d", "ConvTranspose2d"),
            LayerKind::MaxPool(w) => one(w, "MaxPool1d", "MaxPool2d"),
            LayerKind::AvgPool(w) => one(w, "AvgPool1d", "AvgPool2d"),
            LayerKind::Upsample { one_d: true, .. } => "Upsample1d",
            LayerKind::Upsample { .. } => "Upsample2d",
            LayerKind::Reshape { flatten: false } => "Reshape",
            LayerKind::Reshape { flatten: true } => "Flatten",
            LayerKind::Permute => "Permute",
            LayerKind::BatchNorm(n) if n.two_d => "BatchNorm2d",
            LayerKind::BatchNorm(_) => "BatchNorm1d",
            LayerKind::Residual(_) => "Residual",
            LayerKind::Repeat { .. } => "RepeatVector",
            LayerKind::Recurrent(Rnn {
                cell: Recurrence::Lstm,
                ..
            }) => "LSTM",
            LayerKind::Recurrent(Rnn {
                cell: Recurrence::Gru,
                ..
            }) => "GRU",
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

/// One layer of a model: its kind, its input and output shapes and widths
/// (values per sample), its activation and what it is for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerSpec {
    pub index: usize,
    pub kind: LayerKind,
    pub in_shape: Shape,
    pub out_shape: Shape,
    /// Values per sample in and out (the shapes' products).
    pub inputs: usize,
    pub outputs: usize,
    pub act: Activation,
    pub role: Role,
    /// For tied decoder layers: the encoder layer whose W^T this layer uses.
    pub tied_to: Option<usize>,
    pub encoder: bool,
    /// Whether a Dense or convolution layer adds a bias.
    pub bias: bool,
    /// The layer's place in its `nn.Sequential` (`encoder` or `decoder`)
    /// as written; a residual block's body layers share their block's.
    pub pos: usize,
    /// Within a residual block's body: the layer's place there.
    pub inner: Option<usize>,
}

impl LayerSpec {
    /// The layer's parameters, in PyTorch's order (a tied layer lists its
    /// weight too: the model stores it once, as its mirror's).
    pub fn params(&self) -> Vec<ParamSpec> {
        let mut p = self.kind.params(self.in_shape, self.out_shape);
        if !self.bias {
            p.retain(|p| p.name != "bias");
        }
        p
    }

    /// The layer's module name in a model file and in PyTorch: its index in
    /// an `nn.Sequential` (`encoder` or `decoder`) that follows every layer
    /// with its activation module, so `encoder.0`, `encoder.2`, ...,
    /// `decoder.0`, ...; a residual block's body is the Sequential `body`
    /// inside its block's module (`encoder.2.body.0`).
    pub fn module_name(&self) -> String {
        let part = if self.encoder { "encoder" } else { "decoder" };
        match self.inner {
            Some(i) => format!("{part}.{}.body.{}", 2 * self.pos, 2 * i),
            None => format!("{part}.{}", 2 * self.pos),
        }
    }

    /// A residual block's shortcut: where it starts and how it maps.
    pub fn skip(&self) -> Option<Skip> {
        if let LayerKind::Residual(skip) = self.kind {
            Some(skip)
        } else {
            None
        }
    }

    /// The projection of a residual block as a layer of its own (from the
    /// block's input to its output, no activation), so that the plan and
    /// the twins run it as that kind.
    pub fn projection(&self) -> Option<LayerSpec> {
        let skip = self.skip()?;
        let kind = skip.proj.kind()?;
        Some(LayerSpec {
            kind,
            in_shape: skip.from,
            inputs: skip.from.iter().product(),
            act: Activation::Identity,
            bias: true,
            ..*self
        })
    }

    /// Parameters the layer stores itself (a tied layer's weight is its
    /// mirror's, stored once).
    pub fn own_parameter_count(&self) -> usize {
        self.params()
            .iter()
            .filter(|p| !(self.tied_to.is_some() && p.name == "weight"))
            .map(ParamSpec::len)
            .sum()
    }

    /// The layer's buffers (see [`LayerKind::buffers`]).
    pub fn buffers(&self) -> Vec<(ParamSpec, f32)> {
        self.kind.buffers(self.in_shape)
    }

    /// (fan-in, fan-out) for initialization.
    pub fn fan(&self) -> (usize, usize) {
        self.kind.fan(self.in_shape, self.out_shape)
    }

    /// Floating-point operations of the forward product, per sample.
    pub fn forward_flops(&self) -> f64 {
        self.kind.forward_flops(self.in_shape, self.out_shape)
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
