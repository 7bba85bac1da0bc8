//! f64 twin of a residual block's end (`plan/residual.rs`): `z = body + x`
//! or `z = body + proj(x)`, with `x` the block's input, the projection run
//! by its own kind's twin; the body's gradient is `dz`, and the shortcut's
//! (`dz`, or the projection's input gradient) is added to the block's
//! input gradient.

use crate::model::{LayerSpec, Projection};
use crate::reference::conv_layer::{Conv, ConvTranspose};
use crate::reference::dense::Dense;
use crate::reference::layer::{LayerTwin, ParamGrads, Weights};

/// The residual block's twin.
pub struct Residual;

/// The projection as a layer of its own, and its kind's twin (none for
/// the identity).
fn projection(l: &LayerSpec) -> Option<(LayerSpec, &'static dyn LayerTwin)> {
    let pl = l.projection()?;
    let twin: &'static dyn LayerTwin = match l.skip()?.proj {
        Projection::Identity => return None,
        Projection::Dense => &Dense,
        Projection::Conv(_) => &Conv,
        Projection::ConvTranspose(_) => &ConvTranspose,
    };
    Some((pl, twin))
}

/// The projection's parameters under its kind's names (`weight`, `bias`).
fn proj_weights<'a>(p: &Weights<'a>) -> Weights<'a> {
    Weights {
        params: [("weight", "proj.weight"), ("bias", "proj.bias")]
            .into_iter()
            .filter(|(_, name)| !p.get(name).is_empty())
            .map(|(own, name)| (own, p.get(name)))
            .collect(),
        transposed: false,
        buffers: Vec::new(),
        skip: None,
        training: p.training,
    }
}

fn skip<'a>(l: &LayerSpec, p: &Weights<'a>) -> &'a [f64] {
    let Some(x) = p.skip else {
        panic!(
            "residual layer {} was run without its block's input",
            l.index
        );
    };
    x
}

impl LayerTwin for Residual {
    fn forward(&self, l: &LayerSpec, body: &[f64], p: &Weights, rows: usize) -> Vec<f64> {
        let x = skip(l, p);
        let short = match projection(l) {
            Some((pl, twin)) => twin.forward(&pl, x, &proj_weights(p), rows),
            None => x.to_vec(),
        };
        body.iter().zip(&short).map(|(a, b)| a + b).collect()
    }

    /// The projection's gradients, renamed to its submodule's names.
    fn param_grads(
        &self,
        l: &LayerSpec,
        p: &Weights,
        _body: &[f64],
        dz: &[f64],
        rows: usize,
    ) -> ParamGrads {
        let Some((pl, twin)) = projection(l) else {
            return Vec::new();
        };
        twin.param_grads(&pl, &proj_weights(p), skip(l, p), dz, rows)
            .into_iter()
            .map(|(name, g)| {
                (
                    if name == "weight" {
                        "proj.weight"
                    } else {
                        "proj.bias"
                    },
                    g,
                )
            })
            .collect()
    }

    /// The body's output gradient is the sum's.
    fn input_grad(
        &self,
        _l: &LayerSpec,
        _p: &Weights,
        _body: &[f64],
        dz: &[f64],
        _rows: usize,
    ) -> Vec<f64> {
        dz.to_vec()
    }

    fn skip_grad(&self, l: &LayerSpec, p: &Weights, dz: &[f64], rows: usize) -> Vec<f64> {
        match projection(l) {
            Some((pl, twin)) => twin.input_grad(&pl, &proj_weights(p), skip(l, p), dz, rows),
            None => dz.to_vec(),
        }
    }
}
