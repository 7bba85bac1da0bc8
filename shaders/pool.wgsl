// pool.wgsl: 2-D max and average pooling and nearest-neighbour upsampling
// (1-D is the case h = kh = 1), channels-first (NCHW), with their gradients.
//
// Shapes (row-major), per sample and channel a plane:
//   x    (n, c, h, w)      the input
//   dy   (n, c, oh, ow)    the gradient w.r.t. the output
//   idx  (n, c, oh, ow)    u32: the argmax of each max-pooling window, as
//                          iy * w + ix within the plane (the first maximum)
//   out  forward: (n, c, oh, ow); backward: (n, c, h, w)
// Window row oy covers input rows oy * sh - ph .. + kh; rows outside 0..h are
// padding, which pooling skips (a max over the rows inside; an average over
// the rows inside, as Keras' 'same' and PyTorch's count_include_pad=False).
// Upsampling by (fh, fw): output row oy reads input row oy / fh.
//
// Bindings (group 0); each entry point uses the subset it names:
//   0 p     uniform  PoolParams
//   1 x     storage  read        the forward passes
//   2 dy    storage  read        the backward passes
//   3 out   storage  read_write  every entry point
//   4 idx   storage  read_write  maxpool_forward writes it, maxpool_backward reads it
//
// Entry points, one invocation per element of `out`:
//   maxpool_forward, maxpool_backward (the gradient goes to the argmax)
//   avgpool_forward, avgpool_backward (shared among the window's inputs)
//   upsample_forward, upsample_backward (the sum over each fh x fw block)
//
// Workgroup 64; dispatch ceil(len(out) / 64) workgroups folded into 2-D
// (common.wgsl).

struct PoolParams {
    n: u32,
    c: u32,
    h: u32,
    w: u32,
    oh: u32,
    ow: u32,
    kh: u32,
    kw: u32,
    sh: u32,
    sw: u32,
    ph: u32,
    pw: u32,
}

@group(0) @binding(0) var<uniform> p: PoolParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> idx: array<u32>;

const NO_INDEX: u32 = 0xffffffffu;

// The first input row of window row o (may be negative: padding).
fn window_start(o: u32, stride: u32, pad: u32) -> i32 {
    return i32(o * stride) - i32(pad);
}

// Rows of window o that fall inside 0..size.
fn window_count(o: u32, k: u32, stride: u32, pad: u32, size: u32) -> u32 {
    let s = window_start(o, stride, pad);
    let lo = max(s, 0);
    let hi = min(s + i32(k), i32(size));
    return u32(max(hi - lo, 0));
}

// The window row (tap k) that covers input row i, or -1.
fn covering(i: u32, k: u32, stride: u32, pad: u32, osize: u32) -> i32 {
    let t = i32(i + pad) - i32(k);
    if (t < 0 || t % i32(stride) != 0) {
        return -1;
    }
    let o = t / i32(stride);
    return select(-1, o, o < i32(osize));
}

fn out_index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return flat_workgroup(wid, nwg) * 64u + lid;
}

@compute @workgroup_size(64)
fn maxpool_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
    let i = out_index(wid, nwg, lid);
    if (i >= p.n * p.c * p.oh * p.ow) {
        return;
    }
    let ox = i % p.ow;
    let oy = (i / p.ow) % p.oh;
    let plane = (i / (p.ow * p.oh)) * p.h * p.w;
    var best = 0.0;
    var arg = NO_INDEX;
    let y0 = window_start(oy, p.sh, p.ph);
    let x0 = window_start(ox, p.sw, p.pw);
    for (var ky = 0u; ky < p.kh; ky++) {
        let iy = y0 + i32(ky);
        if (iy < 0 || iy >= i32(p.h)) {
            continue;
        }
        for (var kx = 0u; kx < p.kw; kx++) {
            let ix = x0 + i32(kx);
            if (ix < 0 || ix >= i32(p.w)) {
                continue;
            }
            let at = u32(iy) * p.w + u32(ix);
            let v = x[plane + at];
            if (arg == NO_INDEX || v > best) {
                best = v;
                arg = at;
            }
        }
    }
    out[i] = best;
    idx[i] = arg;
}

