//! Layers as a user writes them, in TOML (`[[model.encoder_layers]]` with
//! `type = "conv2d"`) or through the builder, and how each becomes a layer
//! kind with its output shape. Shapes are channels-first; every error names
//! the layer, its input shape and what to change.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::layer::{LayerKind, Norm, Shape, Window};
use crate::op::Activation;

/// A size given once for both dimensions (`3`) or per dimension (`[3, 5]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Size {
    One(usize),
    Two([usize; 2]),
}

impl Size {
    fn hw(self) -> (usize, usize) {
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
        #[serde(default, with = "crate::model::opt_as_string")]
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
        #[serde(default, with = "crate::model::opt_as_string")]
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
        #[serde(default, with = "crate::model::opt_as_string")]
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
        #[serde(default, with = "crate::model::opt_as_string")]
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
        #[serde(default, with = "crate::model::opt_as_string")]
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
        #[serde(default, with = "crate::model::opt_as_string")]
        act: Option<Activation>,
    },
    /// Batch normalization of each channel of an image (BatchNorm2d).
    BatchNorm2d {
        #[serde(default)]
        momentum: Option<f32>,
        #[serde(default)]
        eps: Option<f32>,
        #[serde(default, with = "crate::model::opt_as_string")]
        act: Option<Activation>,
    },
    /// To a flat vector (PyTorch's order: channel, then row, then column).
    Flatten,
    /// To `shape`, channels first: `[8, 4, 4]`, `[c, length]` or `[n]`.
    Reshape {
        shape: Vec<usize>,
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

/// What a layer becomes: its kind, output shape and activation.
pub struct Built {
    pub kind: LayerKind,
    pub out: Shape,
    pub act: Activation,
    /// Whether the layer adds a bias (kinds with one).
    pub bias: bool,
}

/// The name of a shape for messages: `1x28x28`.
pub fn shape_name(s: Shape) -> String {
    format!("{}x{}x{}", s[0], s[1], s[2])
}

/// (pad before, output size) of one dimension of a window.
fn out_size(
    what: &str,
    size: usize,
    k: usize,
    stride: usize,
    dil: usize,
    pad: &Padding,
    dim: usize,
) -> Result<(usize, usize)> {
    let span = (k - 1) * dil + 1;
    match pad {
        Padding::Named(n) if n == "same" => {
            let out = size.div_ceil(stride);
            let total = ((out - 1) * stride + span).saturating_sub(size);
            Ok((total / 2, out))
        }
        Padding::Named(n) if n == "valid" => {
            if size < span {
                return Err(Error::InvalidArgument(format!(
                    "{what}: a window of {span} does not fit an input of {size} with valid \
                     padding; use padding = \"same\" or a smaller kernel"
                )));
            }
            Ok((0, (size - span) / stride + 1))
        }
        Padding::Named(other) => Err(Error::InvalidArgument(format!(
            "{what}: unknown padding '{other}' (same, valid, or a number of pixels)"
        ))),
        Padding::Pixels(p) => {
            let p = if dim == 0 { p.hw().0 } else { p.hw().1 };
            if size + 2 * p < span {
                return Err(Error::InvalidArgument(format!(
                    "{what}: a window of {span} does not fit an input of {size} padded by {p}"
                )));
            }
            Ok((p, (size + 2 * p - span) / stride + 1))
        }
    }
}

/// (padding, output padding, output size) of one dimension of a transposed
/// convolution.
fn transposed_size(
    what: &str,
    size: usize,
    k: usize,
    stride: usize,
    pad: &Padding,
    output_padding: Option<usize>,
    dim: usize,
) -> Result<(usize, usize)> {
    let (p, op) = match pad {
        Padding::Named(n) if n == "same" => {
            // out = in * stride: 2p - op = k - stride.
            let need = k as i64 - stride as i64;
            let p = need.max(0).div_euclid(2) + need.max(0).rem_euclid(2);
            let op = 2 * p - need;
            (p as usize, output_padding.unwrap_or(op as usize))
        }
        Padding::Named(n) if n == "valid" => (0, output_padding.unwrap_or(0)),
        Padding::Named(other) => {
            return Err(Error::InvalidArgument(format!(
                "{what}: unknown padding '{other}' (same, valid, or a number of pixels)"
            )))
        }
        Padding::Pixels(p) => (
            if dim == 0 { p.hw().0 } else { p.hw().1 },
            output_padding.unwrap_or(0),
        ),
    };
    if op >= stride.max(1) && op > 0 {
        return Err(Error::InvalidArgument(format!(
            "{what}: output padding {op} must be smaller than the stride {stride}"
        )));
    }
    let full = (size - 1) * stride + k + op;
    if full <= 2 * p {
        return Err(Error::InvalidArgument(format!(
            "{what}: padding {p} leaves no output from an input of {size}"
        )));
    }
    Ok((p, full - 2 * p))
}

fn positive(what: &str, pairs: &[(&str, usize)]) -> Result<()> {
    for (name, v) in pairs {
        if *v == 0 {
            return Err(Error::InvalidArgument(format!(
                "{what}: {name} must be at least 1"
            )));
        }
    }
    Ok(())
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
            | LayerDesc::BatchNorm2d { act, .. } => *act = Some(a),
            // Pooling and reshaping apply no activation.
            LayerDesc::MaxPool2d { .. }
            | LayerDesc::MaxPool1d { .. }
            | LayerDesc::AvgPool2d { .. }
            | LayerDesc::AvgPool1d { .. }
            | LayerDesc::Upsample2d { .. }
            | LayerDesc::Upsample1d { .. }
            | LayerDesc::Flatten
            | LayerDesc::Reshape { .. } => {}
        }
        self
    }

