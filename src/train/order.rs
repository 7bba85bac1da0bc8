//! The epoch's row order on the host: the permutation shaders/shuffle.wgsl
//! makes on the GPU for a resident dataset, computed row by row where a
//! streamed dataset needs it (to know which rows to send), so that both
//! train on the same batches. It is a keyed bijection (a 4-round Feistel
//! network over the next power of four, walked until it lands below n),
//! so any position costs a few hashes and nothing is stored.

use crate::kernels::shuffle_half_bits;

fn hash32(v: u32) -> u32 {
    let mut x = v;
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x
}

/// The permutation of `0..n` for (seed, epoch).
#[derive(Clone, Debug)]
pub struct EpochOrder {
    n: u32,
    half_bits: u32,
    keys: [u32; 4],
}

impl EpochOrder {
    pub fn new(n: usize, seed: u64, epoch: u32) -> Self {
        let (lo, hi) = (seed as u32, (seed >> 32) as u32);
        let key = |r: u32| {
            hash32(
                lo ^ hash32(
                    hi.wrapping_add(epoch.wrapping_mul(0x9E37_79B9))
                        .wrapping_add(r),
                ),
            )
        };
        Self {
            n: n as u32,
            half_bits: shuffle_half_bits(n),
            keys: [key(0), key(1), key(2), key(3)],
        }
    }

    fn feistel(&self, v: u32) -> u32 {
        let h = self.half_bits;
        let mask = (1u32 << h) - 1;
        let (mut l, mut r) = (v >> h, v & mask);
        for k in &self.keys {
            let t = l ^ (hash32(r ^ k) & mask);
            l = r;
            r = t;
        }
        (l << h) | r
    }

    /// The row at position `i` of the epoch.
    pub fn at(&self, i: usize) -> u32 {
        let mut v = self.feistel(i as u32);
        while v >= self.n {
            v = self.feistel(v);
        }
        v
    }
}