@compute @workgroup_size(64)
fn maxpool_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
    let i = out_index(wid, nwg, lid);
    if (i >= p.n * p.c * p.h * p.w) {
        return;
    }
    let ix = i % p.w;
    let iy = (i / p.w) % p.h;
    let oplane = (i / (p.w * p.h)) * p.oh * p.ow;
    let here = iy * p.w + ix;
    var acc = 0.0;
    for (var ky = 0u; ky < p.kh; ky++) {
        let oy = covering(iy, ky, p.sh, p.ph, p.oh);
        if (oy < 0) {
            continue;
        }
        for (var kx = 0u; kx < p.kw; kx++) {
            let ox = covering(ix, kx, p.sw, p.pw, p.ow);
            if (ox < 0) {
                continue;
            }
            let o = oplane + u32(oy) * p.ow + u32(ox);
            if (idx[o] == here) {
                acc += dy[o];
            }
        }
    }
    out[i] = acc;
}

@compute @workgroup_size(64)
fn avgpool_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
    let i = out_index(wid, nwg, lid);
    if (i >= p.n * p.c * p.oh * p.ow) {
        return;
    }
    let ox = i % p.ow;
    let oy = (i / p.ow) % p.oh;
    let plane = (i / (p.ow * p.oh)) * p.h * p.w;
    let y0 = window_start(oy, p.sh, p.ph);
    let x0 = window_start(ox, p.sw, p.pw);
    var acc = 0.0;
    for (var ky = 0u; ky < p.kh; ky++) {
        let iy = y0 + i32(ky);
        if (iy < 0 || iy >= i32(p.h)) {
            continue;
        }
        for (var kx = 0u; kx < p.kw; kx++) {
            let ix = x0 + i32(kx);
            if (ix < 0 || ix >= i32(p.w)) {
                continue;
            }
            acc += x[plane + u32(iy) * p.w + u32(ix)];
        }
    }
    let count = window_count(oy, p.kh, p.sh, p.ph, p.h) * window_count(ox, p.kw, p.sw, p.pw, p.w);
    out[i] = acc / f32(max(count, 1u));
}

@compute @workgroup_size(64)
fn avgpool_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
    let i = out_index(wid, nwg, lid);
    if (i >= p.n * p.c * p.h * p.w) {
        return;
    }
    let ix = i % p.w;
    let iy = (i / p.w) % p.h;
    let oplane = (i / (p.w * p.h)) * p.oh * p.ow;
    var acc = 0.0;
    for (var ky = 0u; ky < p.kh; ky++) {
        let oy = covering(iy, ky, p.sh, p.ph, p.oh);
        if (oy < 0) {
            continue;
        }
        for (var kx = 0u; kx < p.kw; kx++) {
            let ox = covering(ix, kx, p.sw, p.pw, p.ow);
            if (ox < 0) {
                continue;
            }
            let count = window_count(u32(oy), p.kh, p.sh, p.ph, p.h)
                * window_count(u32(ox), p.kw, p.sw, p.pw, p.w);
            acc += dy[oplane + u32(oy) * p.ow + u32(ox)] / f32(max(count, 1u));
        }
    }
    out[i] = acc;
}

// Upsampling reuses the fields: (kh, kw) are the factors (fh, fw).
@compute @workgroup_size(64)
fn upsample_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
    let i = out_index(wid, nwg, lid);
    if (i >= p.n * p.c * p.oh * p.ow) {
        return;
    }
    let ox = i % p.ow;
    let oy = (i / p.ow) % p.oh;
    let plane = (i / (p.ow * p.oh)) * p.h * p.w;
    out[i] = x[plane + (oy / p.kh) * p.w + ox / p.kw];
}

@compute @workgroup_size(64)
fn upsample_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
    let i = out_index(wid, nwg, lid);
    if (i >= p.n * p.c * p.h * p.w) {
        return;
    }
    let ix = i % p.w;
    let iy = (i / p.w) % p.h;
    let oplane = (i / (p.w * p.h)) * p.oh * p.ow;
    var acc = 0.0;
    for (var fy = 0u; fy < p.kh; fy++) {
        let row = oplane + (iy * p.kh + fy) * p.ow + ix * p.kw;
        for (var fx = 0u; fx < p.kw; fx++) {
            acc += dy[row + fx];
        }
    }
    out[i] = acc;
}
