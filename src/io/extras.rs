//! What a model file carries besides the weights (`ModelExtras`): the
//! statistics of the training codes and errors, the input scaling, a
//! sample's stored shape and the windows a series model was trained on,
//! each in a metadata key of its own.

use std::collections::HashMap;
use std::path::Path;

use crate::data::windows::WindowLayout;
use crate::error::Result;
use crate::infer::Autoencoder;
use crate::model::ModelConfig;

use super::file_err;

/// [`CodeStats`] accumulated over codes in row order: the mean, minimum
/// and maximum in a first pass, the variance around the mean in a second.
struct CodeStatsFit {
    rows: f64,
    mean: Vec<f64>,
    var: Vec<f64>,
    min: Vec<f32>,
    max: Vec<f32>,
}

impl CodeStatsFit {
    fn new(dim: usize, rows: usize) -> Self {
        Self {
            rows: rows.max(1) as f64,
            mean: vec![0.0; dim],
            var: vec![0.0; dim],
            min: vec![f32::INFINITY; dim],
            max: vec![f32::NEG_INFINITY; dim],
        }
    }

    fn add_first(&mut self, codes: &[f32]) {
        for r in codes.chunks(self.mean.len()) {
            for (j, &v) in r.iter().enumerate() {
                self.mean[j] += f64::from(v) / self.rows;
                self.min[j] = self.min[j].min(v);
                self.max[j] = self.max[j].max(v);
            }
        }
    }

    fn add_second(&mut self, codes: &[f32]) {
        for r in codes.chunks(self.mean.len()) {
            for (j, &v) in r.iter().enumerate() {
                self.var[j] += (f64::from(v) - self.mean[j]).powi(2) / self.rows;
            }
        }
    }

    fn finish(self) -> CodeStats {
        CodeStats {
            mean: self.mean.iter().map(|&v| v as f32).collect(),
            std: self.var.iter().map(|&v| v.sqrt() as f32).collect(),
            min: self.min,
            max: self.max,
        }
    }
}

/// Per-unit statistics of the codes of the training data, kept in a model
/// file so that `generate` can draw plausible codes for a non-variational model.
#[derive(Clone, Debug, PartialEq)]
pub struct CodeStats {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
    pub min: Vec<f32>,
    pub max: Vec<f32>,
}

impl CodeStats {
    pub fn of(codes: &[f32], dim: usize) -> Self {
        let mut fit = CodeStatsFit::new(dim, codes.len() / dim);
        fit.add_first(codes);
        fit.add_second(codes);
        fit.finish()
    }

    /// The statistics of the codes of every row of `src`, encoded block by
    /// block (twice: the mean, then the spread around it), with the same
    /// sums as [`Self::of`] over all the codes at once.
    pub fn of_source(model: &Autoencoder, src: &crate::data::Source) -> Result<Self> {
        let dim = model.config().code_dim();
        let mut fit = CodeStatsFit::new(dim, src.rows());
        model.encode_source(src, crate::Precision::F32, |_, c| {
            fit.add_first(c);
            Ok(())
        })?;
        model.encode_source(src, crate::Precision::F32, |_, c| {
            fit.add_second(c);
            Ok(())
        })?;
        Ok(fit.finish())
    }

