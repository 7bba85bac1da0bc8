//! `wgae._wgae`, the Python extension: a thin layer over the wgae crate.
//! numpy arrays in and out (a C-contiguous float32 array is read in place,
//! with no copy), training with the GIL released, one GPU context per
//! process and device, opened once and reused (by every estimator, and by
//! every task a Dask worker runs), and wgae's errors as Python exceptions of
//! the matching type. The scikit-learn estimators are Python, in
//! `wgae/estimator.py`, on top of this.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray2, PyUntypedArrayMethods,
};
use pyo3::exceptions::{
    PyFileExistsError, PyFileNotFoundError, PyOSError, PyRuntimeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

mod sparse;

use wgae::gpu::list_adapters;
use wgae::{
    Autoencoder, Control, Error, GpuContext, ModelConfig, Precision, Rows, TrainConfig, Variant,
};

/// How many GPU contexts this process has opened (one per device used).
static OPENED: AtomicUsize = AtomicUsize::new(0);

/// A wgae error as the Python exception a caller expects: bad arguments and
/// bad data (a corrupt file too) are `ValueError`, a missing file or folder
/// `FileNotFoundError`, a file that is there and may not be replaced
/// `FileExistsError`, one that cannot be written `OSError`, and everything
/// the GPU reports `RuntimeError`; the message is wgae's.
/// The library names a setting by its config field in backticks; the
/// estimator's parameters have their own names for some.
const PARAMS: &[(&str, &str)] = &[
    (
        "use `force` to overwrite it",
        "pass overwrite=True to replace it",
    ),
    ("`out_act`", "`output_activation`"),
    ("`code_act`", "`code_activation`"),
    ("`val`", "`validation_data`"),
    ("`input_dim`", "the number of features"),
    ("(`scale` unit)", "(sklearn.preprocessing.MinMaxScaler)"),
    ("`gpu_memory`", "WGAE_GPU_MEMORY"),
    ("`missing` mask", "missing='mask'"),
    ("`missing` = mask", "missing='mask'"),
];

fn py_err(e: Error) -> PyErr {
    // Python's callers have the estimator's parameters.
    let mut message = e.to_string();
    for (field, param) in PARAMS {
        message = message.replace(field, param);
    }
    match &e {
        Error::InvalidArgument(_) | Error::Shape { .. } | Error::TooLarge { .. } => {
            PyValueError::new_err(message)
        }
        Error::File { message: m, .. } if m.contains("already exists") => {
            PyFileExistsError::new_err(message)
        }
        Error::File { path, message: m }
            if m.contains("does not exist")
                || m.contains("no such file")
                || (!path.exists() && m.contains("cannot read")) =>
        {
            PyFileNotFoundError::new_err(message)
        }
        Error::File { message: m, .. } if m.contains("cannot write") => PyOSError::new_err(message),
        Error::File { .. } => PyValueError::new_err(message),
        _ => PyRuntimeError::new_err(message),
    }
}

/// The process's GPU context for `device` (a part of an adapter's name;
/// `None` for wgae's choice), opened on first use and shared after.
fn context(py: Python<'_>, device: Option<&str>) -> PyResult<GpuContext> {
    static CONTEXTS: OnceLock<Mutex<HashMap<Option<String>, GpuContext>>> = OnceLock::new();
    let key = device.map(str::to_string);
    let contexts = CONTEXTS.get_or_init(Default::default);
    if let Some(ctx) = contexts.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return Ok(ctx.clone());
    }
    let mut opts = wgae::env::context_options().map_err(py_err)?;
    if key.is_some() {
        opts.adapter = key.clone();
    }
    let ctx = py
        .detach(|| GpuContext::with_options(&opts))
        .map_err(py_err)?;
    let mut map = contexts.lock().unwrap_or_else(|p| p.into_inner());
    Ok(map
        .entry(key)
        .or_insert_with(|| {
            OPENED.fetch_add(1, Ordering::Relaxed);
            ctx
        })
        .clone())
}

/// How many GPU contexts this process has opened: one per device, however
/// many models and calls use it.
#[pyfunction]
fn contexts_opened() -> usize {
    OPENED.load(Ordering::Relaxed)
}

/// The rows of a 2-D float32 array, read in place.
fn rows<'a>(x: &'a PyReadonlyArray2<'_, f32>, what: &str) -> PyResult<Rows<'a>> {
    let shape = x.shape();
    let data = x.as_slice().map_err(|_| {
        PyValueError::new_err(format!(
            "{what} must be a C-contiguous float32 array (np.ascontiguousarray(X, dtype=np.float32))"
        ))
    })?;
    Rows::new(data, shape[0], shape[1]).map_err(|e| {
        PyValueError::new_err(format!(
            "{what}: {}",
            e.to_string().replace("invalid argument: ", "")
        ))
    })
}

