//! Planning an LSTM or GRU layer over whole sequences: the input projection
//! of every step as one matmul, then one fused dispatch per step
//! (`kernels::recurrent`); backward through time, one dispatch and one
//! matmul per step, then the parameter and input gradients from what the
//! steps wrote. [`Recurrent`] plans the `lstm` and `gru` layer kinds so.
//!
//! ```text
//!   x            (N T, F)     the input, each row one step of one sequence
//!   xw, dxw      (N T, G H)   the input projection x W_ih^T + b_ih, its gradient
//!   state, cell  (T + 1) x ss the hidden (and LSTM cell) states, time-major
//!   gates        (T, N, 4H)   what backward reads
//!   dhw          T x ws       the gradient w.r.t. each step's recurrent product
//!   dhrec, carry (N, H)       what one step backward hands the step before
//! ```
//!
//! Per step: 1 dispatch forward; 1 dispatch and 1 matmul backward (and,
//! once the steps are done, 1 matmul and 1 column sum per step for W_hh's
//! and b_hh's gradients, accumulated over the steps).

use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GpuTensor, Step};
use crate::kernels::{self as ops, BackTensors, MatmulSpec, RecDims, StepTensors};
use crate::model::layer::{steps_features, Recurrence};
use crate::model::{LayerKind, LayerSpec};
use crate::op::Activation;
use crate::plan::layer::{Grad, LayerPlan, Params};
use crate::plan::options::PlanOptions;

/// A layer's parameters (or their gradients), as PyTorch names them:
/// `weight_ih_l0` (G H, F), `weight_hh_l0` (G H, H), `bias_ih_l0` and
/// `bias_hh_l0` (G H).
pub struct RecTensors<'a> {
    pub w_ih: &'a GpuTensor,
    pub w_hh: &'a GpuTensor,
    pub b_ih: &'a GpuTensor,
    pub b_hh: &'a GpuTensor,
}

/// A layer's shape: its cell, its sizes and its input's features `f_in`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecLayer {
    pub cell: Recurrence,
    pub dims: RecDims,
    pub f_in: usize,
    /// Whether the layer's output is every step's h (N, T, H), or the last
    /// step's alone (N, H).
    pub return_sequences: bool,
}

/// The buffers of one layer at capacity `dims.n` sequences.
pub struct RecBuffers {
    pub xw: GpuTensor,
    pub state: GpuTensor,
    pub cell: Option<GpuTensor>,
    pub gates: GpuTensor,
    pub dhrec: GpuTensor,
    pub carry: GpuTensor,
    pub dxw: GpuTensor,
    pub dhw: GpuTensor,
    /// (N, T, H) every step's output, for a layer that returns the last.
    pub seq: Option<GpuTensor>,
}

impl RecBuffers {
    pub fn new(ctx: &GpuContext, l: RecLayer) -> Result<Self> {
        let (cell, d) = (l.cell, l.dims);
        let (nh, gh) = (d.n * d.h, cell.gates() * d.h);
        let seq = d.n * d.steps;
        Ok(Self {
            xw: ctx.zeros("rec xw", seq * gh)?,
            state: ctx.zeros("rec state", d.state_len())?,
            cell: match cell {
                Recurrence::Lstm => Some(ctx.zeros("rec cell", d.state_len())?),
                Recurrence::Gru => None,
            },
            gates: ctx.zeros("rec gates", seq * 4 * d.h)?,
            dhrec: ctx.zeros("rec dhrec", nh)?,
            carry: ctx.zeros("rec carry", nh)?,
            dxw: ctx.zeros("rec dxw", seq * gh)?,
            dhw: ctx.zeros("rec dhw", d.dhw_len())?,
            seq: if l.return_sequences {
                None
            } else {
                Some(ctx.zeros("rec sequence", seq * d.h)?)
            },
        })
    }
}

