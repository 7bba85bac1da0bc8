// conv.wgsl: 2-D convolution (1-D is the case h = kh = 1) by direct loops
// over the window, channels-first (NCHW), with its input and parameter
// gradients. A transposed convolution is the same arithmetic with the roles
// swapped: its forward pass is conv_dx, its input gradient conv_forward, its
// weight gradient conv_dw with x and dy exchanged (src/plan/conv.rs).
//
// Shapes (row-major):
//   x    (n, c, h, w)        the input
//   wt   (o, c, kh, kw)      the weight, as PyTorch's nn.Conv2d stores it
//   bias (o), or (c) for conv_dx
//   dy   (n, o, oh, ow)      the gradient w.r.t. the output
//   out  conv_forward: (n, o, oh, ow); conv_dx: (n, c, h, w);
//        conv_dw: (o, c, kh, kw); conv_db: (o)
// Output row oy reads input rows oy * sh + ky * dh - ph for ky < kh (columns
// alike); rows outside 0..h are zero padding.
//
// Bindings (group 0); each entry point uses the subset it names:
//   0 p     uniform  ConvParams
//   1 x     storage  read        conv_forward, conv_dw
//   2 wt    storage  read        conv_forward, conv_dx
//   3 bias  storage  read        conv_forward, conv_dx (read when use_bias)
//   4 out   storage  read_write  every entry point
//   5 dy    storage  read        conv_dx, conv_dw, conv_db, col2im, from_cnhw
//
// Entry points:
//   conv_forward  out = act(conv(x, wt) + bias)       one invocation per output
//   conv_dx       out = act(conv^T(dy, wt) + bias)    one invocation per input
//                 element (act Identity, no bias, for the gradient)
//   conv_dw       out[oc, ci, ky, kx] = sum_{b, oy, ox} dy * x under the window
//                 one workgroup of 64 per weight, a tree sum at the end
//   conv_db       out[oc] = sum_{b, oy, ox} dy      one workgroup of 64 per channel
//
//
// The same convolution as matrix products (im2col), for the tuned matmul:
//   im2col     out (c*kh*kw, n*oh*ow): column b*oh*ow + oy*ow + ox holds the
//              window of output (oy, ox) of sample b, zero in the padding
//   col2im     out (n, c, h, w) = act(sum of the columns' values each input
//              fed (dy is a (c*kh*kw, n*oh*ow) matrix) + bias[c]): the
//              transpose of im2col, as a gather
//   to_cnhw    out (o, n, oh*ow) = x (n, o, oh*ow) with the first two axes swapped
//   from_cnhw  out (n, o, oh*ow) = act(dy (o, n, oh*ow) swapped back + bias[o])
//
// Workgroup 64. Dispatch: conv_forward ceil(n*o*oh*ow / 64), conv_dx
// ceil(n*c*h*w / 64), conv_dw o*c*kh*kw, conv_db o workgroups; im2col,
// col2im, to_cnhw and from_cnhw one invocation per element of out; each
// folded into 2-D (common.wgsl).

