//! The vocabulary of models and training, which depends on nothing GPU:
//! activations, input noises, losses, optimizers and their schedules, and
//! the matmul tile shapes a user may force. The model description, the
//! kernels, the f64 reference and the CLI all speak it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

// ---------------------------------------------------------------- activations

/// Activation functions. Ids match `ACT_*` in shaders/common.wgsl.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    Identity,
    Relu,
    /// Leaky ReLU with the given negative slope.
    LeakyRelu(f32),
    Sigmoid,
    Tanh,
    /// GELU in its tanh form (PyTorch's `approximate='tanh'`).
    Gelu,
    /// Row-wise softmax.
    Softmax,
}

impl Activation {
    /// The id of `ACT_*` in shaders/common.wgsl.
    pub fn id(self) -> u32 {
        match self {
            Activation::Identity => 0,
            Activation::Relu => 1,
            Activation::LeakyRelu(_) => 2,
            Activation::Sigmoid => 3,
            Activation::Tanh => 4,
            Activation::Gelu => 5,
            Activation::Softmax => 6,
        }
    }

    /// The activation's parameter (leaky relu's slope; 0 otherwise).
    pub fn alpha(self) -> f32 {
        match self {
            Activation::LeakyRelu(a) => a,
            _ => 0.0,
        }
    }

    /// Whether the function acts on each element alone (all but softmax).
    pub fn is_elementwise(self) -> bool {
        self != Activation::Softmax
    }

    /// The gate of a fused activation gradient (the matmul prologue, the gated column sum)
    /// is the output y = f(z) when this is true and the pre-activation z
    /// otherwise: sigmoid and tanh read y; relu and leaky relu (slope > 0)
    /// may take either, since y > 0 exactly when z > 0; gelu needs z.
    pub fn gate_may_be_output(self) -> bool {
        match self {
            Activation::Identity | Activation::Relu | Activation::Sigmoid | Activation::Tanh => {
                true
            }
            Activation::LeakyRelu(a) => a > 0.0,
            Activation::Gelu | Activation::Softmax => false,
        }
    }

    /// Whether f'(z) and f''(z) can be read off the output y = f(z) alone,
    /// as the contractive penalty's kernels do (identity, relu, leaky relu,
    /// sigmoid, tanh).
    pub fn derivatives_from_output(self) -> bool {
        matches!(
            self,
            Activation::Identity
                | Activation::Relu
                | Activation::LeakyRelu(_)
                | Activation::Sigmoid
                | Activation::Tanh
        )
    }

    /// Whether the gate must be the output (sigmoid, tanh).
    pub fn gate_is_output(self) -> bool {
        matches!(self, Activation::Sigmoid | Activation::Tanh)
    }

    pub fn name(self) -> &'static str {
        match self {
            Activation::Identity => "identity",
            Activation::Relu => "relu",
            Activation::LeakyRelu(_) => "leaky_relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Gelu => "gelu",
            Activation::Softmax => "softmax",
        }
    }
}

impl FromStr for Activation {
    type Err = Error;

    /// `identity`, `relu`, `leaky_relu` (slope 0.01) or `leaky_relu:0.2`,
    /// `sigmoid`, `tanh`, `gelu`, `softmax`.
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim().to_ascii_lowercase();
        let (name, arg) = match s.split_once(':') {
            Some((n, a)) => (n, Some(a)),
            None => (s.as_str(), None),
        };
        Ok(match name {
            "identity" | "linear" | "none" => Activation::Identity,
            "relu" => Activation::Relu,
            "leaky_relu" | "leaky-relu" | "leakyrelu" => {
                let slope = match arg {
                    Some(a) => a.parse::<f32>().map_err(|_| {
                        Error::InvalidArgument(format!("leaky_relu slope '{a}' is not a number"))
                    })?,
                    None => 0.01,
                };
                Activation::LeakyRelu(slope)
            }
            "sigmoid" => Activation::Sigmoid,
            "tanh" => Activation::Tanh,
            "gelu" => Activation::Gelu,
            "softmax" => Activation::Softmax,
            other => {
                return Err(Error::InvalidArgument(format!(
                    "unknown activation '{other}' (identity, relu, leaky_relu[:slope], sigmoid, tanh, gelu, softmax)"
                )))
            }
        })
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Activation::LeakyRelu(s) => write!(f, "leaky_relu:{s}"),
            other => f.write_str(other.name()),
        }
    }
}

impl FromStr for Noise {
    type Err = Error;

    /// `gaussian:0.3`, `mask:0.25`, `salt-pepper:0.1`.
    fn from_str(s: &str) -> Result<Self> {
        let (kind, level) = s.split_once(':').ok_or_else(|| {
            Error::InvalidArgument(format!(
                "noise '{s}' should be gaussian:STD, mask:P or salt-pepper:P"
            ))
        })?;
        let v: f32 = level.trim().parse().map_err(|_| {
            Error::InvalidArgument(format!("noise level '{level}' is not a number"))
        })?;
        let n = match kind.trim().to_ascii_lowercase().as_str() {
            "gaussian" | "normal" => Noise::Gaussian(v),
            "mask" | "masking" => Noise::Mask(v),
            "salt-pepper" | "salt_pepper" | "saltpepper" => Noise::SaltPepper(v),
            other => {
                return Err(Error::InvalidArgument(format!(
                    "unknown noise '{other}' (gaussian, mask, salt-pepper)"
                )))
            }
        };
        n.validate()?;
        Ok(n)
    }
}

