//! f64 twins of shaders/pool.wgsl: max and average pooling and
//! nearest-neighbour upsampling, and their gradients, from the definitions.

use crate::kernels::PoolGeom;

/// The input rows of window row o inside 0..size.
fn window(o: usize, k: usize, stride: usize, pad: usize, size: usize) -> std::ops::Range<usize> {
    let start = (o * stride) as i64 - pad as i64;
    let lo = start.max(0) as usize;
    let hi = ((start + k as i64).max(0) as usize).min(size);
    lo..hi.max(lo)
}

/// Max pooling: the output, and each window's argmax within the plane (the
/// first maximum in row-major order).
pub fn maxpool_forward<T: Copy + Into<f64>>(g: &PoolGeom, x: &[T]) -> (Vec<f64>, Vec<u32>) {
    let mut out = vec![0.0; g.output_len()];
    let mut idx = vec![u32::MAX; g.output_len()];
    for plane in 0..g.n * g.c {
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                let o = (plane * g.oh + oy) * g.ow + ox;
                for iy in window(oy, g.kh, g.sh, g.ph, g.h) {
                    for ix in window(ox, g.kw, g.sw, g.pw, g.w) {
                        let v = f(x[(plane * g.h + iy) * g.w + ix]);
                        if idx[o] == u32::MAX || v > out[o] {
                            out[o] = v;
                            idx[o] = (iy * g.w + ix) as u32;
                        }
                    }
                }
            }
        }
    }
    (out, idx)
}

/// Max pooling's input gradient: each window's dy added at its argmax.
pub fn maxpool_backward<T: Copy + Into<f64>>(g: &PoolGeom, dy: &[T], idx: &[u32]) -> Vec<f64> {
    let mut out = vec![0.0; g.input_len()];
    for plane in 0..g.n * g.c {
        for o in 0..g.oh * g.ow {
            let at = idx[plane * g.oh * g.ow + o];
            if at != u32::MAX {
                out[plane * g.h * g.w + at as usize] += f(dy[plane * g.oh * g.ow + o]);
            }
        }
    }
    out
}

/// Average pooling over the window's inputs inside the plane.
pub fn avgpool_forward<T: Copy + Into<f64>>(g: &PoolGeom, x: &[T]) -> Vec<f64> {
    let mut out = vec![0.0; g.output_len()];
    for plane in 0..g.n * g.c {
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                let (rows, cols) = (
                    window(oy, g.kh, g.sh, g.ph, g.h),
                    window(ox, g.kw, g.sw, g.pw, g.w),
                );
                let count = (rows.len() * cols.len()).max(1) as f64;
                let mut s = 0.0;
                for iy in rows {
                    for ix in cols.clone() {
                        s += f(x[(plane * g.h + iy) * g.w + ix]);
                    }
                }
                out[(plane * g.oh + oy) * g.ow + ox] = s / count;
            }
        }
    }
    out
}

/// Average pooling's input gradient.
pub fn avgpool_backward<T: Copy + Into<f64>>(g: &PoolGeom, dy: &[T]) -> Vec<f64> {
    let mut out = vec![0.0; g.input_len()];
    for plane in 0..g.n * g.c {
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                let (rows, cols) = (
                    window(oy, g.kh, g.sh, g.ph, g.h),
                    window(ox, g.kw, g.sw, g.pw, g.w),
                );
                let count = (rows.len() * cols.len()).max(1) as f64;
                let d = f(dy[(plane * g.oh + oy) * g.ow + ox]) / count;
                for iy in rows {
                    for ix in cols.clone() {
                        out[(plane * g.h + iy) * g.w + ix] += d;
                    }
                }
            }
        }
    }
    out
}

/// Nearest-neighbour upsampling by (kh, kw).
pub fn upsample_forward<T: Copy + Into<f64>>(g: &PoolGeom, x: &[T]) -> Vec<f64> {
    let mut out = vec![0.0; g.output_len()];
    for plane in 0..g.n * g.c {
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                out[(plane * g.oh + oy) * g.ow + ox] =
                    f(x[(plane * g.h + oy / g.kh) * g.w + ox / g.kw]);
            }
        }
    }
    out
}

/// Upsampling's input gradient: each block's sum.
pub fn upsample_backward<T: Copy + Into<f64>>(g: &PoolGeom, dy: &[T]) -> Vec<f64> {
    let mut out = vec![0.0; g.input_len()];
    for plane in 0..g.n * g.c {
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                out[(plane * g.h + oy / g.kh) * g.w + ox / g.kw] +=
                    f(dy[(plane * g.oh + oy) * g.ow + ox]);
            }
        }
    }
    out
}

/// A value widened to f64 (the twins take what the GPU saw, f32, or the f64
/// trainer's values).
fn f<T: Into<f64>>(v: T) -> f64 {
    v.into()
}
