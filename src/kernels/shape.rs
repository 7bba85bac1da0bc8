//! What every step builder checks before it binds anything: dimensions that
//! fit the shaders' 32-bit indices, tensors long enough for the shapes, and
//! dispatch sizes within the adapter's per-dimension limit.

use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GpuTensor};

/// Workgroup counts for `groups` workgroups of a 1-D launch, folded into 2-D
/// when they exceed the per-dimension limit (65,535 in WebGPU).
pub fn fold(ctx: &GpuContext, op: &'static str, groups: u64) -> Result<[u32; 3]> {
    let max = u64::from(ctx.limits().max_compute_workgroups_per_dimension.max(1));
    let groups = groups.max(1);
    if groups <= max {
        return Ok([groups as u32, 1, 1]);
    }
    let y = groups.div_ceil(max);
    if y > max {
        return Err(Error::shape(
            op,
            format!("{groups} workgroups exceed the {max} x {max} dispatch limit"),
        ));
    }
    Ok([max as u32, y as u32, 1])
}

/// A dimension as the shaders take it: 1 to u32::MAX.
pub(crate) fn u32_dim(op: &'static str, what: &str, v: usize) -> Result<u32> {
    u32::try_from(v)
        .ok()
        .filter(|&v| v > 0)
        .ok_or_else(|| Error::shape(op, format!("{what} = {v} must be in 1..=4294967295")))
}

/// An error unless `t` holds at least `len` values.
pub(crate) fn need(op: &'static str, name: &str, t: &GpuTensor, len: usize) -> Result<()> {
    if t.len() < len {
        return Err(Error::shape(
            op,
            format!("{name} holds {} values but {len} are needed", t.len()),
        ));
    }
    Ok(())
}

/// `a * b` values, when the shaders' 32-bit indices reach them all.
pub(crate) fn product(op: &'static str, a: usize, b: usize) -> Result<usize> {
    a.checked_mul(b)
        .filter(|&n| n <= u32::MAX as usize)
        .ok_or_else(|| Error::shape(op, format!("{a} x {b} values overflow 32-bit indexing")))
}
