//! Layers as a user writes them, in TOML (`[[model.encoder_layers]]` with
//! `type = "conv2d"`) or through the builder, and how each becomes a layer
//! kind with its output shape. Shapes are channels-first; every error names
//! the layer, its input shape and what to change.

use serde::{Deserialize, Serialize};

use crate::op::Activation;

/// A size given once for both dimensions (`3`) or per dimension (`[3, 5]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Size {
    One(usize),
    Two([usize; 2]),
}

impl Size {
    pub(crate) fn hw(self) -> (usize, usize) {
        match self {
            Size::One(v) => (v, v),
            Size::Two([h, w]) => (h, w),
        }
    }
}

impl From<usize> for Size {
    fn from(v: usize) -> Self {
        Size::One(v)
    }
}

/// Padding: `"same"` (TensorFlow's: the output is ceil(input / stride), the
/// odd pixel after), `"valid"` (none), or explicit pixels before and after
/// (`1` or `[1, 2]` for height and width).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Padding {
    Named(String),
    Pixels(Size),
}

impl Default for Padding {
    fn default() -> Self {
        Padding::Named("valid".into())
    }
}

impl Padding {
    pub fn same() -> Self {
        Padding::Named("same".into())
    }
}

fn one() -> Size {
    Size::One(1)
}

