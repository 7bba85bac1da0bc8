//! The model description: the same thing as a Rust builder and as a TOML
//! file. A model is a list of layers ([`layer`]): an encoder down to the
//! code and a decoder back up to the input, plus the options that make each
//! classic variant, layered on top of the layers: tied weights, sparsity (L1
//! or KL), input noise (denoising), the contractive penalty, a variational
//! code, and dropout. Nothing here depends on the GPU.

mod build;
pub mod desc;
pub mod layer;
mod residual;
pub mod shape;
mod text;
mod validate;
mod window;

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
pub use crate::op::{Activation, LossKind, Noise};
pub use desc::{LayerDesc, Padding, Size};
pub use layer::{
    LayerKind, LayerSpec, Norm, ParamSpec, Projection, Recurrence, Role, Shape, Skip, WeightInit,
    Window,
};
pub use shape::{shape_name, Built};

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
    #[serde(default = "default_act", with = "text::as_string")]
    pub act: Activation,
    /// Activation of the code layer (default: `act`). Ignored for a VAE,
    /// whose code is the linear mean/log-variance head.
    #[serde(default, with = "text::opt_as_string")]
    pub code_act: Option<Activation>,
    /// Activation of the output layer. BCE needs sigmoid.
    #[serde(default = "default_out_act", with = "text::as_string")]
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
    #[serde(default, with = "text::opt_as_string")]
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
    /// What a missing entry (NaN, an empty CSV cell) means: refused
    /// (`refuse`, the default), or left out of the loss (`mask`: the model
    /// reads it as 0, and the loss is the mean over the observed entries).
    #[serde(default, skip_serializing_if = "Missing::is_refuse")]
    pub missing: Missing,
}

/// What a missing entry in the data means.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Missing {
    /// NaN is refused, naming where it is.
    #[default]
    Refuse,
    /// Missing entries are masked out of the loss (and read as 0).
    Mask,
}

impl Missing {
    fn is_refuse(&self) -> bool {
        *self == Missing::Refuse
    }
}

impl std::str::FromStr for Missing {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "refuse" => Ok(Missing::Refuse),
            "mask" => Ok(Missing::Mask),
            _ => Err(format!("'{s}': give refuse or mask")),
        }
    }
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
            missing: Missing::Refuse,
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

    /// The same model with missing entries masked out of the loss.
    pub fn masked(mut self) -> Self {
        self.missing = Missing::Mask;
        self
    }

    pub fn to_toml(&self) -> String {
        crate::toml_text::to_string(self).expect("a model config always serializes")
    }

    /// A layer-list model's mirrored decoder as TOML (`[[decoder_layers]]`
    /// tables), which a model file carries beside the model so that other
    /// tools (PyTorch) can build the same modules; none where the decoder
    /// is given or the model is Dense widths.
    pub fn mirrored_decoder_toml(&self) -> Option<String> {
        #[derive(serde::Serialize)]
        struct Decoder {
            decoder_layers: Vec<LayerDesc>,
        }
        if self.decoder_layers.is_some() || !self.is_layered() {
            return None;
        }
        let decoder_layers = self.decoder_descs().ok()?;
        crate::toml_text::to_string(&Decoder { decoder_layers }).ok()
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
            shape::shape_name(shape),
            shape::shape_name(code),
            shape::shape_name(out)
        )
    }

    /// A table of the layers, as Keras' `model.summary()` prints it: each
    /// layer's PyTorch type, output shape, parameter count and activation.
    pub fn summary(&self) -> String {
        let layers = self.layers();
        let width = layers
            .iter()
            .map(|l| l.module_name().len())
            .max()
            .unwrap_or(0)
            .max(14);
        let mut out = format!(
            "{:<width$} {:<16} {:>14} {:>9}  {}\n",
            "layer", "type", "output shape", "params", "activation"
        );
        let mut total = 0;
        for l in &layers {
            let name = l.module_name();
            let params = l.own_parameter_count();
            total += params;
            let role = match l.role {
                Role::Code => " (code)",
                Role::VaeHead => " (mean | log-variance)",
                _ => "",
            };
            out += &format!(
                "{:<width$} {:<16} {:>14} {:>9}  {}{}\n",
                name,
                l.kind.name(),
                shape::shape_name(l.out_shape),
                params,
                if l.kind.has_act() {
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

    /// How many layers the encoder has, a residual block's body and end
    /// each counted (the code's layer is the last).
    pub fn encoder_len(&self) -> usize {
        self.layers().iter().filter(|l| l.encoder).count()
    }

    pub fn code_activation(&self) -> Activation {
        if self.variational.is_some() {
            Activation::Identity
        } else {
            self.code_act.unwrap_or(self.act)
        }
    }

    pub(crate) fn decoder_widths(&self) -> Vec<usize> {
        match &self.decoder {
            Some(d) => d.clone(),
            None => self.encoder.iter().rev().skip(1).copied().collect(),
        }
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
