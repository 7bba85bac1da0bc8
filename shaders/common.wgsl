// common.wgsl: prelude prepended to every kernel module (see src/kernels/common.rs).
//
// Holds what several kernels share: the flat index of an invocation in a dispatch
// folded into 2-D, the activation functions and their derivatives, and the
// numerically stable helpers (sigmoid, softplus, log1p).
//
// Dispatch folding: WebGPU allows at most 65,535 workgroups per dimension, so a
// 1-D launch of G workgroups is issued as (min(G, 65535), ceil(G / 65535), 1).
// The host does this in `kernels::shape::fold`; kernels rebuild the flat index here.

// Activation ids, shared with `Activation` in src/op.rs.
const ACT_IDENTITY: u32 = 0u;
const ACT_RELU: u32 = 1u;
const ACT_LEAKY_RELU: u32 = 2u;
const ACT_SIGMOID: u32 = 3u;
const ACT_TANH: u32 = 4u;
const ACT_GELU: u32 = 5u;

// Choices fixed when a pipeline is built (override constants such as
// matmul.wgsl's ACT, optim.wgsl's KIND, loss.wgsl's LOSS) default to AT_RUN_TIME,
// which reads the choice from the uniform instead. CPU adapters such as
// lavapipe run every case of a branch on a uniform value, masked, so the host
// fixes the choices of the kernels they run.
const AT_RUN_TIME: u32 = 255u;

fn fixed_or(fixed: u32, run_time: u32) -> u32 {
    return select(fixed, run_time, fixed == AT_RUN_TIME);
}

fn flat_workgroup(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wid.y * nwg.x + wid.x;
}

fn sigmoid(x: f32) -> f32 {
    // Two branches so that exp never overflows: exp(-|x|) lies in (0, 1].
    if (x >= 0.0) {
        return 1.0 / (1.0 + exp(-x));
    }
    let e = exp(x);
    return e / (1.0 + e);
}

// log(1 + x) accurate for small x: the factor x / ((1 + x) - 1) cancels the
// rounding of 1 + x (Goldberg's trick), so tiny x does not round to zero.
fn log1p_f(x: f32) -> f32 {
    let u = 1.0 + x;
    if (u == 1.0) {
        return x;
    }
    return log(u) * x / (u - 1.0);
}

// softplus(x) = log(1 + exp(x)), finite for every finite x.
fn softplus(x: f32) -> f32 {
    return max(x, 0.0) + log1p_f(exp(-abs(x)));
}

fn tanh_f(x: f32) -> f32 {
    // Some drivers return NaN for tanh of large |x| (exp overflow inside);
    // |x| = 15 already rounds to +-1 in f32.
    return tanh(clamp(x, -15.0, 15.0));
}

const GELU_C: f32 = 0.7978845608028654; // sqrt(2 / pi)
const GELU_K: f32 = 0.044715;

fn activate(x: f32, kind: u32, alpha: f32) -> f32 {
    switch kind {
        case 1u: { return max(x, 0.0); }
        case 2u: { return select(alpha * x, x, x > 0.0); }
        case 3u: { return sigmoid(x); }
        case 4u: { return tanh_f(x); }
        case 5u: {
            // GELU, tanh form (PyTorch's approximate='tanh').
            let u = GELU_C * (x + GELU_K * x * x * x);
            return 0.5 * x * (1.0 + tanh_f(u));
        }
        default: { return x; }
    }
}

// Derivative of the activation, from the pre-activation z and the output y = f(z):
// whichever of the two gives it most cheaply and accurately.
fn activate_derivative(z: f32, y: f32, kind: u32, alpha: f32) -> f32 {
    switch kind {
        case 1u: { return select(0.0, 1.0, z > 0.0); }
        case 2u: { return select(alpha, 1.0, z > 0.0); }
        case 3u: { return y * (1.0 - y); }
        case 4u: { return 1.0 - y * y; }
        case 5u: {
            let u = GELU_C * (z + GELU_K * z * z * z);
            let t = tanh_f(u);
            let du = GELU_C * (1.0 + 3.0 * GELU_K * z * z);
            return 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * du;
        }
        default: { return 1.0; }
    }
}