fn precision(f16: bool) -> Precision {
    if f16 {
        Precision::F16
    } else {
        Precision::F32
    }
}

/// `values` as a (rows, cols) numpy array, without a copy.
fn array2<'py>(
    py: Python<'py>,
    values: Vec<f32>,
    rows: usize,
) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let cols = values.len().checked_div(rows).unwrap_or(0);
    values
        .into_pyarray(py)
        .reshape([rows, cols])
        .map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

/// A model with its weights on the GPU.
#[pyclass(frozen, name = "Model", module = "wgae._wgae")]
struct Model {
    inner: Autoencoder,
}

#[pymethods]
impl Model {
    /// The architecture as JSON (wgae's ModelConfig).
    #[getter]
    fn config_json(&self) -> PyResult<String> {
        serde_json::to_string(self.inner.config())
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))
    }

    /// Values per sample.
    #[getter]
    fn input_dim(&self) -> usize {
        self.inner.config().input_dim
    }

    /// Values per code.
    #[getter]
    fn code_dim(&self) -> usize {
        self.inner.config().code_dim()
    }

    /// The adapter the weights live on.
    #[getter]
    fn adapter(&self) -> String {
        self.inner.context().adapter_name().to_string()
    }

    /// A digest of the architecture and every weight and buffer: equal
    /// for equal models (Dask names tasks by it).
    fn digest(&self, py: Python<'_>) -> PyResult<String> {
        use std::hash::{Hash, Hasher};
        let arena = py.detach(|| self.inner.params_host()).map_err(py_err)?;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.config_json()?.hash(&mut h);
        for v in arena {
            v.to_bits().hash(&mut h);
        }
        Ok(format!("{:016x}", h.finish()))
    }

    /// The layer table (Keras' summary()).
    fn summary(&self) -> String {
        self.inner.config().summary()
    }

    /// The codes of the rows of `x` (a VAE's mean).
    fn encode<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f32>,
        f16: bool,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let r = rows(&x, "X")?;
        let out = py
            .detach(|| self.inner.encode_with(r, precision(f16)))
            .map_err(py_err)?;
        array2(py, out, r.rows)
    }

    /// The decodings of the codes `z`.
    fn decode<'py>(
        &self,
        py: Python<'py>,
        z: PyReadonlyArray2<'py, f32>,
        f16: bool,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let r = rows(&z, "Z")?;
        let out = py
            .detach(|| self.inner.decode_with(r.data, r.rows, precision(f16)))
            .map_err(py_err)?;
        array2(py, out, r.rows)
    }

    /// The reconstructions of the rows of `x`.
    fn reconstruct<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f32>,
        f16: bool,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let r = rows(&x, "X")?;
        let out = py
            .detach(|| self.inner.reconstruct_with(r, precision(f16)))
            .map_err(py_err)?;
        array2(py, out, r.rows)
    }

    /// Each row's reconstruction error (mean squared error over features).
    fn errors<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f32>,
        f16: bool,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        let r = rows(&x, "X")?;
        let out = py
            .detach(|| self.inner.reconstruction_error_with(r, precision(f16)))
            .map_err(py_err)?;
        Ok(out.into_pyarray(py))
    }

    /// `n` samples decoded from the prior (a VAE), drawn from `seed`.
    fn sample<'py>(
        &self,
        py: Python<'py>,
        n: usize,
        seed: u64,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        if n == 0 {
            return Err(PyValueError::new_err("n must be at least 1"));
        }
        let out = py
            .detach(|| self.inner.sample_prior(n, seed))
            .map_err(py_err)?;
        array2(py, out, n)
    }

    /// The model file's bytes: what `save` writes and the CLI reads.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = py
            .detach(|| wgae::io::model_bytes(&self.inner, &wgae::io::ModelExtras::default()))
            .map_err(py_err)?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Writes the model file (safetensors, PyTorch's names) to `path`,
    /// replacing a file there only when `overwrite`.
    fn save(&self, py: Python<'_>, path: PathBuf, overwrite: bool) -> PyResult<()> {
        py.detach(|| {
            wgae::io::save_model(
                &path,
                &self.inner,
                &wgae::io::ModelExtras::default(),
                overwrite,
            )
        })
        .map_err(py_err)
    }

    /// Writes `part` of the model ("full", "encoder", "decoder" or
    /// "score") to `path` as ONNX (opset 17), replacing a file there only
    /// when `overwrite`.
    fn to_onnx(&self, py: Python<'_>, path: PathBuf, part: &str, overwrite: bool) -> PyResult<()> {
        let part: wgae::io::onnx::Part = part.parse().map_err(|_: String| {
            PyValueError::new_err(format!(
                "part='{part}': expected 'full', 'encoder', 'decoder' or 'score'"
            ))
        })?;
        py.detach(|| {
            wgae::io::onnx::export_onnx(
                &path,
                &self.inner,
                &wgae::io::ModelExtras::default(),
                part,
                overwrite,
            )
        })
        .map_err(py_err)
    }
}

