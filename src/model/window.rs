//! Sliding-window layers (convolutions, transposed convolutions, pooling)
//! in one form for their 1-D and 2-D variants: their output sizes and
//! padding, their refusals, and the layer a mirrored decoder undoes each by.

use crate::error::{Error, Result};
use crate::model::desc::{LayerDesc, Padding, Size};
use crate::model::layer::{LayerKind, Shape, Window};

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

pub(crate) fn positive(what: &str, pairs: &[(&str, usize)]) -> Result<()> {
    for (name, v) in pairs {
        if *v == 0 {
            return Err(Error::InvalidArgument(format!(
                "{what}: {name} must be at least 1"
            )));
        }
    }
    Ok(())
}

/// What a sliding window does.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum WindowOp {
    Conv,
    ConvTranspose,
    MaxPool,
    AvgPool,
}

/// A sliding-window layer's settings in one form for both of its
/// dimensionalities: a 1-D layer is a 2-D one of height 1.
pub(crate) struct WindowDesc<'a> {
    op: WindowOp,
    /// Output channels (convolutions; pooling keeps its input's).
    filters: Option<usize>,
    kernel: (usize, usize),
    stride: (usize, usize),
    dilation: (usize, usize),
    padding: &'a Padding,
    output_padding: Option<(usize, usize)>,
    one_d: bool,
}

/// A size as written: one number where both dimensions agree.
fn size((h, w): (usize, usize)) -> Size {
    if h == w {
        Size::One(h)
    } else {
        Size::Two([h, w])
    }
}

