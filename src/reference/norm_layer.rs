//! The f64 twin of batch normalization layers (`plan/norm.rs`): batch
//! statistics in training, running statistics in evaluation.

use crate::model::{LayerKind, LayerSpec, Norm};
use crate::op::Activation;
use crate::reference::layer::{LayerTwin, ParamGrads, Weights};
use crate::reference::norm::{bn_apply, bn_dx, bn_grad_sums, bn_running, bn_stats};

/// BatchNorm1d and BatchNorm2d.
pub struct BatchNorm;

/// The layer's constants and (c, s).
fn dims(l: &LayerSpec) -> (Norm, usize, usize) {
    let LayerKind::BatchNorm(norm) = l.kind else {
        panic!("layer {} is not a batch normalization", l.index)
    };
    let [c, h, w] = l.in_shape;
    (norm, c, h * w)
}

impl LayerTwin for BatchNorm {
    fn forward(&self, l: &LayerSpec, x: &[f64], p: &Weights, rows: usize) -> Vec<f64> {
        let (norm, c, s) = dims(l);
        let (mean, var) = if p.training {
            bn_stats(x, rows, c, s)
        } else {
            (p.buffers[0].to_vec(), p.buffers[1].to_vec())
        };
        bn_apply(
            x,
            c,
            s,
            &mean,
            &var,
            p.get("weight"),
            p.get("bias"),
            f64::from(norm.eps),
            Activation::Identity,
        )
    }

    fn param_grads(
        &self,
        l: &LayerSpec,
        _p: &Weights,
        x: &[f64],
        dz: &[f64],
        rows: usize,
    ) -> ParamGrads {
        let (norm, c, s) = dims(l);
        let (mean, var) = bn_stats(x, rows, c, s);
        let (sdx, sd) = bn_grad_sums(x, dz, rows, c, s, &mean, &var, f64::from(norm.eps));
        vec![("weight", sdx), ("bias", sd)]
    }

    fn input_grad(
        &self,
        l: &LayerSpec,
        p: &Weights,
        x: &[f64],
        dz: &[f64],
        rows: usize,
    ) -> Vec<f64> {
        let (norm, c, s) = dims(l);
        bn_dx(x, dz, rows, c, s, p.get("weight"), f64::from(norm.eps))
    }

    fn updated_buffers(&self, l: &LayerSpec, p: &Weights, x: &[f64], rows: usize) -> Vec<Vec<f64>> {
        let (norm, c, s) = dims(l);
        let (mean, var) = bn_stats(x, rows, c, s);
        let (mut rm, mut rv) = (p.buffers[0].to_vec(), p.buffers[1].to_vec());
        bn_running(
            &mut rm,
            &mut rv,
            &mean,
            &var,
            rows * s,
            f64::from(norm.momentum),
        );
        vec![rm, rv, vec![p.buffers[2][0] + 1.0]]
    }
}
