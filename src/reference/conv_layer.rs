//! f64 twins of the convolution layers (`plan/conv.rs`), from the kernel
//! twins in `conv.rs` over the same geometry.

use crate::kernels::ConvGeom;
use crate::model::LayerSpec;
use crate::op::Activation;
use crate::plan::conv::{geom, window};
use crate::reference::conv::{conv_db, conv_dw, conv_dx, conv_forward};
use crate::reference::layer::{LayerTwin, ParamGrads, Weights};

/// Conv1d and Conv2d.
pub struct Conv;
/// ConvTranspose1d and ConvTranspose2d.
pub struct ConvTranspose;

fn conv_geom(l: &LayerSpec, rows: usize, transposed: bool) -> ConvGeom {
    let win = window(l).expect("a convolution layer");
    if transposed {
        geom(rows, l.out_shape, l.in_shape, win)
    } else {
        geom(rows, l.in_shape, l.out_shape, win)
    }
}

impl LayerTwin for Conv {
    fn forward(&self, l: &LayerSpec, x: &[f64], p: &Weights, rows: usize) -> Vec<f64> {
        let g = conv_geom(l, rows, false);
        conv_forward(&g, x, p.get("weight"), bias(p), Activation::Identity).0
    }

    fn param_grads(
        &self,
        l: &LayerSpec,
        p: &Weights,
        x: &[f64],
        dz: &[f64],
        rows: usize,
    ) -> ParamGrads {
        let g = conv_geom(l, rows, false);
        let mut out = vec![("weight", conv_dw(&g, x, dz).0)];
        if bias(p).is_some() {
            out.push(("bias", conv_db(&g, dz).0));
        }
        out
    }

    fn input_grad(
        &self,
        l: &LayerSpec,
        p: &Weights,
        _x: &[f64],
        dz: &[f64],
        rows: usize,
    ) -> Vec<f64> {
        let g = conv_geom(l, rows, false);
        conv_dx(&g, dz, p.get("weight"), None, Activation::Identity).0
    }
}

impl LayerTwin for ConvTranspose {
    fn forward(&self, l: &LayerSpec, x: &[f64], p: &Weights, rows: usize) -> Vec<f64> {
        let g = conv_geom(l, rows, true);
        conv_dx(&g, x, p.get("weight"), bias(p), Activation::Identity).0
    }

    fn param_grads(
        &self,
        l: &LayerSpec,
        p: &Weights,
        x: &[f64],
        dz: &[f64],
        rows: usize,
    ) -> ParamGrads {
        let g = conv_geom(l, rows, true);
        let mut out = vec![("weight", conv_dw(&g, dz, x).0)];
        let over_output = ConvGeom {
            o: l.out_shape[0],
            oh: l.out_shape[1],
            ow: l.out_shape[2],
            ..g
        };
        if bias(p).is_some() {
            out.push(("bias", conv_db(&over_output, dz).0));
        }
        out
    }

    fn input_grad(
        &self,
        l: &LayerSpec,
        p: &Weights,
        _x: &[f64],
        dz: &[f64],
        rows: usize,
    ) -> Vec<f64> {
        let g = conv_geom(l, rows, true);
        conv_forward(&g, dz, p.get("weight"), None, Activation::Identity).0
    }
}

/// The layer's bias, if it has one.
fn bias<'a>(p: &Weights<'a>) -> Option<&'a [f64]> {
    let b = p.get("bias");
    (!b.is_empty()).then_some(b)
}
