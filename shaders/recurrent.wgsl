// recurrent.wgsl: one time step of an LSTM or a GRU layer (PyTorch's
// equations, gate order and weight layout), forward and backward.
//
// The input projection of every step, xw = x W_ih^T + b_ih, is one matmul
// before the steps; each step is then one dispatch here, which does the
// recurrent product h_{t-1} W_hh^T + b_hh, the gates and the state update.
// Backward, each step is one dispatch here (the gates' gradients) and one
// matmul (the recurrent gradient dhw_t W_hh into the step before).
//
// Sizes: N rows, T steps, H hidden units, G gates (LSTM 4: i, f, g, o;
// GRU 3: r, z, n). n-major tensors are (N, T, .), time-major (T, ., .).
//
// Bindings (group 0):
//   0 p      uniform  RecParams { n, steps, h, t, ss, ws, last }: t is this dispatch's step;
//                     ss and ws the words from one step to the next in the
//                     time-major state (ss >= N H) and dhw (ws >= N G H), padded
//                     so that each step's slice starts at an aligned offset (a
//                     matmul binds it); last = 1: dout is (N, H), the gradient
//                     w.r.t. the last step's output alone (a layer that returns
//                     only its last state)
//   1 xw     storage  read        (N, T, G H) n-major: x W_ih^T + b_ih
//   2 whh    storage  read        (G H, H): W_hh as PyTorch stores it
//   3 bhh    storage  read        (G H): b_hh
//   4 state  storage  read_write  (T + 1) x ss time-major hidden states; state[0] = h0
//   5 cell   storage  read_write  (T + 1) x ss the LSTM's cell states; cell[0] = c0
//   6 gates  storage  read_write  (T, N, 4H) what backward reads: LSTM i, f, g, o;
//                                 GRU r, z, n and (W_hn h + b_hn)
//   7 out    storage  read_write  (N, T, H) n-major: the layer's output h_t
//   8 dout   storage  read        (N, T, H) gradient w.r.t. the output (last: (N, H))
//   9 dhrec  storage  read        (N, H) dhw_{t+1} W_hh: the recurrent gradient
//  10 carry  storage  read_write  (N, H) LSTM: dc from step t + 1; GRU: dh z from t + 1
//  11 dxw    storage  read_write  (N, T, G H) n-major gradient w.r.t. xw
//  12 dhw    storage  read_write  T x ws time-major gradient w.r.t. the
//                                 recurrent product h_{t-1} W_hh^T + b_hh
//
// Entry points, one invocation per (row, unit), workgroup 64, dispatch
// ceil(N H / 64) workgroups folded into 2-D:
//   lstm_step       a_k = xw_k + bhh_k + h_{t-1} . whh_k; i, f, o = sigmoid, g = tanh;
//                   c_t = f c_{t-1} + i g; h_t = o tanh_f(c_t)
//   gru_step        hn_k = bhh_k + h_{t-1} . whh_k; r = sigmoid(xw_r + hn_r);
//                   z = sigmoid(xw_z + hn_z); n = tanh_f(xw_n + r hn_n);
//                   h_t = (1 - z) n + z h_{t-1}
//   lstm_step_back  dh = dout_t + dhrec; dc = carry + dh o (1 - tanh^2 c_t);
//                   carry = dc f; dxw_t = dhw_t = the gates' pre-activation gradients
//   gru_step_back   dh = dout_t + dhrec + carry; carry = dh z; dxw_t for xw,
//                   dhw_t for the recurrent product (r scales its n part)
// The caller zeroes state[0], cell[0], carry and (for the last step) dhrec.

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

@group(0) @binding(0) var<uniform> p: RecParams;
@group(0) @binding(1) var<storage, read> xw: array<f32>;
@group(0) @binding(2) var<storage, read> whh: array<f32>;
@group(0) @binding(3) var<storage, read> bhh: array<f32>;
@group(0) @binding(4) var<storage, read_write> state: array<f32>;
@group(0) @binding(5) var<storage, read_write> cell: array<f32>;
@group(0) @binding(6) var<storage, read_write> gates: array<f32>;
@group(0) @binding(7) var<storage, read_write> out: array<f32>;
@group(0) @binding(8) var<storage, read> dout: array<f32>;
@group(0) @binding(9) var<storage, read> dhrec: array<f32>;
@group(0) @binding(10) var<storage, read_write> carry: array<f32>;
@group(0) @binding(11) var<storage, read_write> dxw: array<f32>;
@group(0) @binding(12) var<storage, read_write> dhw: array<f32>;

// h_{t-1} . W_hh[row, :] + b_hh[row], for hidden row `row` of the product.
// The gradient w.r.t. step t's output h_t of row b, unit j.
fn dout_at(b: u32, j: u32) -> f32 {
    if (p.last == 1u) {
        return select(0.0, dout[b * p.h + j], p.t + 1u == p.steps);
    }
    return dout[(b * p.steps + p.t) * p.h + j];
}

