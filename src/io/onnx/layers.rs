//! Each layer kind as ONNX operators, with its weights from the model's
//! arena in PyTorch's layout. A value between layers is a tensor
//! `[batch, dims...]`; each layer first reshapes its input to the form its
//! operator reads (flat rows, `[C, L]` or `[C, H, W]` images, `[T, F]`
//! sequences), so that layers agree however the one before left it.

use crate::error::{Error, Result};
use crate::io::onnx::graph::{Attr, Graph};
use crate::model::layer::Rnn;
use crate::model::{LayerKind, LayerSpec, Projection, Recurrence, Shape, Skip, Window};
use crate::op::Activation;
use crate::plan::layout::LayerParams;
use crate::plan::ParamLayout;

/// A value of the graph and its dims after the batch.
#[derive(Clone, Debug)]
pub struct Value {
    pub name: String,
    pub dims: Vec<usize>,
}

/// The trained tensors, by layer and name.
pub struct Weights<'a> {
    pub layout: &'a ParamLayout,
    pub arena: &'a [f32],
}

impl Weights<'_> {
    /// The parameter `name` of a layer: its shape and values.
    fn get(&self, lp: &LayerParams, name: &str) -> Result<(Vec<usize>, &[f32])> {
        let i = lp
            .get(name)
            .ok_or_else(|| Error::InvalidArgument(format!("the model has no parameter {name}")))?;
        Ok(self.entry(i))
    }

    fn entry(&self, i: usize) -> (Vec<usize>, &[f32]) {
        let e = &self.layout.entries[i];
        (e.shape.clone(), &self.arena[e.offset..e.offset + e.len()])
    }

    /// The parameter `name` as an initializer (an error if the layer
    /// lacks it).
    fn param(&self, g: &mut Graph, lp: &LayerParams, name: &str) -> Result<String> {
        let (shape, v) = self.get(lp, name)?;
        Ok(g.weight(name, &shape, v))
    }

    /// The optional parameter `name` (a bias) as an initializer.
    fn init(&self, g: &mut Graph, lp: &LayerParams, name: &str) -> Result<Option<String>> {
        lp.get(name).map(|_| self.param(g, lp, name)).transpose()
    }
}

fn flat(s: Shape) -> Vec<usize> {
    vec![s.iter().product()]
}

fn image(s: Shape, one_d: bool) -> Vec<usize> {
    if one_d {
        vec![s[0], s[2]]
    } else {
        s.to_vec()
    }
}

fn seq(s: Shape) -> Vec<usize> {
    vec![s[0], s[1] * s[2]]
}

/// `x` in the form `dims` (a Reshape where it is in another).
pub fn shaped(g: &mut Graph, x: &Value, dims: Vec<usize>) -> Value {
    if x.dims == dims {
        return x.clone();
    }
    Value {
        name: g.reshape(&x.name, &dims),
        dims,
    }
}

/// The window's kernel, strides, pads (begin then end) and dilations over
/// the spatial dims, the end pads following from the sizes; an error where
/// ONNX's size rule would not give `out`.
fn window_attrs(
    w: &Window,
    input: Shape,
    out: Shape,
    transposed: bool,
) -> Result<(Vec<Attr>, Vec<i64>)> {
    let axes: &[(usize, usize, usize, usize, usize)] = if w.one_d {
        &[(input[2], out[2], w.kw, w.sw, w.pw)]
    } else {
        &[
            (input[1], out[1], w.kh, w.sh, w.ph),
            (input[2], out[2], w.kw, w.sw, w.pw),
        ]
    };
    let dil: Vec<i64> = if w.one_d {
        vec![w.dw as i64]
    } else {
        vec![w.dh as i64, w.dw as i64]
    };
    let (mut begin, mut end, mut extra) = (Vec::new(), Vec::new(), Vec::new());
    for (&(i, o, k, s, p), &d) in axes.iter().zip(&dil) {
        let (i, o, k, s, p, d) = (i as i64, o as i64, k as i64, s as i64, p as i64, d);
        let span = (k - 1) * d + 1;
        let (pe, op) = if transposed {
            // out = s (i - 1) + output_padding + span - p - pe
            let pe = s * (i - 1) + span - p - o;
            if pe < 0 {
                (0, -pe)
            } else {
                (pe, 0)
            }
        } else {
            // out = floor((i + p + pe - span) / s) + 1
            (((o - 1) * s + span - i - p).max(0), 0)
        };
        let got = if transposed {
            s * (i - 1) + op + span - p - pe
        } else {
            (i + p + pe - span) / s + 1
        };
        if got != o || op >= s.max(d) {
            return Err(Error::InvalidArgument(format!(
                "a window of {k} (stride {s}, padding {p}) from {i} to {o} has no ONNX form"
            )));
        }
        begin.push(p);
        end.push(pe);
        extra.push(op);
    }
    let kernel: Vec<i64> = axes.iter().map(|a| a.2 as i64).collect();
    let strides: Vec<i64> = axes.iter().map(|a| a.3 as i64).collect();
    let pads: Vec<i64> = begin.into_iter().chain(end).collect();
    let attrs = vec![
        Attr::ints("kernel_shape", &kernel),
        Attr::ints("strides", &strides),
        Attr::ints("pads", &pads),
    ];
    Ok((attrs, if transposed { extra } else { dil }))
}

