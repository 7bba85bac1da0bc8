//! f64 twins of the layers without parameters (`plan/pool.rs`,
//! `plan/reshape.rs`, `plan/permute.rs`): pooling, upsampling, reshaping
//! and swapping a sequence's axes.

use crate::model::LayerSpec;
use crate::plan::pool::geom;
use crate::reference::layer::{LayerTwin, Weights};
use crate::reference::pool::{
    avgpool_backward, avgpool_forward, maxpool_backward, maxpool_forward, upsample_backward,
    upsample_forward,
};

/// MaxPool1d and MaxPool2d.
pub struct MaxPool;
/// AvgPool1d and AvgPool2d.
pub struct AvgPool;
/// Upsample1d and Upsample2d (nearest).
pub struct Upsample;
/// Flatten and Reshape.
pub struct Reshape;
/// Permute: a sequence's two axes swapped.
pub struct Permute;

fn pool(l: &LayerSpec, rows: usize) -> crate::kernels::PoolGeom {
    geom(l, rows).expect("a pooling layer")
}

impl LayerTwin for MaxPool {
    fn forward(&self, l: &LayerSpec, x: &[f64], _p: &Weights, rows: usize) -> Vec<f64> {
        maxpool_forward(&pool(l, rows), x).0
    }

    fn input_grad(
        &self,
        l: &LayerSpec,
        _p: &Weights,
        x: &[f64],
        dz: &[f64],
        rows: usize,
    ) -> Vec<f64> {
        let g = pool(l, rows);
        maxpool_backward(&g, dz, &maxpool_forward(&g, x).1)
    }
}

impl LayerTwin for AvgPool {
    fn forward(&self, l: &LayerSpec, x: &[f64], _p: &Weights, rows: usize) -> Vec<f64> {
        avgpool_forward(&pool(l, rows), x)
    }

    fn input_grad(
        &self,
        l: &LayerSpec,
        _p: &Weights,
        _x: &[f64],
        dz: &[f64],
        rows: usize,
    ) -> Vec<f64> {
        avgpool_backward(&pool(l, rows), dz)
    }
}

impl LayerTwin for Upsample {
    fn forward(&self, l: &LayerSpec, x: &[f64], _p: &Weights, rows: usize) -> Vec<f64> {
        upsample_forward(&pool(l, rows), x)
    }

    fn input_grad(
        &self,
        l: &LayerSpec,
        _p: &Weights,
        _x: &[f64],
        dz: &[f64],
        rows: usize,
    ) -> Vec<f64> {
        upsample_backward(&pool(l, rows), dz)
    }
}

impl LayerTwin for Reshape {
    fn forward(&self, _l: &LayerSpec, x: &[f64], _p: &Weights, _rows: usize) -> Vec<f64> {
        x.to_vec()
    }

    fn input_grad(
        &self,
        _l: &LayerSpec,
        _p: &Weights,
        _x: &[f64],
        dz: &[f64],
        _rows: usize,
    ) -> Vec<f64> {
        dz.to_vec()
    }
}

impl LayerTwin for Permute {
    fn forward(&self, l: &LayerSpec, x: &[f64], _p: &Weights, rows: usize) -> Vec<f64> {
        let [a, _, b] = l.in_shape;
        crate::reference::swap_axes(x, rows, a, b)
    }

    fn input_grad(
        &self,
        l: &LayerSpec,
        _p: &Weights,
        _x: &[f64],
        dz: &[f64],
        rows: usize,
    ) -> Vec<f64> {
        let [a, _, b] = l.in_shape;
        crate::reference::swap_axes(dz, rows, b, a)
    }
}
