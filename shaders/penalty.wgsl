// penalty.wgsl: sparsity penalties on activations and their gradients.
// (L2 weight decay is axpby in elementwise.wgsl: g += lambda * w.)
//
// Bindings (group 0):
//   0 p        uniform  PenaltyParams { rows, cols, rho, coef }
//   1 h        storage  read        (rows, cols) activations
//   2 rho_hat  storage  read        (cols) mean activation of each unit over the batch
//   3 out      storage  read_write  (rows, cols) gradient, accumulated into;
//                                   (cols) per-unit KL terms for kl_loss
//
// Entry points:
//   l1_grad  out[i] += coef * sign(h[i])                      coef = lambda
//            (the loss lambda * sum |h| is reduce mode 2)
//   kl_grad  out[i, j] += coef * (-rho / rh_j + (1 - rho) / (1 - rh_j))
//            coef = beta / rows, rh_j = rho_hat[j] clamped to [1e-6, 1 - 1e-6]
//   kl_loss  out[j] = coef * (rho log(rho / rh_j) + (1 - rho) log((1 - rho) / (1 - rh_j)))
//            coef = beta; sum with reduce mode 0 for the penalty
// rho_hat comes from col_sum with scale = 1 / rows (reduce.wgsl).
// Workgroup 64; dispatch ceil(rows * cols / 64) (kl_loss: ceil(cols / 64))
// workgroups folded into 2-D.

struct PenaltyParams {
    rows: u32,
    cols: u32,
    rho: f32,
    coef: f32,
}

@group(0) @binding(0) var<uniform> p: PenaltyParams;
@group(0) @binding(1) var<storage, read> h: array<f32>;
@group(0) @binding(2) var<storage, read> rho_hat: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

const RH_EPS: f32 = 1e-6;

fn clamped_rho_hat(j: u32) -> f32 {
    return clamp(rho_hat[j], RH_EPS, 1.0 - RH_EPS);
}

@compute @workgroup_size(64)
fn l1_grad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * 64u + lid;
    if (i >= p.rows * p.cols) {
        return;
    }
    out[i] += p.coef * sign(h[i]);
}

@compute @workgroup_size(64)
fn kl_grad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * 64u + lid;
    if (i >= p.rows * p.cols) {
        return;
    }
    let rh = clamped_rho_hat(i % p.cols);
    out[i] += p.coef * (-p.rho / rh + (1.0 - p.rho) / (1.0 - rh));
}

@compute @workgroup_size(64)
fn kl_loss(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let j = flat_workgroup(wid, nwg) * 64u + lid;
    if (j >= p.cols) {
        return;
    }
    let rh = clamped_rho_hat(j);
    let r = p.rho;
    out[j] = p.coef * (r * log(r / rh) + (1.0 - r) * log((1.0 - r) / (1.0 - rh)));
}
