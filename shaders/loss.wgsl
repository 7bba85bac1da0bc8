// loss.wgsl: reconstruction losses and their gradients.
//
// Bindings (group 0):
//   0 p       uniform  LossParams { rows, cols, kind, scale, row_scale, mse_rows }
//   1 pred    storage  read        (rows, cols): the output y (MSE) or logits z (BCE)
//   2 tgt     storage  read        (rows, cols)
//   3 out     storage  read_write  (rows, cols) for loss_grad and loss_fused, (rows) for row_loss
//   4 rowout  storage  read_write  (rows): loss_fused's per-sample losses
//   5 rowmse  storage  read_write  (rows): loss_fused's per-sample MSE of the
//                                  sigmoid output, when BCE and mse_rows != 0
//   6-8 pred4, tgt4, out4: pred, tgt and out as vec4<f32> (loss_fused4 only)
//
// kind 0, MSE:                 l = (y - t)^2                 dl/dy = 2 (y - t)
// kind 1, BCE on logits:       l = softplus(z) - z t         dl/dz = sigmoid(z) - t
//   softplus(z) = max(z, 0) + log1p(exp(-|z|)) never overflows, so the loss
//   and gradient stay finite for |z| = 100 and beyond.
//
// Entry points:
//   loss_grad  out[i] = scale * dl/dpred(i); scale = 1 / (rows * cols) for a mean
//              over elements. Workgroup 64; dispatch ceil(rows * cols / 64)
//              workgroups folded into 2-D.
//   row_loss   out[r] = scale * sum_j l(r, j): per-sample loss, the anomaly score
//              with scale = 1 / cols. Workgroup ROW_WG, one per row; dispatch
//              `rows` workgroups folded into 2-D. ROW_WG (an override, a power
//              of two up to 64) is 64 on GPUs, which reduce a row of a few
//              hundred elements well with two warps, and 8 on CPU adapters
//              (one SIMD group on lavapipe): there every level of the tree
//              sum is a barrier that suspends each SIMD group of the
//              workgroup, so 8 lanes (3 levels) took half the time of 64 (6),
//              as 64 had taken half the time of 256.
//   loss_fused both in one pass over pred and target, sharing exp(-|z|) between
//              the sigmoid and the softplus: out = scale * dl/dpred and
//              rowout[r] = row_scale * sum_j l(r, j). Dispatch as row_loss.
//              With BCE and mse_rows != 0 it also writes the training metric
//              rowmse[r] = (1 / cols) sum_j (sigmoid(z) - t)^2, the output's
//              squared error, from the sigmoid it computes anyway (the same
//              formula as common.wgsl's), saving a pass over the output.
//   loss_fused4 the same for cols a multiple of 4, four columns per step of
//              each invocation: a quarter of the loads and stores. Each
//              gradient element is computed by the same operations; the row
//              sums are added in another order.

struct LossParams {
    rows: u32,
    cols: u32,
    kind: u32,
    scale: f32,
    row_scale: f32,
    mse_rows: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: LossParams;
@group(0) @binding(1) var<storage, read> pred: array<f32>;
@group(0) @binding(2) var<storage, read> tgt: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> rowout: array<f32>;
@group(0) @binding(5) var<storage, read_write> rowmse: array<f32>;

// Invocations per row of row_loss and loss_fused (see the header).
override ROW_WG: u32 = 64u;

// The loss, fixed when the pipeline is built (0 MSE, 1 BCE on logits; the
// host fixes it for row_loss and loss_fused), or AT_RUN_TIME to read p.kind:
// CPU adapters such as lavapipe execute both sides of a branch on a uniform
// value, masked, so an MSE model paid for BCE's exp, log and division.
override LOSS: u32 = AT_RUN_TIME;

fn loss_kind() -> u32 {
    return fixed_or(LOSS, p.kind);
}

// Room for the widest ROW_WG.
var<workgroup> red: array<vec2<f32>, 64>;

// Sums `v` over the workgroup into red[0], two sums at once (row_loss uses .x
// alone); every invocation must call it.
fn tree_sum(lid: u32, v: vec2<f32>) {
    red[lid] = v;
    workgroupBarrier();
    for (var s = ROW_WG / 2u; s > 0u; s >>= 1u) {
        if (lid < s) {
            red[lid] += red[lid + s];
        }
        workgroupBarrier();
    }
}

fn element_loss(z: f32, t: f32) -> f32 {
    if (loss_kind() == 1u) {
        return softplus(z) - z * t;
    }
    let d = z - t;
    return d * d;
}

@compute @workgroup_size(64)
fn loss_grad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * 64u + lid;
    if (i >= p.rows * p.cols) {
        return;
    }
    let z = pred[i];
    let t = tgt[i];
    var g: f32;
    if (loss_kind() == 1u) {
        g = sigmoid(z) - t;
    } else {
        g = 2.0 * (z - t);
    }
    out[i] = p.scale * g;
}

