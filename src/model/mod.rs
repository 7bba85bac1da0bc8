//! The model description: the same thing as a Rust builder and as a TOML
//! file. A model is a list of layers ([`layer`]): an encoder down to the
//! code and a decoder back up to the input, plus the options that make each
//! classic variant, layered on top of the layers: tied weights, sparsity (L1
//! or KL), input noise (denoising), the contractive penalty, a variational
//! code, and dropout. Nothing here depends on the GPU.

pub mod desc;
pub mod layer;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
pub use crate::op::{Activation, LossKind, Noise};
pub use desc::{LayerDesc, Padding, Size};
pub use layer::{LayerKind, LayerSpec, Norm, ParamSpec, Role, Shape, WeightInit, Window};

/// KL sparsity: keep each code unit's mean activation near `rho`, weighted by `beta`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct KlSparsity {
    pub rho: f32,
    pub beta: f32,
}

/// The variational code: mean and log-variance heads, a KL term weighted by `beta`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Variational {
    #[serde(default = "one")]
    pub beta: f32,
}

fn one() -> f32 {
    1.0
}

/// The named variants users know; each sets the options of [`ModelConfig`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    Plain,
    Sparse,
    KlSparse,
    Denoising,
    Contractive,
    Vae,
}

impl FromStr for Variant {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "plain" | "dense" | "deep" => Variant::Plain,
            "sparse" | "l1" => Variant::Sparse,
            "kl-sparse" | "kl_sparse" | "kl" => Variant::KlSparse,
            "denoising" | "dae" => Variant::Denoising,
            "contractive" | "cae" => Variant::Contractive,
            "vae" | "variational" => Variant::Vae,
            other => {
                return Err(Error::InvalidArgument(format!(
                "unknown variant '{other}' (plain, sparse, kl-sparse, denoising, contractive, vae)"
            )))
            }
        })
    }
}

/// An autoencoder. Serializes to and from TOML (see `examples/*.toml`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Width of the input (784 for MNIST); with `input_shape`, its product.
    #[serde(default)]
    pub input_dim: usize,
    /// The shape of a sample, channels first: `[1, 28, 28]` for MNIST,
    /// `[channels, length]` for a sequence. Needed by convolutional layers.
    #[serde(default)]
    pub input_shape: Option<Vec<usize>>,
    /// Encoder widths after the input, the last being the code: `[128, 32]`
    /// (Dense layers; leave empty with `encoder_layers`).
    #[serde(default)]
    pub encoder: Vec<usize>,
    /// The encoder as a list of layers (convolutions, pooling, Dense...),
    /// the last one's output being the code. Replaces `encoder`.
    #[serde(default)]
    pub encoder_layers: Option<Vec<LayerDesc>>,
    /// The decoder as a list of layers, the last one's output the
    /// reconstruction (which must have the input's shape). Without it, the
    /// encoder is mirrored: each layer undone in reverse order.
    #[serde(default)]
    pub decoder_layers: Option<Vec<LayerDesc>>,
    /// Decoder hidden widths; `None` mirrors the encoder.
    #[serde(default)]
    pub decoder: Option<Vec<usize>>,
    /// Activation of the hidden layers.
    #[serde(default = "default_act", with = "as_string")]
    pub act: Activation,
    /// Activation of the code layer (default: `act`). Ignored for a VAE,
    /// whose code is the linear mean/log-variance head.
    #[serde(default, with = "opt_as_string")]
    pub code_act: Option<Activation>,
    /// Activation of the output layer. BCE needs sigmoid.
    #[serde(default = "default_out_act", with = "as_string")]
    pub out_act: Activation,
    #[serde(default = "default_loss")]
    pub loss: LossKind,
    /// The decoder uses the transposes of the encoder's weights.
    #[serde(default)]
    pub tied: bool,
    /// Dropout probability on hidden layer outputs during training.
    #[serde(default)]
    pub dropout: f32,
    /// Input corruption during training (denoising): the loss is taken
    /// against the clean input.
    #[serde(default, with = "opt_as_string")]
    pub noise: Option<Noise>,
    /// L1 activity penalty on the code: `l1 * sum |h|` per sample.
    #[serde(default)]
    pub l1: f32,
    #[serde(default)]
    pub kl_sparsity: Option<KlSparsity>,
    /// Contractive penalty weight lambda on `||dh/dx||_F^2` (one-layer encoders).
    #[serde(default)]
    pub contractive: f32,
    #[serde(default)]
    pub variational: Option<Variational>,
}

