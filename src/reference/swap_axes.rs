//! f64 twin of shaders/swap_axes.wgsl.

/// `out[r, j, i] = x[r, i, j]` for `rows` samples of (a, b) values: f32
/// values the GPU saw, or f64 ones (the layer twin's).
pub fn swap_axes<T: Copy>(x: &[T], rows: usize, a: usize, b: usize) -> Vec<f64>
where
    f64: From<T>,
{
    let mut out = vec![0.0; rows * a * b];
    for r in 0..rows {
        for i in 0..a {
            for j in 0..b {
                out[r * a * b + j * a + i] = f64::from(x[r * a * b + i * b + j]);
            }
        }
    }
    out
}
