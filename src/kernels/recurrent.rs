//! shaders/recurrent.wgsl: one time step of an LSTM or GRU layer, forward
//! (the recurrent product, the gates and the state update in one dispatch)
//! and backward (the gates' gradients; the recurrent gradient into the step
//! before is a matmul by W_hh).

use bytemuck::{Pod, Zeroable};

use crate::error::Result;
use crate::gpu::{GpuContext, GpuTensor, Kernel, Shader, Step};
use crate::kernels::common::COMMON;
use crate::kernels::elementwise::ew_groups;
use crate::kernels::shape::{need, product, u32_dim};
use crate::model::Recurrence;

/// shaders/recurrent.wgsl.
pub static SHADER: Shader = Shader {
    name: "recurrent",
    prelude: COMMON,
    body: include_str!("../../shaders/recurrent.wgsl"),
    needs_f16: false,
    needs_subgroups: false,
};

/// The bindings of shaders/recurrent.wgsl, as the shader names them
/// (binding 0 is the uniform parameters).
pub mod binding {
    pub const XW: u32 = 1;
    pub const WHH: u32 = 2;
    pub const BHH: u32 = 3;
    pub const STATE: u32 = 4;
    pub const CELL: u32 = 5;
    pub const GATES: u32 = 6;
    pub const OUT: u32 = 7;
    pub const DOUT: u32 = 8;
    pub const DHREC: u32 = 9;
    pub const CARRY: u32 = 10;
    pub const DXW: u32 = 11;
    pub const DHW: u32 = 12;
}

/// The bindings by WGSL name, for the test that reads them back from the shader.
pub const BINDINGS: &[(&str, u32)] = &[
    ("xw", 1),
    ("whh", 2),
    ("bhh", 3),
    ("state", 4),
    ("cell", 5),
    ("gates", 6),
    ("out", 7),
    ("dout", 8),
    ("dhrec", 9),
    ("carry", 10),
    ("dxw", 11),
    ("dhw", 12),
];

fn kernel(entry: &'static str) -> Kernel {
    Kernel::new(&SHADER, entry)
}

/// Every kernel of the file.
pub fn kernels() -> Vec<Kernel> {
    ["lstm_step", "gru_step", "lstm_step_back", "gru_step_back"]
        .into_iter()
        .map(kernel)
        .collect()
}

/// A recurrent layer's sizes: `n` rows of `steps` time steps, `h` units;
/// and the words from one step to the next in the time-major tensors, the
/// states (`ss` >= n h) and the recurrent gradient (`ws` >= n G h), padded
/// so that each step's slice starts where a storage binding may.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecDims {
    pub n: usize,
    pub steps: usize,
    pub h: usize,
    pub ss: usize,
    pub ws: usize,
}

impl RecDims {
    /// The sizes with unpadded steps (the f64 twins' layout).
    pub fn dense(cell: Recurrence, n: usize, steps: usize, h: usize) -> Self {
        Self {
            n,
            steps,
            h,
            ss: n * h,
            ws: n * cell.gates() * h,
        }
    }

    /// The sizes with each step's slice aligned for `ctx`'s bindings.
    pub fn aligned(ctx: &GpuContext, cell: Recurrence, n: usize, steps: usize, h: usize) -> Self {
        let align = (ctx.limits().min_storage_buffer_offset_alignment as usize / 4).max(1);
        let up = |v: usize| v.div_ceil(align) * align;
        Self {
            ss: up(n * h),
            ws: up(n * cell.gates() * h),
            ..Self::dense(cell, n, steps, h)
        }
    }

    /// Words of the states, `(T + 1) * ss`.
    pub fn state_len(&self) -> usize {
        (self.steps + 1) * self.ss
    }

    /// Words of the recurrent gradient, `T * ws`.
    pub fn dhw_len(&self) -> usize {
        self.steps * self.ws
    }
}

/// A tensor's length in the layer's sizes.
enum Per {
    /// (N, H): one step's.
    Row,
    /// k (N, T, H): a sequence's, k values per unit.
    Seq(usize),
    /// (T + 1) x ss: the states, the initial one first.
    States,
    /// T x ws: the recurrent gradient.
    Steps,
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct RecParams {
    n: u32,
    steps: u32,
    h: u32,
    t: u32,
    ss: u32,
    ws: u32,
    last: u32,
    pad: u32,
}

impl RecDims {
    fn params(&self, op: &'static str, t: usize) -> Result<RecParams> {
        if t >= self.steps {
            return Err(crate::error::Error::Shape {
                op,
                detail: format!("step {t} of a {}-step sequence", self.steps),
            });
        }
        let steps = u32_dim(op, "steps", self.steps)?;
        Ok(RecParams {
            n: u32_dim(op, "n", self.n)?,
            steps,
            h: u32_dim(op, "h", self.h)?,
            // Below `steps`, which fits.
            t: t as u32,
            ss: u32_dim(op, "ss", self.ss)?,
            ws: u32_dim(op, "ws", self.ws)?,
            last: 0,
            pad: 0,
        })
    }

