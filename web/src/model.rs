//! `Model`, the JavaScript class: made from the same TOML (or JSON) model
//! description as the CLI's `--config`, fitted on a Float32Array with a
//! callback per epoch, and run (encode, reconstruct, score). `save` gives
//! the bytes of the same safetensors model file the CLI writes, and `load`
//! reads the CLI's: a model trained in a page runs in `wgae anomaly`, and
//! the reverse.

use wasm_bindgen::prelude::*;
use wgae::io::{ErrorStats, ModelExtras};
use wgae::train::ConfigFile;
use wgae::{Autoencoder, Control, Dataset, EpochReport, Rows, TrainConfig, Trainer};

use crate::gpu::{context, to_js};

/// An autoencoder whose weights live on the page's GPU.
#[wasm_bindgen]
pub struct Model {
    model: Autoencoder,
    extras: ModelExtras,
    train: TrainConfig,
}

fn js(e: wgae::Error) -> JsError {
    JsError::new(&e.to_string())
}

/// A config's text: TOML, or the same tables as JSON.
fn config_of(text: &str) -> Result<ConfigFile, JsError> {
    if text.trim_start().starts_with('{') {
        let f: ConfigFile =
            serde_json::from_str(text).map_err(|e| JsError::new(&format!("config (JSON): {e}")))?;
        let f = ConfigFile {
            model: f.model.with_input_dim_from_shape(),
            train: f.train,
        };
        f.model.validate().map_err(js)?;
        f.train.validate().map_err(js)?;
        Ok(f)
    } else {
        ConfigFile::from_toml(text).map_err(js)
    }
}

#[wasm_bindgen]
impl Model {
    /// A new model, its weights drawn from the config's `[train] seed`.
    /// `config` is what `wgae train --config` reads: a `[model]` table
    /// and an optional `[train]` table, in TOML or as JSON.
    pub async fn create(config: String) -> Result<Model, JsError> {
        let f = config_of(&config)?;
        let ctx = context().await?;
        let model = Autoencoder::new(&ctx, &f.model, f.train.seed).map_err(js)?;
        let extras = ModelExtras {
            sample_dims: f.model.input_shape.clone(),
            ..ModelExtras::default()
        };
        Ok(Model {
            model,
            extras,
            train: f.train,
        })
    }

    /// A model from a model file's bytes (`wgae train --out`, or `save`).
    pub async fn load(bytes: Vec<u8>) -> Result<Model, JsError> {
        let ctx = context().await?;
        let (model, extras) =
            wgae::io::model_with_extras_from_bytes(&ctx, bytes, "the model file").map_err(js)?;
        Ok(Model {
            model,
            extras,
            train: TrainConfig::default(),
        })
    }

    /// The values per row the model takes.
    #[wasm_bindgen(getter, js_name = inputDim)]
    pub fn input_dim(&self) -> usize {
        self.model.config().input_dim
    }

    /// The width of the code.
    #[wasm_bindgen(getter, js_name = codeDim)]
    pub fn code_dim(&self) -> usize {
        self.model.config().code_dim()
    }

    /// The model's description (TOML), as a model file stores it.
    #[wasm_bindgen(getter)]
    pub fn description(&self) -> String {
        self.model.config().to_toml()
    }

    /// A sample's dimensions as stored with the model (`[28, 28]`), if any.
    #[wasm_bindgen(getter, js_name = sampleShape)]
    pub fn sample_shape(&self) -> Option<Vec<u32>> {
        self.extras
            .sample_dims
            .as_ref()
            .map(|d| d.iter().map(|&v| v as u32).collect())
    }

    /// Stores a sample's dimensions with the model (`[28, 28]` for
    /// images), so that the CLI reads and draws its data as images.
    #[wasm_bindgen(js_name = setSampleShape)]
    pub fn set_sample_shape(&mut self, dims: Vec<u32>) -> Result<(), JsError> {
        let dims: Vec<usize> = dims.iter().map(|&v| v as usize).collect();
        if dims.iter().product::<usize>() != self.input_dim() {
            return Err(JsError::new(&format!(
                "setSampleShape: {dims:?} does not hold the model's {} inputs",
                self.input_dim()
            )));
        }
        self.extras.sample_dims = Some(dims);
        Ok(())
    }

    /// Trains on `data` (whole rows of `inputDim`). `options` overrides
    /// the config's `[train]` keys (`{epochs: 5, lr: 0.01}`); `onEpoch`
    /// hears each epoch's report (`epoch`, `train_loss`, `val_loss`,
    /// `samples_per_sec`, ...) and may return `false` to stop. The page
    /// stays responsive: the loss is read back without blocking. Resolves
    /// to the history.
    pub async fn fit(
        &mut self,
        data: Vec<f32>,
        options: JsValue,
        #[wasm_bindgen(js_name = onEpoch)] on_epoch: Option<js_sys::Function>,
    ) -> Result<JsValue, JsError> {
        let tcfg = self.options(options)?;
        let rows = self.rows_of("fit", data.len())?;
        let set = Dataset::new(data, rows, self.input_dim(), None).map_err(js)?;
        let mut trainer =
            Trainer::with_model(self.model.shared(), &tcfg, &set, None).map_err(js)?;
        let call = |r: &EpochReport| -> Control {
            let Some(f) = &on_epoch else {
                return Control::Continue;
            };
            let Ok(v) = to_js(r) else {
                return Control::Continue;
            };
            match f.call1(&JsValue::NULL, &v) {
                Ok(ret) if ret == JsValue::FALSE => Control::Stop,
                _ => Control::Continue,
            }
        };
        let history = trainer.fit_async(call, |_| {}).await.map_err(js)?;
        drop(trainer);
        self.train = tcfg;
        // The training rows' errors, for the threshold `wgae anomaly` uses.
        let errors = self
            .model
            .reconstruction_error_async(Rows::new(&set.data, rows, set.cols).map_err(js)?)
            .await
            .map_err(js)?;
        self.extras.train_errors = ErrorStats::of(&errors);
        to_js(&history)
    }