impl WindowDesc<'_> {
    /// The layer that undoes this one back to `channels` (a mirrored
    /// decoder's): a strided convolution by a transposed one, a stride-1
    /// convolution by a 'same' one, pooling by upsampling by its stride.
    pub(crate) fn undone(&self, channels: usize) -> LayerDesc {
        let (k, s) = (self.kernel, self.stride);
        let (act, bias, padding) = (None, true, Padding::same());
        match (self.op, self.one_d, s == (1, 1)) {
            (WindowOp::MaxPool | WindowOp::AvgPool, true, _) => {
                LayerDesc::Upsample1d { factor: s.1 }
            }
            (WindowOp::MaxPool | WindowOp::AvgPool, false, _) => {
                LayerDesc::Upsample2d { factor: size(s) }
            }
            (WindowOp::Conv | WindowOp::ConvTranspose, true, true) => LayerDesc::Conv1d {
                filters: channels,
                kernel: k.1,
                stride: 1,
                padding,
                dilation: 1,
                act,
                bias,
            },
            (WindowOp::Conv | WindowOp::ConvTranspose, false, true) => LayerDesc::Conv2d {
                filters: channels,
                kernel: size(k),
                stride: Size::One(1),
                padding,
                dilation: Size::One(1),
                act,
                bias,
            },
            (WindowOp::Conv | WindowOp::ConvTranspose, true, false) => LayerDesc::ConvTranspose1d {
                filters: channels,
                kernel: k.1,
                stride: s.1,
                padding,
                output_padding: None,
                act,
                bias,
            },
            (WindowOp::Conv | WindowOp::ConvTranspose, false, false) => {
                LayerDesc::ConvTranspose2d {
                    filters: channels,
                    kernel: size(k),
                    stride: size(s),
                    padding,
                    output_padding: None,
                    act,
                    bias,
                }
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn win(
    op: WindowOp,
    filters: Option<usize>,
    kernel: (usize, usize),
    stride: (usize, usize),
    dilation: (usize, usize),
    padding: &Padding,
    output_padding: Option<(usize, usize)>,
    one_d: bool,
) -> WindowDesc<'_> {
    WindowDesc {
        op,
        filters,
        kernel,
        stride,
        dilation,
        padding,
        output_padding,
        one_d,
    }
}

impl LayerDesc {
    /// The window of a convolution or pooling layer, 1-D or 2-D.
    pub(crate) fn window(&self) -> Option<WindowDesc<'_>> {
        // A 1-D layer's window is one row high.
        let row = |k: usize| (1, k);
        let one = (1, 1);
        let (conv, convt) = (WindowOp::Conv, WindowOp::ConvTranspose);
        // Read by the pooling arms alone.
        let max = matches!(
            self,
            LayerDesc::MaxPool2d { .. } | LayerDesc::MaxPool1d { .. }
        );
        let pool = if max {
            WindowOp::MaxPool
        } else {
            WindowOp::AvgPool
        };
        Some(match self {
            LayerDesc::Conv2d {
                filters,
                kernel,
                stride,
                padding,
                dilation,
                ..
            } => {
                let f = Some(*filters);
                win(
                    conv,
                    f,
                    kernel.hw(),
                    stride.hw(),
                    dilation.hw(),
                    padding,
                    None,
                    false,
                )
            }
            LayerDesc::Conv1d {
                filters,
                kernel,
                stride,
                padding,
                dilation,
                ..
            } => {
                let f = Some(*filters);
                win(
                    conv,
                    f,
                    row(*kernel),
                    row(*stride),
                    row(*dilation),
                    padding,
                    None,
                    true,
                )
            }
            LayerDesc::ConvTranspose2d {
                filters,
                kernel,
                stride,
                padding,
                output_padding,
                ..
            } => {
                let (f, op) = (Some(*filters), output_padding.map(Size::hw));
                win(convt, f, kernel.hw(), stride.hw(), one, padding, op, false)
            }
            LayerDesc::ConvTranspose1d {
                filters,
                kernel,
                stride,
                padding,
                output_padding,
                ..
            } => {
                let (f, op) = (Some(*filters), output_padding.map(row));
                win(convt, f, row(*kernel), row(*stride), one, padding, op, true)
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
                let s = stride.unwrap_or(*size).hw();
                win(pool, None, size.hw(), s, one, padding, None, false)
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
                let s = row(stride.unwrap_or(*size));
                win(pool, None, row(*size), s, one, padding, None, true)
            }
            LayerDesc::Dense { .. }
            | LayerDesc::Upsample2d { .. }
            | LayerDesc::Upsample1d { .. }
            | LayerDesc::BatchNorm1d { .. }
            | LayerDesc::BatchNorm2d { .. }
            | LayerDesc::Flatten
            | LayerDesc::Permute
            | LayerDesc::Reshape { .. }
            | LayerDesc::Residual { .. }
            | LayerDesc::Lstm { .. }
            | LayerDesc::Gru { .. }
            | LayerDesc::Repeat { .. }
            | LayerDesc::TimeDense { .. } => return None,
        })
    }
}

/// A 2-D layer needs an image (or a sequence), not a flat vector.
pub(crate) fn spatial2(what: &str, name: &str, [c, h, w]: Shape) -> Result<()> {
    if h == 1 && w == 1 && c > 1 {
        return Err(Error::InvalidArgument(format!(
            "{what}: {name} needs an image (channels, height, width), but its input is a \
             flat vector; reshape it first (type = \"reshape\") or give the data's \
             shape (input_shape)"
        )));
    }
    Ok(())
}

/// A convolution, transposed convolution or pooling layer, 1-D or 2-D: its
/// kind and output shape.
pub(crate) fn build_window(what: &str, input: Shape, d: &WindowDesc) -> Result<(LayerKind, Shape)> {
    let [c, h, w] = input;
    let ((kh, kw), (sh, sw), (dh, dw)) = (d.kernel, d.stride, d.dilation);
    let pool = matches!(d.op, WindowOp::MaxPool | WindowOp::AvgPool);
    if d.one_d {
        one_d(what, h)?;
    } else {
        let name = match d.op {
            WindowOp::Conv => "Conv2d",
            WindowOp::ConvTranspose => "ConvTranspose2d",
            WindowOp::MaxPool | WindowOp::AvgPool => "pooling",
        };
        spatial2(what, name, input)?;
    }
    match d.filters {
        Some(f) => positive(
            what,
            &[
                ("filters", f),
                ("kernel", kh.min(kw)),
                ("stride", sh.min(sw)),
            ],
        )?,
        None => positive(what, &[("size", kh.min(kw)), ("stride", sh.min(sw))])?,
    }
    if d.op == WindowOp::Conv {
        positive(what, &[("dilation", dh.min(dw))])?;
    }
    // One dimension: (padding before, output size); a 1-D layer's height
    // stays 1.
    let dim = |i: usize, size, k, s, dil| -> Result<(usize, usize)> {
        if d.one_d && i == 0 {
            return Ok((0, 1));
        }
        match d.op {
            WindowOp::ConvTranspose => {
                let op = d.output_padding.map(|p| if i == 0 { p.0 } else { p.1 });
                transposed_size(what, size, k, s, d.padding, op, i)
            }
            _ => out_size(what, size, k, s, dil, d.padding, i),
        }
    };
    let (ph, oh) = dim(0, h, kh, sh, dh)?;
    let (pw, ow) = dim(1, w, kw, sw, dw)?;
    let win = Window {
        kh,
        kw,
        sh,
        sw,
        ph,
        pw,
        dh,
        dw,
        one_d: d.one_d,
    };
    if pool {
        pool_window(what, win)?;
    }
    let channels = d.filters.unwrap_or(c);
    Ok(match d.op {
        WindowOp::Conv => (LayerKind::Conv(win), [channels, oh, ow]),
        WindowOp::ConvTranspose => (LayerKind::ConvTranspose(win), [channels, oh, ow]),
        WindowOp::MaxPool => (LayerKind::MaxPool(win), [c, oh, ow]),
        WindowOp::AvgPool => (LayerKind::AvgPool(win), [c, oh, ow]),
    })
}

/// A 1-D layer needs a sequence (channels, 1, length).
pub(crate) fn one_d(what: &str, h: usize) -> Result<()> {
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
