//! f64 twins of shaders/conv.wgsl: the convolution, its input gradient (a
//! transposed convolution), its weight and bias gradients, written from the
//! definition with loops over every index, and each product's scale
//! `sum |terms|`, which sets its f32 rounding tolerance.

use crate::kernels::ConvGeom;
use crate::op::Activation;
use crate::reference::elementwise::act;

/// The input coordinate under tap k of output coordinate o, if inside.
fn tap(o: usize, k: usize, stride: usize, dil: usize, pad: usize, size: usize) -> Option<usize> {
    (o * stride + k * dil)
        .checked_sub(pad)
        .filter(|&i| i < size)
}

/// `act(conv(x, wt) + bias)` (n, o, oh, ow), and the scale of each output.
pub fn conv_forward<T: Copy + Into<f64>>(
    g: &ConvGeom,
    x: &[T],
    wt: &[T],
    bias: Option<&[T]>,
    a: Activation,
) -> (Vec<f64>, Vec<f64>) {
    let mut out = vec![0.0; g.output_len()];
    let mut scale = vec![0.0; g.output_len()];
    for b in 0..g.n {
        for oc in 0..g.o {
            for oy in 0..g.oh {
                for ox in 0..g.ow {
                    let (mut s, mut m) = (0.0, 0.0);
                    for ci in 0..g.c {
                        for ky in 0..g.kh {
                            let Some(iy) = tap(oy, ky, g.sh, g.dh, g.ph, g.h) else {
                                continue;
                            };
                            for kx in 0..g.kw {
                                let Some(ix) = tap(ox, kx, g.sw, g.dw, g.pw, g.w) else {
                                    continue;
                                };
                                let t = f(x[((b * g.c + ci) * g.h + iy) * g.w + ix])
                                    * f(wt[((oc * g.c + ci) * g.kh + ky) * g.kw + kx]);
                                s += t;
                                m += t.abs();
                            }
                        }
                    }
                    if let Some(bias) = bias {
                        s += f(bias[oc]);
                        m += f(bias[oc]).abs();
                    }
                    let i = ((b * g.o + oc) * g.oh + oy) * g.ow + ox;
                    out[i] = act(s, a);
                    scale[i] = m;
                }
            }
        }
    }
    (out, scale)
}

/// `act(conv^T(dy, wt) + bias)` (n, c, h, w): every output position adds
/// its gradient times the weight to the input it read. With the scales.
pub fn conv_dx<T: Copy + Into<f64>>(
    g: &ConvGeom,
    dy: &[T],
    wt: &[T],
    bias: Option<&[T]>,
    a: Activation,
) -> (Vec<f64>, Vec<f64>) {
    let mut sum = vec![0.0; g.input_len()];
    let mut scale = vec![0.0; g.input_len()];
    for b in 0..g.n {
        for oc in 0..g.o {
            for oy in 0..g.oh {
                for ox in 0..g.ow {
                    let d = f(dy[((b * g.o + oc) * g.oh + oy) * g.ow + ox]);
                    for ci in 0..g.c {
                        for ky in 0..g.kh {
                            let Some(iy) = tap(oy, ky, g.sh, g.dh, g.ph, g.h) else {
                                continue;
                            };
                            for kx in 0..g.kw {
                                let Some(ix) = tap(ox, kx, g.sw, g.dw, g.pw, g.w) else {
                                    continue;
                                };
                                let t = d * f(wt[((oc * g.c + ci) * g.kh + ky) * g.kw + kx]);
                                let i = ((b * g.c + ci) * g.h + iy) * g.w + ix;
                                sum[i] += t;
                                scale[i] += t.abs();
                            }
                        }
                    }
                }
            }
        }
    }
    let out = sum
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            let ci = (i / (g.h * g.w)) % g.c;
            act(s + bias.map_or(0.0, |b| f(b[ci])), a)
        })
        .collect();
    (out, scale)
}

/// The weight gradient (o, c, kh, kw), with its scales.
pub fn conv_dw<T: Copy + Into<f64>>(g: &ConvGeom, x: &[T], dy: &[T]) -> (Vec<f64>, Vec<f64>) {
    let mut out = vec![0.0; g.weight_len()];
    let mut scale = vec![0.0; g.weight_len()];
    for b in 0..g.n {
        for oc in 0..g.o {
            for oy in 0..g.oh {
                for ox in 0..g.ow {
                    let d = f(dy[((b * g.o + oc) * g.oh + oy) * g.ow + ox]);
                    for ci in 0..g.c {
                        for ky in 0..g.kh {
                            let Some(iy) = tap(oy, ky, g.sh, g.dh, g.ph, g.h) else {
                                continue;
                            };
                            for kx in 0..g.kw {
                                let Some(ix) = tap(ox, kx, g.sw, g.dw, g.pw, g.w) else {
                                    continue;
                                };
                                let t = d * f(x[((b * g.c + ci) * g.h + iy) * g.w + ix]);
                                let j = ((oc * g.c + ci) * g.kh + ky) * g.kw + kx;
                                out[j] += t;
                                scale[j] += t.abs();
                            }
                        }
                    }
                }
            }
        }
    }
    (out, scale)
}

