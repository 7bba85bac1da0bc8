//! The LSTM and GRU step kernels against their f64 twins over whole
//! sequences at odd shapes, forward and backward through time, with outputs
//! poisoned; and the twins' gradients of every parameter and of the input
//! against central differences.

use wgae::kernels::{self as ops, BackTensors, MatmulSpec, RecDims, StepTensors};
use wgae::model::Recurrence;
use wgae::reference::recurrent::{
    input_projection, last_step_grad, rec_backward, rec_forward, rec_param_grads, RecWeights,
};

use crate::common::{assert_close, gpu, rand_vec, rng, tol, U};

const CELLS: [Recurrence; 2] = [Recurrence::Lstm, Recurrence::Gru];

fn w(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| f64::from(x)).collect()
}

/// (n, steps, h): one row, one step, one unit; odd sizes; a unit count
/// past a workgroup.
const SHAPES: [(usize, usize, usize); 4] = [(1, 1, 1), (3, 5, 7), (7, 9, 17), (2, 3, 65)];

/// Zeros for the initial state, NaN for every state a step must write (and
/// for the padding between steps).
fn states(d: RecDims) -> Vec<f32> {
    let mut v = vec![f32::NAN; d.state_len()];
    v[..d.n * d.h].fill(0.0);
    v
}

/// The `steps` slices of `len` values, `stride` apart, end to end (the
/// twins' unpadded layout).
fn unpad(v: &[f32], steps: usize, stride: usize, len: usize) -> Vec<f32> {
    (0..steps)
        .flat_map(|t| v[t * stride..][..len].to_vec())
        .collect()
}

#[test]
fn steps_forward_and_backward_match_the_reference() {
    let Some(ctx) = gpu() else { return };
    let mut g0 = rng(91);
    for cell in CELLS {
        for (n, steps, h) in SHAPES {
            let d = RecDims::aligned(ctx, cell, n, steps, h);
            let gh = cell.gates() * h;
            let name = format!("{cell:?} n={n} T={steps} h={h}");
            let xw = rand_vec(&mut g0, n * steps * gh, -1.5, 1.5);
            let bound = 1.0 / (h as f32).sqrt();
            let whh = rand_vec(&mut g0, gh * h, -bound, bound);
            let bhh = rand_vec(&mut g0, gh, -bound, bound);
            let dout = rand_vec(&mut g0, n * steps * h, -1.0, 1.0);
            let up = |label: &str, v: &[f32]| ctx.upload(label, v).unwrap();
            let nan = |len: usize| up("poisoned", &vec![f32::NAN; len]);
            let (xw_t, whh_t, bhh_t) = (up("xw", &xw), up("whh", &whh), up("bhh", &bhh));
            let state = up("state", &states(d));
            let cells = up("cell", &states(d));
            let gates = nan(steps * n * 4 * h);
            let out = nan(n * steps * h);
            let fwd = StepTensors {
                xw: &xw_t,
                whh: &whh_t,
                bhh: &bhh_t,
                state: &state,
                cell: (cell == Recurrence::Lstm).then_some(&cells),
                gates: &gates,
                out: &out,
            };
            let mut steps_fwd = Vec::new();
            for t in 0..steps {
                steps_fwd.push(ops::rec_step(ctx, cell, d, t, &fwd).unwrap());
            }
            ctx.run(&steps_fwd.iter().collect::<Vec<_>>()).unwrap();
            let f = rec_forward(cell, d, &w(&xw), &w(&whh), &w(&bhh));
            // Each step's sums run over h terms, and errors carry through
            // the steps: a few u per term and step.
            let t_fwd = tol(8.0 * U * (h * steps) as f64, 1e-5);
            assert_close(
                &format!("{name}: out"),
                &ctx.read(&out).unwrap(),
                &f.out,
                &t_fwd,
            );
            assert_close(
                &format!("{name}: gates"),
                &ctx.read(&gates).unwrap(),
                &f.gates,
                &t_fwd,
            );
            let got = unpad(&ctx.read(&state).unwrap(), steps + 1, d.ss, n * h);
            assert_close(&format!("{name}: states"), &got, &f.state, &t_fwd);
            if cell == Recurrence::Lstm {
                let got = unpad(&ctx.read(&cells).unwrap(), steps + 1, d.ss, n * h);
                assert_close(&format!("{name}: cells"), &got, &f.cell, &t_fwd);
            }

            // Backward through time: a step kernel, then the recurrent
            // gradient dhrec = dhw_t W_hh as a matmul, from t = T - 1 down.
            let dout_t = up("dout", &dout);
            let dhrec = up("dhrec", &vec![0.0; n * h]);
            let carry = up("carry", &vec![0.0; n * h]);
            let (dxw, dhw) = (nan(n * steps * gh), nan(d.dhw_len()));
            let kept = if cell == Recurrence::Lstm {
                &cells
            } else {
                &state
            };
            let back = BackTensors {
                dout: &dout_t,
                last: false,
                dhrec: &dhrec,
                carry: &carry,
                gates: &gates,
                kept,
                dxw: &dxw,
                dhw: &dhw,
            };
            let mut steps_back = Vec::new();
            for t in (0..steps).rev() {
                steps_back.push(ops::rec_step_back(ctx, cell, d, t, &back).unwrap());
                let spec = MatmulSpec::new(n, h, gh, false, false);
                let dhw_t = dhw.view(t * d.ws, n * gh).unwrap();
                steps_back.push(ops::matmul(ctx, &spec, &dhw_t, &whh_t, None, &dhrec).unwrap());
            }
            ctx.run(&steps_back.iter().collect::<Vec<_>>()).unwrap();
            let b = rec_backward(cell, d, &f, &w(&whh), &w(&dout));
            let t_back = tol(16.0 * U * (gh * steps) as f64, 1e-4);
            assert_close(
                &format!("{name}: dxw"),
                &ctx.read(&dxw).unwrap(),
                &b.dxw,
                &t_back,
            );
            let got = unpad(&ctx.read(&dhw).unwrap(), steps, d.ws, n * gh);
            assert_close(&format!("{name}: dhw"), &got, &b.dhw, &t_back);
        }
    }
}