/// Layer `l` on `x`; `block` is its residual block's input (for a block's
/// end).
pub fn layer(
    g: &mut Graph,
    w: &Weights,
    l: &LayerSpec,
    lp: &LayerParams,
    x: &Value,
    block: Option<&Value>,
) -> Result<Value> {
    let (i, o) = (l.in_shape, l.out_shape);
    let y = match l.kind {
        LayerKind::Dense => {
            let x = shaped(g, x, flat(i));
            dense(g, w, lp, &x, lp.transposed, "weight", "bias")?
        }
        LayerKind::Conv(win) | LayerKind::ConvTranspose(win) => {
            let t = matches!(l.kind, LayerKind::ConvTranspose(_));
            let x = shaped(g, x, image(i, win.one_d));
            conv(g, w, lp, &x, &win, (i, o), t, "")?
        }
        LayerKind::MaxPool(win) | LayerKind::AvgPool(win) => {
            let x = shaped(g, x, image(i, win.one_d));
            let (mut attrs, _) = window_attrs(&win, i, o, false)?;
            let op = if matches!(l.kind, LayerKind::MaxPool(_)) {
                "MaxPool"
            } else {
                attrs.push(Attr::int("count_include_pad", 0));
                "AveragePool"
            };
            Value {
                name: g.op(op, &[&x.name], attrs),
                dims: image(o, win.one_d),
            }
        }
        LayerKind::Upsample { fh, fw, one_d } => {
            let x = shaped(g, x, image(i, one_d));
            let scales: Vec<f32> = if one_d {
                vec![1.0, 1.0, fw as f32]
            } else {
                vec![1.0, 1.0, fh as f32, fw as f32]
            };
            let s = g.weight("scales", &[scales.len()], &scales);
            let attrs = vec![
                Attr::string("mode", "nearest"),
                Attr::string("coordinate_transformation_mode", "asymmetric"),
                Attr::string("nearest_mode", "floor"),
            ];
            Value {
                name: g.op("Resize", &[&x.name, "", &s], attrs),
                dims: image(o, one_d),
            }
        }
        LayerKind::Reshape { .. } => x.clone(),
        LayerKind::BatchNorm(norm) => batch_norm(g, w, lp, x, i, norm.two_d, norm.eps)?,
        LayerKind::Residual(skip) => residual(g, w, lp, x, block, &skip, o)?,
        LayerKind::Recurrent(r) => {
            let x = shaped(g, x, seq(i));
            recurrent(g, w, lp, &x, &r)?
        }
        LayerKind::Repeat { times } => {
            let x = shaped(g, x, flat(i));
            let axes = g.ints("axes", &[1]);
            let u = g.op("Unsqueeze", &[&x.name, &axes], vec![]);
            let shape = g.ints("shape", &[1, times as i64, 1]);
            Value {
                name: g.op("Expand", &[&u, &shape], vec![]),
                dims: vec![times, x.dims[0]],
            }
        }
        LayerKind::StepDense => step_dense(g, w, lp, x, i)?,
        LayerKind::Permute => {
            let x = shaped(g, x, vec![i[0], i[2]]);
            Value {
                name: g.op(
                    "Transpose",
                    &[&x.name],
                    vec![Attr::ints("perm", &[0, 2, 1])],
                ),
                dims: vec![i[2], i[0]],
            }
        }
    };
    Ok(activation(g, y, l.act))
}