    fn encode(&self) -> String {
        [&self.mean, &self.std, &self.min, &self.max]
            .iter()
            .map(|v| {
                v.iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect::<Vec<_>>()
            .join(";")
    }

    fn decode(s: &str, dim: usize) -> Option<Self> {
        let parts: Vec<Vec<f32>> = s
            .split(';')
            .map(|p| p.split(',').filter_map(|x| x.parse().ok()).collect())
            .collect();
        (parts.len() == 4 && parts.iter().all(|p| p.len() == dim)).then(|| CodeStats {
            mean: parts[0].clone(),
            std: parts[1].clone(),
            min: parts[2].clone(),
            max: parts[3].clone(),
        })
    }
}

/// What a model file carries besides the weights, for the commands that use it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModelExtras {
    /// Statistics of the training codes (for `generate` without a VAE).
    pub code_stats: Option<CodeStats>,
    /// The per-feature input transform used in training, x' = (x - offset) / scale,
    /// applied again to data given to the model later.
    pub transform: Option<(Vec<f32>, Vec<f32>)>,
    /// A sample's dimensions as the training data stored them (`[h, w]`,
    /// `[h, w, c]`, `[c, h, w]`), so that later commands read and draw the
    /// data as training did.
    pub sample_dims: Option<Vec<usize>>,
    /// The training rows' reconstruction errors, summarised for a
    /// threshold that needs no guess of the outliers' share.
    pub train_errors: Option<ErrorStats>,
    /// Where the model was trained on windows of one series: how they
    /// were laid out, so that `anomaly --window` cuts the same.
    pub window: Option<WindowInfo>,
    /// Where the model is AutoRec on ratings: its rows, the IDs of its
    /// users and items, and the ratings' range and mean, for `recommend`.
    pub ratings: Option<RatingsInfo>,
}

/// What an AutoRec model file keeps of its ratings (`wgae.ratings`, JSON).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RatingsInfo {
    /// "items" (I-AutoRec) or "users" (U-AutoRec).
    pub rows: String,
    pub users: Vec<String>,
    pub items: Vec<String>,
    pub min: f32,
    pub max: f32,
    pub mean: f32,
}

impl RatingsInfo {
    /// Read where well formed and consistent with the model's width
    /// (one value per user for item rows, per item for user rows).
    fn decode(text: &str, input_dim: usize) -> Option<Self> {
        let r: RatingsInfo = serde_json::from_str(text).ok()?;
        let width = match r.rows.as_str() {
            "items" => r.users.len(),
            "users" => r.items.len(),
            _ => return None,
        };
        (width == input_dim && r.min <= r.max).then_some(r)
    }
}

/// Windows a model was trained on: `len` steps of `channels` values in
/// `layout`, and the channels' names (for the per-channel shares).
#[derive(Clone, Debug, PartialEq)]
pub struct WindowInfo {
    pub len: usize,
    pub channels: usize,
    pub layout: WindowLayout,
    pub names: Vec<String>,
}

impl WindowInfo {
    fn encode(&self) -> String {
        format!(
            "len={},channels={},layout={}",
            self.len,
            self.channels,
            self.layout.name()
        )
    }

    /// Read where well formed and consistent with the model's input width;
    /// otherwise ignored (as the other extras).
    fn decode(text: &str, names: Option<&String>, input_dim: usize) -> Option<Self> {
        let mut it = text.split(',').map(|kv| kv.split_once('='));
        let (Some(Some(("len", l))), Some(Some(("channels", c))), Some(Some(("layout", lay)))) =
            (it.next(), it.next(), it.next())
        else {
            return None;
        };
        let (len, channels) = (l.parse::<usize>().ok()?, c.parse::<usize>().ok()?);
        let layout = WindowLayout::parse(lay)?;
        if len.checked_mul(channels) != Some(input_dim) {
            return None;
        }
        let names: Vec<String> = match names {
            Some(n) => n.split(',').map(str::to_string).collect(),
            None => Vec::new(),
        };
        let names = if names.len() == channels {
            names
        } else {
            (1..=channels).map(|c| format!("ch{c}")).collect()
        };
        Some(Self {
            len,
            channels,
            layout,
            names,
        })
    }
}

/// The median and the median absolute deviation of reconstruction errors:
/// `median + k * 1.4826 * mad` is a robust threshold (k robust standard
/// deviations above the typical error).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ErrorStats {
    pub median: f32,
    pub mad: f32,
}

impl ErrorStats {
    /// The statistics of `errors` (NaN-free; empty gives None).
    pub fn of(errors: &[f32]) -> Option<Self> {
        let median = |v: &mut Vec<f32>| -> Option<f32> {
            if v.is_empty() {
                return None;
            }
            v.sort_by(f32::total_cmp);
            let n = v.len();
            Some(if n % 2 == 1 {
                v[n / 2]
            } else {
                ((f64::from(v[n / 2 - 1]) + f64::from(v[n / 2])) / 2.0) as f32
            })
        };
        let mut v = errors.to_vec();
        let m = median(&mut v)?;
        let mut dev: Vec<f32> = errors.iter().map(|e| (e - m).abs()).collect();
        Some(Self {
            median: m,
            mad: median(&mut dev)?,
        })
    }

