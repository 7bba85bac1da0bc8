// softmax.wgsl: row-wise softmax and its gradient.
//
// Bindings (group 0):
//   0 p    uniform  RowParams { rows, cols }
//   1 x    storage  read        (rows, cols): logits (forward) or the output y (backward)
//   2 dy   storage  read        (rows, cols): backward only, the upstream gradient
//   3 out  storage  read_write  (rows, cols)
//
// Entry points:
//   softmax_forward   out[r, :] = exp(x[r, :] - max) / sum(exp(x[r, :] - max))
//   softmax_backward  out[r, :] = y[r, :] * (dy[r, :] - sum_j dy[r, j] * y[r, j])
//
// One workgroup of 256 per row, reducing through workgroup memory;
// dispatch `rows` workgroups folded into 2-D.

struct RowParams {
    rows: u32,
    cols: u32,
}

@group(0) @binding(0) var<uniform> p: RowParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

var<workgroup> red: array<f32, 256>;

fn reduce_max(lid: u32, v: f32) -> f32 {
    red[lid] = v;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s >>= 1u) {
        if (lid < s) {
            red[lid] = max(red[lid], red[lid + s]);
        }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier();
    return r;
}

fn reduce_sum(lid: u32, v: f32) -> f32 {
    red[lid] = v;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s >>= 1u) {
        if (lid < s) {
            red[lid] += red[lid + s];
        }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier();
    return r;
}

@compute @workgroup_size(256)
fn softmax_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
    // The row index is uniform across the workgroup, so every invocation takes
    // the same path through the barriers below.
    let row = flat_workgroup(wid, nwg);
    let live = row < p.rows;
    let base = row * p.cols;
    var m = -3.4e38;
    if (live) {
        for (var j = lid; j < p.cols; j += 256u) {
            m = max(m, x[base + j]);
        }
    }
    m = reduce_max(lid, m);
    var s = 0.0;
    if (live) {
        for (var j = lid; j < p.cols; j += 256u) {
            s += exp(x[base + j] - m);
        }
    }
    s = reduce_sum(lid, s);
    if (live) {
        let inv = 1.0 / s;
        for (var j = lid; j < p.cols; j += 256u) {
            out[base + j] = exp(x[base + j] - m) * inv;
        }
    }
}

@compute @workgroup_size(256)
fn softmax_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
    let row = flat_workgroup(wid, nwg);
    let live = row < p.rows;
    let base = row * p.cols;
    var d = 0.0;
    if (live) {
        for (var j = lid; j < p.cols; j += 256u) {
            d += dy[base + j] * x[base + j];
        }
    }
    d = reduce_sum(lid, d);
    if (live) {
        for (var j = lid; j < p.cols; j += 256u) {
            out[base + j] = x[base + j] * (dy[base + j] - d);
        }
    }
}
