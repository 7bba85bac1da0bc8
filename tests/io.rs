//! Model files and checkpoints: the safetensors layout is PyTorch's, saving
//! and loading round-trips exactly, a resumed run equals an uninterrupted one
//! bit for bit, and bad or foreign files get clear errors without losing
//! anything.

mod common;

use std::collections::HashMap;
use std::path::PathBuf;

use common::gpu;
use wgae::data::synthetic;
use wgae::io;
use wgae::{Control, ModelConfig, TrainConfig, Trainer};

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wgae-io-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    let _ = std::fs::remove_file(&p);
    p
}

fn quiet(_: &wgae::EpochReport) -> Control {
    Control::Continue
}

/// Parses a safetensors header by hand (8-byte little-endian length, then
/// JSON), independently of the safetensors crate.
fn header(path: &PathBuf) -> serde_json::Value {
    let b = std::fs::read(path).unwrap();
    let n = u64::from_le_bytes(b[..8].try_into().unwrap()) as usize;
    serde_json::from_slice(&b[8..8 + n]).unwrap()
}

#[test]
fn model_file_round_trips_with_pytorch_names_and_layout() {
    let Some(ctx) = gpu() else { return };
    let data = synthetic::digits(300, 1);
    let cfg = ModelConfig::dense(784, &[64, 16]).tied(true);
    let t = TrainConfig {
        epochs: 1,
        batch_size: 100,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(ctx, &cfg, &t, &data, None).unwrap();
    trainer.fit(quiet, |_| {}).unwrap();
    let path = tmp("model.safetensors");
    let codes = trainer.model().encode(&data).unwrap();
    let stats = io::CodeStats::of(&codes, 16);
    let extras = io::ModelExtras {
        code_stats: Some(stats),
        transform: Some((vec![0.5; 784], vec![2.0; 784])),
        sample_dims: Some(vec![28, 28]),
        train_errors: io::ErrorStats::of(&[0.5, 0.25, 0.125, 1.0]),
        // As if trained on windows of 392 steps of 2 channels.
        window: Some(io::WindowInfo {
            len: 392,
            channels: 2,
            layout: wgae::data::windows::WindowLayout::Channels,
            names: vec!["temp".into(), "pressure".into()],
        }),
        ratings: None,
    };
    assert_eq!(
        extras.train_errors,
        Some(io::ErrorStats {
            median: 0.375,
            mad: 0.1875
        })
    );
    io::save_model(&path, trainer.model(), &extras, false).unwrap();
    assert_eq!(io::load_extras(&path).unwrap(), extras);

    let h = header(&path);
    assert_eq!(h["encoder.0.weight"]["dtype"], "F32");
    assert_eq!(h["encoder.0.weight"]["shape"], serde_json::json!([64, 784]));
    assert_eq!(h["encoder.2.weight"]["shape"], serde_json::json!([16, 64]));
    assert_eq!(h["decoder.0.bias"]["shape"], serde_json::json!([64]));
    assert_eq!(h["decoder.2.bias"]["shape"], serde_json::json!([784]));
    assert!(
        h.get("decoder.0.weight").is_none(),
        "tied layers store only their bias"
    );
    assert_eq!(h["__metadata__"]["format"], "wgae-1");

    let loaded = io::load_model(ctx, &path).unwrap();
    assert_eq!(loaded.config(), &cfg);
    assert_eq!(
        loaded.params_host().unwrap(),
        trainer.model().params_host().unwrap()
    );
    let probe = data.take(20);
    assert_eq!(
        loaded.reconstruct(&probe).unwrap(),
        trainer.model().reconstruct(&probe).unwrap()
    );

    // The weights follow PyTorch's nn.Linear: y = x W^T + b with W [out, in].
    let st = std::fs::read(&path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&st).unwrap();
    let f = |n: &str| -> Vec<f32> {
        st.tensor(n)
            .unwrap()
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect()
    };
    let (w0, b0, w1, b1) = (
        f("encoder.0.weight"),
        f("encoder.0.bias"),
        f("encoder.2.weight"),
        f("encoder.2.bias"),
    );
    let x = probe.row(0);
    let h1: Vec<f32> = (0..64)
        .map(|j| (b0[j] + (0..784).map(|i| w0[j * 784 + i] * x[i]).sum::<f32>()).max(0.0))
        .collect();
    let code: Vec<f32> = (0..16)
        .map(|j| (b1[j] + (0..64).map(|i| w1[j * 64 + i] * h1[i]).sum::<f32>()).max(0.0))
        .collect();
    let gpu_code = loaded.encode(&probe).unwrap();
    for j in 0..16 {
        assert!(
            (code[j] - gpu_code[j]).abs() < 1e-4 * (1.0 + code[j].abs()),
            "code {j}: {} vs {}",
            code[j],
            gpu_code[j]
        );
    }
}

#[test]
fn resume_continues_exactly() {
    let Some(ctx) = gpu() else { return };
    let data = synthetic::digits(500, 2);
    let cfg = ModelConfig::dense(784, &[32])
        .dropout(0.1)
        .noise("mask:0.2".parse().unwrap());
    check_resume(ctx, &cfg, &data, 96);
}

/// A convolutional model (conv, max pooling with its argmax, upsampling,
/// noise and dropout) resumes exactly too.
#[test]
fn conv_model_resumes_exactly() {
    let Some(ctx) = gpu() else { return };
    use wgae::model::{LayerDesc, Padding};
    let data = synthetic::digits(160, 4);
    let cfg = ModelConfig::layered(
        &[1, 28, 28],
        vec![
            LayerDesc::conv2d(4, 3, Padding::same()),
            LayerDesc::max_pool2d(2, Padding::same()),
        ],
        vec![
            LayerDesc::upsample2d(2),
            LayerDesc::conv2d(1, 3, Padding::same()),
        ],
    )
    .dropout(0.1)
    .noise("mask:0.2".parse().unwrap());
    check_resume(ctx, &cfg, &data, 48);
}

/// Batch normalization (2-D and 1-D, layers without a bias before them):
/// the running statistics resume exactly with the weights, and the model
/// file holds them under PyTorch's names, num_batches_tracked as int64.
#[test]
fn batch_norm_model_resumes_exactly_and_saves_pytorch_buffers() {
    let Some(ctx) = gpu() else { return };
    use wgae::kernels::Activation;
    use wgae::model::{LayerDesc, Padding};
    let data = synthetic::digits(160, 6);
    let cfg = ModelConfig::layered(
        &[1, 28, 28],
        vec![
            LayerDesc::conv2d(4, 3, Padding::same())
                .with_act(Activation::Identity)
                .without_bias(),
            LayerDesc::batch_norm2d().with_act(Activation::Relu),
            LayerDesc::max_pool2d(2, Padding::same()),
            LayerDesc::Flatten,
            LayerDesc::dense(8)
                .with_act(Activation::Identity)
                .without_bias(),
            LayerDesc::batch_norm1d(),
        ],
        vec![
            LayerDesc::dense(196),
            LayerDesc::Reshape {
                shape: vec![4, 7, 7],
            },
            LayerDesc::upsample2d(4),
            LayerDesc::conv2d(1, 3, Padding::same()),
        ],
    );
    check_resume(ctx, &cfg, &data, 48);

    let t = TrainConfig {
        epochs: 2,
        batch_size: 48,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(ctx, &cfg, &t, &data, None).unwrap();
    trainer.fit(quiet, |_| {}).unwrap();
    let path = tmp("bn-model.safetensors");
    io::save_model(&path, trainer.model(), &io::ModelExtras::default(), false).unwrap();
    let h = header(&path);
    assert!(h.get("encoder.0.bias").is_none(), "a conv without a bias");
    assert_eq!(h["encoder.2.weight"]["shape"], serde_json::json!([4]));
    assert_eq!(h["encoder.2.running_mean"]["dtype"], "F32");
    assert_eq!(h["encoder.2.running_var"]["shape"], serde_json::json!([4]));
    assert_eq!(h["encoder.10.running_var"]["shape"], serde_json::json!([8]));
    let nbt = &h["encoder.2.num_batches_tracked"];
    assert_eq!(nbt["dtype"], "I64");
    assert_eq!(nbt["shape"], serde_json::json!([]));
    let bytes = std::fs::read(&path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let steps = st.tensor("encoder.2.num_batches_tracked").unwrap();
    // Two epochs of ceil(160 / 48) = 4 steps.
    assert_eq!(i64::from_le_bytes(steps.data().try_into().unwrap()), 8);
    let loaded = io::load_model(ctx, &path).unwrap();
    assert_eq!(
        loaded.params_host().unwrap(),
        trainer.model().params_host().unwrap()
    );
    let probe = data.take(7);
    assert_eq!(
        loaded.reconstruct(&probe).unwrap(),
        trainer.model().reconstruct(&probe).unwrap()
    );
    // A checkpoint keeps no optimizer moments for the running statistics.
    let ck = tmp("bn-ck.safetensors");
    io::save_checkpoint(
        &ck,
        &trainer.checkpoint().unwrap(),
        trainer.model().layout(),
        false,
    )
    .unwrap();
    let h = header(&ck);
    assert!(h.get("optim.m.encoder.2.weight").is_some());
    assert!(h.get("optim.m.encoder.2.running_mean").is_none());
}

/// Four epochs straight, against two, a checkpoint file, and two more.
fn check_resume(ctx: &wgae::GpuContext, cfg: &ModelConfig, data: &wgae::Dataset, batch: usize) {
    let (cfg, data) = (cfg.clone(), data.clone());
    let t = TrainConfig {
        epochs: 4,
        batch_size: batch,
        seed: 5,
        schedule: wgae::train::ScheduleName::Cosine,
        ..TrainConfig::default()
    };
    let mut straight = Trainer::new(ctx, &cfg, &t, &data, None).unwrap();
    straight.fit(quiet, |_| {}).unwrap();

    // The same run, interrupted after epoch 2 (as a crash would), saved...
    let mut first = Trainer::new(ctx, &cfg, &t, &data, None).unwrap();
    first
        .fit(
            |r| {
                if r.epoch == 2 {
                    Control::Stop
                } else {
                    Control::Continue
                }
            },
            |_| {},
        )
        .unwrap();
    let path = tmp(&format!("ck-{}.safetensors", cfg.arch_name()));
    io::save_checkpoint(
        &path,
        &first.checkpoint().unwrap(),
        first.model().layout(),
        false,
    )
    .unwrap();
    // ...and resumed from the file.
    let ck = io::load_checkpoint(ctx, &path).unwrap();
    assert_eq!(ck.epochs_done, 2);
    let mut resumed = Trainer::resume(ctx, &ck, &t, &data, None).unwrap();
    let h = resumed.fit(quiet, |_| {}).unwrap();
    assert_eq!(
        h.epochs.iter().map(|e| e.epoch).collect::<Vec<_>>(),
        vec![3, 4]
    );
    let (a, b) = (
        straight.model().params_host().unwrap(),
        resumed.model().params_host().unwrap(),
    );
    assert!(
        a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()),
        "resumed run differs from the uninterrupted one"
    );
    // A model file is not a checkpoint.
    let m = tmp(&format!("m-{}.safetensors", cfg.arch_name()));
    io::save_model(&m, resumed.model(), &io::ModelExtras::default(), false).unwrap();
    let e = io::load_checkpoint(ctx, &m).unwrap_err().to_string();
    assert!(e.contains("not a checkpoint"), "{e}");
    // ...but a checkpoint holds a model.
    assert_eq!(
        io::load_model(ctx, &path).unwrap().params_host().unwrap(),
        ck.params
    );
}

#[test]
fn bad_model_files_get_clear_errors_and_nothing_is_overwritten() {
    let Some(ctx) = gpu() else { return };
    let data = synthetic::digits(100, 3);
    let cfg = ModelConfig::dense(784, &[32]);
    let t = TrainConfig {
        epochs: 1,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(ctx, &cfg, &t, &data, None).unwrap();
    trainer.fit(quiet, |_| {}).unwrap();
    let path = tmp("keep.safetensors");
    io::save_model(&path, trainer.model(), &io::ModelExtras::default(), false).unwrap();
    let before = std::fs::read(&path).unwrap();

    // No overwrite without force; the file is untouched.
    let e = io::save_model(&path, trainer.model(), &io::ModelExtras::default(), false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("already exists") && e.contains("`force`"), "{e}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
    io::save_model(&path, trainer.model(), &io::ModelExtras::default(), true).unwrap();

    // Truncated.
    let cut = tmp("cut.safetensors");
    std::fs::write(&cut, &before[..before.len() / 2]).unwrap();
    let e = io::load_model(ctx, &cut).err().unwrap().to_string();
    assert!(
        e.contains("cut.safetensors") && (e.contains("corrupt") || e.contains("truncated")),
        "{e}"
    );
    // Garbage.
    let junk = tmp("junk.safetensors");
    std::fs::write(&junk, b"hello world, not tensors").unwrap();
    assert!(io::load_model(ctx, &junk)
        .err()
        .unwrap()
        .to_string()
        .contains("not a safetensors file"));
    // Missing.
    assert!(io::load_model(ctx, &tmp("none.safetensors"))
        .err()
        .unwrap()
        .to_string()
        .contains("no such file"));

    // Tensors of one architecture under the metadata of another.
    let other = ModelConfig::dense(784, &[16]);
    let st = safetensors::SafeTensors::deserialize(&before).unwrap();
    let tensors: Vec<(String, safetensors::tensor::TensorView)> = st.tensors();
    let meta = HashMap::from([("wgae.model".to_string(), other.to_toml())]);
    let foreign = tmp("foreign.safetensors");
    std::fs::write(
        &foreign,
        safetensors::tensor::serialize(tensors, Some(meta)).unwrap(),
    )
    .unwrap();
    let e = io::load_model(ctx, &foreign).err().unwrap().to_string();
    assert!(
        e.contains("another architecture") && e.contains("[16, 784]"),
        "{e}"
    );

    // A safetensors file from elsewhere.
    let plain = tmp("plain.safetensors");
    std::fs::write(
        &plain,
        safetensors::tensor::serialize(st.tensors(), None).unwrap(),
    )
    .unwrap();
    assert!(io::load_model(ctx, &plain)
        .err()
        .unwrap()
        .to_string()
        .contains("not written by wgae"));
}

/// A model file whose conv weights do not match the architecture in its
/// metadata is refused with an error naming the tensor and both shapes.
#[test]
fn conv_shapes_that_do_not_match_are_refused() {
    let Some(ctx) = gpu() else { return };
    use safetensors::tensor::{SafeTensors, TensorView};
    use wgae::model::{LayerDesc, Padding};
    let conv = |filters| {
        ModelConfig::layered(
            &[1, 8, 8],
            vec![LayerDesc::conv2d(filters, 3, Padding::same())],
            vec![LayerDesc::conv2d(1, 3, Padding::same())],
        )
    };
    let model = wgae::Autoencoder::new(ctx, &conv(4), 1).unwrap();
    let good = tmp("conv4.safetensors");
    io::save_model(&good, &model, &io::ModelExtras::default(), true).unwrap();
    // The same tensors under the metadata of a 5-filter model.
    let bytes = std::fs::read(&good).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
    let mut meta = meta.metadata().clone().unwrap();
    meta.insert("wgae.model".into(), conv(5).to_toml());
    let tensors: Vec<(String, TensorView)> = st
        .tensors()
        .into_iter()
        .map(|(n, v)| (n.to_string(), v))
        .collect();
    let bad = tmp("conv-lying.safetensors");
    std::fs::write(
        &bad,
        safetensors::tensor::serialize(tensors, Some(meta)).unwrap(),
    )
    .unwrap();
    let e = io::load_model(ctx, &bad).unwrap_err().to_string();
    assert!(
        e.contains("conv-lying.safetensors")
            && e.contains("encoder.0.weight")
            && e.contains('5')
            && e.contains('4'),
        "{e}"
    );
}

/// A write killed mid-way leaves `.NAME.tmp-PID`; the next write of the same
/// file removes it (its process is gone), and leaves a live one's alone.
#[test]
fn stale_temporaries_of_killed_writes_are_removed() {
    let dir = tmp("stale-dir");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let target = dir.join("m.npy");
    // No process has pid 4294967 (pids stop at 2^22 on Linux).
    let stale = dir.join(".m.npy.tmp-4294967");
    std::fs::write(&stale, b"torn").unwrap();
    let other = dir.join(".other.npy.tmp-4294967");
    std::fs::write(&other, b"not ours").unwrap();
    io::write_atomic(&target, b"new", false).unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), b"new");
    if std::path::Path::new("/proc").is_dir() {
        assert!(!stale.exists(), "the stale temporary is still there");
    }
    assert!(other.exists(), "another file's temporary was removed");
}

/// A file written piece by piece lands whole or not at all: a full disk
/// (the temporary file pointed at /dev/full, which answers every write with
/// ENOSPC) gives one error naming the output and saying so, removes the
/// temporary, and leaves the file that was there untouched; an abandoned
/// write leaves nothing; a header rewritten in place after the rows keeps
/// the file a valid .npy.
#[test]
fn atomic_files_survive_a_full_disk() {
    let out = tmp("codes.npy");
    std::fs::write(&out, b"the old codes").unwrap();
    let temp = out.with_file_name(format!(".codes.npy.tmp-{}", std::process::id()));
    let _ = std::fs::remove_file(&temp);
    std::os::unix::fs::symlink("/dev/full", &temp).unwrap();
    let mut f = io::AtomicFile::create(&out, true).unwrap();
    let big = vec![7u8; 4 << 20];
    let e = f
        .write(&big)
        .and_then(|_| f.commit())
        .unwrap_err()
        .to_string();
    assert!(e.contains("codes.npy") && e.contains("disk is full"), "{e}");
    assert!(!temp.exists() && std::fs::symlink_metadata(&temp).is_err());
    assert_eq!(std::fs::read(&out).unwrap(), b"the old codes");

    // Dropped without commit: no temporary, the old file as it was.
    let mut f = io::AtomicFile::create(&out, true).unwrap();
    f.write(b"half").unwrap();
    drop(f);
    assert!(std::fs::symlink_metadata(&temp).is_err());
    assert_eq!(std::fs::read(&out).unwrap(), b"the old codes");

    // Rows first, the header's row count after.
    let mut f = io::AtomicFile::create(&out, true).unwrap();
    f.write(&io::npy_header_of("<f4", &[0, 0], 128)).unwrap();
    let rows: Vec<f32> = (0..6).map(|i| i as f32).collect();
    f.write(&io::f32_bytes(&rows)).unwrap();
    f.write_at(0, &io::npy_header_of("<f4", &[3, 2], 128))
        .unwrap();
    f.commit().unwrap();
    let ds = wgae::data::files::load(&out, None).unwrap();
    assert_eq!((ds.rows, ds.cols, ds.data), (3, 2, rows));
}
