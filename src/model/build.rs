//! A model description as its layers in forward order: a layer list as
//! written, the Dense widths, and the decoder that mirrors an encoder.

use crate::error::{Error, Result};
use crate::model::shape::{self, Built};
use crate::model::{LayerDesc, LayerKind, LayerSpec, ModelConfig, Padding, Role, Shape};
use crate::op::Activation;

impl ModelConfig {
    /// The layers in forward order (of a valid config: see [`Self::validate`]).
    pub fn layers(&self) -> Vec<LayerSpec> {
        self.try_layers().unwrap_or_default()
    }

    /// The layers in forward order, or the first layer that does not fit
    /// its input.
    pub fn try_layers(&self) -> Result<Vec<LayerSpec>> {
        let Some(enc) = &self.encoder_layers else {
            return Ok(self.dense_layers());
        };
        let dec = &self.decoder_descs()?;
        let mut out: Vec<LayerSpec> = Vec::new();
        let mut shape = self.sample_shape()?;
        let n_enc = enc.len();
        let mut prev: Option<&LayerDesc> = None;
        for (j, d) in enc.iter().chain(dec).enumerate() {
            let after_flat = matches!(prev, Some(LayerDesc::Flatten | LayerDesc::Dense { .. }));
            prev = Some(d);
            let encoder = j < n_enc;
            let last_enc = j + 1 == n_enc;
            let last = j + 1 == n_enc + dec.len();
            let (role, default_act) = if last_enc && self.variational.is_some() {
                (Role::VaeHead, Activation::Identity)
            } else if last_enc {
                (Role::Code, self.code_activation())
            } else if last {
                (Role::Output, self.out_act)
            } else {
                (Role::Hidden, self.act)
            };
            let what = format!(
                "model: {} layer {} ({})",
                if encoder { "encoder" } else { "decoder" },
                if encoder { j } else { j - n_enc },
                d.kind_name()
            );
            // A flat vector would read as steps of one feature each: almost
            // surely not what was meant.
            if after_flat && matches!(d, LayerDesc::Lstm { .. } | LayerDesc::Gru { .. }) {
                return Err(Error::InvalidArgument(format!(
                    "{what}: a recurrent layer reads a sequence [steps, features], but the layer \
                     before gives a flat vector (it would read as {} steps of one feature); \
                     repeat it to steps first (type = \"repeat\") or reshape it to [steps, \
                     features]",
                    shape.iter().product::<usize>()
                )));
            }
            // A VAE's head is linear and twice the latent width.
            let (d, act) = match (role, d) {
                (Role::VaeHead, LayerDesc::Dense { units, .. }) => {
                    (LayerDesc::dense(2 * units), Activation::Identity)
                }
                (Role::Output, _) => (d.clone(), d.act().unwrap_or(self.out_act)),
                // Batch normalization has no activation of its own in Keras
                // and PyTorch; only the code's and the output's apply.
                (Role::Hidden, _) if d.is_batch_norm() => {
                    (d.clone(), d.act().unwrap_or(Activation::Identity))
                }
                _ => (d.clone(), d.act().unwrap_or(default_act)),
            };
            let pos = if encoder { j } else { j - n_enc };
            let spec = |index, b: &Built, input: Shape, role, inner| LayerSpec {
                index,
                kind: b.kind,
                in_shape: input,
                out_shape: b.out,
                inputs: input.iter().product(),
                outputs: b.out.iter().product(),
                act: b.act,
                role,
                tied_to: None,
                encoder,
                bias: b.bias,
                pos,
                inner,
            };
            let b = match &d {
                // A block is its body's layers, then its end (which reads
                // the body's output, of its own output's shape).
                LayerDesc::Residual { layers, .. } => {
                    let block = shape::block(&what, layers, shape, self.act, act)?;
                    for (i, (input, b)) in block.body.iter().enumerate() {
                        out.push(spec(out.len(), b, *input, Role::Hidden, Some(i)));
                    }
                    out.push(spec(out.len(), &block.end, block.end.out, role, None));
                    block.end
                }
                _ => {
                    let b = d.build(&what, shape, act)?;
                    out.push(spec(out.len(), &b, shape, role, None));
                    b
                }
            };
            // The decoder reads a VAE's sampled code, half the head.
            shape = if role == Role::VaeHead {
                [b.out[0] / 2, 1, 1]
            } else {
                b.out
            };
        }
        Ok(out)
    }

    /// The decoder's layers: `decoder_layers`, or the encoder mirrored.
    pub(crate) fn decoder_descs(&self) -> Result<Vec<LayerDesc>> {
        match (&self.decoder_layers, &self.encoder_layers) {
            (Some(d), _) => Ok(d.clone()),
            (None, Some(enc)) => self.mirror(enc),
            (None, None) => Ok(Vec::new()),
        }
    }

    /// The encoder's layers in reverse, each undone: a convolution by a
    /// transposed one (stride > 1) or a 'same' convolution back to its
    /// input's channels, pooling by upsampling by its stride, Dense and
    /// Flatten by a Dense layer and a reshape to their input's shape. Where
    /// this does not return to the input's shape (pooling odd sizes with
    /// 'same' padding), validation says so: then give `decoder_layers`.
    fn mirror(&self, enc: &[LayerDesc]) -> Result<Vec<LayerDesc>> {
        let mut out = self.mirror_list(enc, self.sample_shape()?, "encoder layer")?;
        // The last layer must be one that maps to the output (with an
        // activation); a trailing reshape or upsampling is followed by a
        // 'same' convolution back to the input's channels.
        let sequence = matches!(
            enc.first(),
            Some(LayerDesc::Lstm { .. } | LayerDesc::Gru { .. })
        );
        if !out.last().is_some_and(LayerDesc::has_act) {
            let [c, _, l] = self.sample_shape()?;
            out.push(if sequence {
                // A recurrent encoder's input is [T, F]: back to F features
                // at every step.
                LayerDesc::TimeDense {
                    units: l,
                    act: None,
                    bias: true,
                }
            } else if self.sample_shape()?[1] == 1 {
                LayerDesc::Conv1d {
                    filters: c,
                    kernel: 3,
                    stride: 1,
                    padding: Padding::same(),
                    dilation: 1,
                    act: None,
                    bias: true,
                }
            } else {
                LayerDesc::conv2d(c, 3, Padding::same())
            });
        }
        Ok(out)
    }