fn recurrent(b: u32, row: u32) -> f32 {
    let hp = p.t * p.ss + b * p.h;
    var acc = bhh[row];
    for (var m = 0u; m < p.h; m++) {
        acc += state[hp + m] * whh[row * p.h + m];
    }
    return acc;
}

@compute @workgroup_size(64)
fn lstm_step(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * 64u + lid;
    if (i >= p.n * p.h) {
        return;
    }
    let b = i / p.h;
    let j = i % p.h;
    let x = (b * p.steps + p.t) * 4u * p.h;
    let ig = sigmoid(xw[x + j] + recurrent(b, j));
    let fg = sigmoid(xw[x + p.h + j] + recurrent(b, p.h + j));
    let gg = tanh_f(xw[x + 2u * p.h + j] + recurrent(b, 2u * p.h + j));
    let og = sigmoid(xw[x + 3u * p.h + j] + recurrent(b, 3u * p.h + j));
    let now = p.t * p.ss + b * p.h + j;
    let next = (p.t + 1u) * p.ss + b * p.h + j;
    let c = fg * cell[now] + ig * gg;
    let h = og * tanh_f(c);
    cell[next] = c;
    state[next] = h;
    out[(b * p.steps + p.t) * p.h + j] = h;
    let g = (p.t * p.n + b) * 4u * p.h + j;
    gates[g] = ig;
    gates[g + p.h] = fg;
    gates[g + 2u * p.h] = gg;
    gates[g + 3u * p.h] = og;
}

@compute @workgroup_size(64)
fn gru_step(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * 64u + lid;
    if (i >= p.n * p.h) {
        return;
    }
    let b = i / p.h;
    let j = i % p.h;
    let x = (b * p.steps + p.t) * 3u * p.h;
    let r = sigmoid(xw[x + j] + recurrent(b, j));
    let z = sigmoid(xw[x + p.h + j] + recurrent(b, p.h + j));
    let hn = recurrent(b, 2u * p.h + j);
    let nn = tanh_f(xw[x + 2u * p.h + j] + r * hn);
    let now = p.t * p.ss + b * p.h + j;
    let h = (1.0 - z) * nn + z * state[now];
    state[(p.t + 1u) * p.ss + b * p.h + j] = h;
    out[(b * p.steps + p.t) * p.h + j] = h;
    let g = (p.t * p.n + b) * 4u * p.h + j;
    gates[g] = r;
    gates[g + p.h] = z;
    gates[g + 2u * p.h] = nn;
    gates[g + 3u * p.h] = hn;
}

@compute @workgroup_size(64)
fn lstm_step_back(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * 64u + lid;
    if (i >= p.n * p.h) {
        return;
    }
    let b = i / p.h;
    let j = i % p.h;
    let dh = dout_at(b, j) + dhrec[i];
    let g = (p.t * p.n + b) * 4u * p.h + j;
    let ig = gates[g];
    let fg = gates[g + p.h];
    let gg = gates[g + 2u * p.h];
    let og = gates[g + 3u * p.h];
    let c = cell[(p.t + 1u) * p.ss + b * p.h + j];
    let tc = tanh_f(c);
    let dc = carry[i] + dh * og * (1.0 - tc * tc);
    carry[i] = dc * fg;
    let di = dc * gg * ig * (1.0 - ig);
    let df = dc * cell[p.t * p.ss + b * p.h + j] * fg * (1.0 - fg);
    let dg = dc * ig * (1.0 - gg * gg);
    let dov = dh * tc * og * (1.0 - og);
    let x = (b * p.steps + p.t) * 4u * p.h + j;
    dxw[x] = di;
    dxw[x + p.h] = df;
    dxw[x + 2u * p.h] = dg;
    dxw[x + 3u * p.h] = dov;
    let w = p.t * p.ws + b * 4u * p.h + j;
    dhw[w] = di;
    dhw[w + p.h] = df;
    dhw[w + 2u * p.h] = dg;
    dhw[w + 3u * p.h] = dov;
}

@compute @workgroup_size(64)
fn gru_step_back(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * 64u + lid;
    if (i >= p.n * p.h) {
        return;
    }
    let b = i / p.h;
    let j = i % p.h;
    let dh = dout_at(b, j) + dhrec[i] + carry[i];
    let g = (p.t * p.n + b) * 4u * p.h + j;
    let r = gates[g];
    let z = gates[g + p.h];
    let nn = gates[g + 2u * p.h];
    let hn = gates[g + 3u * p.h];
    let hp = state[p.t * p.ss + b * p.h + j];
    carry[i] = dh * z;
    let dan = dh * (1.0 - z) * (1.0 - nn * nn);
    let dr = dan * hn * r * (1.0 - r);
    let dz = dh * (hp - nn) * z * (1.0 - z);
    let x = (b * p.steps + p.t) * 3u * p.h + j;
    dxw[x] = dr;
    dxw[x + p.h] = dz;
    dxw[x + 2u * p.h] = dan;
    let w = p.t * p.ws + b * 3u * p.h + j;
    dhw[w] = dr;
    dhw[w + p.h] = dz;
    dhw[w + 2u * p.h] = dan * r;
}
