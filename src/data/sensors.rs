//! Synthetic multichannel sensor windows with injected anomalies, for 1-D
//! convolutional anomaly detection: 3 channels of 64 steps per window,
//! channel-major (shape [3, 64]), labelled 0 (normal) or 1 (anomalous).
//!
//! Normal windows: two periodic signals with random phase and amplitude and
//! their product on the third channel, plus noise. An anomaly is one of a
//! spike (a few steps of one channel jump), a flatline (one channel stuck
//! for 16 steps) or a frequency shift (the first channel twice as fast).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::data::Dataset;

/// Channels and steps of a window.
pub const CHANNELS: usize = 3;
pub const STEPS: usize = 64;

/// `n` windows, a `anomaly_fraction` of them anomalous (labels 1), in a
/// deterministic order for `seed`.
pub fn sensor_windows(n: usize, anomaly_fraction: f64, seed: u64) -> Dataset {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut data = Vec::with_capacity(n * CHANNELS * STEPS);
    let mut labels = Vec::with_capacity(n);
    let tau = std::f32::consts::TAU;
    for _ in 0..n {
        let (p0, p1): (f32, f32) = (rng.random(), rng.random());
        let (a0, a1) = (rng.random_range(0.7..1.0f32), rng.random_range(0.7..1.0f32));
        let anomalous = rng.random_bool(anomaly_fraction.clamp(0.0, 1.0));
        let kind = rng.random_range(0..3u32);
        let fast = anomalous && kind == 2;
        let mut w = vec![0.0f32; CHANNELS * STEPS];
        for t in 0..STEPS {
            let tf = t as f32;
            let f0 = if fast { 2.0 / 16.0 } else { 1.0 / 16.0 };
            let s0 = a0 * (tau * (tf * f0 + p0)).sin();
            let s1 = a1 * (tau * (tf / 32.0 + p1)).cos();
            w[t] = s0 + rng.random_range(-0.05..0.05);
            w[STEPS + t] = s1 + rng.random_range(-0.05..0.05);
            w[2 * STEPS + t] = 0.8 * s0 * s1 + rng.random_range(-0.05..0.05);
        }
        if anomalous && kind != 2 {
            let ch = rng.random_range(0..CHANNELS);
            let row = &mut w[ch * STEPS..(ch + 1) * STEPS];
            if kind == 0 {
                let t0 = rng.random_range(0..STEPS - 3);
                let jump = if rng.random_bool(0.5) { 1.5 } else { -1.5 };
                row[t0..t0 + 3].iter_mut().for_each(|v| *v += jump);
            } else {
                let t0 = rng.random_range(0..STEPS - 16);
                let stuck = row[t0];
                row[t0..t0 + 16].iter_mut().for_each(|v| *v = stuck);
            }
        }
        data.extend(w);
        labels.push(u32::from(anomalous));
    }
    Dataset {
        data,
        rows: n,
        cols: CHANNELS * STEPS,
        labels: Some(labels),
        dims: Some(vec![CHANNELS, STEPS]),
    }
}

/// The area under the ROC curve of `scores` (higher means more anomalous)
/// against `labels` (1 anomalous): the chance that a random anomaly scores
/// above a random normal sample, ties counting half.
pub fn roc_auc(scores: &[f32], labels: &[u32]) -> f64 {
    let pos: Vec<f32> = scores
        .iter()
        .zip(labels)
        .filter(|(_, &l)| l == 1)
        .map(|(s, _)| *s)
        .collect();
    let neg: Vec<f32> = scores
        .iter()
        .zip(labels)
        .filter(|(_, &l)| l != 1)
        .map(|(s, _)| *s)
        .collect();
    if pos.is_empty() || neg.is_empty() {
        return f64::NAN;
    }
    let mut wins = 0.0;
    for p in &pos {
        for q in &neg {
            wins += if p > q {
                1.0
            } else if p == q {
                0.5
            } else {
                0.0
            };
        }
    }
    wins / (pos.len() * neg.len()) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_deterministic_and_labelled() {
        let a = sensor_windows(200, 0.2, 3);
        assert_eq!(a, sensor_windows(200, 0.2, 3));
        assert_eq!(a.cols, 192);
        let labels = a.labels.as_ref().unwrap();
        let k = labels.iter().filter(|&&l| l == 1).count();
        assert!((20..=60).contains(&k), "{k} anomalies of 200");
        assert!(a.data.iter().all(|v| v.is_finite() && v.abs() < 4.0));
        assert!(sensor_windows(50, 0.0, 1)
            .labels
            .unwrap()
            .iter()
            .all(|&l| l == 0));
    }

    #[test]
    fn roc_auc_counts_orderings() {
        assert_eq!(roc_auc(&[0.1, 0.9, 0.2, 0.8], &[0, 1, 0, 1]), 1.0);
        assert_eq!(roc_auc(&[0.9, 0.1], &[0, 1]), 0.0);
        assert_eq!(roc_auc(&[0.5, 0.5], &[0, 1]), 0.5);
    }
}
