// shuffle.wgsl: a pseudo-random permutation of 0..n made on the GPU, one per
// epoch, so shuffled mini-batches never cross the bus.
//
// perm[i] = walk(i): a 4-round Feistel network on 2h bits (4^h >= n) keyed by
// (seed, epoch), applied again while the value is >= n ("cycle walking"). A
// Feistel network is a bijection of 0..4^h, so walking stays inside i's cycle
// and ends inside 0..n: the result is a permutation of 0..n. Each value costs
// under four walks on average (4^h < 4n).
//
// Bindings (group 0):
//   0 p      uniform  ShuffleParams { n, half_bits, seed_lo, seed_hi }
//   1 epoch  storage  read        (1+) u32: epoch[0] selects the permutation
//   2 perm   storage  read_write  (n) u32
//
// Entry point permute: workgroup 64; dispatch ceil(n / 64) workgroups folded into 2-D.

struct ShuffleParams {
    n: u32,
    half_bits: u32,
    seed_lo: u32,
    seed_hi: u32,
}

@group(0) @binding(0) var<uniform> p: ShuffleParams;
@group(0) @binding(1) var<storage, read> epoch: array<u32>;
@group(0) @binding(2) var<storage, read_write> perm: array<u32>;

// A well-mixing 32-bit integer hash (lowbias32, C. Wellons).
fn hash32(v: u32) -> u32 {
    var x = v;
    x ^= x >> 16u;
    x *= 0x7feb352du;
    x ^= x >> 15u;
    x *= 0x846ca68bu;
    x ^= x >> 16u;
    return x;
}

fn round_key(r: u32) -> u32 {
    return hash32(p.seed_lo ^ hash32(p.seed_hi + epoch[0] * 0x9E3779B9u + r));
}

fn feistel(v: u32, keys: vec4<u32>, mask: u32) -> u32 {
    var l = v >> p.half_bits;
    var r = v & mask;
    for (var i = 0u; i < 4u; i++) {
        let f = hash32(r ^ keys[i]) & mask;
        let t = l ^ f;
        l = r;
        r = t;
    }
    return (l << p.half_bits) | r;
}

@compute @workgroup_size(64)
fn permute(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * 64u + lid;
    if (i >= p.n) {
        return;
    }
    let keys = vec4<u32>(round_key(0u), round_key(1u), round_key(2u), round_key(3u));
    let mask = (1u << p.half_bits) - 1u;
    var v = feistel(i, keys, mask);
    while (v >= p.n) {
        v = feistel(v, keys, mask);
    }
    perm[i] = v;
}
