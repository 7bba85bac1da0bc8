//! Checking a model description before anything is planned: every option
//! in range, the variants' requirements, and a layer list whose shapes fit,
//! each refusal saying what to change.

use crate::error::{Error, Result};
use crate::model::{shape, LayerDesc, LossKind, ModelConfig};
use crate::op::Activation;

impl ModelConfig {
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
        if self.missing == crate::model::Missing::Mask && self.variational.is_some() {
            return bad(
                "model: `missing` = mask with a VAE is not supported yet (its reconstruction \
                 term is a sum per row, which missing entries would change row by row); use a \
                 plain, denoising, sparse or dropout model"
                    .into(),
            );
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
        if let Some(last) = layers.last().filter(|l| !l.kind.has_act()) {
            if self.loss == LossKind::Bce || self.out_act != Activation::Identity {
                return bad(format!(
                    "model: the decoder ends in a {} layer, which applies no activation, so \
                     `out_act` {} cannot apply (and BCE needs a sigmoid output); end \
                     decoder_layers with a layer that has one (dense, a convolution), or set \
                     `out_act` identity and `loss` mse",
                    last.kind.name(),
                    self.out_act
                ));
            }
        }
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
                shape::shape_name(out),
                shape::shape_name(shape)
            ));
        }
        Ok(())
    }
}