/// Forward over `x` (N T, F) into `out` (N, T, H), or (N, H) for a layer
/// that returns its last state: the initial states zeroed, the input
/// projection, then the steps.
pub fn rec_forward_steps(
    ctx: &GpuContext,
    l: RecLayer,
    p: &RecTensors,
    b: &RecBuffers,
    x: &GpuTensor,
    out: &GpuTensor,
) -> Result<Vec<Step>> {
    let (cell, d, f_in) = (l.cell, l.dims, l.f_in);
    let (nh, gh) = (d.n * d.h, cell.gates() * d.h);
    let mut steps = vec![ops::fill(ctx, 0.0, &b.state.view(0, nh)?)?];
    if let Some(c) = &b.cell {
        steps.push(ops::fill(ctx, 0.0, &c.view(0, nh)?)?);
    }
    let spec = MatmulSpec::new(d.n * d.steps, gh, f_in, false, true);
    steps.push(ops::matmul(ctx, &spec, x, p.w_ih, Some(p.b_ih), &b.xw)?);
    let t = StepTensors {
        xw: &b.xw,
        whh: p.w_hh,
        bhh: p.b_hh,
        state: &b.state,
        cell: b.cell.as_ref(),
        gates: &b.gates,
        out: b.seq.as_ref().unwrap_or(out),
    };
    for step in 0..d.steps {
        steps.push(ops::rec_step(ctx, cell, d, step, &t)?);
    }
    if !l.return_sequences {
        // The last state, an aligned slice of the time-major states.
        let last = b.state.view(d.steps * d.ss, nh)?;
        steps.push(ops::axpby(ctx, nh, 1.0, &last, 0.0, out)?);
    }
    Ok(steps)
}

/// Backward through time from `dout` (N, T, H), or (N, H) for a layer that
/// returns its last state: the parameter gradients
/// into `g` (overwritten) and, where asked, the input's into `dx` (N T, F).
#[allow(clippy::too_many_arguments)]
pub fn rec_backward_steps(
    ctx: &GpuContext,
    l: RecLayer,
    p: &RecTensors,
    b: &RecBuffers,
    x: &GpuTensor,
    dout: &GpuTensor,
    g: &RecTensors,
    dx: Option<&GpuTensor>,
) -> Result<Vec<Step>> {
    let (cell, d, f_in) = (l.cell, l.dims, l.f_in);
    let (n, h, gh) = (d.n, d.h, cell.gates() * d.h);
    let rows = n * d.steps;
    let mut steps = vec![
        ops::fill(ctx, 0.0, &b.dhrec)?,
        ops::fill(ctx, 0.0, &b.carry)?,
    ];
    let kept = b.cell.as_ref().unwrap_or(&b.state);
    let back = BackTensors {
        dout,
        last: !l.return_sequences,
        dhrec: &b.dhrec,
        carry: &b.carry,
        gates: &b.gates,
        kept,
        dxw: &b.dxw,
        dhw: &b.dhw,
    };
    for t in (0..d.steps).rev() {
        steps.push(ops::rec_step_back(ctx, cell, d, t, &back)?);
        if t > 0 {
            // The recurrent gradient into the step before: dhw_t W_hh.
            let spec = MatmulSpec::new(n, h, gh, false, false);
            let dhw_t = b.dhw.view(t * d.ws, n * gh)?;
            steps.push(ops::matmul(ctx, &spec, &dhw_t, p.w_hh, None, &b.dhrec)?);
        }
    }
    // W_ih and b_ih from every step at once; W_hh and b_hh step by step,
    // each step's product added to the sum (the first writes it).
    let spec = MatmulSpec::new(gh, f_in, rows, true, false);
    steps.push(ops::matmul(ctx, &spec, &b.dxw, x, None, g.w_ih)?);
    steps.push(ops::col_sum(ctx, rows, gh, 1.0, 0.0, &b.dxw, None, g.b_ih)?);
    for t in 0..d.steps {
        let beta = if t == 0 { 0.0 } else { 1.0 };
        let dhw_t = b.dhw.view(t * d.ws, n * gh)?;
        let h_prev = b.state.view(t * d.ss, n * h)?;
        let spec = MatmulSpec {
            beta,
            ..MatmulSpec::new(gh, h, n, true, false)
        };
        steps.push(ops::matmul(ctx, &spec, &dhw_t, &h_prev, None, g.w_hh)?);
        steps.push(ops::col_sum(ctx, n, gh, 1.0, beta, &dhw_t, None, g.b_hh)?);
    }
    if let Some(dx) = dx {
        let spec = MatmulSpec::new(rows, f_in, gh, false, false);
        steps.push(ops::matmul(ctx, &spec, &b.dxw, p.w_ih, None, dx)?);
    }
    Ok(steps)
}

/// The LSTM and GRU layer kinds' planning code: the steps above over the
/// layer's scratch buffers, which hold [`RecBuffers`] in its field order
/// (a GRU's cell state and a sequence-returning layer's `seq` one word).
pub struct Recurrent;

/// The layer's cell, sizes at `rows` sequences (each step's slice aligned
/// for `ctx`) and its input features.
fn layer_of(ctx: &GpuContext, l: &LayerSpec, rows: usize) -> Result<RecLayer> {
    let LayerKind::Recurrent(r) = l.kind else {
        return Err(Error::Internal {
            op: format!("planning layer {} ({})", l.index, l.kind.name()),
            message: "not a recurrent layer".into(),
        });
    };
    let cell = r.cell;
    let (steps, f_in) = steps_features(l.in_shape);
    Ok(RecLayer {
        cell,
        dims: RecDims::aligned(ctx, cell, rows, steps, r.hidden),
        f_in,
        return_sequences: r.return_sequences,
    })
}