impl fmt::Display for Noise {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Noise::Gaussian(v) => write!(f, "gaussian:{v}"),
            Noise::Mask(v) => write!(f, "mask:{v}"),
            Noise::SaltPepper(v) => write!(f, "salt-pepper:{v}"),
        }
    }
}

// --------------------------------------------------------------------- noise

/// Input corruption for denoising autoencoders, generated on the GPU.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Noise {
    /// Add N(0, std^2).
    Gaussian(f32),
    /// Set each value to 0 with this probability.
    Mask(f32),
    /// Set each value to 0 or 1 (half each) with this probability.
    SaltPepper(f32),
}

impl Noise {
    pub fn level(self) -> f32 {
        match self {
            Noise::Gaussian(v) | Noise::Mask(v) | Noise::SaltPepper(v) => v,
        }
    }

    pub fn validate(self) -> Result<()> {
        let v = self.level();
        let ok = match self {
            Noise::Gaussian(s) => s.is_finite() && s >= 0.0,
            Noise::Mask(p) | Noise::SaltPepper(p) => (0.0..=1.0).contains(&p),
        };
        if !ok {
            return Err(Error::InvalidArgument(format!(
                "noise level {v} is out of range for {self:?} (std >= 0; probabilities in [0, 1])"
            )));
        }
        Ok(())
    }
}

// --------------------------------------------------------------------- losses

/// Reconstruction losses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    /// Squared error on the output.
    Mse,
    /// Binary cross-entropy on logits (the sigmoid is folded into the loss).
    BceLogits,
}

/// Reconstruction loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LossKind {
    /// Binary cross-entropy on a sigmoid output (computed on the logits).
    Bce,
    /// Mean squared error on the output.
    Mse,
}

impl FromStr for LossKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "bce" | "binary_crossentropy" | "cross-entropy" => Ok(LossKind::Bce),
            "mse" | "mean_squared_error" => Ok(LossKind::Mse),
            other => Err(Error::InvalidArgument(format!(
                "unknown loss '{other}' (bce, mse)"
            ))),
        }
    }
}

// ----------------------------------------------------------------- optimizers

/// Which update rule. Formulas follow PyTorch's optimizers of the same name.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OptimizerKind {
    Sgd,
    /// Heavy-ball momentum `mu`, optionally Nesterov.
    Momentum {
        mu: f32,
        nesterov: bool,
    },
    Adam,
    AdamW,
    /// RMSprop with smoothing constant `alpha`.
    RmsProp {
        alpha: f32,
    },
}

/// Learning-rate schedule, evaluated on the GPU at each step `t >= 1`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Schedule {
    Constant,
    /// `lr * gamma^floor((t - 1) / step_size)`.
    Step {
        step_size: u32,
        gamma: f32,
    },
    /// Cosine from `lr` down to `min_lr` over `total_steps`.
    Cosine {
        total_steps: u32,
        min_lr: f32,
    },
}

/// Optimizer hyper-parameters; `Default` is Adam at lr 1e-3.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OptimConfig {
    pub kind: OptimizerKind,
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
    /// Clip gradients to this global L2 norm (0 = off).
    pub clip_norm: f32,
    pub schedule: Schedule,
    /// Linear warm-up over the first `warmup` steps (0 = off).
    pub warmup: u32,
}

impl Default for OptimConfig {
    fn default() -> Self {
        Self {
            kind: OptimizerKind::Adam,
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            clip_norm: 0.0,
            schedule: Schedule::Constant,
            warmup: 0,
        }
    }
}

impl OptimConfig {
    pub fn with_kind(mut self, kind: OptimizerKind) -> Self {
        self.kind = kind;
        self
    }
    pub fn with_lr(mut self, lr: f32) -> Self {
        self.lr = lr;
        self
    }
    pub fn with_weight_decay(mut self, wd: f32) -> Self {
        self.weight_decay = wd;
        self
    }
    pub fn with_clip_norm(mut self, c: f32) -> Self {
        self.clip_norm = c;
        self
    }
    pub fn with_schedule(mut self, s: Schedule) -> Self {
        self.schedule = s;
        self
    }
    pub fn with_warmup(mut self, steps: u32) -> Self {
        self.warmup = steps;
        self
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str, v: f32| {
            Err(Error::InvalidArgument(format!(
                "optimizer: {what} = {v} is out of range"
            )))
        };
        if !(self.lr.is_finite() && self.lr >= 0.0) {
            return bad("learning rate", self.lr);
        }
        if !(0.0..1.0).contains(&self.beta1) {
            return bad("beta1", self.beta1);
        }
        if !(0.0..1.0).contains(&self.beta2) {
            return bad("beta2", self.beta2);
        }
        if self.eps.is_nan() || self.eps <= 0.0 {
            return bad("eps", self.eps);
        }
        if self.weight_decay.is_nan() || self.weight_decay < 0.0 {
            return bad("weight decay", self.weight_decay);
        }
        if self.clip_norm.is_nan() || self.clip_norm < 0.0 {
            return bad("clip norm", self.clip_norm);
        }
        Ok(())
    }
}

