//! `wgae bench --stream`: the same training, on the same data, with the
//! data resident on the GPU and streamed from host memory through the ring
//! of buffers, as f32 and as u8 images: samples per second for each, what
//! streaming costs against resident, the upload bandwidth it used, and how
//! much of the host's work (reading rows, queueing uploads) hid behind the
//! GPU's.

use rand::{Rng, SeedableRng};
use wgae::data::Source;
use wgae::{Autoencoder, Control, ModelConfig, TrainConfig, Trainer};

/// Batches per epoch: enough for a streamed epoch to span many chunks.
const BATCHES: usize = 128;

/// Bytes per slot of the ring in this bench: several chunks per epoch.
const SLOT: u64 = 8 << 20;

struct Run {
    what: &'static str,
    samples_per_sec: f64,
    seconds_per_epoch: f64,
    stats: Option<(wgae::train::StreamStats, usize)>,
    epochs: usize,
}

pub fn bench_stream(
    arch: Option<Vec<usize>>,
    batch: Option<usize>,
    steps: usize,
    json: bool,
) -> wgae::Result<()> {
    let arch = arch.unwrap_or_else(|| vec![784, 32]);
    if arch.len() < 2 {
        return Err(wgae::Error::InvalidArgument(
            "--arch needs the input width and the code width, e.g. 784,32".into(),
        ));
    }
    let batch = batch.unwrap_or(256);
    if batch == 0 {
        return Err(wgae::Error::InvalidArgument(
            "--batch 0: a batch holds at least one sample".into(),
        ));
    }
    let model = ModelConfig::dense(arch[0], &arch[1..]);
    let (rows, cols) = (batch * BATCHES, arch[0]);
    wgae::data::memory::check_host(
        &format!("--stream with --batch {batch}"),
        rows as u128 * cols as u128,
        5,
    )?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let bytes: Vec<u8> = (0..rows * cols).map(|_| rng.random()).collect();
    let f32_rows: Vec<f32> = bytes.iter().map(|&b| f32::from(b) / 255.0).collect();
    let as_f32 = Source::memory(f32_rows, rows, cols)?;
    let as_u8 = Source::memory_u8(bytes, rows, vec![cols])?;
    // One warm-up epoch, then enough epochs for `steps` timed steps.
    let epochs = steps.div_ceil(BATCHES).max(1);
    let t = TrainConfig {
        epochs: epochs + 1,
        batch_size: batch,
        validation_split: 0.0,
        ..Default::default()
    };
    let mut opts = wgae::env::context_options()?;
    let resident = wgae::GpuContext::with_options(&opts)?;
    opts.stream = Some(true);
    opts.stream_slot = Some(SLOT);
    let streaming = wgae::GpuContext::with_options(&opts)?;
    let mut runs = Vec::new();
    for (what, ctx, src) in [
        ("resident f32", &resident, &as_f32),
        ("streamed f32", &streaming, &as_f32),
        ("resident u8", &resident, &as_u8),
        ("streamed u8", &streaming, &as_u8),
    ] {
        let m =
            Autoencoder::new(ctx, &model, t.seed)?.with_plan_options(crate::cli::plan_options()?);
        let mut tr = Trainer::from_source(m, &t, src, None)?;
        let h = tr.fit(|_| Control::Continue, |_| {})?;
        let secs: f64 = h.epochs[1..].iter().map(|e| e.seconds).sum();
        runs.push(Run {
            what,
            samples_per_sec: (rows * epochs) as f64 / secs,
            seconds_per_epoch: secs / epochs as f64,
            stats: tr.stream_stats(),
            epochs: epochs + 1,
        });
    }
    let name = model.arch_name();
    for pair in runs.chunks(2) {
        let (res, st) = (&pair[0], &pair[1]);
        let (stats, slot_batches) = st.stats.unwrap_or_default();
        // Per epoch: the host's fill time, and what streaming added.
        let fill = stats.fill_seconds / st.epochs as f64;
        let added = st.seconds_per_epoch - res.seconds_per_epoch;
        let hidden = if fill > 0.0 {
            ((fill - added.max(0.0)) / fill).clamp(0.0, 1.0)
        } else {
            1.0
        };
        let bandwidth = stats.bytes as f64 / st.epochs as f64 / st.seconds_per_epoch;
        let cost = st.seconds_per_epoch / res.seconds_per_epoch - 1.0;
        if json {
            println!(
                "{}",
                serde_json::json!({
                    "model": name,
                    "batch": batch,
                    "rows": rows,
                    "storage": &res.what[9..],
                    "resident_samples_per_sec": res.samples_per_sec,
                    "streamed_samples_per_sec": st.samples_per_sec,
                    "streaming_cost": cost,
                    "upload_bytes_per_sec": bandwidth,
                    "host_fill_seconds_per_epoch": fill,
                    "fill_hidden": hidden,
                    "batches_per_chunk": slot_batches,
                    "adapter": streaming.adapter_name(),
                })
            );
        } else {
            println!(
                "{name}, batch {batch}, {rows} rows stored as {} on {}:",
                &res.what[9..],
                streaming.adapter_name()
            );
            println!(
                "  resident   {:.0} samples/s\n  streamed   {:.0} samples/s ({:+.1}% time per epoch; chunks of {slot_batches} batches)",
                res.samples_per_sec,
                st.samples_per_sec,
                cost * 100.0
            );
            println!(
                "  uploads    {:.1} MB/s; host reading and queueing {:.0} ms/epoch, {:.0}% of it hidden behind the GPU",
                bandwidth / 1e6,
                fill * 1e3,
                hidden * 100.0
            );
        }
    }
    Ok(())
}