    /// Checks each view's length, given as a multiple of the layer's sizes
    /// (`Per`), and returns N H.
    fn check(
        &self,
        op: &'static str,
        g: usize,
        views: &[(&str, &GpuTensor, Per)],
    ) -> Result<usize> {
        let nh = product(op, self.n, self.h)?;
        let seq = product(op, nh, self.steps)?;
        if self.ss < nh || self.ws < product(op, nh, g)? {
            return Err(crate::error::Error::Shape {
                op,
                detail: format!(
                    "step strides {} and {} under a step's size",
                    self.ss, self.ws
                ),
            });
        }
        for (name, t, per) in views {
            let len = match per {
                Per::Row => nh,
                Per::Seq(k) => product(op, seq, *k)?,
                Per::States => product(op, self.steps + 1, self.ss)?,
                Per::Steps => product(op, self.steps, self.ws)?,
            };
            need(op, name, t, len)?;
        }
        Ok(nh)
    }
}

/// The tensors of one step forward: `xw` (N, T, G H), `whh` (G H, H),
/// `bhh` (G H), `state` and `cell` (the LSTM's) (T + 1) x ss,
/// `gates` (T, N, 4H), `out` (N, T, H).
pub struct StepTensors<'a> {
    pub xw: &'a GpuTensor,
    pub whh: &'a GpuTensor,
    pub bhh: &'a GpuTensor,
    pub state: &'a GpuTensor,
    pub cell: Option<&'a GpuTensor>,
    pub gates: &'a GpuTensor,
    pub out: &'a GpuTensor,
}

/// Step `t` forward (see the shader's header).
pub fn rec_step(
    ctx: &GpuContext,
    cell: Recurrence,
    dims: RecDims,
    t: usize,
    x: &StepTensors,
) -> Result<Step> {
    const OP: &str = "rec_step";
    let g = cell.gates();
    let nh = dims.check(
        OP,
        g,
        &[
            ("xw", x.xw, Per::Seq(g)),
            ("state", x.state, Per::States),
            ("gates", x.gates, Per::Seq(4)),
            ("out", x.out, Per::Seq(1)),
        ],
    )?;
    need(OP, "whh", x.whh, g * dims.h * dims.h)?;
    need(OP, "bhh", x.bhh, g * dims.h)?;
    let mut binds = vec![
        (binding::XW, x.xw),
        (binding::WHH, x.whh),
        (binding::BHH, x.bhh),
        (binding::STATE, x.state),
        (binding::GATES, x.gates),
        (binding::OUT, x.out),
    ];
    let entry = match (cell, x.cell) {
        (Recurrence::Lstm, Some(c)) => {
            dims.check(OP, g, &[("cell", c, Per::States)])?;
            binds.push((binding::CELL, c));
            "lstm_step"
        }
        (Recurrence::Lstm, None) => {
            return Err(crate::error::Error::Shape {
                op: OP,
                detail: "an LSTM step needs its cell state".into(),
            })
        }
        (Recurrence::Gru, _) => "gru_step",
    };
    ctx.step(
        &kernel(entry),
        format!("{entry}(t={t}, {}x{})", dims.n, dims.h),
        &dims.params(OP, t)?,
        &binds,
        ew_groups(ctx, OP, nh)?,
    )
}

/// The tensors of one step backward: `dout` (N, T, H), or (N, H) where
/// `last` (the gradient w.r.t. the last step's output alone), `dhrec` (N, H),
/// `carry` (N, H), what the forward pass kept (`gates`; the LSTM's `cell`,
/// the GRU's `state`), and the gradients written: `dxw` (N, T, G H) and
/// `dhw` T x ws.
pub struct BackTensors<'a> {
    pub dout: &'a GpuTensor,
    pub last: bool,
    pub dhrec: &'a GpuTensor,
    pub carry: &'a GpuTensor,
    pub gates: &'a GpuTensor,
    /// The LSTM's cell states, or the GRU's hidden states.
    pub kept: &'a GpuTensor,
    pub dxw: &'a GpuTensor,
    pub dhw: &'a GpuTensor,
}

/// Step `t` backward (see the shader's header).
pub fn rec_step_back(
    ctx: &GpuContext,
    cell: Recurrence,
    dims: RecDims,
    t: usize,
    x: &BackTensors,
) -> Result<Step> {
    const OP: &str = "rec_step_back";
    let g = cell.gates();
    let nh = dims.check(
        OP,
        g,
        &[
            ("dout", x.dout, if x.last { Per::Row } else { Per::Seq(1) }),
            ("dhrec", x.dhrec, Per::Row),
            ("carry", x.carry, Per::Row),
            ("gates", x.gates, Per::Seq(4)),
            ("kept", x.kept, Per::States),
            ("dxw", x.dxw, Per::Seq(g)),
            ("dhw", x.dhw, Per::Steps),
        ],
    )?;
    let (entry, kept) = match cell {
        Recurrence::Lstm => ("lstm_step_back", binding::CELL),
        Recurrence::Gru => ("gru_step_back", binding::STATE),
    };
    let params = RecParams {
        last: u32::from(x.last),
        ..dims.params(OP, t)?
    };
    ctx.step(
        &kernel(entry),
        format!("{entry}(t={t}, {}x{})", dims.n, dims.h),
        &params,
        &[
            (binding::DOUT, x.dout),
            (binding::DHREC, x.dhrec),
            (binding::CARRY, x.carry),
            (binding::GATES, x.gates),
            (kept, x.kept),
            (binding::DXW, x.dxw),
            (binding::DHW, x.dhw),
        ],
        ew_groups(ctx, OP, nh)?,
    )
}