/// `sum(dout * out)` of the layer with input `x`.
fn objective(
    cell: Recurrence,
    d: RecDims,
    f_in: usize,
    x: &[f64],
    p: &RecWeights,
    dout: &[f64],
) -> f64 {
    let xw = input_projection(cell, d, f_in, x, p);
    let f = rec_forward(cell, d, &xw, p.w_hh, p.b_hh);
    f.out.iter().zip(dout).map(|(a, b)| a * b).sum()
}

#[test]
fn reference_gradients_match_finite_differences() {
    let mut g0 = rng(92);
    for cell in CELLS {
        let (d, f_in) = (RecDims::dense(cell, 3, 5, 3), 2);
        let gh = cell.gates() * d.h;
        let vals: Vec<Vec<f64>> = [d.n * d.steps * f_in, gh * f_in, gh * d.h, gh, gh]
            .iter()
            .map(|&len| w(&rand_vec(&mut g0, len, -0.8, 0.8)))
            .collect();
        let dout = w(&rand_vec(&mut g0, d.n * d.steps * d.h, -1.0, 1.0));
        let grads = {
            let p = RecWeights {
                w_ih: &vals[1],
                w_hh: &vals[2],
                b_ih: &vals[3],
                b_hh: &vals[4],
            };
            let xw = input_projection(cell, d, f_in, &vals[0], &p);
            let f = rec_forward(cell, d, &xw, p.w_hh, p.b_hh);
            let b = rec_backward(cell, d, &f, p.w_hh, &dout);
            rec_param_grads(cell, d, f_in, &vals[0], &p, &f, &b)
        };
        let names = ["x", "weight_ih", "weight_hh", "bias_ih", "bias_hh"];
        for (k, name) in names.iter().enumerate() {
            for i in 0..vals[k].len() {
                let at = |vals: &[Vec<f64>], delta: f64| {
                    let mut v = vals.to_vec();
                    v[k][i] += delta;
                    let p = RecWeights {
                        w_ih: &v[1],
                        w_hh: &v[2],
                        b_ih: &v[3],
                        b_hh: &v[4],
                    };
                    objective(cell, d, f_in, &v[0], &p, &dout)
                };
                let e = 1e-6;
                let fd = (at(&vals, e) - at(&vals, -e)) / (2.0 * e);
                let got = grads[k][i];
                assert!(
                    (got - fd).abs() <= 1e-7 + 1e-6 * fd.abs(),
                    "{cell:?} {name}[{i}]: backward {got} vs finite differences {fd}"
                );
            }
        }
    }
}

