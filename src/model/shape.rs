//! What a layer as written becomes: its kind, output shape, activation and
//! bias, from its input's shape, with a refusal naming the layer where the
//! sizes do not fit (windows larger than the input, strides of zero...).

use crate::error::{Error, Result};
use crate::model::desc::{LayerDesc, Padding, Size};
pub use crate::model::layer::shape_name;
use crate::model::layer::{LayerKind, Norm, Shape, Skip, Window};
use crate::model::residual::projection;
use crate::op::Activation;

/// What a layer becomes: its kind, output shape and activation.
pub struct Built {
    pub kind: LayerKind,
    pub out: Shape,
    pub act: Activation,
    /// Whether the layer adds a bias (kinds with one).
    pub bias: bool,
}

/// A block on its input: each body layer with its input shape, and the end.
pub struct Block {
    pub body: Vec<(Shape, Built)>,
    pub end: Built,
}

/// The block of `layers` on `input`. Body layers take `act` (the model's
/// hidden activation; none for batch normalization) unless they give their
/// own, but the last, whose output is summed before the block's `end_act`.
pub fn block(
    what: &str,
    layers: &[LayerDesc],
    input: Shape,
    act: Activation,
    end_act: Activation,
) -> Result<Block> {
    let bad = |m: String| Err(Error::InvalidArgument(format!("{what}: {m}")));
    if layers.is_empty() {
        return bad("a residual block needs at least one layer in `layers`".into());
    }
    let mut shape = input;
    let mut body = Vec::new();
    for (i, d) in layers.iter().enumerate() {
        let inner = format!("{what}, layer {i} ({})", d.kind_name());
        if matches!(d, LayerDesc::Residual { .. }) {
            return bad(format!(
                "layer {i} is a residual block inside a residual block; list the blocks one \
                 after another instead"
            ));
        }
        let last = i + 1 == layers.len();
        let own = match (last, d.act()) {
            (true, Some(a)) if a != Activation::Identity => {
                return bad(format!(
                    "its last layer ({}) has act = \"{a}\", but the block's activation applies \
                     after the sum; give it as the block's `act`",
                    d.kind_name()
                ));
            }
            (true, _) => Activation::Identity,
            (false, Some(a)) => a,
            (false, None) if d.is_batch_norm() => Activation::Identity,
            (false, None) => act,
        };
        let b = d.build(&inner, shape, own)?;
        body.push((shape, b));
        shape = body[body.len() - 1].1.out;
    }
    let proj = projection(what, input, shape)?;
    Ok(Block {
        body,
        end: Built {
            kind: LayerKind::Residual(Skip {
                body: layers.len(),
                from: input,
                proj,
            }),
            out: shape,
            act: end_act,
            bias: true,
        },
    })
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
            // Its output shape and shortcut; `ModelConfig::layers` lays its
            // body out with the model's activations (see `block`).
            LayerDesc::Residual { layers, .. } => Ok(block(&what, layers, input, act, act)?.end),
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