/// One layer as written. Activations default to the model's (`act` for
/// hidden layers, `code_act` for the code, `out_act` for the output).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum LayerDesc {
    Dense {
        units: usize,
        #[serde(default, with = "crate::model::text::opt_as_string")]
        act: Option<Activation>,
        /// Whether the layer adds a bias (false before a batch
        /// normalization, whose shift makes it redundant).
        #[serde(default = "yes", skip_serializing_if = "is_yes")]
        bias: bool,
    },
    Conv2d {
        filters: usize,
        kernel: Size,
        #[serde(default = "one")]
        stride: Size,
        #[serde(default)]
        padding: Padding,
        #[serde(default = "one")]
        dilation: Size,
        #[serde(default, with = "crate::model::text::opt_as_string")]
        act: Option<Activation>,
        /// Whether the layer adds a bias (false before a batch
        /// normalization, whose shift makes it redundant).
        #[serde(default = "yes", skip_serializing_if = "is_yes")]
        bias: bool,
    },
    Conv1d {
        filters: usize,
        kernel: usize,
        #[serde(default = "one_usize")]
        stride: usize,
        #[serde(default)]
        padding: Padding,
        #[serde(default = "one_usize")]
        dilation: usize,
        #[serde(default, with = "crate::model::text::opt_as_string")]
        act: Option<Activation>,
        /// Whether the layer adds a bias (false before a batch
        /// normalization, whose shift makes it redundant).
        #[serde(default = "yes", skip_serializing_if = "is_yes")]
        bias: bool,
    },
    /// PyTorch's ConvTranspose2d: out = (in - 1) * stride - 2 * padding +
    /// dilation * (kernel - 1) + output_padding + 1; `padding = "same"`
    /// gives out = in * stride (Keras' Conv2DTranspose).
    ConvTranspose2d {
        filters: usize,
        kernel: Size,
        #[serde(default = "one")]
        stride: Size,
        #[serde(default)]
        padding: Padding,
        #[serde(default)]
        output_padding: Option<Size>,
        #[serde(default, with = "crate::model::text::opt_as_string")]
        act: Option<Activation>,
        /// Whether the layer adds a bias (false before a batch
        /// normalization, whose shift makes it redundant).
        #[serde(default = "yes", skip_serializing_if = "is_yes")]
        bias: bool,
    },
    ConvTranspose1d {
        filters: usize,
        kernel: usize,
        #[serde(default = "one_usize")]
        stride: usize,
        #[serde(default)]
        padding: Padding,
        #[serde(default)]
        output_padding: Option<usize>,
        #[serde(default, with = "crate::model::text::opt_as_string")]
        act: Option<Activation>,
        /// Whether the layer adds a bias (false before a batch
        /// normalization, whose shift makes it redundant).
        #[serde(default = "yes", skip_serializing_if = "is_yes")]
        bias: bool,
    },
    /// `stride` defaults to `size`.
    MaxPool2d {
        size: Size,
        #[serde(default)]
        stride: Option<Size>,
        #[serde(default)]
        padding: Padding,
    },
    MaxPool1d {
        size: usize,
        #[serde(default)]
        stride: Option<usize>,
        #[serde(default)]
        padding: Padding,
    },
    AvgPool2d {
        size: Size,
        #[serde(default)]
        stride: Option<Size>,
        #[serde(default)]
        padding: Padding,
    },
    AvgPool1d {
        size: usize,
        #[serde(default)]
        stride: Option<usize>,
        #[serde(default)]
        padding: Padding,
    },
    /// Nearest-neighbour upsampling by an integer factor.
    Upsample2d {
        factor: Size,
    },
    Upsample1d {
        factor: usize,
    },
    /// Batch normalization of each channel (PyTorch's BatchNorm1d): a flat
    /// vector's features, or a sequence's channels. `momentum` and `eps`
    /// have PyTorch's meaning and defaults (0.1, 1e-5). Its activation
    /// defaults to none, as in Keras and PyTorch, but for the code and
    /// output layers, where `code_act` and `out_act` apply.
    BatchNorm1d {
        #[serde(default)]
        momentum: Option<f32>,
        #[serde(default)]
        eps: Option<f32>,
        #[serde(default, with = "crate::model::text::opt_as_string")]
        act: Option<Activation>,
    },
    /// Batch normalization of each channel of an image (BatchNorm2d).
    BatchNorm2d {
        #[serde(default)]
        momentum: Option<f32>,
        #[serde(default)]
        eps: Option<f32>,
        #[serde(default, with = "crate::model::text::opt_as_string")]
        act: Option<Activation>,
    },
    /// To a flat vector (PyTorch's order: channel, then row, then column).
    Flatten,
    /// A sequence's two axes swapped, `[a, b]` to `[b, a]` (PyTorch's
    /// `x.permute(0, 2, 1)`): between a Conv1d, which reads `[channels,
    /// length]`, and a recurrent layer, which reads `[steps, features]`.
    Permute,
    /// To `shape`, channels first: `[8, 4, 4]`, `[c, length]` or `[n]`.
    Reshape {
        shape: Vec<usize>,
    },
    /// A residual block, `act(body(x) + x)`: the body's layers in order,
    /// the last with no activation of its own (the block's `act` applies
    /// after the sum). Where the body changes the shape, the shortcut is a
    /// projection: a Dense layer for flat shapes, a 1x1 convolution with
    /// the body's stride for images and sequences.
    Residual {
        layers: Vec<LayerDesc>,
        #[serde(default, with = "crate::model::text::opt_as_string")]
        act: Option<Activation>,
    },
    /// PyTorch's `nn.LSTM` (`batch_first=True`, one layer) over a sequence
    /// shaped `[T, F]` (time steps first): every step's hidden state
    /// (`return_sequences = true`, `[T, hidden]`) or the last (`[hidden]`).
    Lstm {
        hidden: usize,
        #[serde(default)]
        return_sequences: bool,
    },
    /// PyTorch's `nn.GRU`, as `lstm`.
    Gru {
        hidden: usize,
        #[serde(default)]
        return_sequences: bool,
    },
    /// `times` copies of a vector: the sequence `[times, features]` a
    /// seq2seq decoder starts from (Keras' `RepeatVector`).
    Repeat {
        times: usize,
    },
    /// A Dense layer at every step of a sequence `[T, F]`: `[T, units]`
    /// (PyTorch's `nn.Linear` on the last axis, Keras'
    /// `TimeDistributed(Dense)`): a sequence decoder's output layer.
    TimeDense {
        units: usize,
        #[serde(default, with = "crate::model::text::opt_as_string")]
        act: Option<Activation>,
        #[serde(default = "yes", skip_serializing_if = "is_yes")]
        bias: bool,
    },
}

