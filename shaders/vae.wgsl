// vae.wgsl: the variational autoencoder's reparameterization, its gradient,
// and the KL term of the ELBO.
//
// The encoder's head is one (rows, 2c) tensor: columns 0..c are the means mu,
// columns c..2c the log-variances lv.
//
// Bindings (group 0):
//   0 p     uniform  VaeParams { rows, code, coef, scale }
//   1 head  storage  read        (rows, 2c) [mu | lv]
//   2 eps   storage  read        (rows, c) standard normal noise
//   3 dz    storage  read        (rows, c) gradient with respect to the code z
//   4 out   storage  read_write  see below
//
// Entry points:
//   reparam      out (rows, c):  z = mu + exp(lv / 2) eps
//   vae_backward out (rows, 2c): d mu = dz + coef mu
//                                d lv = dz eps exp(lv / 2) / 2 + coef (exp(lv) - 1) / 2
//                with coef = beta / rows: the gradient of beta * mean_b KL_b
//   kl_rows      out (rows):     scale * KL_b, KL_b = -1/2 sum_j (1 + lv - mu^2 - exp(lv))
// Workgroup 64; dispatch ceil(rows * c / 64) (vae_backward: rows * 2c;
// kl_rows: rows) workgroups folded into 2-D.

struct VaeParams {
    rows: u32,
    code: u32,
    coef: f32,
    scale: f32,
}

@group(0) @binding(0) var<uniform> p: VaeParams;
@group(0) @binding(1) var<storage, read> head: array<f32>;
@group(0) @binding(2) var<storage, read> eps: array<f32>;
@group(0) @binding(3) var<storage, read> dz: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn reparam(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * 64u + lid;
    if (i >= p.rows * p.code) {
        return;
    }
    let b = i / p.code;
    let j = i % p.code;
    let mu = head[b * 2u * p.code + j];
    let lv = head[b * 2u * p.code + p.code + j];
    out[i] = mu + exp(0.5 * lv) * eps[i];
}

@compute @workgroup_size(64)
fn vae_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * 64u + lid;
    if (i >= p.rows * 2u * p.code) {
        return;
    }
    let b = i / (2u * p.code);
    let col = i % (2u * p.code);
    let j = col % p.code;
    let g = dz[b * p.code + j];
    if (col < p.code) {
        out[i] = g + p.coef * head[i];
    } else {
        let lv = head[i];
        let s = exp(0.5 * lv);
        out[i] = 0.5 * g * eps[b * p.code + j] * s + 0.5 * p.coef * (s * s - 1.0);
    }
}

@compute @workgroup_size(64)
fn kl_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let b = flat_workgroup(wid, nwg) * 64u + lid;
    if (b >= p.rows) {
        return;
    }
    var acc = 0.0;
    for (var j = 0u; j < p.code; j++) {
        let mu = head[b * 2u * p.code + j];
        let lv = head[b * 2u * p.code + p.code + j];
        acc += 1.0 + lv - mu * mu - exp(lv);
    }
    out[b] = -0.5 * p.scale * acc;
}
