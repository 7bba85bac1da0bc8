//! What a layer as written becomes: its kind, output shape, activation and
//! bias, from its input's shape, with a refusal naming the layer where the
//! sizes do not fit (windows larger than the input, strides of zero...).

use crate::error::{Error, Result};
use crate::model::desc::LayerDesc;
pub use crate::model::layer::shape_name;
use crate::model::layer::{LayerKind, Norm, Recurrence, Rnn, Shape, Skip};
use crate::model::residual::projection;
use crate::model::window::{build_window, one_d, positive, spatial2};
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

impl LayerDesc {
    /// The layer on an input of shape `input`, with `act` (the layer's own
    /// or the model's default for its place). `what` names it in errors.
    pub fn build(&self, what: &str, input: Shape, act: Activation) -> Result<Built> {
        let [c, h, w] = input;
        let what = format!("{what} on input {}", shape_name(input));
        let act = if self.has_act() {
            act
        } else {
            Activation::Identity
        };
        let (kind, out) = if let Some(win) = self.window() {
            build_window(&what, input, &win)?
        } else {
            match self {
                LayerDesc::Dense { units, .. } => {
                    positive(&what, &[("units", *units)])?;
                    (LayerKind::Dense, [*units, 1, 1])
                }
                LayerDesc::Upsample2d { factor } => upsample(&what, input, factor.hw(), false)?,
                LayerDesc::Upsample1d { factor } => upsample(&what, input, (1, *factor), true)?,
                LayerDesc::BatchNorm1d { momentum, eps, .. } => {
                    (batch_norm(&what, input, *momentum, *eps, false)?, input)
                }
                LayerDesc::BatchNorm2d { momentum, eps, .. } => {
                    (batch_norm(&what, input, *momentum, *eps, true)?, input)
                }
                // Its output shape and shortcut; `ModelConfig::layers` lays
                // its body out with the model's activations (see `block`).
                LayerDesc::Residual { layers, .. } => {
                    return Ok(block(&what, layers, input, act, act)?.end)
                }
                LayerDesc::Lstm {
                    hidden,
                    return_sequences,
                } => recurrent(&what, input, Recurrence::Lstm, *hidden, *return_sequences)?,
                LayerDesc::Gru {
                    hidden,
                    return_sequences,
                } => recurrent(&what, input, Recurrence::Gru, *hidden, *return_sequences)?,
                LayerDesc::Repeat { times } => {
                    positive(&what, &[("times", *times)])?;
                    if h != 1 || w != 1 {
                        return Err(Error::InvalidArgument(format!(
                            "{what}: repeat copies a vector, but its input is shaped {}; \
                             flatten it first",
                            shape_name(input)
                        )));
                    }
                    (LayerKind::Repeat { times: *times }, [*times, 1, c])
                }
                LayerDesc::TimeDense { units, .. } => {
                    positive(&what, &[("units", *units)])?;
                    if h != 1 {
                        return Err(Error::InvalidArgument(format!(
                            "{what}: time_dense reads a sequence [steps, features], not an \
                             image; reshape it first"
                        )));
                    }
                    (LayerKind::StepDense, [c, 1, *units])
                }
                LayerDesc::Flatten => (LayerKind::Reshape { flatten: true }, [c * h * w, 1, 1]),
                LayerDesc::Permute => {
                    if h != 1 || w == 1 {
                        return Err(Error::InvalidArgument(format!(
                            "{what}: permute swaps a sequence's two axes ([channels, length] \
                             and [steps, features]), but its input is shaped {}",
                            shape_name(input)
                        )));
                    }
                    (LayerKind::Permute, [w, 1, c])
                }
                LayerDesc::Reshape { shape } => (
                    LayerKind::Reshape { flatten: false },
                    reshape(&what, input, shape)?,
                ),
                LayerDesc::Conv2d { .. }
                | LayerDesc::Conv1d { .. }
                | LayerDesc::ConvTranspose2d { .. }
                | LayerDesc::ConvTranspose1d { .. }
                | LayerDesc::MaxPool2d { .. }
                | LayerDesc::MaxPool1d { .. }
                | LayerDesc::AvgPool2d { .. }
                | LayerDesc::AvgPool1d { .. } => {
                    return Err(Error::Internal {
                        op: what,
                        message: "a window layer without its window".into(),
                    })
                }
            }
        };
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
    }
}