fn one_usize() -> usize {
    1
}

fn yes() -> bool {
    true
}

fn is_yes(b: &bool) -> bool {
    *b
}

impl LayerDesc {
    pub fn conv2d(filters: usize, kernel: usize, padding: Padding) -> Self {
        LayerDesc::Conv2d {
            filters,
            kernel: kernel.into(),
            stride: one(),
            padding,
            dilation: one(),
            act: None,
            bias: true,
        }
    }

    pub fn max_pool2d(size: usize, padding: Padding) -> Self {
        LayerDesc::MaxPool2d {
            size: size.into(),
            stride: None,
            padding,
        }
    }

    pub fn upsample2d(factor: usize) -> Self {
        LayerDesc::Upsample2d {
            factor: factor.into(),
        }
    }

    pub fn dense(units: usize) -> Self {
        LayerDesc::Dense {
            units,
            act: None,
            bias: true,
        }
    }

    /// BatchNorm1d with PyTorch's constants.
    pub fn batch_norm1d() -> Self {
        LayerDesc::BatchNorm1d {
            momentum: None,
            eps: None,
            act: None,
        }
    }

    /// BatchNorm2d with PyTorch's constants.
    pub fn batch_norm2d() -> Self {
        LayerDesc::BatchNorm2d {
            momentum: None,
            eps: None,
            act: None,
        }
    }

    /// A residual block around `layers`, with the model's activation.
    pub fn residual(layers: Vec<LayerDesc>) -> Self {
        LayerDesc::Residual { layers, act: None }
    }

    /// Whether the layer is a batch normalization.
    pub fn is_batch_norm(&self) -> bool {
        matches!(
            self,
            LayerDesc::BatchNorm1d { .. } | LayerDesc::BatchNorm2d { .. }
        )
    }

    /// The same layer with this activation.
    pub fn with_act(mut self, a: Activation) -> Self {
        match &mut self {
            LayerDesc::Dense { act, .. }
            | LayerDesc::Conv2d { act, .. }
            | LayerDesc::Conv1d { act, .. }
            | LayerDesc::ConvTranspose2d { act, .. }
            | LayerDesc::ConvTranspose1d { act, .. }
            | LayerDesc::BatchNorm1d { act, .. }
            | LayerDesc::BatchNorm2d { act, .. }
            | LayerDesc::Residual { act, .. }
            | LayerDesc::TimeDense { act, .. } => *act = Some(a),
            // Pooling and reshaping apply no activation.
            LayerDesc::MaxPool2d { .. }
            | LayerDesc::MaxPool1d { .. }
            | LayerDesc::AvgPool2d { .. }
            | LayerDesc::AvgPool1d { .. }
            | LayerDesc::Upsample2d { .. }
            | LayerDesc::Upsample1d { .. }
            | LayerDesc::Flatten
            | LayerDesc::Permute
            | LayerDesc::Reshape { .. }
            | LayerDesc::Lstm { .. }
            | LayerDesc::Gru { .. }
            | LayerDesc::Repeat { .. } => {}
        }
        self
    }

    /// The layer type's name as TOML writes it (`conv2d`): serde's tag,
    /// read back from the layer's own serialization.
    pub fn kind_name(&self) -> String {
        toml::Value::try_from(self)
            .ok()
            .and_then(|v| v.get("type")?.as_str().map(str::to_string))
            .unwrap_or_else(|| "layer".into())
    }

