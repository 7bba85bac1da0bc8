// reduce.wgsl: column sums (the bias gradient) and whole-tensor reductions,
// all staying on the GPU.
//
// Bindings (group 0):
//   0 p         uniform  ReduceParams
//   1 x         storage  read        (rows, cols) for col_sum, (n) for reduce_partial
//   2 partials  storage  read_write  (MAX_PARTIALS) scratch between the two passes
//   3 out       storage  read_write  (cols) for col_sum; out[p.out_index] for reduce_final
//   4 gate      storage  read        (rows, cols), col_sum only, read when p.act != 0
//
// Entry points:
//   col_sum         out[j] = scale * sum_i x[i, j] * g[i, j] + beta * out[j], where
//                   g = f'(gate) with f = p.act (the fused activation gradient, as in
//                   matmul.wgsl's prologue), or g = 1 when p.act = 0
//                   workgroup 64x4: 64 columns, 4 lanes striding the rows;
//                   dispatch ceil(cols / 64) workgroups folded into 2-D.
//   reduce_partial  partials[g] = sum over a grid-stride of f(x[i]),
//                   f = x (mode 0), x^2 (mode 1), |x| (mode 2);
//                   dispatch p.n_partials <= 256 workgroups of 256.
//   reduce_final    out[out_index] = scale * sum(partials) + beta * out[out_index];
//                   dispatch 1 workgroup of 256.
//   reduce_single   both at once for p.n_partials = 1 (n <= 1024): the one
//                   workgroup's sum goes straight to out; dispatch 1 workgroup.
// reduce_final and reduce_single also write out[out_index2] = scale2 * sum +
// beta * out[out_index2] unless out_index2 = NO_TARGET: two metrics from one
// sum (an epoch's loss and its per-feature mean) in one pass.
// beta = 0 never reads out, so the loss of a whole epoch can accumulate in
// place (beta = 1) or start afresh (beta = 0).

struct ReduceParams {
    rows: u32,
    cols: u32,
    n: u32,
    mode: u32,
    n_partials: u32,
    out_index: u32,
    scale: f32,
    beta: f32,
    act: u32,
    act_alpha: f32,
    out_index2: u32,
    scale2: f32,
}

const NO_TARGET: u32 = 0xffffffffu;

@group(0) @binding(0) var<uniform> p: ReduceParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read> gate: array<f32>;

var<workgroup> red: array<f32, 256>;

fn tree_sum(lid: u32) {
    for (var s = 128u; s > 0u; s >>= 1u) {
        if (lid < s) {
            red[lid] += red[lid + s];
        }
        workgroupBarrier();
    }
}

@compute @workgroup_size(64, 4, 1)
fn col_sum(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_id) lid: vec3<u32>) {
    let col = flat_workgroup(wid, nwg) * 64u + lid.x;
    var acc = 0.0;
    if (col < p.cols) {
        if (p.act != 0u) {
            for (var r = lid.y; r < p.rows; r += 4u) {
                let i = r * p.cols + col;
                let g = gate[i];
                acc += x[i] * activate_derivative(g, g, p.act, p.act_alpha);
            }
        } else {
            for (var r = lid.y; r < p.rows; r += 4u) {
                acc += x[r * p.cols + col];
            }
        }
    }
    red[lid.y * 64u + lid.x] = acc;
    workgroupBarrier();
    if (lid.y == 0u && col < p.cols) {
        var v = p.scale * (red[lid.x] + red[64u + lid.x] + red[128u + lid.x] + red[192u + lid.x]);
        if (p.beta != 0.0) {
            v += p.beta * out[col];
        }
        out[col] = v;
    }
}

// This invocation's share of sum f(x[i]): elements first, first + stride, ...
fn strided_sum(first: u32, stride: u32) -> f32 {
    var acc = 0.0;
    for (var i = first; i < p.n; i += stride) {
        let v = x[i];
        switch p.mode {
            case 1u: { acc += v * v; }
            case 2u: { acc += abs(v); }
            default: { acc += v; }
        }
    }
    return acc;
}

// out[index] = scale * sum + beta * out[index], for each destination.
fn store_sum(sum: f32) {
    var v = p.scale * sum;
    if (p.beta != 0.0) {
        v += p.beta * out[p.out_index];
    }
    out[p.out_index] = v;
    if (p.out_index2 != NO_TARGET) {
        var v2 = p.scale2 * sum;
        if (p.beta != 0.0) {
            v2 += p.beta * out[p.out_index2];
        }
        out[p.out_index2] = v2;
    }
}

@compute @workgroup_size(256)
fn reduce_partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    red[lid] = strided_sum(wid.x * 256u + lid, p.n_partials * 256u);
    workgroupBarrier();
    tree_sum(lid);
    if (lid == 0u) {
        partials[wid.x] = red[0];
    }
}

@compute @workgroup_size(256)
fn reduce_final(@builtin(local_invocation_index) lid: u32) {
    var acc = 0.0;
    if (lid < p.n_partials) {
        acc = partials[lid];
    }
    red[lid] = acc;
    workgroupBarrier();
    tree_sum(lid);
    if (lid == 0u) {
        store_sum(red[0]);
    }
}

@compute @workgroup_size(256)
fn reduce_single(@builtin(local_invocation_index) lid: u32) {
    red[lid] = strided_sum(lid, 256u);
    workgroupBarrier();
    tree_sum(lid);
    if (lid == 0u) {
        store_sum(red[0]);
    }
}
