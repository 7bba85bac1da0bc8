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
    _pad0: u32,
    _pad1: u32,
}

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

@compute @workgroup_size(256)
fn reduce_partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let stride = p.n_partials * 256u;
    var acc = 0.0;
    for (var i = wid.x * 256u + lid; i < p.n; i += stride) {
        let v = x[i];
        switch p.mode {
            case 1u: { acc += v * v; }
            case 2u: { acc += abs(v); }
            default: { acc += v; }
        }
    }
    red[lid] = acc;
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
        var v = p.scale * red[0];
        if (p.beta != 0.0) {
            v += p.beta * out[p.out_index];
        }
        out[p.out_index] = v;
    }
}