impl RecBuffers {
    /// The buffers as a layer's scratch (see [`Recurrent`]).
    fn from_scratch(l: &LayerSpec, s: &[GpuTensor], rl: RecLayer) -> Result<Self> {
        let [xw, state, cell, gates, dhrec, carry, dxw, dhw, seq] = s else {
            return Err(Error::Internal {
                op: format!("planning layer {} ({})", l.index, l.kind.name()),
                message: format!("{} scratch buffers, not 9", s.len()),
            });
        };
        Ok(Self {
            xw: xw.clone(),
            state: state.clone(),
            cell: (rl.cell == Recurrence::Lstm).then(|| cell.clone()),
            gates: gates.clone(),
            dhrec: dhrec.clone(),
            carry: carry.clone(),
            dxw: dxw.clone(),
            dhw: dhw.clone(),
            seq: (!rl.return_sequences).then(|| seq.clone()),
        })
    }
}

/// The layer's tensors by PyTorch's names, from `p`.
fn tensors<'a>(l: &LayerSpec, p: &Params<'a>) -> Result<RecTensors<'a>> {
    Ok(RecTensors {
        w_ih: p.named(l, "weight_ih_l0")?,
        w_hh: p.named(l, "weight_hh_l0")?,
        b_ih: p.named(l, "bias_ih_l0")?,
        b_hh: p.named(l, "bias_hh_l0")?,
    })
}

impl LayerPlan for Recurrent {
    fn scratch(
        &self,
        ctx: &GpuContext,
        _opts: &PlanOptions,
        l: &LayerSpec,
        cap: usize,
    ) -> Vec<usize> {
        let Ok(rl) = layer_of(ctx, l, cap) else {
            return Vec::new();
        };
        let d = rl.dims;
        let (seq, gh) = (d.n * d.steps, rl.cell.gates() * d.h);
        vec![
            seq * gh,
            d.state_len(),
            if rl.cell == Recurrence::Lstm {
                d.state_len()
            } else {
                1
            },
            seq * 4 * d.h,
            d.n * d.h,
            d.n * d.h,
            seq * gh,
            d.dhw_len(),
            if rl.return_sequences { 1 } else { seq * d.h },
        ]
    }

    fn forward(
        &self,
        ctx: &GpuContext,
        l: &LayerSpec,
        rows: usize,
        p: &Params,
        input: &GpuTensor,
        _act: Activation,
        target: &GpuTensor,
    ) -> Result<Vec<Step>> {
        let rl = layer_of(ctx, l, rows)?;
        let b = RecBuffers::from_scratch(l, p.scratch, rl)?;
        rec_forward_steps(ctx, rl, &tensors(l, p)?, &b, input, target)
    }

    /// Backward through time and every parameter's gradient (the input's
    /// follows in `input_grad`, from the gradients these steps leave).
    fn param_grads(
        &self,
        ctx: &GpuContext,
        l: &LayerSpec,
        rows: usize,
        p: &Params,
        input: &GpuTensor,
        dz: &Grad,
        g: &Params,
        _accumulate: bool,
    ) -> Result<Vec<Step>> {
        let rl = layer_of(ctx, l, rows)?;
        let b = RecBuffers::from_scratch(l, p.scratch, rl)?;
        let (pt, gt) = (tensors(l, p)?, tensors(l, g)?);
        rec_backward_steps(ctx, rl, &pt, &b, input, dz.plain(l)?, &gt, None)
    }

    /// `dx = dxw W_ih`, from the gradients `param_grads` left.
    fn input_grad(
        &self,
        ctx: &GpuContext,
        l: &LayerSpec,
        rows: usize,
        p: &Params,
        _input: &GpuTensor,
        _dz: &Grad,
        target: &GpuTensor,
    ) -> Result<Vec<Step>> {
        let rl = layer_of(ctx, l, rows)?;
        let b = RecBuffers::from_scratch(l, p.scratch, rl)?;
        let d = rl.dims;
        let spec = MatmulSpec::new(d.n * d.steps, rl.f_in, rl.cell.gates() * d.h, false, false);
        let w_ih = p.named(l, "weight_ih_l0")?;
        Ok(vec![ops::matmul(ctx, &spec, &b.dxw, w_ih, None, target)?])
    }
}