    /// The activation written for the layer, if any.
    pub fn act(&self) -> Option<Activation> {
        match self {
            LayerDesc::Dense { act, .. }
            | LayerDesc::Conv2d { act, .. }
            | LayerDesc::Conv1d { act, .. }
            | LayerDesc::ConvTranspose2d { act, .. }
            | LayerDesc::ConvTranspose1d { act, .. }
            | LayerDesc::BatchNorm1d { act, .. }
            | LayerDesc::BatchNorm2d { act, .. }
            | LayerDesc::Residual { act, .. }
            | LayerDesc::TimeDense { act, .. } => *act,
            LayerDesc::MaxPool2d { .. }
            | LayerDesc::MaxPool1d { .. }
            | LayerDesc::AvgPool2d { .. }
            | LayerDesc::AvgPool1d { .. }
            | LayerDesc::Upsample2d { .. }
            | LayerDesc::Upsample1d { .. }
            | LayerDesc::Flatten
            | LayerDesc::Permute
            | LayerDesc::Reshape { .. }
            | LayerDesc::Lstm { .. }
            | LayerDesc::Gru { .. }
            | LayerDesc::Repeat { .. } => None,
        }
    }

    /// Whether the layer adds a bias: Dense and convolution layers unless
    /// told not to, batch normalization always (its shift).
    pub fn bias(&self) -> bool {
        match self {
            LayerDesc::Dense { bias, .. }
            | LayerDesc::Conv2d { bias, .. }
            | LayerDesc::Conv1d { bias, .. }
            | LayerDesc::ConvTranspose2d { bias, .. }
            | LayerDesc::ConvTranspose1d { bias, .. }
            | LayerDesc::TimeDense { bias, .. } => *bias,
            // Batch normalization always shifts; the others have no
            // parameters.
            LayerDesc::BatchNorm1d { .. }
            | LayerDesc::BatchNorm2d { .. }
            | LayerDesc::MaxPool2d { .. }
            | LayerDesc::MaxPool1d { .. }
            | LayerDesc::AvgPool2d { .. }
            | LayerDesc::AvgPool1d { .. }
            | LayerDesc::Upsample2d { .. }
            | LayerDesc::Upsample1d { .. }
            | LayerDesc::Flatten
            | LayerDesc::Permute
            | LayerDesc::Reshape { .. }
            | LayerDesc::Residual { .. }
            | LayerDesc::Lstm { .. }
            | LayerDesc::Gru { .. }
            | LayerDesc::Repeat { .. } => true,
        }
    }

    /// The same layer without a bias (a Dense or convolution layer before a
    /// batch normalization).
    pub fn without_bias(mut self) -> Self {
        match &mut self {
            LayerDesc::Dense { bias, .. }
            | LayerDesc::Conv2d { bias, .. }
            | LayerDesc::Conv1d { bias, .. }
            | LayerDesc::ConvTranspose2d { bias, .. }
            | LayerDesc::ConvTranspose1d { bias, .. }
            | LayerDesc::TimeDense { bias, .. } => *bias = false,
            LayerDesc::BatchNorm1d { .. }
            | LayerDesc::BatchNorm2d { .. }
            | LayerDesc::MaxPool2d { .. }
            | LayerDesc::MaxPool1d { .. }
            | LayerDesc::AvgPool2d { .. }
            | LayerDesc::AvgPool1d { .. }
            | LayerDesc::Upsample2d { .. }
            | LayerDesc::Upsample1d { .. }
            | LayerDesc::Flatten
            | LayerDesc::Permute
            | LayerDesc::Reshape { .. }
            | LayerDesc::Residual { .. }
            | LayerDesc::Lstm { .. }
            | LayerDesc::Gru { .. }
            | LayerDesc::Repeat { .. } => {}
        }
        self
    }

    /// Whether the layer applies an activation (pooling and reshaping do not).
    pub fn has_act(&self) -> bool {
        matches!(
            self,
            LayerDesc::Dense { .. }
                | LayerDesc::Conv2d { .. }
                | LayerDesc::Conv1d { .. }
                | LayerDesc::ConvTranspose2d { .. }
                | LayerDesc::ConvTranspose1d { .. }
                | LayerDesc::BatchNorm1d { .. }
                | LayerDesc::BatchNorm2d { .. }
                | LayerDesc::Residual { .. }
                | LayerDesc::TimeDense { .. }
        )
    }
}