struct ConvParams {
    n: u32,
    c: u32,
    h: u32,
    w: u32,
    o: u32,
    oh: u32,
    ow: u32,
    kh: u32,
    kw: u32,
    sh: u32,
    sw: u32,
    ph: u32,
    pw: u32,
    dh: u32,
    dw: u32,
    use_bias: u32,
    act: u32,
    act_alpha: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: ConvParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read> dy: array<f32>;

// The input coordinate under kernel tap k of output coordinate o, or -1
// where it falls in the padding.
fn tap(o: u32, k: u32, stride: u32, dil: u32, pad: u32, size: u32) -> i32 {
    let i = i32(o * stride + k * dil) - i32(pad);
    return select(-1, i, i >= 0 && i < i32(size));
}

// The output coordinate whose kernel tap k reads input coordinate i, or -1
// where there is none (off the stride grid, or outside 0..osize).
fn tapped_by(i: u32, k: u32, stride: u32, dil: u32, pad: u32, osize: u32) -> i32 {
    let t = i32(i + pad) - i32(k * dil);
    if (t < 0 || t % i32(stride) != 0) {
        return -1;
    }
    let o = t / i32(stride);
    return select(-1, o, o < i32(osize));
}

@compute @workgroup_size(64)
fn conv_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * 64u + lid;
    if (i >= p.n * p.o * p.oh * p.ow) {
        return;
    }
    let ox = i % p.ow;
    let oy = (i / p.ow) % p.oh;
    let oc = (i / (p.ow * p.oh)) % p.o;
    let b = i / (p.ow * p.oh * p.o);
    var acc = 0.0;
    for (var ci = 0u; ci < p.c; ci++) {
        let xbase = (b * p.c + ci) * p.h;
        let wbase = (oc * p.c + ci) * p.kh;
        for (var ky = 0u; ky < p.kh; ky++) {
            let iy = tap(oy, ky, p.sh, p.dh, p.ph, p.h);
            if (iy < 0) {
                continue;
            }
            let xrow = (xbase + u32(iy)) * p.w;
            let wrow = (wbase + ky) * p.kw;
            for (var kx = 0u; kx < p.kw; kx++) {
                let ix = tap(ox, kx, p.sw, p.dw, p.pw, p.w);
                if (ix < 0) {
                    continue;
                }
                acc = fma(x[xrow + u32(ix)], wt[wrow + kx], acc);
            }
        }
    }
    if (p.use_bias != 0u) {
        acc += bias[oc];
    }
    out[i] = activate(acc, p.act, p.act_alpha);
}

@compute @workgroup_size(64)
fn conv_dx(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * 64u + lid;
    if (i >= p.n * p.c * p.h * p.w) {
        return;
    }
    let ix = i % p.w;
    let iy = (i / p.w) % p.h;
    let ci = (i / (p.w * p.h)) % p.c;
    let b = i / (p.w * p.h * p.c);
    var acc = 0.0;
    for (var oc = 0u; oc < p.o; oc++) {
        let dbase = (b * p.o + oc) * p.oh;
        let wbase = (oc * p.c + ci) * p.kh;
        for (var ky = 0u; ky < p.kh; ky++) {
            let oy = tapped_by(iy, ky, p.sh, p.dh, p.ph, p.oh);
            if (oy < 0) {
                continue;
            }
            let drow = (dbase + u32(oy)) * p.ow;
            let wrow = (wbase + ky) * p.kw;
            for (var kx = 0u; kx < p.kw; kx++) {
                let ox = tapped_by(ix, kx, p.sw, p.dw, p.pw, p.ow);
                if (ox < 0) {
                    continue;
                }
                acc = fma(dy[drow + u32(ox)], wt[wrow + kx], acc);
            }
        }
    }
    if (p.use_bias != 0u) {
        acc += bias[ci];
    }
    out[i] = activate(acc, p.act, p.act_alpha);
}

var<workgroup> partial: array<f32, 64>;

// Sums the workgroup's 64 partial sums into partial[0] (uniform control flow).
fn tree_sum(lid: u32, v: f32) -> f32 {
    partial[lid] = v;
    workgroupBarrier();
    for (var s = 32u; s > 0u; s >>= 1u) {
        if (lid < s) {
            partial[lid] += partial[lid + s];
        }
        workgroupBarrier();
    }
    return partial[0];
}

@compute @workgroup_size(64)
fn conv_dw(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    // Uniform across the workgroup: every invocation reaches the barriers.
    let j = flat_workgroup(wid, nwg);
    let live = j < p.o * p.c * p.kh * p.kw;
    let kx = j % p.kw;
    let ky = (j / p.kw) % p.kh;
    let ci = (j / (p.kw * p.kh)) % p.c;
    let oc = j / (p.kw * p.kh * p.c);
    var acc = 0.0;
    if (live) {
        let plane = p.oh * p.ow;
        for (var t = lid; t < p.n * plane; t += 64u) {
            let b = t / plane;
            let oy = (t % plane) / p.ow;
            let ox = t % p.ow;
            let iy = tap(oy, ky, p.sh, p.dh, p.ph, p.h);
            let ix = tap(ox, kx, p.sw, p.dw, p.pw, p.w);
            if (iy < 0 || ix < 0) {
                continue;
            }
            let g = dy[((b * p.o + oc) * p.oh + oy) * p.ow + ox];
            acc = fma(g, x[((b * p.c + ci) * p.h + u32(iy)) * p.w + u32(ix)], acc);
        }
    }
    let total = tree_sum(lid, acc);
    if (live && lid == 0u) {
        out[j] = total;
    }
}