/// Nearest-neighbour upsampling by (fh, fw).
fn upsample(
    what: &str,
    input: Shape,
    (fh, fw): (usize, usize),
    one_d: bool,
) -> Result<(LayerKind, Shape)> {
    let [c, h, w] = input;
    if one_d {
        positive(what, &[("factor", fw)])?;
        self::one_d(what, h)?;
    } else {
        spatial2(what, "Upsample2d", input)?;
        positive(what, &[("factor", fh.min(fw))])?;
    }
    Ok((LayerKind::Upsample { fh, fw, one_d }, [c, h * fh, w * fw]))
}

/// A recurrent layer over `input`, a sequence `[T, 1, F]` (time steps
/// first; a flat vector is a sequence of one feature per step).
fn recurrent(
    what: &str,
    input: Shape,
    cell: Recurrence,
    hidden: usize,
    return_sequences: bool,
) -> Result<(LayerKind, Shape)> {
    positive(what, &[("hidden", hidden)])?;
    if input[1] != 1 {
        return Err(Error::InvalidArgument(format!(
            "{what}: a recurrent layer reads a sequence [steps, features], not an image; \
             flatten or reshape it first"
        )));
    }
    let r = Rnn {
        cell,
        hidden,
        return_sequences,
    };
    let out = if return_sequences {
        [input[0], 1, hidden]
    } else {
        [hidden, 1, 1]
    };
    Ok((LayerKind::Recurrent(r), out))
}

/// Batch normalization with PyTorch's defaults for what is not given.
fn batch_norm(
    what: &str,
    input: Shape,
    momentum: Option<f32>,
    eps: Option<f32>,
    two_d: bool,
) -> Result<LayerKind> {
    if two_d {
        spatial2(what, "BatchNorm2d", input)?;
    } else if input[1] != 1 {
        return Err(Error::InvalidArgument(format!(
            "{what}: BatchNorm1d normalizes features or a sequence's channels, but its input \
             is an image; use type = \"batch_norm2d\""
        )));
    }
    let momentum = momentum.unwrap_or(Norm::MOMENTUM);
    let eps = eps.unwrap_or(Norm::EPS);
    if !(0.0..=1.0).contains(&momentum) {
        return Err(Error::InvalidArgument(format!(
            "{what}: momentum {momentum} must be in [0, 1] (PyTorch's meaning: the share of \
             each batch in the running statistics; Keras' 0.99 is 0.01)"
        )));
    }
    if !(eps > 0.0 && eps.is_finite()) {
        return Err(Error::InvalidArgument(format!(
            "{what}: eps {eps} must be a positive number"
        )));
    }
    Ok(LayerKind::BatchNorm(Norm {
        momentum,
        eps,
        two_d,
    }))
}

/// The shape `shape` (1 to 3 sizes, channels first) of the same values.
fn reshape(what: &str, input: Shape, shape: &[usize]) -> Result<Shape> {
    let n = input.iter().product::<usize>();
    let out = match shape {
        [n] => [*n, 1, 1],
        [c, l] => [*c, 1, *l],
        [c, h, w] => [*c, *h, *w],
        other => {
            return Err(Error::InvalidArgument(format!(
                "{what}: reshape to {other:?}: give 1 to 3 sizes, channels first"
            )))
        }
    };
    if out.iter().product::<usize>() != n {
        return Err(Error::InvalidArgument(format!(
            "{what}: cannot reshape {n} values to {}",
            shape_name(out)
        )));
    }
    Ok(out)
}
