//! Inputs as the twins read them: the f32 values the GPU saw, widened to
//! f64 before any arithmetic.

/// A value the GPU saw, widened.
pub(crate) fn w(x: f32) -> f64 {
    f64::from(x)
}