fn default_act() -> Activation {
    Activation::Relu
}
fn default_out_act() -> Activation {
    Activation::Sigmoid
}
fn default_loss() -> LossKind {
    LossKind::Bce
}

mod as_string {
    use super::*;
    pub fn serialize<S: serde::Serializer, T: fmt::Display>(
        v: &T,
        s: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>, T: FromStr<Err = Error>>(
        d: D,
    ) -> std::result::Result<T, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

pub(crate) mod opt_as_string {
    use super::*;
    pub fn serialize<S: serde::Serializer, T: fmt::Display>(
        v: &Option<T>,
        s: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_str(&v.to_string()),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>, T: FromStr<Err = Error>>(
        d: D,
    ) -> std::result::Result<Option<T>, D::Error> {
        let s = Option::<String>::deserialize(d)?;
        s.map(|s| s.parse().map_err(serde::de::Error::custom))
            .transpose()
    }
}

impl ModelConfig {
    /// A dense autoencoder `input -> encoder widths -> mirrored decoder -> input`
    /// with relu hidden layers, a sigmoid output and BCE: the classic Keras setup.
    pub fn dense(input_dim: usize, encoder: &[usize]) -> Self {
        Self {
            input_dim,
            input_shape: None,
            encoder: encoder.to_vec(),
            encoder_layers: None,
            decoder_layers: None,
            decoder: None,
            act: Activation::Relu,
            code_act: None,
            out_act: Activation::Sigmoid,
            loss: LossKind::Bce,
            tied: false,
            dropout: 0.0,
            noise: None,
            l1: 0.0,
            kl_sparsity: None,
            contractive: 0.0,
            variational: None,
        }
    }

    pub fn act(mut self, a: Activation) -> Self {
        self.act = a;
        self
    }
    pub fn code_act(mut self, a: Activation) -> Self {
        self.code_act = Some(a);
        self
    }
    pub fn out_act(mut self, a: Activation) -> Self {
        self.out_act = a;
        self
    }
    pub fn loss(mut self, l: LossKind) -> Self {
        self.loss = l;
        self
    }
    pub fn decoder(mut self, widths: &[usize]) -> Self {
        self.decoder = Some(widths.to_vec());
        self
    }
    pub fn tied(mut self, t: bool) -> Self {
        self.tied = t;
        self
    }
    pub fn dropout(mut self, p: f32) -> Self {
        self.dropout = p;
        self
    }
    pub fn noise(mut self, n: Noise) -> Self {
        self.noise = Some(n);
        self
    }
    pub fn l1(mut self, l: f32) -> Self {
        self.l1 = l;
        self
    }
    pub fn kl_sparsity(mut self, rho: f32, beta: f32) -> Self {
        self.kl_sparsity = Some(KlSparsity { rho, beta });
        self
    }
    pub fn contractive(mut self, lambda: f32) -> Self {
        self.contractive = lambda;
        self
    }
    pub fn variational(mut self, beta: f32) -> Self {
        self.variational = Some(Variational { beta });
        self
    }

    /// Applies a named variant's defaults on top of this config (a sparse
    /// model gets l1 = 1e-4 unless one is set, a denoising one mask:0.25 noise...).
    pub fn with_variant(mut self, v: Variant) -> Self {
        match v {
            Variant::Plain => {}
            Variant::Sparse => {
                if self.l1 == 0.0 {
                    self.l1 = 1e-4;
                }
            }
            Variant::KlSparse => {
                if self.kl_sparsity.is_none() {
                    self.kl_sparsity = Some(KlSparsity {
                        rho: 0.05,
                        beta: 1.0,
                    });
                }
                // KL sparsity reads the code's units as probabilities,
                // whatever set its rho and beta.
                if self.code_act.is_none() {
                    self.code_act = Some(Activation::Sigmoid);
                }
            }
            Variant::Denoising => {
                if self.noise.is_none() {
                    self.noise = Some(Noise::Mask(0.25));
                }
            }
            Variant::Contractive => {
                if self.contractive == 0.0 {
                    self.contractive = 1e-2;
                }
                if self.code_act.is_none() {
                    self.code_act = Some(Activation::Sigmoid);
                }
            }
            Variant::Vae => {
                if self.variational.is_none() {
                    self.variational = Some(Variational { beta: 1.0 });
                }
            }
        }
        self
    }

    pub fn from_toml(text: &str) -> Result<Self> {
        let cfg: Self = toml::from_str(text)
            .map_err(|e| Error::InvalidArgument(format!("model config: {e}")))?;
        Ok(cfg.with_input_dim_from_shape())
    }

    /// `input_dim` from `input_shape` when only the shape is given.
    pub fn with_input_dim_from_shape(mut self) -> Self {
        if self.input_dim == 0 {
            if let Some(s) = &self.input_shape {
                self.input_dim = s.iter().product();
            }
        }
        self
    }

    pub fn to_toml(&self) -> String {
        crate::toml_text::to_string(self).expect("a model config always serializes")
    }

    /// A convolutional (or any layer-list) model of samples shaped `shape`
    /// (channels first), with the sigmoid output and BCE of [`Self::dense`].
    pub fn layered(shape: &[usize], encoder: Vec<LayerDesc>, decoder: Vec<LayerDesc>) -> Self {
        Self {
            input_dim: shape.iter().product(),
            input_shape: Some(shape.to_vec()),
            encoder_layers: Some(encoder),
            decoder_layers: Some(decoder),
            ..Self::dense(0, &[])
        }
    }

    /// Whether the model is a list of layers (`encoder_layers`) rather than
    /// Dense widths.
    pub fn is_layered(&self) -> bool {
        self.encoder_layers.is_some()
    }

    /// The shape of a sample: `input_shape` (a sequence's `[c, l]` as
    /// `[c, 1, l]`), or the flat `[input_dim, 1, 1]`.
    pub fn sample_shape(&self) -> Result<Shape> {
        match self.input_shape.as_deref() {
            None => Ok([self.input_dim, 1, 1]),
            Some([n]) => Ok([*n, 1, 1]),
            Some([c, l]) => Ok([*c, 1, *l]),
            Some([c, h, w]) => Ok([*c, *h, *w]),
            Some(other) => Err(Error::InvalidArgument(format!(
                "model: input_shape {other:?} should be [features], [channels, length] or \
                 [channels, height, width]"
            ))),
        }
    }

    /// The code width: values per sample of the last encoder layer (a VAE's
    /// latent size, half its head).
    pub fn code_dim(&self) -> usize {
        if !self.is_layered() {
            return *self.encoder.last().unwrap_or(&0);
        }
        let layers = self.layers();
        match layers.iter().rfind(|l| l.encoder) {
            Some(l) if l.role == Role::VaeHead => l.outputs / 2,
            Some(l) => l.outputs,
            None => 0,
        }
    }

    /// The architecture in one word: `784-128-32-128-784` for Dense widths,
    /// `1x28x28-8x4x4-1x28x28` (input, code, output) for a layer list.
    pub fn arch_name(&self) -> String {
        if !self.is_layered() {
            let mut parts = vec![self.input_dim.to_string()];
            parts.extend(self.encoder.iter().map(|w| w.to_string()));
            parts.extend(self.decoder_widths().iter().map(|w| w.to_string()));
            parts.push(self.input_dim.to_string());
            return parts.join("-");
        }
        let layers = self.layers();
        let shape = self.sample_shape().unwrap_or([self.input_dim, 1, 1]);
        let code = layers
            .iter()
            .rfind(|l| l.encoder)
            .map_or(shape, |l| l.out_shape);
        let out = layers.last().map_or(shape, |l| l.out_shape);
        format!(
            "{}-{}-{}",
            desc::shape_name(shape),
            desc::shape_name(code),
            desc::shape_name(out)
        )
    }

    /// A table of the layers, as Keras' `model.summary()` prints it: each
    /// layer's PyTorch type, output shape, parameter count and activation.
    pub fn summary(&self) -> String {
        let layers = self.layers();
        let n_enc = layers.iter().filter(|l| l.encoder).count();
        let mut out = format!(
            "{:<14} {:<16} {:>14} {:>9}  {}\n",
            "layer", "type", "output shape", "params", "activation"
        );
        let mut total = 0;
        for l in &layers {
            let name = l.module_name(n_enc);
            let params = l.own_parameter_count();
            total += params;
            let role = match l.role {
                Role::Code => " (code)",
                Role::VaeHead => " (mean | log-variance)",
                _ => "",
            };
            out += &format!(
                "{:<14} {:<16} {:>14} {:>9}  {}{}\n",
                name,
                l.kind.name(),
                desc::shape_name(l.out_shape),
                params,
                if l.kind.has_params() {
                    l.act.to_string()
                } else {
                    String::new()
                },
                role
            );
        }
        out += &format!("total parameters: {total}\n");
        out
    }

    /// How many layers the encoder has (the code's layer is the last).
    pub fn encoder_len(&self) -> usize {
        match &self.encoder_layers {
            Some(l) => l.len(),
            None => self.encoder.len(),
        }
    }

    pub fn code_activation(&self) -> Activation {
        if self.variational.is_some() {
            Activation::Identity
        } else {
            self.code_act.unwrap_or(self.act)
        }
    }

    fn decoder_widths(&self) -> Vec<usize> {
        match &self.decoder {
            Some(d) => d.clone(),
            None => self.encoder.iter().rev().skip(1).copied().collect(),
        }
    }

    /// Checks the config and says what to change when something is off.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidArgument(m));
        if self.input_dim == 0 {
            return bad("model: input_dim must be at least 1".into());
        }
        if self.is_layered() {
            self.validate_layered()?;
        } else if self.encoder.is_empty() {
            return bad("model: the encoder needs at least one layer (the code)".into());
        }
        if self
            .encoder
            .iter()
            .chain(self.decoder.iter().flatten())
            .any(|&w| w == 0)
        {
            return bad("model: every layer width must be at least 1".into());
        }
        for a in [self.act, self.out_act, self.code_activation()] {
            if a == Activation::Softmax {
                return bad(
                    "model: softmax is not supported as a layer activation of an autoencoder"
                        .into(),
                );
            }
        }
        if self.loss == LossKind::Bce && self.out_act != Activation::Sigmoid {
            return bad(format!(
                "model: BCE needs a sigmoid output, but out_act is {}; set `out_act` to sigmoid or `loss` to mse",
                self.out_act
            ));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return bad(format!("model: dropout {} must be in [0, 1)", self.dropout));
        }
        if let Some(n) = self.noise {
            n.validate()?;
        }
        if !(self.l1 >= 0.0 && self.l1.is_finite()) {
            return bad(format!("model: l1 {} must be >= 0", self.l1));
        }
        if let Some(k) = self.kl_sparsity {
            if !(k.rho > 0.0 && k.rho < 1.0) || k.beta.is_nan() || k.beta < 0.0 {
                return bad(format!(
                    "model: KL sparsity needs 0 < rho < 1 and beta >= 0, got rho {} beta {}",
                    k.rho, k.beta
                ));
            }
            if self.code_activation() != Activation::Sigmoid {
                return bad("model: KL sparsity compares mean activations with rho, so the code needs a sigmoid activation (`code_act` sigmoid)".into());
            }
        }
        if !(self.contractive >= 0.0 && self.contractive.is_finite()) {
            return bad(format!(
                "model: contractive weight {} must be >= 0",
                self.contractive
            ));
        }
        if self.contractive > 0.0 {
            if self.encoder.len() != 1 {
                return bad(format!(
                    "model: the contractive penalty is computed exactly for a one-layer encoder; this one has {} layers ({:?})",
                    self.encoder.len(),
                    self.encoder
                ));
            }
            if !self.code_activation().derivatives_from_output() {
                return bad(format!(
                    "model: the contractive penalty needs a sigmoid, tanh, relu, leaky relu or identity code, not {}",
                    self.code_activation()
                ));
            }
        }
        if let Some(v) = self.variational {
            if !(v.beta >= 0.0 && v.beta.is_finite()) {
                return bad(format!("model: VAE beta {} must be >= 0", v.beta));
            }
            if self.tied {
                return bad("model: a VAE's mean/log-variance head has no mirror, so it cannot use tied weights".into());
            }
            if self.l1 > 0.0 || self.kl_sparsity.is_some() || self.contractive > 0.0 {
                return bad("model: a VAE already regularizes its code with the KL term; drop l1, kl_sparsity and contractive".into());
            }
        }
        if self.tied && self.decoder.is_some() {
            return bad(
                "model: tied weights need the mirrored decoder; drop the explicit decoder widths"
                    .into(),
            );
        }
        Ok(())
    }

    /// What only a layer-list model needs: both lists, shapes that chain,
    /// an output of the input's shape, and variants that apply.
    fn validate_layered(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidArgument(m));
        let shape = self.sample_shape()?;
        if shape.iter().product::<usize>() != self.input_dim {
            return bad(format!(
                "model: input_shape {:?} holds {} values but input_dim is {}",
                self.input_shape.as_deref().unwrap_or(&[]),
                shape.iter().product::<usize>(),
                self.input_dim
            ));
        }
        if !self.encoder.is_empty() || self.decoder.is_some() {
            return bad(
                "model: give the encoder as encoder_layers or as encoder widths, not both".into(),
            );
        }
        let Some(enc) = &self.encoder_layers else {
            return bad("model: decoder_layers need encoder_layers".into());
        };
        let dec = self.decoder_descs()?;
        if enc.is_empty() || dec.is_empty() {
            return bad(
                "model: encoder_layers and decoder_layers each need at least one layer".into(),
            );
        }
        if self.tied {
            return bad(
                "model: tied weights are for Dense widths (encoder = [...]), not layer lists"
                    .into(),
            );
        }
        if self.variational.is_some() && !matches!(enc.last(), Some(LayerDesc::Dense { .. })) {
            return bad("model: a VAE's code is a Dense layer (its mean and log-variance head); end encoder_layers with type = \"dense\"".into());
        }
        if self.contractive > 0.0 && !(enc.len() == 1 && matches!(enc[0], LayerDesc::Dense { .. }))
        {
            return bad(
                "model: the contractive penalty is computed exactly for a one-layer Dense encoder"
                    .into(),
            );
        }
        let layers = self.try_layers()?;
        let out = layers.last().map(|l| l.out_shape).unwrap_or(shape);
        if out != shape {
            let fix = if self.decoder_layers.is_some() {
                "change the decoder so that it returns to the input's shape"
            } else {
                "the mirrored encoder does not undo itself here (pooling an odd size with \
                 'same' padding, say); give decoder_layers"
            };
            return bad(format!(
                "model: the decoder ends in {} values shaped {}, but the input is shaped {}; {fix}",
                out.iter().product::<usize>(),
                desc::shape_name(out),
                desc::shape_name(shape)
            ));
        }
        Ok(())
    }

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
        for (j, d) in enc.iter().chain(dec).enumerate() {
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
            let b = d.build(&what, shape, act)?;
            out.push(LayerSpec {
                index: out.len(),
                kind: b.kind,
                in_shape: shape,
                out_shape: b.out,
                inputs: shape.iter().product(),
                outputs: b.out.iter().product(),
                act: b.act,
                role,
                tied_to: None,
                encoder,
                bias: b.bias,
            });
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
    fn decoder_descs(&self) -> Result<Vec<LayerDesc>> {
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
        // Each encoder layer's input shape, from a decoder-less build.
        let mut shapes = Vec::new();
        let mut shape = self.sample_shape()?;
        for (i, d) in enc.iter().enumerate() {
            shapes.push(shape);
            let what = format!("model: encoder layer {i} ({})", d.kind_name());
            shape = d.build(&what, shape, Activation::Identity)?.out;
        }
        let mut out = Vec::new();
        for (i, (d, input)) in enc.iter().zip(shapes).enumerate().rev() {
            let [c, h, w] = input;
            let one_d = h == 1 && w > 1 && self.sample_shape()?[1] == 1;
            match d {
                LayerDesc::Conv2d { kernel, stride, .. } => out.push(if *stride == Size::One(1) {
                    LayerDesc::Conv2d {
                        filters: c,
                        kernel: *kernel,
                        stride: Size::One(1),
                        padding: Padding::same(),
                        dilation: Size::One(1),
                        act: None,
                        bias: true,
                    }
                } else {
                    LayerDesc::ConvTranspose2d {
                        filters: c,
                        kernel: *kernel,
                        stride: *stride,
                        padding: Padding::same(),
                        output_padding: None,
                        act: None,
                        bias: true,
                    }
                }),
                LayerDesc::Conv1d { kernel, stride, .. } => out.push(if *stride == 1 {
                    LayerDesc::Conv1d {
                        filters: c,
                        kernel: *kernel,
                        stride: 1,
                        padding: Padding::same(),
                        dilation: 1,
                        act: None,
                        bias: true,
                    }
                } else {
                    LayerDesc::ConvTranspose1d {
                        filters: c,
                        kernel: *kernel,
                        stride: *stride,
                        padding: Padding::same(),
                        output_padding: None,
                        act: None,
                        bias: true,
                    }
                }),
                LayerDesc::MaxPool2d { size, stride, .. }
                | LayerDesc::AvgPool2d { size, stride, .. } => {
                    out.push(LayerDesc::Upsample2d {
                        factor: stride.unwrap_or(*size),
                    });
                }
                LayerDesc::MaxPool1d { size, stride, .. }
                | LayerDesc::AvgPool1d { size, stride, .. } => {
                    out.push(LayerDesc::Upsample1d {
                        factor: stride.unwrap_or(*size),
                    });
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
                other => {
                    return Err(Error::InvalidArgument(format!(
                        "model: cannot mirror a {} layer; give decoder_layers",
                        other.kind_name()
                    )))
                }
            }
        }
        // The last layer must be one that maps to the output (with an
        // activation); a trailing reshape or upsampling is followed by a
        // 'same' convolution back to the input's channels.
        if !out.last().is_some_and(LayerDesc::has_act) {
            let c = self.sample_shape()?[0];
            out.push(if self.sample_shape()?[1] == 1 {
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
            });
            prev = w;
        }
        out
    }

    /// Floating-point operations of one forward pass, per sample (each
    /// layer's products; elementwise work is not counted).
    pub fn forward_flops_per_sample(&self) -> f64 {
        self.layers().iter().map(LayerSpec::forward_flops).sum()
    }

    /// Floating-point operations of one training step, per sample: the
    /// forward pass, the parameter gradients, and the input gradients of
    /// every layer but the first. Elementwise work is not counted.
    pub fn train_flops_per_sample(&self) -> f64 {
        self.layers().iter().map(LayerSpec::train_flops).sum()
    }

    /// Trainable parameter count (a tied layer's shared weight counts once).
    pub fn parameter_count(&self) -> usize {
        self.layers()
            .iter()
            .map(LayerSpec::own_parameter_count)
            .sum()
    }
}