    /// The layer type's name as TOML writes it.
    pub fn kind_name(&self) -> &'static str {
        match self {
            LayerDesc::Dense { .. } => "dense",
            LayerDesc::Conv2d { .. } => "conv2d",
            LayerDesc::Conv1d { .. } => "conv1d",
            LayerDesc::ConvTranspose2d { .. } => "conv_transpose2d",
            LayerDesc::ConvTranspose1d { .. } => "conv_transpose1d",
            LayerDesc::MaxPool2d { .. } => "max_pool2d",
            LayerDesc::MaxPool1d { .. } => "max_pool1d",
            LayerDesc::AvgPool2d { .. } => "avg_pool2d",
            LayerDesc::AvgPool1d { .. } => "avg_pool1d",
            LayerDesc::Upsample2d { .. } => "upsample2d",
            LayerDesc::Upsample1d { .. } => "upsample1d",
            LayerDesc::BatchNorm1d { .. } => "batch_norm1d",
            LayerDesc::BatchNorm2d { .. } => "batch_norm2d",
            LayerDesc::Flatten => "flatten",
            LayerDesc::Reshape { .. } => "reshape",
        }
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
            | LayerDesc::BatchNorm2d { act, .. } => *act,
            LayerDesc::MaxPool2d { .. }
            | LayerDesc::MaxPool1d { .. }
            | LayerDesc::AvgPool2d { .. }
            | LayerDesc::AvgPool1d { .. }
            | LayerDesc::Upsample2d { .. }
            | LayerDesc::Upsample1d { .. }
            | LayerDesc::Flatten
            | LayerDesc::Reshape { .. } => None,
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
            | LayerDesc::ConvTranspose1d { bias, .. } => *bias,
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
            | LayerDesc::Reshape { .. } => true,
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
            | LayerDesc::ConvTranspose1d { bias, .. } => *bias = false,
            LayerDesc::BatchNorm1d { .. }
            | LayerDesc::BatchNorm2d { .. }
            | LayerDesc::MaxPool2d { .. }
            | LayerDesc::MaxPool1d { .. }
            | LayerDesc::AvgPool2d { .. }
            | LayerDesc::AvgPool1d { .. }
            | LayerDesc::Upsample2d { .. }
            | LayerDesc::Upsample1d { .. }
            | LayerDesc::Flatten
            | LayerDesc::Reshape { .. } => {}
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
        )
    }

    /// The layer on an input of shape `input`, with `act` (the layer's own
    /// or the model's default for its place). `what` names it in errors.
    pub fn build(&self, what: &str, input: Shape, act: Activation) -> Result<Built> {
        let [c, h, w] = input;
        let what = format!("{what} on input {}", shape_name(input));
        let spatial2 = |name: &str| -> Result<()> {
            if h == 1 && w == 1 && c > 1 {
                return Err(Error::InvalidArgument(format!(
                    "{what}: {name} needs an image (channels, height, width), but its input is a \
                     flat vector; reshape it first (type = \"reshape\") or give the data's \
                     shape (input_shape)"
                )));
            }
            Ok(())
        };
        let act = if self.has_act() {
            act
        } else {
            Activation::Identity
        };
        let built = |kind, out: Shape| -> Result<Built> {
            if out.contains(&0) {
                return Err(Error::InvalidArgument(format!(
                    "{what}: the output would be empty ({})",
                    shape_name(out)
                )));
            }
            Ok(Built {
                kind,
                out,
                act,
                bias: self.bias(),
            })
        };
        match self {
            LayerDesc::Dense { units, .. } => {
                positive(&what, &[("units", *units)])?;
                built(LayerKind::Dense, [*units, 1, 1])
            }
            LayerDesc::Conv2d {
                filters,
                kernel,
                stride,
                padding,
                dilation,
                ..
            } => {
                spatial2("Conv2d")?;
                let ((kh, kw), (sh, sw), (dh, dw)) = (kernel.hw(), stride.hw(), dilation.hw());
                positive(
                    &what,
                    &[
                        ("filters", *filters),
                        ("kernel", kh.min(kw)),
                        ("stride", sh.min(sw)),
                    ],
                )?;
                positive(&what, &[("dilation", dh.min(dw))])?;
                let (ph, oh) = out_size(&what, h, kh, sh, dh, padding, 0)?;
                let (pw, ow) = out_size(&what, w, kw, sw, dw, padding, 1)?;
                let win = Window {
                    kh,
                    kw,
                    sh,
                    sw,
                    ph,
                    pw,
                    dh,
                    dw,
                    one_d: false,
                };
                built(LayerKind::Conv(win), [*filters, oh, ow])
            }
            LayerDesc::Conv1d {
                filters,
                kernel,
                stride,
                padding,
                dilation,
                ..
            } => {
                positive(
                    &what,
                    &[
                        ("filters", *filters),
                        ("kernel", *kernel),
                        ("stride", *stride),
                    ],
                )?;
                positive(&what, &[("dilation", *dilation)])?;
                one_d(&what, h)?;
                let (pw, ow) = out_size(&what, w, *kernel, *stride, *dilation, padding, 1)?;
                let win = Window {
                    kh: 1,
                    kw: *kernel,
                    sh: 1,
                    sw: *stride,
                    ph: 0,
                    pw,
                    dh: 1,
                    dw: *dilation,
                    one_d: true,
                };
                built(LayerKind::Conv(win), [*filters, 1, ow])
            }
            LayerDesc::ConvTranspose2d {
                filters,
                kernel,
                stride,
                padding,
                output_padding,
                ..
            } => {
                spatial2("ConvTranspose2d")?;
                let ((kh, kw), (sh, sw)) = (kernel.hw(), stride.hw());
                positive(
                    &what,
                    &[
                        ("filters", *filters),
                        ("kernel", kh.min(kw)),
                        ("stride", sh.min(sw)),
                    ],
                )?;
                let op = output_padding.map(Size::hw);
                let (ph, oh) = transposed_size(&what, h, kh, sh, padding, op.map(|p| p.0), 0)?;
                let (pw, ow) = transposed_size(&what, w, kw, sw, padding, op.map(|p| p.1), 1)?;
                let win = Window {
                    kh,
                    kw,
                    sh,
                    sw,
                    ph,
                    pw,
                    dh: 1,
                    dw: 1,
                    one_d: false,
                };
                built(LayerKind::ConvTranspose(win), [*filters, oh, ow])
            }
            LayerDesc::ConvTranspose1d {
                filters,
                kernel,
                stride,
                padding,
                output_padding,
                ..
            } => {
                positive(
                    &what,
                    &[
                        ("filters", *filters),
                        ("kernel", *kernel),
                        ("stride", *stride),
                    ],
                )?;
                one_d(&what, h)?;
                let (pw, ow) =
                    transposed_size(&what, w, *kernel, *stride, padding, *output_padding, 1)?;
                let win = Window {
                    kh: 1,
                    kw: *kernel,
                    sh: 1,
                    sw: *stride,
                    ph: 0,
                    pw,
                    dh: 1,
                    dw: 1,
                    one_d: true,
                };
                built(LayerKind::ConvTranspose(win), [*filters, 1, ow])
            }
            LayerDesc::MaxPool2d {
                size,
                stride,
                padding,
            }
            | LayerDesc::AvgPool2d {
                size,
                stride,
                padding,
            } => {
                spatial2("pooling")?;
                let (kh, kw) = size.hw();
                let (sh, sw) = stride.unwrap_or(*size).hw();
                positive(&what, &[("size", kh.min(kw)), ("stride", sh.min(sw))])?;
                let (ph, oh) = out_size(&what, h, kh, sh, 1, padding, 0)?;
                let (pw, ow) = out_size(&what, w, kw, sw, 1, padding, 1)?;
                let win = Window {
                    kh,
                    kw,
                    sh,
                    sw,
                    ph,
                    pw,
                    dh: 1,
                    dw: 1,
                    one_d: false,
                };
                pool_window(&what, win)?;
                let kind = if matches!(self, LayerDesc::MaxPool2d { .. }) {
                    LayerKind::MaxPool(win)
                } else {
                    LayerKind::AvgPool(win)
                };
                built(kind, [c, oh, ow])
            }
            LayerDesc::MaxPool1d {
                size,
                stride,
                padding,
            }
            | LayerDesc::AvgPool1d {
                size,
                stride,
                padding,
            } => {
                let sw = stride.unwrap_or(*size);
                positive(&what, &[("size", *size), ("stride", sw)])?;
                one_d(&what, h)?;
                let (pw, ow) = out_size(&what, w, *size, sw, 1, padding, 1)?;
                let win = Window {
                    kh: 1,
                    kw: *size,
                    sh: 1,
                    sw,
                    ph: 0,
                    pw,
                    dh: 1,
                    dw: 1,
                    one_d: true,
                };
                pool_window(&what, win)?;
                let kind = if matches!(self, LayerDesc::MaxPool1d { .. }) {
                    LayerKind::MaxPool(win)
                } else {
                    LayerKind::AvgPool(win)
                };
                built(kind, [c, 1, ow])
            }
            LayerDesc::Upsample2d { factor } => {
                spatial2("Upsample2d")?;
                let (fh, fw) = factor.hw();
                positive(&what, &[("factor", fh.min(fw))])?;
                built(
                    LayerKind::Upsample {
                        fh,
                        fw,
                        one_d: false,
                    },
                    [c, h * fh, w * fw],
                )
            }
            LayerDesc::Upsample1d { factor } => {
                positive(&what, &[("factor", *factor)])?;
                one_d(&what, h)?;
                built(
                    LayerKind::Upsample {
                        fh: 1,
                        fw: *factor,
                        one_d: true,
                    },
                    [c, 1, w * factor],
                )
            }
            LayerDesc::BatchNorm1d { momentum, eps, .. }
            | LayerDesc::BatchNorm2d { momentum, eps, .. } => {
                let two_d = matches!(self, LayerDesc::BatchNorm2d { .. });
                if two_d {
                    spatial2("BatchNorm2d")?;
                } else if h != 1 {
                    return Err(Error::InvalidArgument(format!(
                        "{what}: BatchNorm1d normalizes features or a sequence's channels, but \
                         its input is an image; use type = \"batch_norm2d\""
                    )));
                }
                let momentum = momentum.unwrap_or(Norm::MOMENTUM);
                let eps = eps.unwrap_or(Norm::EPS);
                if !(0.0..=1.0).contains(&momentum) {
                    return Err(Error::InvalidArgument(format!(
                        "{what}: momentum {momentum} must be in [0, 1] (PyTorch's meaning: the \
                         share of each batch in the running statistics; Keras' 0.99 is 0.01)"
                    )));
                }
                if !(eps > 0.0 && eps.is_finite()) {
                    return Err(Error::InvalidArgument(format!(
                        "{what}: eps {eps} must be a positive number"
                    )));
                }
                built(
                    LayerKind::BatchNorm(Norm {
                        momentum,
                        eps,
                        two_d,
                    }),
                    input,
                )
            }
            LayerDesc::Flatten => built(LayerKind::Reshape { flatten: true }, [c * h * w, 1, 1]),
            LayerDesc::Reshape { shape } => {
                let out = match shape.as_slice() {
                    [n] => [*n, 1, 1],
                    [c, l] => [*c, 1, *l],
                    [c, h, w] => [*c, *h, *w],
                    other => {
                        return Err(Error::InvalidArgument(format!(
                            "{what}: reshape to {other:?}: give 1 to 3 sizes, channels first"
                        )))
                    }
                };
                if out.iter().product::<usize>() != c * h * w {
                    return Err(Error::InvalidArgument(format!(
                        "{what}: cannot reshape {} values to {}",
                        c * h * w,
                        shape_name(out)
                    )));
                }
                built(LayerKind::Reshape { flatten: false }, out)
            }
        }
    }
}

/// A 1-D layer needs a sequence (channels, 1, length).
fn one_d(what: &str, h: usize) -> Result<()> {
    if h != 1 {
        return Err(Error::InvalidArgument(format!(
            "{what}: a 1-D layer needs a sequence (channels, length), not an image"
        )));
    }
    Ok(())
}

/// Pooling padding must leave every window some input.
fn pool_window(what: &str, w: Window) -> Result<()> {
    if w.ph >= w.kh || w.pw >= w.kw {
        return Err(Error::InvalidArgument(format!(
            "{what}: padding ({}, {}) must be smaller than the window ({}, {})",
            w.ph, w.pw, w.kh, w.kw
        )));
    }
    Ok(())
}