@compute @workgroup_size(ROW_WG)
fn row_loss(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let row = flat_workgroup(wid, nwg);
    var acc = 0.0;
    if (row < p.rows) {
        let base = row * p.cols;
        for (var j = lid; j < p.cols; j += ROW_WG) {
            acc += element_loss(pred[base + j], tgt[base + j]);
        }
    }
    tree_sum(lid, vec2<f32>(acc, 0.0));
    if (lid == 0u && row < p.rows) {
        out[row] = p.scale * red[0].x;
    }
}

@compute @workgroup_size(ROW_WG)
fn loss_fused(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let row = flat_workgroup(wid, nwg);
    var acc = 0.0;
    var sq = 0.0;
    if (row < p.rows) {
        let base = row * p.cols;
        for (var j = lid; j < p.cols; j += ROW_WG) {
            let z = pred[base + j];
            let t = tgt[base + j];
            var g: f32;
            if (loss_kind() == 1u) {
                let e = exp(-abs(z));
                let inv = 1.0 / (1.0 + e);
                let sig = select(e * inv, inv, z >= 0.0);
                g = sig - t;
                acc += max(z, 0.0) + log1p_f(e) - z * t;
                // The output y = sigmoid(z) as common.wgsl's sigmoid rounds it.
                let y = select(e / (1.0 + e), inv, z >= 0.0);
                sq += (y - t) * (y - t);
            } else {
                let d = z - t;
                g = 2.0 * d;
                acc += d * d;
            }
            out[base + j] = p.scale * g;
        }
    }
    // Both sums in one reduction (sq stays 0 for MSE).
    tree_sum(lid, vec2<f32>(acc, sq));
    store_row_sums(lid, row);
}

// loss_fused's outputs from the tree sum in red[0]: the row's loss and, with
// BCE and mse_rows, its MSE.
fn store_row_sums(lid: u32, row: u32) {
    if (lid == 0u && row < p.rows) {
        rowout[row] = p.row_scale * red[0].x;
        if (loss_kind() == 1u && p.mse_rows != 0u) {
            rowmse[row] = red[0].y / f32(p.cols);
        }
    }
}

@group(0) @binding(6) var<storage, read> pred4: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read> tgt4: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read_write> out4: array<vec4<f32>>;

// common.wgsl's log1p_f on each component.
fn log1p4(x: vec4<f32>) -> vec4<f32> {
    let u = 1.0 + x;
    return select(log(u) * x / (u - 1.0), x, u == vec4<f32>(1.0));
}

@compute @workgroup_size(ROW_WG)
fn loss_fused4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    let row = flat_workgroup(wid, nwg);
    var acc = vec4<f32>(0.0);
    var sq = vec4<f32>(0.0);
    if (row < p.rows) {
        let cols4 = p.cols / 4u;
        let base = row * cols4;
        for (var j = lid; j < cols4; j += ROW_WG) {
            let z = pred4[base + j];
            let t = tgt4[base + j];
            // loss_fused's element terms written over vec4s: calling one
            // shared scalar function per component measured 1.2-2x slower on
            // lavapipe, so the two stay twins (tested against one reference).
            var g: vec4<f32>;
            if (loss_kind() == 1u) {
                let e = exp(-abs(z));
                let inv = 1.0 / (1.0 + e);
                let pos = z >= vec4<f32>(0.0);
                let sig = select(e * inv, inv, pos);
                g = sig - t;
                acc += max(z, vec4<f32>(0.0)) + log1p4(e) - z * t;
                let y = select(e / (1.0 + e), inv, pos);
                sq += (y - t) * (y - t);
            } else {
                let d = z - t;
                g = 2.0 * d;
                acc += d * d;
            }
            out4[base + j] = p.scale * g;
        }
    }
    tree_sum(lid, vec2<f32>(acc.x + acc.y + acc.z + acc.w, sq.x + sq.y + sq.z + sq.w));
    store_row_sums(lid, row);
}
