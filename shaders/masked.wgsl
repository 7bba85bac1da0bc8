// masked.wgsl: rows with missing entries, and the loss over the observed ones.
//
// A missing entry reaches the GPU as MISSING (-3.4028235e38, f32's lowest
// value, which no finite scaled value equals): the host writes it where a
// file held NaN or an empty cell, so that the rows stay NaN-free on the GPU
// (WGSL leaves NaN's behaviour to the implementation).
//
// Bindings (group 0):
//   0 p       uniform  MaskedParams { rows, cols, kind, scale }
//   1 x       storage  read        (rows, cols): the rows as read, MISSING where missing
//   2 filled  storage  read_write  (rows, cols): x with each missing entry 0
//                                  (the network's input and the loss's target)
//   3 mask    storage  read_write  (rows, cols): 1 observed, 0 missing
//   4 pred    storage  read        (rows, cols): the output y (MSE) or logits z (BCE)
//   5 tgt     storage  read        (rows, cols): the filled rows
//   6 msk     storage  read        (rows, cols): the mask
//   7 count   storage  read        [1]: the batch's observed entries
//   8 grad    storage  read_write  (rows, cols): the loss's gradient
//   9 rowout  storage  read_write  (rows): each row's loss
//
// kind 0, MSE: l = (y - t)^2, dl/dy = 2 (y - t); kind 1, BCE on logits:
// l = softplus(z) - z t, dl/dz = sigmoid(z) - t (as loss.wgsl).
//
// Entry points:
//   unmask             filled[i] = x[i] == MISSING ? 0 : x[i]; mask[i] = 0 or 1.
//                      Workgroup 64; dispatch ceil(rows * cols / 64) folded.
//   masked_loss_fused  grad[i] = m[i] dl/dpred / max(count, 1): the gradient
//                      of the mean over the batch's observed entries (each
//                      observed entry weighs the same, as AutoRec's sum);
//                      rowout[r] = scale * sum_j m l / max(n_r, 1), each
//                      row's mean over its own n_r observed entries (0 for
//                      a row with none). A row per workgroup of 64.
//   masked_row_loss    rowout alone (evaluation, the anomaly score).

// f32::MIN exactly, in hex: the decimal -3.40282347e+38 lies beyond it, which
// naga rounds but Tint (Chromium) refuses.
const MISSING: f32 = -0x1.fffffep+127f;

struct MaskedParams {
    rows: u32,
    cols: u32,
    kind: u32,
    scale: f32,
}

@group(0) @binding(0) var<uniform> p: MaskedParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> filled: array<f32>;
@group(0) @binding(3) var<storage, read_write> mask: array<f32>;
@group(0) @binding(4) var<storage, read> pred: array<f32>;
@group(0) @binding(5) var<storage, read> tgt: array<f32>;
@group(0) @binding(6) var<storage, read> msk: array<f32>;
@group(0) @binding(7) var<storage, read> count: array<f32>;
@group(0) @binding(8) var<storage, read_write> grad: array<f32>;
@group(0) @binding(9) var<storage, read_write> rowout: array<f32>;

@compute @workgroup_size(64)
fn unmask(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * 64u + lid;
    if (i >= p.rows * p.cols) {
        return;
    }
    let v = x[i];
    let missing = v == MISSING;
    filled[i] = select(v, 0.0, missing);
    mask[i] = select(1.0, 0.0, missing);
}

var<workgroup> red: array<vec2<f32>, 64>;

// Sums `v` over the workgroup into red[0]; every invocation must call it.
fn tree_sum(lid: u32, v: vec2<f32>) {
    red[lid] = v;
    workgroupBarrier();
    for (var s = 32u; s > 0u; s >>= 1u) {
        if (lid < s) {
            red[lid] += red[lid + s];
        }
        workgroupBarrier();
    }
}

// The element's loss and its gradient w.r.t. pred.
fn loss_and_grad(z: f32, t: f32) -> vec2<f32> {
    if (p.kind == 1u) {
        return vec2<f32>(softplus(z) - z * t, sigmoid(z) - t);
    }
    let d = z - t;
    return vec2<f32>(d * d, 2.0 * d);
}

// Stores a row's loss from the tree sum in red[0]: (sum of m l, n_r).
fn store_row(row: u32, lid: u32) {
    if (lid == 0u && row < p.rows) {
        rowout[row] = p.scale * red[0].x / max(red[0].y, 1.0);
    }
}

@compute @workgroup_size(64)
fn masked_loss_fused(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
    let row = flat_workgroup(wid, nwg);
    var acc = vec2<f32>(0.0);
    if (row < p.rows) {
        let base = row * p.cols;
        let inv = 1.0 / max(count[0], 1.0);
        for (var j = lid; j < p.cols; j += 64u) {
            let m = msk[base + j];
            let lg = loss_and_grad(pred[base + j], tgt[base + j]);
            acc += vec2<f32>(m * lg.x, m);
            grad[base + j] = m * lg.y * inv;
        }
    }
    tree_sum(lid, acc);
    store_row(row, lid);
}

@compute @workgroup_size(64)
fn masked_row_loss(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
    let row = flat_workgroup(wid, nwg);
    var acc = vec2<f32>(0.0);
    if (row < p.rows) {
        let base = row * p.cols;
        for (var j = lid; j < p.cols; j += 64u) {
            let m = msk[base + j];
            acc += vec2<f32>(m * loss_and_grad(pred[base + j], tgt[base + j]).x, m);
        }
    }
    tree_sum(lid, acc);
    store_row(row, lid);
}
