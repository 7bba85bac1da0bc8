// norm.wgsl: batch normalization over channels-first tensors, as PyTorch's
// BatchNorm1d and BatchNorm2d compute it, with its gradients.
//
// Shapes (row-major): a tensor (n, c, s) holds n samples of c channels of s
// values each (s = h * w for an image, the length of a sequence, 1 for a flat
// vector's features). A channel's statistics are over its m = n * s values.
//
//   x      (n, c, s)   the layer's input
//   dy     (n, c, s)   the gradient w.r.t. the normalized output (before any
//                      activation: the plan applies f'(z) first)
//   stats  mean[mean_off + ch], var[var_off + ch]: the batch's (biased) in
//          training, the running ones in evaluation
//   gamma, beta (c)    the affine weight and bias
//   sum_dyx, sum_dy (c)  sum over the channel of dy * xhat, and of dy
//
// Entry points:
//   bn_stats      out[ch] = mean, out[c + ch] = biased variance of x's channel
//                 (two passes over the channel: the mean, then the squared
//                 deviations); one workgroup of 256 per channel.
//   bn_running    the running statistics, in place in `out` (the layer's
//                 buffers): out[mean_off + ch] += momentum * (mean - it);
//                 out[var_off + ch] += momentum * (unbiased var - it), the
//                 unbiased variance being var * m / (m - 1) (var itself when
//                 m = 1); out[nbt_off] += 1 (num_batches_tracked).
//                 Reads stats at offsets 0 and c. One workgroup of 64.
//   bn_apply      out = act(gamma * (x - mean) / sqrt(var + eps) + beta);
//                 one invocation per element.
//   bn_grad_sums  out[ch] = sum dy * xhat, out2[ch] = sum dy over the channel
//                 (the weight's and bias's gradients, and what bn_dx reads);
//                 one workgroup of 256 per channel.
//   bn_dx         out = gamma / sqrt(var + eps) * (dy - sum_dy / m
//                 - xhat * sum_dyx / m); one invocation per element.
// xhat = (x - mean) / sqrt(var + eps). Sums run in a fixed order (a stride
// of 256 per invocation, then a tree), so results repeat bit for bit.
//
// Bindings (group 0); each entry point uses the subset it names:
//   0 p        uniform  NormParams
//   1 x        storage  read
//   2 dy       storage  read
//   3 stats    storage  read
//   4 gamma    storage  read
//   5 beta     storage  read
//   6 sum_dyx  storage  read
//   7 sum_dy   storage  read
//   8 out      storage  read_write
//   9 out2     storage  read_write
//
// Per-channel entry points dispatch c workgroups, elementwise ones
// ceil(n * c * s / 64), both folded into 2-D (common.wgsl).

struct NormParams {
    n: u32,
    c: u32,
    s: u32,
    mean_off: u32,
    var_off: u32,
    nbt_off: u32,
    act: u32,
    act_alpha: f32,
    eps: f32,
    momentum: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: NormParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> stats: array<f32>;
@group(0) @binding(4) var<storage, read> gamma: array<f32>;
@group(0) @binding(5) var<storage, read> beta: array<f32>;
@group(0) @binding(6) var<storage, read> sum_dyx: array<f32>;
@group(0) @binding(7) var<storage, read> sum_dy: array<f32>;
@group(0) @binding(8) var<storage, read_write> out: array<f32>;
@group(0) @binding(9) var<storage, read_write> out2: array<f32>;

var<workgroup> red: array<f32, 256>;
var<workgroup> red2: array<f32, 256>;

// red[0] = sum of red (and red2[0] of red2), every invocation waiting.
fn tree_sums(lid: u32) {
    workgroupBarrier();
    for (var k = 128u; k > 0u; k >>= 1u) {
        if (lid < k) {
            red[lid] += red[lid + k];
            red2[lid] += red2[lid + k];
        }
        workgroupBarrier();
    }
}

// The flat index of value j (0 <= j < m) of channel ch.
fn at(ch: u32, j: u32) -> u32 {
    let b = j / p.s;
    return (b * p.c + ch) * p.s + (j - b * p.s);
}

fn inv_std(ch: u32) -> f32 {
    return inverseSqrt(stats[p.var_off + ch] + p.eps);
}

@compute @workgroup_size(256)
fn bn_stats(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let ch = flat_workgroup(wid, nwg);
    let m = p.n * p.s;
    var acc = 0.0;
    if (ch < p.c) {
        for (var j = lid; j < m; j += 256u) {
            acc += x[at(ch, j)];
        }
    }
    red[lid] = acc;
    red2[lid] = 0.0;
    tree_sums(lid);
    let mean = red[0] / f32(m);
    workgroupBarrier();
    var dev = 0.0;
    if (ch < p.c) {
        for (var j = lid; j < m; j += 256u) {
            let d = x[at(ch, j)] - mean;
            dev += d * d;
        }
    }
    red[lid] = dev;
    tree_sums(lid);
    if (lid == 0u && ch < p.c) {
        out[ch] = mean;
        out[p.c + ch] = red[0] / f32(m);
    }
}

@compute @workgroup_size(64)
fn bn_running(@builtin(local_invocation_index) lid: u32) {
    let m = p.n * p.s;
    let unbias = select(1.0, f32(m) / f32(m - 1u), m > 1u);
    for (var ch = lid; ch < p.c; ch += 64u) {
        let rm = out[p.mean_off + ch];
        let rv = out[p.var_off + ch];
        out[p.mean_off + ch] = rm + p.momentum * (stats[ch] - rm);
        out[p.var_off + ch] = rv + p.momentum * (stats[p.c + ch] * unbias - rv);
    }
    if (lid == 0u) {
        out[p.nbt_off] += 1.0;
    }
}

@compute @workgroup_size(64)
fn bn_apply(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * 64u + lid;
    if (i >= p.n * p.c * p.s) {
        return;
    }
    let ch = (i / p.s) % p.c;
    let xhat = (x[i] - stats[p.mean_off + ch]) * inv_std(ch);
    out[i] = activate(gamma[ch] * xhat + beta[ch], p.act, p.act_alpha);
}

@compute @workgroup_size(256)
fn bn_grad_sums(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let ch = flat_workgroup(wid, nwg);
    let m = p.n * p.s;
    var a = 0.0;
    var b = 0.0;
    if (ch < p.c) {
        let mean = stats[p.mean_off + ch];
        let r = inv_std(ch);
        for (var j = lid; j < m; j += 256u) {
            let i = at(ch, j);
            a += dy[i] * (x[i] - mean) * r;
            b += dy[i];
        }
    }
    red[lid] = a;
    red2[lid] = b;
    tree_sums(lid);
    if (lid == 0u && ch < p.c) {
        out[ch] = red[0];
        out2[ch] = red2[0];
    }
}

@compute @workgroup_size(64)
fn bn_dx(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * 64u + lid;
    if (i >= p.n * p.c * p.s) {
        return;
    }
    let ch = (i / p.s) % p.c;
    let m = f32(p.n * p.s);
    let r = inv_std(ch);
    let xhat = (x[i] - stats[p.mean_off + ch]) * r;
    out[i] = gamma[ch] * r * (dy[i] - sum_dy[ch] / m - xhat * sum_dyx[ch] / m);
}
