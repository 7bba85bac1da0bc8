// elementwise.wgsl: activations forward and backward, axpby and fill.
//
// Bindings (group 0); each entry point uses the subset it names:
//   0 p    uniform  EwParams
//   1 x    storage  read        (n) f32: input; the pre-activation z for act_backward
//   2 y    storage  read        (n) f32: act_backward: the output f(z); mul: the second factor
//   3 dy   storage  read        (n) f32: act_backward only, the upstream gradient
//   4 out  storage  read_write  (n) f32
//
// Entry points:
//   act_forward   out = f(x)                      f picked by p.kind (ACT_* in common.wgsl)
//   act_backward  out = dy * f'(z)                from z = x and y = f(z)
//   axpby         out = alpha * x + beta * out    out is read only when beta != 0
//   mul           out = x * y                     (dropout masks, gates)
//   fill          out = alpha
//
// Workgroup 64; dispatch ceil(n / 64) workgroups folded into 2-D (common.wgsl).

struct EwParams {
    n: u32,
    kind: u32,
    alpha: f32,
    beta: f32,
}

@group(0) @binding(0) var<uniform> p: EwParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn act_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * 64u + lid;
    if (i >= p.n) {
        return;
    }
    out[i] = activate(x[i], p.kind, p.alpha);
}

@compute @workgroup_size(64)
fn act_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * 64u + lid;
    if (i >= p.n) {
        return;
    }
    out[i] = dy[i] * activate_derivative(x[i], y[i], p.kind, p.alpha);
}

@compute @workgroup_size(64)
fn axpby(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * 64u + lid;
    if (i >= p.n) {
        return;
    }
    var v = p.alpha * x[i];
    if (p.beta != 0.0) {
        v += p.beta * out[i];
    }
    out[i] = v;
}

@compute @workgroup_size(64)
fn mul(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
       @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * 64u + lid;
    if (i >= p.n) {
        return;
    }
    out[i] = x[i] * y[i];
}

@compute @workgroup_size(64)
fn fill(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * 64u + lid;
    if (i >= p.n) {
        return;
    }
    out[i] = p.alpha;
}