@compute @workgroup_size(64)
fn conv_db(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let oc = flat_workgroup(wid, nwg);
    let live = oc < p.o;
    var acc = 0.0;
    if (live) {
        let plane = p.oh * p.ow;
        for (var t = lid; t < p.n * plane; t += 64u) {
            let b = t / plane;
            acc += dy[(b * p.o + oc) * plane + t % plane];
        }
    }
    let total = tree_sum(lid, acc);
    if (live && lid == 0u) {
        out[oc] = total;
    }
}

@compute @workgroup_size(64)
fn im2col(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * 64u + lid;
    let cols = p.n * p.oh * p.ow;
    if (i >= p.c * p.kh * p.kw * cols) {
        return;
    }
    let r = i / cols;
    let j = i % cols;
    let kx = r % p.kw;
    let ky = (r / p.kw) % p.kh;
    let ci = r / (p.kw * p.kh);
    let ox = j % p.ow;
    let oy = (j / p.ow) % p.oh;
    let b = j / (p.ow * p.oh);
    let iy = tap(oy, ky, p.sh, p.dh, p.ph, p.h);
    let ix = tap(ox, kx, p.sw, p.dw, p.pw, p.w);
    var v = 0.0;
    if (iy >= 0 && ix >= 0) {
        v = x[((b * p.c + ci) * p.h + u32(iy)) * p.w + u32(ix)];
    }
    out[i] = v;
}

@compute @workgroup_size(64)
fn col2im(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * 64u + lid;
    if (i >= p.n * p.c * p.h * p.w) {
        return;
    }
    let ix = i % p.w;
    let iy = (i / p.w) % p.h;
    let ci = (i / (p.w * p.h)) % p.c;
    let b = i / (p.w * p.h * p.c);
    let cols = p.n * p.oh * p.ow;
    var acc = 0.0;
    for (var ky = 0u; ky < p.kh; ky++) {
        let oy = tapped_by(iy, ky, p.sh, p.dh, p.ph, p.oh);
        if (oy < 0) {
            continue;
        }
        for (var kx = 0u; kx < p.kw; kx++) {
            let ox = tapped_by(ix, kx, p.sw, p.dw, p.pw, p.ow);
            if (ox < 0) {
                continue;
            }
            let r = (ci * p.kh + ky) * p.kw + kx;
            acc += dy[r * cols + (b * p.oh + u32(oy)) * p.ow + u32(ox)];
        }
    }
    if (p.use_bias != 0u) {
        acc += bias[ci];
    }
    out[i] = activate(acc, p.act, p.act_alpha);
}

@compute @workgroup_size(64)
fn to_cnhw(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * 64u + lid;
    let plane = p.oh * p.ow;
    if (i >= p.n * p.o * plane) {
        return;
    }
    // out is (o, n, plane); it reads x (n, o, plane).
    let q = i % plane;
    let b = (i / plane) % p.n;
    let oc = i / (plane * p.n);
    out[i] = x[(b * p.o + oc) * plane + q];
}

@compute @workgroup_size(64)
fn from_cnhw(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * 64u + lid;
    let plane = p.oh * p.ow;
    if (i >= p.n * p.o * plane) {
        return;
    }
    // out is (n, o, plane); it reads dy (o, n, plane).
    let q = i % plane;
    let oc = (i / plane) % p.o;
    let b = i / (plane * p.o);
    var v = dy[(oc * p.n + b) * plane + q];
    if (p.use_bias != 0u) {
        v += bias[oc];
    }
    out[i] = activate(v, p.act, p.act_alpha);
}