/// Batch normalization in evaluation: over the running statistics.
#[allow(clippy::too_many_arguments)]
fn batch_norm(
    g: &mut Graph,
    w: &Weights,
    lp: &LayerParams,
    x: &Value,
    i: Shape,
    two_d: bool,
    eps: f32,
) -> Result<Value> {
    let dims = if two_d {
        i.to_vec()
    } else if i[1] * i[2] == 1 {
        vec![i[0]]
    } else {
        vec![i[0], i[1] * i[2]]
    };
    let x = shaped(g, x, dims.clone());
    let gamma = w.param(g, lp, "weight")?;
    let beta = w.param(g, lp, "bias")?;
    let first = lp
        .buffers
        .ok_or_else(|| Error::InvalidArgument("batch norm without statistics".into()))?;
    let (ms, mean) = w.entry(first);
    let (vs, var) = w.entry(first + 1);
    let (m, v) = (
        g.weight("running_mean", &ms, mean),
        g.weight("running_var", &vs, var),
    );
    let name = g.op(
        "BatchNormalization",
        &[&x.name, &gamma, &beta, &m, &v],
        vec![Attr::float("epsilon", eps)],
    );
    Ok(Value { name, dims })
}

/// A residual block's end: its body's output plus its input through the
/// shortcut's projection.
fn residual(
    g: &mut Graph,
    w: &Weights,
    lp: &LayerParams,
    x: &Value,
    block: Option<&Value>,
    skip: &Skip,
    o: Shape,
) -> Result<Value> {
    let b =
        block.ok_or_else(|| Error::InvalidArgument("a residual block without its input".into()))?;
    let short = match skip.proj {
        Projection::Identity => b.clone(),
        Projection::Dense => {
            let b = shaped(g, b, flat(skip.from));
            dense(g, w, lp, &b, false, "proj.weight", "proj.bias")?
        }
        Projection::Conv(win) | Projection::ConvTranspose(win) => {
            let t = matches!(skip.proj, Projection::ConvTranspose(_));
            let b = shaped(g, b, image(skip.from, win.one_d));
            conv(g, w, lp, &b, &win, (skip.from, o), t, "proj.")?
        }
    };
    let (body, short) = (shaped(g, x, flat(o)), shaped(g, &short, flat(o)));
    Ok(Value {
        name: g.op("Add", &[&body.name, &short.name], vec![]),
        dims: flat(o),
    })
}

/// A Dense layer at every step of a sequence.
fn step_dense(g: &mut Graph, w: &Weights, lp: &LayerParams, x: &Value, i: Shape) -> Result<Value> {
    let x = shaped(g, x, seq(i));
    let (shape, v) = w.get(lp, "weight")?;
    let (units, f) = (shape[0], shape[1]);
    let wt: Vec<f32> = (0..f * units)
        .map(|k| v[(k % units) * f + k / units])
        .collect();
    let wt = g.weight("weight_t", &[f, units], &wt);
    let mut y = g.op("MatMul", &[&x.name, &wt], vec![]);
    if let Some(b) = w.init(g, lp, "bias")? {
        y = g.op("Add", &[&y, &b], vec![]);
    }
    Ok(Value {
        name: y,
        dims: vec![x.dims[0], units],
    })
}

/// `x W^T + b` (a tied layer: `x W + b`) from the parameters `wname` and
/// `bname`.
fn dense(
    g: &mut Graph,
    w: &Weights,
    lp: &LayerParams,
    x: &Value,
    transposed: bool,
    wname: &str,
    bname: &str,
) -> Result<Value> {
    let (shape, v) = w.get(lp, wname)?;
    let wt = g.weight(wname, &shape, v);
    let b = w.init(g, lp, bname)?;
    let mut inputs = vec![x.name.as_str(), wt.as_str()];
    if let Some(b) = &b {
        inputs.push(b);
    }
    let trans_b = if transposed { 0 } else { 1 };
    let out = if transposed { shape[1] } else { shape[0] };
    Ok(Value {
        name: g.op("Gemm", &inputs, vec![Attr::int("transB", trans_b)]),
        dims: vec![out],
    })
}

/// A convolution (or its transpose) from `prefix`weight and `prefix`bias.
#[allow(clippy::too_many_arguments)]
fn conv(
    g: &mut Graph,
    w: &Weights,
    lp: &LayerParams,
    x: &Value,
    win: &Window,
    (i, o): (Shape, Shape),
    transposed: bool,
    prefix: &str,
) -> Result<Value> {
    let (mut attrs, extra) = window_attrs(win, i, o, transposed)?;
    if transposed {
        attrs.push(Attr::ints("output_padding", &extra));
    } else {
        attrs.push(Attr::ints("dilations", &extra));
    }
    let wt = w.param(g, lp, &format!("{prefix}weight"))?;
    let b = w.init(g, lp, &format!("{prefix}bias"))?;
    let mut inputs = vec![x.name.as_str(), wt.as_str()];
    if let Some(b) = &b {
        inputs.push(b);
    }
    let op = if transposed { "ConvTranspose" } else { "Conv" };
    Ok(Value {
        name: g.op(op, &inputs, attrs),
        dims: image(o, win.one_d),
    })
}