/// Loads a model file (written by `save` or by `wgae train --save`).
#[pyfunction]
#[pyo3(signature = (path, device = None))]
fn load(py: Python<'_>, path: PathBuf, device: Option<String>) -> PyResult<Model> {
    if !Path::new(&path).exists() {
        return Err(PyFileNotFoundError::new_err(format!(
            "{}: no such model file",
            path.display()
        )));
    }
    let ctx = context(py, device.as_deref())?;
    let inner = py
        .detach(|| {
            let plan = wgae::env::plan_options()?;
            Ok::<_, wgae::Error>(wgae::io::load_model(&ctx, &path)?.with_plan_options(plan))
        })
        .map_err(py_err)?;
    Ok(Model { inner })
}

/// A model from a model file's bytes (`Model.to_bytes`).
#[pyfunction]
#[pyo3(signature = (data, device = None))]
fn from_bytes(py: Python<'_>, data: Vec<u8>, device: Option<String>) -> PyResult<Model> {
    let ctx = context(py, device.as_deref())?;
    let inner = py
        .detach(|| wgae::io::model_from_bytes(&ctx, data, "model bytes"))
        .map_err(py_err)?;
    Ok(Model { inner })
}

/// Every adapter wgpu sees, best first: name, backend, type, whether it is
/// a software renderer and whether wgae would choose it.
#[pyfunction]
fn devices<'py>(py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
    let opts = wgae::env::context_options().map_err(py_err)?;
    let (adapters, chosen) = py.detach(|| list_adapters(opts.adapter.as_deref(), opts.backends));
    adapters
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let d = PyDict::new(py);
            d.set_item("name", &a.info.name)?;
            d.set_item("backend", format!("{:?}", a.info.backend))?;
            d.set_item("type", format!("{:?}", a.info.device_type))?;
            d.set_item("software", a.is_software())?;
            d.set_item("default", chosen == Some(i))?;
            Ok(d)
        })
        .collect()
}

/// Trains a fresh model. `model_json` and `train_json` are wgae's
/// ModelConfig and TrainConfig, `variant` a named variant whose defaults
/// fill what the config leaves unset (as the CLI's --variant); `x` and
/// `x_val` C-contiguous float32 rows.
/// After each epoch `on_epoch` (if given) gets the epoch's report as JSON
/// and returns whether to go on. Ctrl-C (or an exception in `on_epoch`)
/// stops training at the end of the epoch. Returns the model, the history
/// as JSON, and the exception that stopped training (None if none did), so
/// that the caller can keep the model before raising it.
#[pyfunction]
#[pyo3(signature = (model_json, train_json, x, x_val = None, on_epoch = None, device = None, variant = None))]
#[allow(clippy::type_complexity, clippy::too_many_arguments)]
fn train<'py>(
    py: Python<'py>,
    model_json: &str,
    train_json: &str,
    x: PyReadonlyArray2<'py, f32>,
    x_val: Option<PyReadonlyArray2<'py, f32>>,
    on_epoch: Option<Py<PyAny>>,
    device: Option<String>,
    variant: Option<&str>,
) -> PyResult<(Model, String, Option<Py<PyAny>>)> {
    let bad = |what: &str, e: serde_json::Error| PyValueError::new_err(format!("{what}: {e}"));
    let cfg: ModelConfig = serde_json::from_str(model_json).map_err(|e| bad("model", e))?;
    let mut cfg = cfg.with_input_dim_from_shape();
    if let Some(v) = variant {
        cfg = cfg.with_variant(v.parse::<Variant>().map_err(py_err)?);
    }
    cfg.validate().map_err(py_err)?;
    let tcfg: TrainConfig = serde_json::from_str(train_json).map_err(|e| bad("training", e))?;
    let train_rows = rows(&x, "X")?;
    let val_rows = x_val
        .as_ref()
        .map(|v| rows(v, "validation data"))
        .transpose()?;
    let ctx = context(py, device.as_deref())?;
    let mut stopped_by: Option<PyErr> = None;
    let result = py.detach(|| -> wgae::Result<_> {
        let plan = wgae::env::plan_options()?;
        let model = Autoencoder::new(&ctx, &cfg, tcfg.seed)?.with_plan_options(plan);
        let mut trainer = wgae::Trainer::from_rows(model, &tcfg, train_rows, val_rows)?;
        let history = fit_reporting(&mut trainer, on_epoch.as_ref(), &mut stopped_by)?;
        Ok((trainer.into_model(), history))
    });
    trained(py, result, stopped_by)
}