/// A whole layer planned as `plan::recurrent` plans it (the input
/// projection, the steps, backward through time, then the parameter and
/// input gradients) against the twin, with every gradient poisoned first.
#[test]
fn a_whole_layer_matches_the_reference() {
    use wgae::plan::recurrent::{
        rec_backward_steps, rec_forward_steps, RecBuffers, RecLayer, RecTensors,
    };
    let Some(ctx) = gpu() else { return };
    let mut g0 = rng(93);
    for cell in CELLS {
        for (n, steps, h, f_in, all) in [
            (1, 1, 1, 1, true),
            (3, 4, 5, 7, true),
            (5, 7, 9, 3, true),
            (3, 4, 5, 7, false),
            (2, 6, 3, 2, false),
        ] {
            let d = RecDims::aligned(ctx, cell, n, steps, h);
            let gh = cell.gates() * h;
            let name = format!("{cell:?} n={n} T={steps} h={h} F={f_in} sequences={all}");
            let bound = 1.0 / (h as f32).sqrt();
            let vals: Vec<Vec<f32>> = [n * steps * f_in, gh * f_in, gh * h, gh, gh]
                .iter()
                .map(|&len| rand_vec(&mut g0, len, -bound, bound))
                .collect();
            // The gradient w.r.t. every step's output, or w.r.t. the last's.
            let dout = rand_vec(&mut g0, n * if all { steps } else { 1 } * h, -1.0, 1.0);
            let up = |label: &str, v: &[f32]| ctx.upload(label, v).unwrap();
            let nan = |len: usize| up("poisoned", &vec![f32::NAN; len]);
            let t: Vec<_> = vals.iter().map(|v| up("value", v)).collect();
            let p = RecTensors {
                w_ih: &t[1],
                w_hh: &t[2],
                b_ih: &t[3],
                b_hh: &t[4],
            };
            let grads: Vec<_> = vals[1..].iter().map(|v| nan(v.len())).collect();
            let g = RecTensors {
                w_ih: &grads[0],
                w_hh: &grads[1],
                b_ih: &grads[2],
                b_hh: &grads[3],
            };
            let out_len = n * if all { steps } else { 1 } * h;
            let (out, dx, dout_t) = (nan(out_len), nan(n * steps * f_in), up("dout", &dout));
            let l = RecLayer {
                cell,
                dims: d,
                f_in,
                return_sequences: all,
            };
            let b = RecBuffers::new(ctx, l).unwrap();
            let mut s = rec_forward_steps(ctx, l, &p, &b, &t[0], &out).unwrap();
            s.extend(rec_backward_steps(ctx, l, &p, &b, &t[0], &dout_t, &g, Some(&dx)).unwrap());
            ctx.run(&s.iter().collect::<Vec<_>>()).unwrap();

            let v64: Vec<Vec<f64>> = vals.iter().map(|v| w(v)).collect();
            let rw = RecWeights {
                w_ih: &v64[1],
                w_hh: &v64[2],
                b_ih: &v64[3],
                b_hh: &v64[4],
            };
            let dd = RecDims::dense(cell, n, steps, h);
            let xw = input_projection(cell, dd, f_in, &v64[0], &rw);
            let f = rec_forward(cell, dd, &xw, rw.w_hh, rw.b_hh);
            // The twin takes the whole sequence's gradient: zero but at the
            // last step where the layer returns that alone.
            let dseq = if all {
                w(&dout)
            } else {
                last_step_grad(&w(&dout), n, steps, h)
            };
            let bk = rec_backward(cell, dd, &f, rw.w_hh, &dseq);
            let want = rec_param_grads(cell, dd, f_in, &v64[0], &rw, &f, &bk);
            let fwd = tol(8.0 * U * ((h + f_in) * steps) as f64, 1e-5);
            let want_out: Vec<f64> = if all {
                f.out.clone()
            } else {
                f.state[steps * n * h..].to_vec()
            };
            assert_close(
                &format!("{name}: out"),
                &ctx.read(&out).unwrap(),
                &want_out,
                &fwd,
            );
            // Each gradient sums over the rows and steps.
            let back = tol(32.0 * U * (gh * steps * n) as f64, 2e-4);
            let got = [&dx, &grads[0], &grads[1], &grads[2], &grads[3]];
            let names = ["x", "weight_ih", "weight_hh", "bias_ih", "bias_hh"];
            for ((t, want), what) in got.iter().zip(&want).zip(names) {
                assert_close(
                    &format!("{name}: d {what}"),
                    &ctx.read(t).unwrap(),
                    want,
                    &back,
                );
            }
        }
    }
}