    /// The layers `enc`, which start on `input`, in reverse, each undone
    /// (a residual block by a block around its body's mirror).
    fn mirror_list(&self, enc: &[LayerDesc], input: Shape, what: &str) -> Result<Vec<LayerDesc>> {
        // Each layer's input shape.
        let mut shapes = Vec::new();
        let mut shape = input;
        for (i, d) in enc.iter().enumerate() {
            shapes.push(shape);
            let what = format!("model: {what} {i} ({})", d.kind_name());
            shape = d.build(&what, shape, Activation::Identity)?.out;
        }
        let mut out = Vec::new();
        for (i, (d, input)) in enc.iter().zip(shapes).enumerate().rev() {
            let [c, h, w] = input;
            let one_d = h == 1 && w > 1 && self.sample_shape()?[1] == 1;
            match d {
                // A convolution or a pooling layer, 1-D or 2-D alike.
                LayerDesc::Conv2d { .. }
                | LayerDesc::Conv1d { .. }
                | LayerDesc::MaxPool2d { .. }
                | LayerDesc::MaxPool1d { .. }
                | LayerDesc::AvgPool2d { .. }
                | LayerDesc::AvgPool1d { .. } => {
                    let Some(win) = d.window() else {
                        return Err(Error::Internal {
                            op: "mirroring the encoder".into(),
                            message: format!("a {} layer without its window", d.kind_name()),
                        });
                    };
                    out.push(win.undone(c));
                }
                // A normalization stays where it was, over the same
                // channels; one on the input itself has no place on the
                // output.
                LayerDesc::BatchNorm1d { .. } | LayerDesc::BatchNorm2d { .. } => {
                    if i > 0 {
                        out.push(d.clone());
                    }
                }
                LayerDesc::Dense { .. } | LayerDesc::Flatten | LayerDesc::Reshape { .. } => {
                    if !matches!(d, LayerDesc::Flatten | LayerDesc::Reshape { .. }) {
                        out.push(LayerDesc::dense(c * h * w));
                    }
                    if h > 1 || w > 1 {
                        let shape = if one_d { vec![c, w] } else { vec![c, h, w] };
                        out.push(LayerDesc::Reshape { shape });
                    }
                }
                // A swap of axes is undone by the same swap.
                LayerDesc::Permute => out.push(LayerDesc::Permute),
                LayerDesc::Residual { layers, .. } => {
                    let what = format!("{what} {i}: residual block layer");
                    out.push(LayerDesc::residual(self.mirror_list(layers, input, &what)?));
                }
                // A recurrent layer is undone by one that returns every step
                // (after the code, whose last state is repeated to T steps).
                LayerDesc::Lstm {
                    hidden,
                    return_sequences,
                }
                | LayerDesc::Gru {
                    hidden,
                    return_sequences,
                } => {
                    if !return_sequences {
                        out.push(LayerDesc::Repeat { times: c });
                    }
                    let hidden = *hidden;
                    out.push(if matches!(d, LayerDesc::Lstm { .. }) {
                        LayerDesc::Lstm {
                            hidden,
                            return_sequences: true,
                        }
                    } else {
                        LayerDesc::Gru {
                            hidden,
                            return_sequences: true,
                        }
                    });
                }
                other => {
                    return Err(Error::InvalidArgument(format!(
                        "model: cannot mirror a {} layer; give decoder_layers",
                        other.kind_name()
                    )))
                }
            }
        }
        Ok(out)
    }

    /// The layers of a Dense-widths model.
    fn dense_layers(&self) -> Vec<LayerSpec> {
        let mut out = Vec::new();
        let n_enc = self.encoder.len();
        let mut prev = self.input_dim;
        for (i, &w) in self.encoder.iter().enumerate() {
            let is_code = i + 1 == n_enc;
            let (width, act, role) = if is_code && self.variational.is_some() {
                (2 * w, Activation::Identity, Role::VaeHead)
            } else if is_code {
                (w, self.code_activation(), Role::Code)
            } else {
                (w, self.act, Role::Hidden)
            };
            out.push(LayerSpec {
                index: out.len(),
                kind: LayerKind::Dense,
                in_shape: [prev, 1, 1],
                out_shape: [width, 1, 1],
                inputs: prev,
                outputs: width,
                act,
                role,
                tied_to: None,
                encoder: true,
                bias: true,
                pos: i,
                inner: None,
            });
            prev = w;
        }
        let dec = self.decoder_widths();
        let n_dec = dec.len() + 1;
        for (j, &w) in dec
            .iter()
            .chain(std::iter::once(&self.input_dim))
            .enumerate()
        {
            let last = j + 1 == n_dec;
            out.push(LayerSpec {
                index: out.len(),
                kind: LayerKind::Dense,
                in_shape: [prev, 1, 1],
                out_shape: [w, 1, 1],
                inputs: prev,
                outputs: w,
                act: if last { self.out_act } else { self.act },
                role: if last { Role::Output } else { Role::Hidden },
                tied_to: if self.tied { Some(n_enc - 1 - j) } else { None },
                encoder: false,
                bias: true,
                pos: j,
                inner: None,
            });
            prev = w;
        }
        out
    }
}