/// Trains to the end or until `on_epoch` (given each epoch's report as
/// JSON) returns false, raises (kept in `stopped_by`), or Ctrl-C arrives.
fn fit_reporting(
    trainer: &mut wgae::Trainer,
    on_epoch: Option<&Py<PyAny>>,
    stopped_by: &mut Option<PyErr>,
) -> wgae::Result<wgae::train::History> {
    trainer.fit(
        |report| {
            Python::attach(|py| {
                if let Err(e) = py.check_signals() {
                    *stopped_by = Some(e);
                    return Control::Stop;
                }
                let Some(cb) = on_epoch else {
                    return Control::Continue;
                };
                let json = serde_json::to_string(report).unwrap_or_default();
                match cb.call1(py, (json,)) {
                    Ok(v) if v.bind(py).is_truthy().unwrap_or(true) => Control::Continue,
                    Ok(_) => Control::Stop,
                    Err(e) => {
                        *stopped_by = Some(e);
                        Control::Stop
                    }
                }
            })
        },
        |_| {},
    )
}

/// What `train` returns: the model, its history as JSON, and the exception
/// that stopped training, if one did.
#[allow(clippy::type_complexity)]
fn trained(
    py: Python<'_>,
    result: wgae::Result<(Autoencoder, wgae::train::History)>,
    stopped_by: Option<PyErr>,
) -> PyResult<(Model, String, Option<Py<PyAny>>)> {
    let (model, history) = result.map_err(py_err)?;
    let json = serde_json::json!({
        "epochs": history.epochs,
        "best_epoch": history.best_epoch,
        "stopped_early": history.stopped_early,
    });
    Ok((
        Model { inner: model },
        json.to_string(),
        stopped_by.map(|e| e.into_value(py).into_any()),
    ))
}

/// Per-step scores of one series from its windows (`x`, `rec`: one window
/// per row, `window` steps of `channels` values, steps first or with
/// `channels_first` channel after channel), cut every `stride` steps from
/// the start: each step's score and each channel's share of it
/// (`wgae::points`).
#[pyfunction]
#[pyo3(signature = (x, rec, window, stride, channels_first, how))]
#[allow(clippy::type_complexity)]
fn point_scores<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f32>,
    rec: PyReadonlyArray2<'py, f32>,
    window: usize,
    stride: usize,
    channels_first: bool,
    how: &str,
) -> PyResult<(Bound<'py, PyArray1<f32>>, Bound<'py, PyArray2<f32>>)> {
    use wgae::data::windows::{WindowLayout, Windows};
    use wgae::points::{PointScore, PointScores};
    let (xs, rs) = (rows(&x, "windows")?, rows(&rec, "reconstructed")?);
    if (xs.rows, xs.cols) != (rs.rows, rs.cols) || window == 0 || xs.cols % window != 0 {
        return Err(PyValueError::new_err(format!(
            "windows ({}x{}) and reconstructed ({}x{}) must have the same shape, a whole \
             number of channels per step of window {window}",
            xs.rows, xs.cols, rs.rows, rs.cols
        )));
    }
    let how = PointScore::parse(how)
        .map_err(|_| PyValueError::new_err(format!("how='{how}': give 'mean' or 'max'")))?;
    let layout = if channels_first {
        WindowLayout::Channels
    } else {
        WindowLayout::Time
    };
    let w = Windows::new(window, stride, xs.cols / window, layout).map_err(|e| {
        PyValueError::new_err(
            e.to_string()
                .replace("--window", "window")
                .replace("--stride", "stride"),
        )
    })?;
    let steps = w.span(xs.rows);
    let mut acc = PointScores::new(steps, w.channels, how);
    for (k, (a, b)) in xs
        .data
        .chunks(w.cols())
        .zip(rs.data.chunks(w.cols()))
        .enumerate()
    {
        acc.add(&w, k * stride, a, b);
    }
    let (scores, shares) = acc.finish();
    Ok((scores.into_pyarray(py), array2(py, shares, steps)?))
}

#[pymodule]
fn _wgae(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Model>()?;
    m.add_function(wrap_pyfunction!(load, m)?)?;
    m.add_function(wrap_pyfunction!(from_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(devices, m)?)?;
    m.add_function(wrap_pyfunction!(train, m)?)?;
    m.add_function(wrap_pyfunction!(contexts_opened, m)?)?;
    m.add_function(wrap_pyfunction!(point_scores, m)?)?;
    m.add_class::<sparse::SparseRows>()?;
    m.add_function(wrap_pyfunction!(sparse::train_sparse, m)?)?;
    Ok(())
}
