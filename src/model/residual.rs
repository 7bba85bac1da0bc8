//! A residual block's shortcut: the identity where the block's input and
//! output shapes agree, or the projection that maps one onto the other.

use crate::error::{Error, Result};
use crate::model::layer::{shape_name as name, Projection, Shape, Window};

/// The shortcut from `from` to `to`: the identity, a Dense layer between
/// flat shapes, or a 1x1 (transposed) convolution whose stride maps one
/// image or sequence onto the other.
pub fn projection(what: &str, from: Shape, to: Shape) -> Result<Projection> {
    if from == to {
        return Ok(Projection::Identity);
    }
    let flat = |s: Shape| s[1] == 1 && s[2] == 1;
    if flat(from) || flat(to) {
        return Ok(Projection::Dense);
    }
    let cannot = || {
        Error::InvalidArgument(format!(
            "{what}: the body maps {} to {}, and no 1x1 convolution maps the block's input onto \
             that (a projection keeps the size or divides or multiplies it by a whole stride); \
             change the body's strides or padding",
            name(from),
            name(to)
        ))
    };
    // A 1x1 window of stride s gives (n - 1) / s + 1 outputs; its
    // transpose with output padding s - 1 gives n * s.
    let down = |n: usize, m: usize| -> Option<usize> { (1..=n).find(|s| (n - 1) / s + 1 == m) };
    let up = |n: usize, m: usize| m.is_multiple_of(n).then_some(m / n);
    let one_d = from[1] == 1 && to[1] == 1;
    let window = |sh, sw| Window {
        kh: 1,
        kw: 1,
        sh,
        sw,
        ph: 0,
        pw: 0,
        dh: 1,
        dw: 1,
        one_d,
    };
    if to[1] <= from[1] && to[2] <= from[2] {
        let sh = down(from[1], to[1]).ok_or_else(cannot)?;
        let sw = down(from[2], to[2]).ok_or_else(cannot)?;
        return Ok(Projection::Conv(window(sh, sw)));
    }
    if to[1] >= from[1] && to[2] >= from[2] {
        let sh = up(from[1], to[1]).ok_or_else(cannot)?;
        let sw = up(from[2], to[2]).ok_or_else(cannot)?;
        return Ok(Projection::ConvTranspose(window(sh, sw)));
    }
    Err(cannot())
}
