//! Sparse rows for `wgae.AutoRec`: a rating matrix held as its ratings
//! (`wgae::data::sparse::Csr`), trained on with the ratings kept sparse on
//! the GPU (or streamed), and reconstructed only where predictions are
//! asked for. Memory grows with the ratings, not with users x items.

use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use wgae::data::sparse::Csr;
use wgae::data::{Source, MISSING};
use wgae::{Autoencoder, ModelConfig, TrainConfig};

use crate::{context, fit_reporting, py_err, trained, Model};

/// A 1-D array's values in place, or a ValueError naming it.
fn slice<'a, T: numpy::Element>(a: &'a PyReadonlyArray1<'_, T>, what: &str) -> PyResult<&'a [T]> {
    a.as_slice()
        .map_err(|_| PyValueError::new_err(format!("{what} must be a contiguous 1-D array")))
}

/// The rows of a `shape` matrix from its entries (`rows[k]`, `cols[k]`,
/// `values[k]`), a cell given twice keeping its last value; a cell with
/// no entry is missing.
#[pyclass(frozen, name = "SparseRows", module = "wgae._wgae")]
pub struct SparseRows {
    source: Source,
}

#[pymethods]
impl SparseRows {
    #[new]
    fn new(
        shape: (usize, usize),
        rows: PyReadonlyArray1<'_, u32>,
        cols: PyReadonlyArray1<'_, u32>,
        values: PyReadonlyArray1<'_, f32>,
    ) -> PyResult<Self> {
        let m = Csr::from_triples(
            shape.0,
            shape.1,
            slice(&rows, "rows")?,
            slice(&cols, "cols")?,
            slice(&values, "values")?,
            MISSING,
        )
        .map_err(|e| PyValueError::new_err(e.to_string().replace("invalid argument: ", "")))?;
        Ok(Self {
            source: Source::sparse(m),
        })
    }

    /// The number of rows.
    fn __len__(&self) -> usize {
        self.source.rows()
    }

    /// The model's reconstruction at each cell (`rows[k]`, `cols[k]`),
    /// from the rows that hold the cells.
    fn predict<'py>(
        &self,
        py: Python<'py>,
        model: &Model,
        rows: PyReadonlyArray1<'py, u32>,
        cols: PyReadonlyArray1<'py, u32>,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        let (r, c) = (slice(&rows, "rows")?, slice(&cols, "cols")?);
        if r.len() != c.len() {
            return Err(PyValueError::new_err(format!(
                "{} rows for {} columns",
                r.len(),
                c.len()
            )));
        }
        let cells: Vec<(usize, usize)> = r
            .iter()
            .zip(c)
            .map(|(&r, &c)| (r as usize, c as usize))
            .collect();
        let out = py
            .detach(|| model.inner.reconstruct_cells(&self.source, &cells))
            .map_err(py_err)?;
        Ok(out.into_pyarray(py))
    }
}

/// Trains a fresh masked model (`model_json`, `train_json` as `train`'s)
/// on `x`, sparse rows kept sparse; `on_epoch` as `train`'s.
#[pyfunction]
#[pyo3(signature = (model_json, train_json, x, on_epoch = None, device = None))]
#[allow(clippy::type_complexity)]
pub fn train_sparse(
    py: Python<'_>,
    model_json: &str,
    train_json: &str,
    x: &SparseRows,
    on_epoch: Option<Py<PyAny>>,
    device: Option<String>,
) -> PyResult<(Model, String, Option<Py<PyAny>>)> {
    let bad = |what: &str, e: serde_json::Error| PyValueError::new_err(format!("{what}: {e}"));
    let cfg: ModelConfig = serde_json::from_str(model_json).map_err(|e| bad("model", e))?;
    let cfg = cfg.with_input_dim_from_shape();
    cfg.validate().map_err(py_err)?;
    let tcfg: TrainConfig = serde_json::from_str(train_json).map_err(|e| bad("training", e))?;
    let ctx = context(py, device.as_deref())?;
    let mut stopped_by: Option<PyErr> = None;
    let result = py.detach(|| -> wgae::Result<_> {
        let plan = wgae::env::plan_options()?;
        let model = Autoencoder::new(&ctx, &cfg, tcfg.seed)?.with_plan_options(plan);
        let mut trainer = wgae::Trainer::from_source(model, &tcfg, &x.source, None)?;
        let history = fit_reporting(&mut trainer, on_epoch.as_ref(), &mut stopped_by)?;
        Ok((trainer.into_model(), history))
    });
    trained(py, result, stopped_by)
}
