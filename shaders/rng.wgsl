// rng.wgsl: counter-based random numbers generated on the GPU (Philox4x32-10),
// so weight init, noise and dropout masks never cross the bus.
//
// Element block j (elements 4j .. 4j+3) takes the four words of
//   philox(counter = (j, stream, offset + (use_counter ? ctr[0] : 0), 0), key = seed)
// so every (seed, stream, offset, index) gives its own number, the same on every
// device and in the Rust reference (src/reference.rs). `ctr` lets a prerecorded
// training step draw fresh noise each step from the GPU-side step counter.
//
// Bindings (group 0):
//   0 p    uniform  RngParams
//   1 ctr  storage  read        (1+) u32: ctr[0] is added to the offset when use_counter != 0
//   2 out  storage  read_write  (n) f32
//   3 src  storage  read        (n) f32: the clean input of the noise entry points
//
// Entry points (u uniform in [0, 1) with 24 random bits):
//   fill_uniform        out = a + (b - a) u
//   fill_normal         out = a + b n, n standard normal by Box-Muller on word pairs
//   dropout_mask        out = u >= a ? 1 / (1 - a) : 0      (a = drop probability)
//   noise_gaussian      out = src + a n                      (denoising: additive)
//   noise_mask          out = u >= a ? src : 0               (denoising: masking)
//   noise_salt_pepper   out = u < a/2 ? 0 : (u < a ? 1 : src) (denoising: salt and pepper)
// Workgroup 64, one invocation per 4 elements: dispatch ceil(n / 256)
// workgroups folded into 2-D.

struct RngParams {
    n: u32,
    seed_lo: u32,
    seed_hi: u32,
    stream: u32,
    offset: u32,
    use_counter: u32,
    a: f32,
    b: f32,
}

@group(0) @binding(0) var<uniform> p: RngParams;
@group(0) @binding(1) var<storage, read> ctr: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read> src: array<f32>;

// High and low words of the 64-bit product a * b, from 16-bit halves
// (WGSL has no 64-bit integers).
fn mulhilo(a: u32, b: u32) -> vec2<u32> {
    let al = a & 0xffffu;
    let ah = a >> 16u;
    let bl = b & 0xffffu;
    let bh = b >> 16u;
    let ll = al * bl;
    let lh = al * bh;
    let hl = ah * bl;
    let hh = ah * bh;
    let mid = (ll >> 16u) + (lh & 0xffffu) + (hl & 0xffffu);
    let hi = hh + (lh >> 16u) + (hl >> 16u) + (mid >> 16u);
    return vec2<u32>(hi, a * b);
}

fn philox(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
    var c = counter;
    var k = key;
    for (var r = 0u; r < 10u; r++) {
        let p0 = mulhilo(0xD2511F53u, c.x);
        let p1 = mulhilo(0xCD9E8D57u, c.z);
        c = vec4<u32>(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
        k += vec2<u32>(0x9E3779B9u, 0xBB67AE85u);
    }
    return c;
}

fn block_words(j: u32) -> vec4<u32> {
    var off = p.offset;
    if (p.use_counter != 0u) {
        off += ctr[0];
    }
    return philox(vec4<u32>(j, p.stream, off, 0u), vec2<u32>(p.seed_lo, p.seed_hi));
}

fn unit(w: u32) -> f32 {
    return f32(w >> 8u) * (1.0 / 16777216.0);
}

// In (0, 1): safe under log.
fn unit_open(w: u32) -> f32 {
    return (f32(w >> 8u) + 0.5) * (1.0 / 16777216.0);
}

// Four standard normals from four words, by Box-Muller on pairs.
fn normals(w: vec4<u32>) -> array<f32, 4> {
    var z: array<f32, 4>;
    for (var h = 0u; h < 2u; h++) {
        let r = sqrt(-2.0 * log(unit_open(w[2u * h])));
        // WGSL bounds the error of sin and cos on [-pi, pi] only.
        let th = 6.283185307179586 * (unit(w[2u * h + 1u]) - 0.5);
        z[2u * h] = r * cos(th);
        z[2u * h + 1u] = r * sin(th);
    }
    return z;
}

fn block_index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return flat_workgroup(wid, nwg) * 64u + lid;
}

@compute @workgroup_size(64)
fn fill_uniform(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let j = block_index(wid, nwg, lid);
    if (j * 4u >= p.n) {
        return;
    }
    let w = block_words(j);
    for (var e = 0u; e < 4u; e++) {
        let i = j * 4u + e;
        if (i < p.n) {
            out[i] = p.a + (p.b - p.a) * unit(w[e]);
        }
    }
}

@compute @workgroup_size(64)
fn fill_normal(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    let j = block_index(wid, nwg, lid);
    if (j * 4u >= p.n) {
        return;
    }
    let z = normals(block_words(j));
    for (var e = 0u; e < 4u; e++) {
        let i = j * 4u + e;
        if (i < p.n) {
            out[i] = p.a + p.b * z[e];
        }
    }
}

@compute @workgroup_size(64)
fn dropout_mask(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let j = block_index(wid, nwg, lid);
    if (j * 4u >= p.n) {
        return;
    }
    let w = block_words(j);
    let keep = 1.0 / (1.0 - p.a);
    for (var e = 0u; e < 4u; e++) {
        let i = j * 4u + e;
        if (i < p.n) {
            out[i] = select(0.0, keep, unit(w[e]) >= p.a);
        }
    }
}

@compute @workgroup_size(64)
fn noise_gaussian(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    let j = block_index(wid, nwg, lid);
    if (j * 4u >= p.n) {
        return;
    }
    let z = normals(block_words(j));
    for (var e = 0u; e < 4u; e++) {
        let i = j * 4u + e;
        if (i < p.n) {
            out[i] = src[i] + p.a * z[e];
        }
    }
}

@compute @workgroup_size(64)
fn noise_mask(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let j = block_index(wid, nwg, lid);
    if (j * 4u >= p.n) {
        return;
    }
    let w = block_words(j);
    for (var e = 0u; e < 4u; e++) {
        let i = j * 4u + e;
        if (i < p.n) {
            out[i] = select(0.0, src[i], unit(w[e]) >= p.a);
        }
    }
}

@compute @workgroup_size(64)
fn noise_salt_pepper(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
    let j = block_index(wid, nwg, lid);
    if (j * 4u >= p.n) {
        return;
    }
    let w = block_words(j);
    for (var e = 0u; e < 4u; e++) {
        let i = j * 4u + e;
        if (i < p.n) {
            let u = unit(w[e]);
            var v = src[i];
            if (u < 0.5 * p.a) {
                v = 0.0;
            } else if (u < p.a) {
                v = 1.0;
            }
            out[i] = v;
        }
    }
}