    /// The threshold `k` robust standard deviations above the median.
    pub fn threshold(&self, k: f64) -> f64 {
        f64::from(self.median) + k * 1.4826 * f64::from(self.mad)
    }
}

fn join(v: &[f32]) -> String {
    v.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

impl ModelExtras {
    /// Adds the extras to a model file's metadata.
    pub(crate) fn write_meta(&self, meta: &mut HashMap<String, String>) {
        if let Some(c) = &self.code_stats {
            meta.insert("wgae.code_stats".into(), c.encode());
        }
        if let Some((o, sc)) = &self.transform {
            meta.insert(
                "wgae.input_transform".into(),
                format!("{};{}", join(o), join(sc)),
            );
        }
        if let Some(d) = &self.sample_dims {
            let text: Vec<String> = d.iter().map(|v| v.to_string()).collect();
            meta.insert("wgae.sample_dims".into(), text.join(","));
        }
        if let Some(e) = &self.train_errors {
            meta.insert(
                "wgae.train_errors".into(),
                format!("median={},mad={}", e.median, e.mad),
            );
        }
        if let Some(w) = &self.window {
            meta.insert("wgae.window".into(), w.encode());
            meta.insert("wgae.channel_names".into(), w.names.join(","));
        }
        if let Some(r) = &self.ratings {
            if let Ok(text) = serde_json::to_string(r) {
                meta.insert("wgae.ratings".into(), text);
            }
        }
    }

    /// The extras of a model file's metadata; `path` names it in errors.
    pub(crate) fn read_meta(
        meta: &HashMap<String, String>,
        cfg: &ModelConfig,
        path: &Path,
    ) -> Result<Self> {
        let transform = match meta.get("wgae.input_transform") {
            Some(t) => {
                let parts: Vec<Vec<f32>> = t
                    .split(';')
                    .map(|x| x.split(',').filter_map(|v| v.parse().ok()).collect())
                    .collect();
                let d = cfg.input_dim;
                if parts.len() != 2
                    || parts[0].len() != d
                    || parts[1].len() != d
                    || parts[1].contains(&0.0)
                {
                    return Err(file_err(path, "bad wgae.input_transform metadata"));
                }
                Some((parts[0].clone(), parts[1].clone()))
            }
            None => None,
        };
        // Dimensions whose product is the model's input width; others are
        // ignored (a file from another tool, say), never trusted.
        let sample_dims = meta.get("wgae.sample_dims").and_then(|s| {
            let d: Vec<usize> = s
                .split(',')
                .map(|v| v.trim().parse().ok())
                .collect::<Option<_>>()?;
            let n = d.iter().try_fold(1usize, |a, &v| a.checked_mul(v))?;
            (d.len() > 1 && n == cfg.input_dim).then_some(d)
        });
        Ok(ModelExtras {
            code_stats: meta
                .get("wgae.code_stats")
                .and_then(|s| CodeStats::decode(s, cfg.code_dim())),
            transform,
            sample_dims,
            // Read where well formed; otherwise ignored, as for code_stats.
            train_errors: meta.get("wgae.train_errors").and_then(|s| {
                let mut it = s.split(',').map(|kv| kv.split_once('='));
                let (Some(Some(("median", m))), Some(Some(("mad", d)))) = (it.next(), it.next())
                else {
                    return None;
                };
                let (median, mad) = (m.parse::<f32>().ok()?, d.parse::<f32>().ok()?);
                (median.is_finite() && mad.is_finite() && median >= 0.0 && mad >= 0.0)
                    .then_some(ErrorStats { median, mad })
            }),
            window: meta
                .get("wgae.window")
                .and_then(|w| WindowInfo::decode(w, meta.get("wgae.channel_names"), cfg.input_dim)),
            ratings: meta
                .get("wgae.ratings")
                .and_then(|r| RatingsInfo::decode(r, cfg.input_dim)),
        })
    }
}
