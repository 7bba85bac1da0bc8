//! Planning a Dense layer, `y = act(x W^T + b)` with W stored (outputs,
//! inputs) as PyTorch stores it, or a tied layer's `y = act(x W_e + b)` with
//! the transpose of its mirror's weight:
//!
//! ```text
//!   x      (rows, inputs)     the layer's input
//!   W      (outputs, inputs)  or W_e (inputs, outputs) when tied
//!   z, y   (rows, outputs)    pre-activation and output
//!   dz     (rows, outputs)    gradient w.r.t. z (or da with the activation
//!                             gradient fused in: dz = da * f'(gate))
//! ```
//!
//! forward: one matmul, with the activation in its epilogue when the plan
//! does not keep z; backward: the weight gradient (a matmul over the batch),
//! the bias gradient (a column sum) and the input gradient (a matmul).

use crate::error::Result;
use crate::gpu::{GpuContext, GpuTensor, Step};
use crate::kernels::{self as ops, MatmulOut, MatmulSpec, Operand, Prologue};
use crate::model::LayerSpec;
use crate::op::Activation;
use crate::plan::layer::{Grad, LayerPlan, Params};

/// The Dense layer's planning code.
pub struct Dense;

impl LayerPlan for Dense {
    fn fuses_act_grad(&self) -> bool {
        true
    }

    /// `target = act(input . op(W) + b)` (with `act` fused into the product's
    /// epilogue, or Identity when the plan applies it in a pass of its own).
    fn forward(
        &self,
        ctx: &GpuContext,
        l: &LayerSpec,
        rows: usize,
        p: &Params,
        input: &GpuTensor,
        act: Activation,
        target: &GpuTensor,
    ) -> Result<Vec<Step>> {
        let spec = MatmulSpec {
            act,
            ..MatmulSpec::new(rows, l.outputs, l.inputs, false, !p.transposed)
        };
        Ok(vec![ops::matmul(
            ctx,
            &spec,
            input,
            p.weight(l)?,
            p.get("bias"),
            target,
        )?])
    }

    /// The same in mixed precision: f16 input and weight, the activation fused,
    /// f16 or f32 output.
    fn forward_f16(
        &self,
        ctx: &GpuContext,
        l: &LayerSpec,
        rows: usize,
        p: &Params,
        input16: &GpuTensor,
        target: MatmulOut,
    ) -> Result<Step> {
        let spec = MatmulSpec {
            act: l.act,
            ..MatmulSpec::new(rows, l.outputs, l.inputs, false, !p.transposed)
        };
        ops::matmul_f16(ctx, &spec, input16, p.weight(l)?, p.get("bias"), target)
    }

    /// The weight gradient into `g.weight` (added to it when `accumulate`: a
    /// tied weight gathers its mirror's gradient and its own), then the bias
    /// gradient into the `bias` of `g`.
    fn param_grads(
        &self,
        ctx: &GpuContext,
        l: &LayerSpec,
        rows: usize,
        p: &Params,
        input: &GpuTensor,
        dz: &Grad,
        g: &Params,
        accumulate: bool,
    ) -> Result<Vec<Step>> {
        let (transposed, gw) = (p.transposed, g.weight(l)?);
        let beta = if accumulate { 1.0 } else { 0.0 };
        let (spec, a, b, operand) = if transposed {
            // W_e is (out_e, in_e) = (in_l, out_l): dW_e += input^T . dz
            (
                MatmulSpec {
                    beta,
                    ..MatmulSpec::new(l.inputs, l.outputs, rows, true, false)
                },
                input,
                dz.t,
                Operand::B,
            )
        } else {
            (
                MatmulSpec {
                    beta,
                    ..MatmulSpec::new(l.outputs, l.inputs, rows, true, false)
                },
                dz.t,
                input,
                Operand::A,
            )
        };
        let mut steps = vec![product(ctx, &spec, a, b, operand, dz, gw)?];
        if let Some(gb) = g.get("bias") {
            steps.push(ops::col_sum(
                ctx, rows, l.outputs, 1.0, 0.0, dz.t, dz.gate, gb,
            )?);
        }
        Ok(steps)
    }

    /// The gradient w.r.t. the layer's input, `dz . op(W)^T`, into `target`.
    fn input_grad(
        &self,
        ctx: &GpuContext,
        l: &LayerSpec,
        rows: usize,
        p: &Params,
        _input: &GpuTensor,
        dz: &Grad,
        target: &GpuTensor,
    ) -> Result<Vec<Step>> {
        let spec = MatmulSpec::new(rows, l.inputs, l.outputs, false, p.transposed);
        Ok(vec![product(
            ctx,
            &spec,
            dz.t,
            p.weight(l)?,
            Operand::A,
            dz,
            target,
        )?])
    }
}

/// A backward matmul whose `operand` is the layer's gradient: read as
/// stored, or with the activation gradient fused when it has a gate.
fn product(
    ctx: &GpuContext,
    spec: &MatmulSpec,
    a: &GpuTensor,
    b: &GpuTensor,
    operand: Operand,
    dz: &Grad,
    c: &GpuTensor,
) -> Result<Step> {
    match dz.gate {
        Some((act, gate)) => {
            let pro = Prologue { operand, act, gate };
            let kernel = ops::matmul::kernel_for(ctx, spec, Some(operand));
            ops::matmul_prologue(ctx, kernel, spec, a, b, pro, c)
        }
        None => ops::matmul(ctx, spec, a, b, None, c),
    }
}

/// A Dense layer at every step of a sequence: the same products over
/// `rows * T` rows of one step each.
pub struct StepDense;

impl LayerPlan for StepDense {
    fn fuses_act_grad(&self) -> bool {
        true
    }

    fn forward(
        &self,
        ctx: &GpuContext,
        l: &LayerSpec,
        rows: usize,
        p: &Params,
        input: &GpuTensor,
        act: Activation,
        target: &GpuTensor,
    ) -> Result<Vec<Step>> {
        let (step, n) = l.per_step(rows);
        Dense.forward(ctx, &step, n, p, input, act, target)
    }

    fn param_grads(
        &self,
        ctx: &GpuContext,
        l: &LayerSpec,
        rows: usize,
        p: &Params,
        input: &GpuTensor,
        dz: &Grad,
        g: &Params,
        accumulate: bool,
    ) -> Result<Vec<Step>> {
        let (step, n) = l.per_step(rows);
        Dense.param_grads(ctx, &step, n, p, input, dz, g, accumulate)
    }

    fn input_grad(
        &self,
        ctx: &GpuContext,
        l: &LayerSpec,
        rows: usize,
        p: &Params,
        input: &GpuTensor,
        dz: &Grad,
        target: &GpuTensor,
    ) -> Result<Vec<Step>> {
        let (step, n) = l.per_step(rows);
        Dense.input_grad(ctx, &step, n, p, input, dz, target)
    }
}