/// PyTorch's gate blocks (`gates` of `h` rows each) reordered to ONNX's:
/// LSTM i, f, g, o to i, o, f, c; GRU r, z, n to z, r, h.
fn reorder(v: &[f32], cell: Recurrence) -> Vec<f32> {
    let order: &[usize] = match cell {
        Recurrence::Lstm => &[0, 3, 1, 2],
        Recurrence::Gru => &[1, 0, 2],
    };
    let block = v.len() / order.len();
    order
        .iter()
        .flat_map(|&k| v[k * block..(k + 1) * block].iter().copied())
        .collect()
}

/// PyTorch's `nn.LSTM`/`nn.GRU` (batch first, one layer, zero initial
/// states) as ONNX's LSTM/GRU over `[T, batch, F]`.
fn recurrent(g: &mut Graph, w: &Weights, lp: &LayerParams, x: &Value, r: &Rnn) -> Result<Value> {
    let (t, f, h) = (x.dims[0], x.dims[1], r.hidden);
    let gh = r.gates() * h;
    let (_, wih) = w.get(lp, "weight_ih_l0")?;
    let (_, whh) = w.get(lp, "weight_hh_l0")?;
    let (_, bih) = w.get(lp, "bias_ih_l0")?;
    let (_, bhh) = w.get(lp, "bias_hh_l0")?;
    let wi = g.weight("W", &[1, gh, f], &reorder(wih, r.cell));
    let wr = g.weight("R", &[1, gh, h], &reorder(whh, r.cell));
    let b: Vec<f32> = reorder(bih, r.cell)
        .into_iter()
        .chain(reorder(bhh, r.cell))
        .collect();
    let b = g.weight("B", &[1, 2 * gh], &b);
    let tx = g.op(
        "Transpose",
        &[&x.name],
        vec![Attr::ints("perm", &[1, 0, 2])],
    );
    let mut attrs = vec![Attr::int("hidden_size", h as i64)];
    let op = match r.cell {
        Recurrence::Lstm => "LSTM",
        Recurrence::Gru => {
            attrs.push(Attr::int("linear_before_reset", 1));
            "GRU"
        }
    };
    let outs = g.op_n(op, &[&tx, &wi, &wr, &b], 2, attrs);
    Ok(if r.return_sequences {
        let axes = g.ints("axes", &[1]);
        let y = g.op("Squeeze", &[&outs[0], &axes], vec![]);
        Value {
            name: g.op("Transpose", &[&y], vec![Attr::ints("perm", &[1, 0, 2])]),
            dims: vec![t, h],
        }
    } else {
        let axes = g.ints("axes", &[0]);
        Value {
            name: g.op("Squeeze", &[&outs[1], &axes], vec![]),
            dims: vec![h],
        }
    })
}

/// `act(x)`; softmax over each row's values.
pub fn activation(g: &mut Graph, x: Value, act: Activation) -> Value {
    let one = |g: &mut Graph, op: &str, x: &Value, attrs| Value {
        name: g.op(op, &[&x.name], attrs),
        dims: x.dims.clone(),
    };
    match act {
        Activation::Identity => x,
        Activation::Relu => one(g, "Relu", &x, vec![]),
        Activation::LeakyRelu(a) => one(g, "LeakyRelu", &x, vec![Attr::float("alpha", a)]),
        Activation::Sigmoid => one(g, "Sigmoid", &x, vec![]),
        Activation::Tanh => one(g, "Tanh", &x, vec![]),
        Activation::Softmax => {
            let n = x.dims.iter().product();
            let f = shaped(g, &x, vec![n]);
            one(g, "Softmax", &f, vec![Attr::int("axis", 1)])
        }
        Activation::Gelu => {
            // 0.5 x (1 + tanh(c (x + k x^3))), PyTorch's approximate='tanh'.
            let (c, k, half, onec) = (
                g.scalar(0.797_884_6),
                g.scalar(0.044715),
                g.scalar(0.5),
                g.scalar(1.0),
            );
            let x2 = g.op("Mul", &[&x.name, &x.name], vec![]);
            let x3 = g.op("Mul", &[&x2, &x.name], vec![]);
            let kx3 = g.op("Mul", &[&x3, &k], vec![]);
            let inner = g.op("Add", &[&x.name, &kx3], vec![]);
            let scaled = g.op("Mul", &[&inner, &c], vec![]);
            let t = g.op("Tanh", &[&scaled], vec![]);
            let t1 = g.op("Add", &[&t, &onec], vec![]);
            let hx = g.op("Mul", &[&x.name, &half], vec![]);
            Value {
                name: g.op("Mul", &[&hx, &t1], vec![]),
                dims: x.dims,
            }
        }
    }
}