/// The bias gradient (o), with its scales.
pub fn conv_db<T: Copy + Into<f64>>(g: &ConvGeom, dy: &[T]) -> (Vec<f64>, Vec<f64>) {
    let mut out = vec![0.0; g.o];
    let mut scale = vec![0.0; g.o];
    for (i, &d) in dy[..g.output_len()].iter().enumerate() {
        let oc = (i / (g.oh * g.ow)) % g.o;
        out[oc] += f(d);
        scale[oc] += f(d).abs();
    }
    (out, scale)
}

/// The im2col matrix (c*kh*kw, n*oh*ow): column (b, oy, ox) holds the
/// window of that output, zero in the padding.
pub fn im2col<T: Copy + Into<f64>>(g: &ConvGeom, x: &[T]) -> Vec<f64> {
    let cols = g.n * g.oh * g.ow;
    let mut out = vec![0.0; g.col_len()];
    for ci in 0..g.c {
        for ky in 0..g.kh {
            for kx in 0..g.kw {
                let r = (ci * g.kh + ky) * g.kw + kx;
                for b in 0..g.n {
                    for oy in 0..g.oh {
                        for ox in 0..g.ow {
                            if let (Some(iy), Some(ix)) = (
                                tap(oy, ky, g.sh, g.dh, g.ph, g.h),
                                tap(ox, kx, g.sw, g.dw, g.pw, g.w),
                            ) {
                                out[r * cols + (b * g.oh + oy) * g.ow + ox] =
                                    f(x[((b * g.c + ci) * g.h + iy) * g.w + ix]);
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

/// The transpose of [`im2col`]: each input the sum of the column values it
/// fed, then `act(. + bias)`; with the sums' scales.
pub fn col2im<T: Copy + Into<f64>>(
    g: &ConvGeom,
    cols: &[T],
    bias: Option<&[T]>,
    a: Activation,
) -> (Vec<f64>, Vec<f64>) {
    let ncols = g.n * g.oh * g.ow;
    let mut sum = vec![0.0; g.input_len()];
    let mut scale = vec![0.0; g.input_len()];
    for ci in 0..g.c {
        for ky in 0..g.kh {
            for kx in 0..g.kw {
                let r = (ci * g.kh + ky) * g.kw + kx;
                for b in 0..g.n {
                    for oy in 0..g.oh {
                        for ox in 0..g.ow {
                            if let (Some(iy), Some(ix)) = (
                                tap(oy, ky, g.sh, g.dh, g.ph, g.h),
                                tap(ox, kx, g.sw, g.dw, g.pw, g.w),
                            ) {
                                let v = f(cols[r * ncols + (b * g.oh + oy) * g.ow + ox]);
                                let i = ((b * g.c + ci) * g.h + iy) * g.w + ix;
                                sum[i] += v;
                                scale[i] += v.abs();
                            }
                        }
                    }
                }
            }
        }
    }
    let out = sum
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            let ci = (i / (g.h * g.w)) % g.c;
            act(s + bias.map_or(0.0, |b| f(b[ci])), a)
        })
        .collect();
    (out, scale)
}

/// (n, o, oh*ow) to (o, n, oh*ow).
pub fn to_cnhw<T: Copy + Into<f64>>(g: &ConvGeom, x: &[T]) -> Vec<f64> {
    let plane = g.oh * g.ow;
    let mut out = vec![0.0; g.output_len()];
    for b in 0..g.n {
        for oc in 0..g.o {
            for q in 0..plane {
                out[(oc * g.n + b) * plane + q] = f(x[(b * g.o + oc) * plane + q]);
            }
        }
    }
    out
}

/// (o, n, oh*ow) back to (n, o, oh*ow), then `act(. + bias)`.
pub fn from_cnhw<T: Copy + Into<f64>>(
    g: &ConvGeom,
    y: &[T],
    bias: Option<&[T]>,
    a: Activation,
) -> Vec<f64> {
    let plane = g.oh * g.ow;
    let mut out = vec![0.0; g.output_len()];
    for b in 0..g.n {
        for oc in 0..g.o {
            for q in 0..plane {
                let v = f(y[(oc * g.n + b) * plane + q]) + bias.map_or(0.0, |bs| f(bs[oc]));
                out[(b * g.o + oc) * plane + q] = act(v, a);
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