    /// The code of each row (a VAE's mean).
    pub async fn encode(&self, data: Vec<f32>) -> Result<Vec<f32>, JsError> {
        let x = self.scaled("encode", data)?;
        let rows = x.len() / self.input_dim();
        let rows_in = Rows::new(&x, rows, self.input_dim()).map_err(js)?;
        self.model.encode_async(rows_in).await.map_err(js)
    }

    /// Each row's reconstruction, in the data's own units.
    pub async fn reconstruct(&self, data: Vec<f32>) -> Result<Vec<f32>, JsError> {
        let x = self.scaled("reconstruct", data)?;
        let d = self.input_dim();
        let rows_in = Rows::new(&x, x.len() / d, d).map_err(js)?;
        let mut y = self.model.reconstruct_async(rows_in).await.map_err(js)?;
        if let Some((offset, scale)) = &self.extras.transform {
            for row in y.chunks_mut(d) {
                for (j, v) in row.iter_mut().enumerate() {
                    *v = *v * scale[j] + offset[j];
                }
            }
        }
        Ok(y)
    }

    /// Each row's reconstruction error (the mean squared error over its
    /// features, in the model's scaled units): the anomaly score of
    /// `wgae anomaly`.
    pub async fn score(&self, data: Vec<f32>) -> Result<Vec<f32>, JsError> {
        let x = self.scaled("score", data)?;
        let d = self.input_dim();
        let rows_in = Rows::new(&x, x.len() / d, d).map_err(js)?;
        self.model
            .reconstruction_error_async(rows_in)
            .await
            .map_err(js)
    }

    /// The anomaly threshold `median + k * 1.4826 * MAD` of the training
    /// rows' errors (`wgae anomaly`'s default is k = 3); undefined before
    /// `fit`, or for a loaded file that has no statistics.
    pub fn threshold(&self, k: f64) -> Option<f64> {
        self.extras.train_errors.map(|s| s.threshold(k))
    }

    /// The model file's bytes: the safetensors file `wgae train --out`
    /// writes, which `wgae anomaly --model` and PyTorch read.
    pub async fn save(&self) -> Result<Vec<u8>, JsError> {
        wgae::io::model_bytes_async(&self.model, &self.extras)
            .await
            .map_err(js)
    }
}

impl Model {
    /// The config's training settings with `options`' keys over them.
    fn options(&self, options: JsValue) -> Result<TrainConfig, JsError> {
        let mut base =
            serde_json::to_value(&self.train).map_err(|e| JsError::new(&e.to_string()))?;
        if !options.is_undefined() && !options.is_null() {
            let text: String = js_sys::JSON::stringify(&options)
                .map_err(|_| JsError::new("fit: options must be a plain object"))?
                .into();
            let over: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| JsError::new(&format!("fit: options: {e}")))?;
            let serde_json::Value::Object(over) = over else {
                return Err(JsError::new("fit: options must be a plain object"));
            };
            if let serde_json::Value::Object(b) = &mut base {
                b.extend(over);
            }
        }
        let tcfg: TrainConfig = serde_json::from_value(base)
            .map_err(|e| JsError::new(&format!("fit: options: {e}")))?;
        tcfg.validate().map_err(js)?;
        Ok(tcfg)
    }

    /// Whole rows of `inputDim` in `len` values, or an error naming `what`.
    fn rows_of(&self, what: &str, len: usize) -> Result<usize, JsError> {
        let d = self.input_dim();
        if len == 0 || !len.is_multiple_of(d) {
            return Err(JsError::new(&format!(
                "{what}: {len} values are not whole rows of the model's {d} inputs"
            )));
        }
        Ok(len / d)
    }

    /// `data` checked and in the model's units (its stored scaling, if any).
    fn scaled(&self, what: &str, mut data: Vec<f32>) -> Result<Vec<f32>, JsError> {
        let d = self.input_dim();
        self.rows_of(what, data.len())?;
        if let Some(i) = data.iter().position(|v| !v.is_finite()) {
            return Err(JsError::new(&format!(
                "{what}: value {i} (row {}, column {}) is not a finite number",
                i / d,
                i % d
            )));
        }
        if let Some((offset, scale)) = &self.extras.transform {
            for row in data.chunks_mut(d) {
                for (j, v) in row.iter_mut().enumerate() {
                    *v = (*v - offset[j]) / scale[j];
                }
            }
        }
        Ok(data)
    }
}
