//! f64 twin of shaders/shuffle.wgsl: the epoch's permutation.

fn hash32(v: u32) -> u32 {
    let mut x = v;
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x
}

/// The permutation shuffle.wgsl makes for (n, seed, epoch).
pub fn permute(n: usize, seed: u64, epoch: u32) -> Vec<u32> {
    let h = crate::kernels::shuffle_half_bits(n);
    let (lo, hi) = (seed as u32, (seed >> 32) as u32);
    let keys: Vec<u32> = (0..4u32)
        .map(|r| {
            hash32(
                lo ^ hash32(
                    hi.wrapping_add(epoch.wrapping_mul(0x9E37_79B9))
                        .wrapping_add(r),
                ),
            )
        })
        .collect();
    let mask = (1u32 << h) - 1;
    let feistel = |v: u32| {
        let (mut l, mut r) = (v >> h, v & mask);
        for k in &keys {
            let t = l ^ (hash32(r ^ k) & mask);
            l = r;
            r = t;
        }
        (l << h) | r
    };
    (0..n as u32)
        .map(|i| {
            let mut v = feistel(i);
            while v as usize >= n {
                v = feistel(v);
            }
            v
        })
        .collect()
}
