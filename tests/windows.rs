//! Windows over one long series (`Source::windows`): cut as they are read,
//! never copied ahead, they read, scale, split and train exactly as the
//! same windows copied out into memory, whether the series is resident on
//! the GPU (in one buffer or several that overlap), streamed, or mapped
//! from a 2-D .npy.

mod common;

use common::{gpu, rand_vec, rng};
use rand::Rng;
use wgae::data::windows::{WindowLayout, Windows};
use wgae::data::Source;
use wgae::{Control, GpuContext, ModelConfig, TrainConfig, Trainer};

const STEPS: usize = 157;
const CHANNELS: usize = 3;

fn series(seed: u64) -> Vec<f32> {
    let mut g = rng(seed);
    (0..STEPS * CHANNELS)
        .map(|i| (i / CHANNELS) as f32 * 0.1 + (i % CHANNELS) as f32 * 10.0 + g.random::<f32>())
        .collect()
}

/// The windows copied out, in `w`'s layout.
fn copies(series: &[f32], w: &Windows, from: usize, count: usize) -> Vec<f32> {
    let mut out = vec![0.0; count * w.cols()];
    for (k, dst) in out.chunks_mut(w.cols()).enumerate() {
        let s0 = (from + k) * w.stride * w.channels;
        w.arrange(&series[s0..s0 + w.len * w.channels], dst);
    }
    out
}

/// A little-endian f32 .npy of `shape`, as wgae writes them.
fn write_npy(path: &std::path::Path, values: &[f32], shape: &[usize]) {
    let mut bytes = wgae::io::npy_header_of("<f4", shape, 0);
    bytes.extend(wgae::io::f32_bytes(values));
    std::fs::write(path, bytes).unwrap();
}

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("wgae-windows-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn windows_read_scale_and_split_as_copies() {
    let values = series(1);
    let npy = tmp("series.npy");
    write_npy(&npy, &values, &[STEPS, CHANNELS]);
    let memory = Source::memory(values.clone(), STEPS, CHANNELS).unwrap();
    let mapped = Source::map(&npy, None).unwrap();
    for (what, src) in [("memory", &memory), ("mapped", &mapped)] {
        for layout in [WindowLayout::Time, WindowLayout::Channels] {
            let win = src.windows(8, 3, layout).unwrap();
            let w = win.window().unwrap();
            assert_eq!(win.rows(), (STEPS - 8) / 3 + 1);
            assert_eq!(win.cols(), 8 * CHANNELS);
            assert_eq!(win.dims().unwrap(), w.dims());
            let want = copies(&values, &w, 0, win.rows());
            let mut got = vec![0.0; want.len()];
            win.read(0, win.rows(), &mut got).unwrap();
            assert_eq!(got, want, "{what} {layout:?}: read");
            let idx = [5u32, 0, 49, 17];
            let mut got = vec![0.0; idx.len() * w.cols()];
            win.gather(&idx, &mut got).unwrap();
            for (k, &r) in idx.iter().enumerate() {
                let r = r as usize;
                assert_eq!(
                    got[k * w.cols()..(k + 1) * w.cols()],
                    want[r * w.cols()..(r + 1) * w.cols()],
                    "{what} {layout:?}: gather"
                );
            }
            // The scaling: each channel's statistics over the steps the
            // (training) windows cover, the same at every step.
            let train = win.slice(0, 20);
            let (o, s) = train.standard_transform().unwrap();
            let covered = w.span(20);
            for f in 0..CHANNELS {
                let col: Vec<f64> = (0..covered)
                    .map(|t| f64::from(values[t * CHANNELS + f]))
                    .collect();
                let mean = col.iter().sum::<f64>() / covered as f64;
                let sd =
                    (col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / covered as f64).sqrt();
                for c in (0..w.cols()).filter(|&c| w.place(c).1 == f) {
                    assert!((f64::from(o[c]) - mean).abs() < 1e-4 * mean.abs().max(1.0));
                    assert!((f64::from(s[c]) - sd).abs() < 1e-4 * sd);
                }
            }
            let scaled = win.with_transform(o.clone(), s.clone()).unwrap();
            let mut got = vec![0.0; w.cols()];
            scaled.read(7, 8, &mut got).unwrap();
            for (c, v) in got.iter().enumerate() {
                let raw = want[7 * w.cols() + c];
                assert!((v - (raw - o[c]) / s[c]).abs() < 1e-5, "{what}: scaled");
            }
            // A scaling that differs between steps is refused.
            let mut bad = o.clone();
            bad[w.cols() - 1] += 1.0;
            assert!(win.with_transform(bad, s.clone()).is_err());
            // The validation windows start after the last training one ends.
            let (t, v) = win.split_validation(0.2).unwrap();
            let t_end = w.span(t.rows());
            let mut first = vec![0.0; w.cols()];
            v.read(0, 1, &mut first).unwrap();
            let v_start = (win.rows() - v.rows()) * 3;
            assert!(v_start >= t_end, "validation overlaps training");
            assert_eq!(first, copies(&values, &w, v_start / 3, 1));
            assert_eq!(t.series().rows(), t_end);
        }
    }
    // Bad windows: one clear error each.
    let e = memory
        .windows(STEPS + 1, 1, WindowLayout::Time)
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("--window 158 is longer than the series (157"),
        "{e}"
    );
    let e = memory.windows(4, 0, WindowLayout::Time).unwrap_err();
    assert!(e.to_string().contains("--stride 0"), "{e}");
    let mut nan = values.clone();
    nan[40 * CHANNELS + 2] = f32::NAN;
    assert!(Source::memory(nan, STEPS, CHANNELS).is_err());
}

