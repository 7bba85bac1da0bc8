//! The built-in dataset: 28x28 digit glyphs drawn from strokes, with random
//! affine jitter (rotation, scale, shear, shift) and stroke thickness, and
//! their labels. The main job trains on it, so nothing needs downloading.

use rand::{rngs::StdRng, Rng, SeedableRng};

use crate::data::Dataset;

pub const SIDE: usize = 28;

type Pt = (f32, f32);

fn arc(cx: f32, cy: f32, rx: f32, ry: f32, a0: f32, a1: f32, n: usize) -> Vec<Pt> {
    (0..=n)
        .map(|i| {
            let a = (a0 + (a1 - a0) * i as f32 / n as f32).to_radians();
            (cx + rx * a.cos(), cy + ry * a.sin())
        })
        .collect()
}

fn line(pts: &[Pt]) -> Vec<Pt> {
    pts.to_vec()
}

/// The strokes (polylines in the unit square, y down) of digit `d`.
fn strokes(d: u32) -> Vec<Vec<Pt>> {
    match d {
        0 => vec![arc(0.5, 0.5, 0.27, 0.38, 0.0, 360.0, 24)],
        1 => vec![line(&[(0.36, 0.26), (0.52, 0.12), (0.52, 0.88)])],
        2 => {
            let mut top = arc(0.5, 0.33, 0.24, 0.21, 180.0, 360.0 + 35.0, 14);
            top.extend([(0.26, 0.88), (0.78, 0.88)]);
            vec![top]
        }
        3 => vec![
            arc(0.48, 0.31, 0.23, 0.19, 200.0, 450.0, 14),
            arc(0.48, 0.68, 0.26, 0.2, 270.0, 520.0, 14),
        ],
        4 => vec![line(&[
            (0.62, 0.88),
            (0.62, 0.12),
            (0.22, 0.62),
            (0.8, 0.62),
        ])],
        5 => {
            let mut s = line(&[(0.74, 0.13), (0.33, 0.13), (0.3, 0.46)]);
            s.extend(arc(0.48, 0.64, 0.26, 0.23, 230.0, 500.0, 14));
            vec![s]
        }
        6 => {
            let mut s = arc(0.62, 0.48, 0.3, 0.36, 265.0, 180.0, 8);
            s.extend(arc(0.5, 0.66, 0.22, 0.21, 180.0, 540.0, 16));
            vec![s]
        }
        7 => vec![line(&[(0.22, 0.13), (0.78, 0.13), (0.44, 0.88)])],
        8 => vec![
            arc(0.5, 0.3, 0.2, 0.18, 0.0, 360.0, 18),
            arc(0.5, 0.68, 0.25, 0.2, 0.0, 360.0, 18),
        ],
        _ => {
            let mut s = arc(0.5, 0.34, 0.22, 0.21, 0.0, 360.0, 18);
            s.extend(line(&[(0.72, 0.34), (0.66, 0.88)]));
            vec![s]
        }
    }
}

fn dist_to_segment(p: Pt, a: Pt, b: Pt) -> f32 {
    let (vx, vy) = (b.0 - a.0, b.1 - a.1);
    let (wx, wy) = (p.0 - a.0, p.1 - a.1);
    let len2 = vx * vx + vy * vy;
    let t = if len2 > 0.0 {
        ((wx * vx + wy * vy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (dx, dy) = (p.0 - (a.0 + t * vx), p.1 - (a.1 + t * vy));
    (dx * dx + dy * dy).sqrt()
}

/// One jittered glyph of digit `d`, 784 values in [0, 1].
pub fn render_digit(d: u32, rng: &mut StdRng) -> Vec<f32> {
    let rot = rng.random_range(-0.22f32..0.22);
    let scale = rng.random_range(0.74f32..0.94);
    let aspect = rng.random_range(0.85f32..1.1);
    let shear = rng.random_range(-0.25f32..0.25);
    let (tx, ty) = (
        rng.random_range(-0.05f32..0.05),
        rng.random_range(-0.04f32..0.04),
    );
    let thick = rng.random_range(0.035f32..0.075);
    let (c, s) = (rot.cos(), rot.sin());
    // Glyph space -> image space: centre, shear, scale, rotate, shift.
    let map = |(x, y): Pt| -> Pt {
        let (x, y) = (x - 0.5, y - 0.5);
        let x = x + shear * y;
        let (x, y) = (x * scale * aspect, y * scale);
        (c * x - s * y + 0.5 + tx, s * x + c * y + 0.5 + ty)
    };
    let polylines: Vec<Vec<Pt>> = strokes(d)
        .into_iter()
        .map(|pl| pl.into_iter().map(map).collect())
        .collect();
    let mut img = vec![0f32; SIDE * SIDE];
    for (i, px) in img.iter_mut().enumerate() {
        let p = (
            ((i % SIDE) as f32 + 0.5) / SIDE as f32,
            ((i / SIDE) as f32 + 0.5) / SIDE as f32,
        );
        let mut dmin = f32::INFINITY;
        for pl in &polylines {
            for w in pl.windows(2) {
                dmin = dmin.min(dist_to_segment(p, w[0], w[1]));
            }
        }
        // Solid inside the stroke, a one-pixel soft edge outside it.
        let edge = 1.0 / SIDE as f32;
        *px = (1.0 - (dmin - thick) / edge).clamp(0.0, 1.0);
    }
    img
}

/// `n` jittered digits, labels cycling 0..9, deterministic in `seed`.
pub fn digits(n: usize, seed: u64) -> Dataset {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut data = Vec::with_capacity(n * SIDE * SIDE);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let d = (i % 10) as u32;
        data.extend(render_digit(d, &mut rng));
        labels.push(d);
    }
    Dataset {
        data,
        rows: n,
        cols: SIDE * SIDE,
        labels: Some(labels),
        dims: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_deterministic_in_range_and_distinct() {
        let a = digits(30, 1);
        let b = digits(30, 1);
        assert_eq!(a, b);
        assert_ne!(a.data, digits(30, 2).data);
        assert!(a.data.iter().all(|v| (0.0..=1.0).contains(v)));
        // Each glyph has ink, but is mostly background, like MNIST.
        for r in 0..a.rows {
            let ink: f32 = a.row(r).iter().sum::<f32>() / 784.0;
            assert!(
                ink > 0.04 && ink < 0.4,
                "digit {} ink {ink}",
                a.labels.as_ref().unwrap()[r]
            );
        }
        // Different digits differ more than two draws of the same digit.
        let dist = |i: usize, j: usize| {
            a.row(i)
                .iter()
                .zip(a.row(j))
                .map(|(x, y)| (x - y).powi(2))
                .sum::<f32>()
        };
        assert!(
            dist(1, 11) < dist(1, 0),
            "two 1s should be closer than a 1 and a 0"
        );
    }
}