/// Optimizer names for configs and the CLI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerName {
    Sgd,
    Momentum,
    Nesterov,
    Adam,
    Adamw,
    Rmsprop,
}

impl std::str::FromStr for OptimizerName {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "sgd" => OptimizerName::Sgd,
            "momentum" => OptimizerName::Momentum,
            "nesterov" => OptimizerName::Nesterov,
            "adam" => OptimizerName::Adam,
            "adamw" => OptimizerName::Adamw,
            "rmsprop" => OptimizerName::Rmsprop,
            other => {
                return Err(Error::InvalidArgument(format!(
                    "unknown optimizer '{other}' (sgd, momentum, nesterov, adam, adamw, rmsprop)"
                )))
            }
        })
    }
}

/// Learning-rate schedule names for configs and the CLI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleName {
    Constant,
    Step,
    Cosine,
}

impl std::str::FromStr for ScheduleName {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "constant" => ScheduleName::Constant,
            "step" => ScheduleName::Step,
            "cosine" => ScheduleName::Cosine,
            other => {
                return Err(Error::InvalidArgument(format!(
                    "unknown schedule '{other}' (constant, step, cosine)"
                )))
            }
        })
    }
}

// --------------------------------------------------------------- matmul tiles

/// Length of each workgroup tile array in shaders/matmul.wgsl (`tile_a`,
/// `tile_b`), room for the largest [`Tile`] (tests/shaders.rs reads it back
/// from the shader).
pub const MATMUL_TILE_WORDS: u32 = 1088;

/// Bytes of workgroup memory of the vec4-fed kernel (shaders/matmul_wide.wgsl:
/// `wide_a` and `wide_b`, 256 vec4<f32> each).
pub const MATMUL_WIDE_BYTES: u32 = 2 * 256 * 16;

/// The tile shape of the tiled matmul (see shaders/matmul.wgsl and
/// shaders/matmul_wide.wgsl).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tile {
    /// 64x64 tiles: 16x16 invocations with 4x4 blocks, K slices of 16.
    T64,
    /// 128x128 tiles: 16x16 invocations with 8x8 blocks, K slices of 8.
    T128,
    /// 128x128 tiles as T128, with each 8x8 block held in vec4 registers and
    /// fed by vec4 reads of workgroup memory, the next slice prefetched into
    /// registers (`main_wide` in shaders/matmul_wide.wgsl).
    T128V,
    /// 64x64 tiles fed like T128V: 8x8 invocations with 8x8 blocks.
    T64V,
    /// 16x16 tiles, one output per invocation, K slices of 16: for small
    /// outputs on GPUs, where larger tiles leave most of the GPU idle while
    /// a few workgroups walk a long K.
    T16,
}

impl Tile {
    /// (WG_X, WG_Y, RM, RN, TK).
    pub fn params(self) -> (u32, u32, u32, u32, u32) {
        match self {
            Tile::T64 => (16, 16, 4, 4, 16),
            Tile::T128 | Tile::T128V => (16, 16, 8, 8, 8),
            Tile::T64V => (8, 8, 8, 8, 8),
            Tile::T16 => (16, 16, 1, 1, 16),
        }
    }

    /// Whether the tile is fed through vec4 registers (`main_wide`).
    pub fn is_wide(self) -> bool {
        matches!(self, Tile::T128V | Tile::T64V)
    }

    /// Rows and columns of C per workgroup.
    pub fn size(self) -> (u32, u32) {
        let (wx, wy, rm, rn, _) = self.params();
        (wy * rm, wx * rn)
    }

    /// Invocations per workgroup and bytes of workgroup memory it needs:
    /// `main` declares two f32 tiles of [`MATMUL_TILE_WORDS`] whatever the
    /// shape; `main_wide` its own two arrays ([`MATMUL_WIDE_BYTES`]).
    pub fn needs(self) -> (u32, u32) {
        let (wx, wy, _, _, _) = self.params();
        let bytes = if self.is_wide() {
            MATMUL_WIDE_BYTES
        } else {
            2 * 4 * MATMUL_TILE_WORDS
        };
        (wx * wy, bytes)
    }

    /// Words of one staged slice, TK x (TM + 1) or TK x (TN + 1).
    pub fn slice_words(self) -> u32 {
        let (_, _, _, _, tk) = self.params();
        let (tm, tn) = self.size();
        tk * (tm.max(tn) + 1)
    }
}