/// A series with a NaN in a mapped file: the error names the time step and
/// channel.
#[test]
fn a_nan_in_a_mapped_series_names_its_step_and_channel() {
    let mut values = series(2);
    values[40 * CHANNELS + 2] = f32::NAN;
    let npy = tmp("nan.npy");
    write_npy(&npy, &values, &[STEPS, CHANNELS]);
    let win = Source::map(&npy, None)
        .unwrap()
        .windows(10, 1, WindowLayout::Time)
        .unwrap();
    let mut out = vec![0.0; win.rows() * win.cols()];
    let e = win.read(0, win.rows(), &mut out).unwrap_err().to_string();
    assert!(e.contains("time step 41, channel 3"), "{e}");
}

/// Training on windows cut as they are read gives the same bits as
/// training on the same windows copied into memory: resident in one
/// buffer, resident in three overlapping buffers, and streamed.
#[test]
fn training_on_windows_gives_the_bits_of_copies() {
    let Some(ctx) = gpu() else { return };
    let values = series(3);
    let t = TrainConfig {
        epochs: 2,
        batch_size: 8,
        validation_split: 0.25,
        ..TrainConfig::default()
    };
    for layout in [WindowLayout::Time, WindowLayout::Channels] {
        let win = Source::memory(values.clone(), STEPS, CHANNELS)
            .unwrap()
            .windows(12, 2, layout)
            .unwrap();
        let w = win.window().unwrap();
        let (o, s) = win.slice(0, 50).standard_transform().unwrap();
        let win = win.with_transform(o.clone(), s.clone()).unwrap();
        let (train, val) = win.split_validation(t.validation_split).unwrap();
        let copy = |part: &Source| {
            let mut v = vec![0.0; part.rows() * part.cols()];
            part.read(0, part.rows(), &mut v).unwrap();
            Source::memory(v, part.rows(), part.cols()).unwrap()
        };
        let (train_copy, val_copy) = (copy(&train), copy(&val));
        let cfg = ModelConfig::dense(w.cols(), &[10, 4])
            .loss(wgae::LossKind::Mse)
            .out_act(wgae::Activation::Identity);
        let tv = TrainConfig {
            validation_split: 0.0,
            ..t.clone()
        };
        let fit = |ctx: &GpuContext, train: &Source, val: &Source| {
            let m = wgae::Autoencoder::new(ctx, &cfg, 7).unwrap();
            let mut tr = Trainer::from_source(m, &tv, train, Some(val)).unwrap();
            let h = tr.fit(|_| Control::Continue, |_| {}).unwrap();
            (
                tr.model().params_host().unwrap(),
                h.epochs.last().unwrap().val_loss,
                tr.is_streamed(),
            )
        };
        let want = fit(ctx, &train_copy, &val_copy);
        let resident = fit(ctx, &train, &val);
        assert!(!resident.2);
        let mut opts = common::context_options();
        // Room for the steps of 15 windows a buffer: the 55 training
        // windows in 4 buffers whose edges overlap.
        opts.max_binding = Some((w.span(15) * CHANNELS * 4) as u64 + 3);
        let split = GpuContext::with_options(&opts).unwrap();
        let chunked = fit(&split, &train, &val);
        assert!(!chunked.2);
        let mut opts = common::context_options();
        opts.stream = Some(true);
        opts.stream_slot = Some((3 * 8 * w.cols() * 4) as u64);
        let streaming = GpuContext::with_options(&opts).unwrap();
        let streamed = fit(&streaming, &train, &val);
        assert!(streamed.2);
        for (what, run) in [
            ("resident", &resident),
            ("4 buffers", &chunked),
            ("streamed", &streamed),
        ] {
            let same = want
                .0
                .iter()
                .zip(&run.0)
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "{layout:?} {what}: other weights than copies");
            assert_eq!(want.1, run.1, "{layout:?} {what}: validation loss");
        }
    }
}

/// Samples with a shape of their own (here 2x3) are not one series:
/// `--window` refuses them, saying what it cuts.
#[test]
fn samples_that_are_not_a_series_are_refused() {
    let dir = tmp("images.npy");
    // (4, 2, 3): samples of 2x3, not one series.
    let values = rand_vec(&mut rng(4), 24, 0.0, 1.0);
    write_npy(&dir, &values, &[4, 2, 3]);
    let e = Source::map(&dir, None)
        .unwrap()
        .windows(2, 1, WindowLayout::Time)
        .unwrap_err()
        .to_string();
    assert!(e.contains("--window cuts one long series"), "{e}");
}
