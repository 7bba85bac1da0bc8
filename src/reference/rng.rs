//! f64 twins of shaders/rng.wgsl: Philox4x32-10 and the fills made from it,
//! and the denoising corruptions.

use crate::kernels::RandomFill;
use crate::op::Noise;
use crate::reference::widen::w;

const PHILOX_M0: u32 = 0xD251_1F53;
const PHILOX_M1: u32 = 0xCD9E_8D57;
const PHILOX_W0: u32 = 0x9E37_79B9;
const PHILOX_W1: u32 = 0xBB67_AE85;

/// Philox4x32-10 (Salmon et al., SC'11), exactly as rng.wgsl computes it.
pub fn philox4x32(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut c = counter;
    let mut k = key;
    for _ in 0..10 {
        let p0 = u64::from(PHILOX_M0) * u64::from(c[0]);
        let p1 = u64::from(PHILOX_M1) * u64::from(c[2]);
        c = [
            (p1 >> 32) as u32 ^ c[1] ^ k[0],
            p1 as u32,
            (p0 >> 32) as u32 ^ c[3] ^ k[1],
            p0 as u32,
        ];
        k = [k[0].wrapping_add(PHILOX_W0), k[1].wrapping_add(PHILOX_W1)];
    }
    c
}

/// The four Philox words of element block j.
pub fn rng_words(seed: u64, stream: u32, offset: u32, j: u32) -> [u32; 4] {
    philox4x32([j, stream, offset, 0], [seed as u32, (seed >> 32) as u32])
}

fn unit(word: u32) -> f64 {
    f64::from(word >> 8) / 16_777_216.0
}

fn unit_open(word: u32) -> f64 {
    (f64::from(word >> 8) + 0.5) / 16_777_216.0
}

/// What the rng kernels write for n elements (`offset` already includes any
/// GPU-side counter).
pub fn random(fill: RandomFill, seed: u64, stream: u32, offset: u32, n: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(n);
    for j in 0..n.div_ceil(4) {
        let words = rng_words(seed, stream, offset, j as u32);
        let block: [f64; 4] = match fill {
            RandomFill::Uniform { lo, hi } => words.map(|x| w(lo) + (w(hi) - w(lo)) * unit(x)),
            RandomFill::Normal { mean, std } => {
                random_block_normals(words).map(|v| w(mean) + w(std) * v)
            }
            RandomFill::DropoutMask { p } => words.map(|x| {
                if unit(x) >= w(p) {
                    1.0 / (1.0 - w(p))
                } else {
                    0.0
                }
            }),
        };
        for v in block {
            if out.len() < n {
                out.push(v);
            }
        }
    }
    out
}

/// What the noise kernels write: `src` corrupted by `kind`.
pub fn noise(kind: Noise, seed: u64, stream: u32, offset: u32, src: &[f32]) -> Vec<f64> {
    let n = src.len();
    let mut out = Vec::with_capacity(n);
    for j in 0..n.div_ceil(4) {
        let words = rng_words(seed, stream, offset, j as u32);
        let z = match kind {
            Noise::Gaussian(std) => random_block_normals(words).map(|v| w(std) * v),
            _ => [0.0; 4],
        };
        for e in 0..4 {
            let i = 4 * j + e;
            if i >= n {
                break;
            }
            let s = w(src[i]);
            let u = unit(words[e]);
            out.push(match kind {
                Noise::Gaussian(_) => s + z[e],
                Noise::Mask(p) => {
                    if u >= w(p) {
                        s
                    } else {
                        0.0
                    }
                }
                Noise::SaltPepper(p) => {
                    if u < 0.5 * w(p) {
                        0.0
                    } else if u < w(p) {
                        1.0
                    } else {
                        s
                    }
                }
            });
        }
    }
    out
}

fn random_block_normals(words: [u32; 4]) -> [f64; 4] {
    let mut z = [0.0; 4];
    for h in 0..2 {
        let r = (-2.0 * unit_open(words[2 * h]).ln()).sqrt();
        let th = std::f64::consts::TAU * (unit(words[2 * h + 1]) - 0.5);
        z[2 * h] = r * th.cos();
        z[2 * h + 1] = r * th.sin();
    }
    z
}
