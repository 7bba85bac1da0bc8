// contractive.wgsl: the contractive penalty lambda * ||dh/dx||_F^2 of a
// one-layer encoder h = f(x W^T + b), W (hidden, inputs), and its gradient.
//
// For such an encoder the Jacobian norm separates (Rifai et al., 2011):
//   ||J_b||_F^2 = sum_j f'(z_bj)^2 s_j,   s_j = sum_i W_ji^2.
// With coef = lambda / rows (a batch mean), the penalty's gradient is
//   d/dz_bj = coef * 2 s_j f'(z_bj) f''(z_bj)     (added to the code's dz, so the
//                                                  usual backprop carries it to W, b)
//   d/dW_ji += coef * 2 W_ji c_j,   c_j = sum_b f'(z_bj)^2.
// f' and f'' come from the output y = f(z): sigmoid, tanh, relu, leaky relu
// and identity (ACT_* in common.wgsl).
//
// Bindings (group 0):
//   0 p    uniform  ContractiveParams { rows, hidden, inputs, act, coef, alpha }
//   1 w    storage  read        (hidden, inputs)
//   2 y    storage  read        (rows, hidden) encoder output
//   3 vals storage  read        (hidden): s for jac_dz, c for jac_wgrad
//   4 out  storage  read_write  see below
//
// Entry points:
//   row_sq     out (hidden) = s_j                           one invocation per row j
//   jac_fp2    out (rows, hidden) = f'(z)^2
//   jac_dz     out (rows, hidden) += coef * 2 vals_j f'(z) f''(z)
//   jac_wgrad  out (hidden, inputs) += coef * 2 W_ji vals_j
// The penalty itself is coef * rows * mean_b (fp2 . s): a matmul with n = 1.
// Workgroup 64; dispatch ceil(count / 64) workgroups folded into 2-D.

struct ContractiveParams {
    rows: u32,
    hidden: u32,
    inputs: u32,
    act: u32,
    coef: f32,
    alpha: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: ContractiveParams;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read> vals: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

// f'(z) from y = f(z).
fn d1(y: f32) -> f32 {
    switch p.act {
        case 1u: { return select(0.0, 1.0, y > 0.0); }
        case 2u: { return select(p.alpha, 1.0, y > 0.0); }
        case 3u: { return y * (1.0 - y); }
        case 4u: { return 1.0 - y * y; }
        default: { return 1.0; }
    }
}

// f''(z) from y = f(z) (zero for the piecewise-linear ones).
fn d2(y: f32) -> f32 {
    switch p.act {
        case 3u: { return y * (1.0 - y) * (1.0 - 2.0 * y); }
        case 4u: { return -2.0 * y * (1.0 - y * y); }
        default: { return 0.0; }
    }
}

@compute @workgroup_size(64)
fn row_sq(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let j = flat_workgroup(wid, nwg) * 64u + lid;
    if (j >= p.hidden) {
        return;
    }
    var acc = 0.0;
    for (var i = 0u; i < p.inputs; i++) {
        let v = w[j * p.inputs + i];
        acc += v * v;
    }
    out[j] = acc;
}

@compute @workgroup_size(64)
fn jac_fp2(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * 64u + lid;
    if (i >= p.rows * p.hidden) {
        return;
    }
    let f1 = d1(y[i]);
    out[i] = f1 * f1;
}

@compute @workgroup_size(64)
fn jac_dz(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * 64u + lid;
    if (i >= p.rows * p.hidden) {
        return;
    }
    let yi = y[i];
    out[i] += p.coef * 2.0 * vals[i % p.hidden] * d1(yi) * d2(yi);
}

@compute @workgroup_size(64)
fn jac_wgrad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * 64u + lid;
    if (i >= p.hidden * p.inputs) {
        return;
    }
    out[i] += p.coef * 2.0 * w[i] * vals[i / p.inputs];
}
