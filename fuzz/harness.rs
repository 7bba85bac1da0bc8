//! What each fuzz target feeds its input through, shared with the stable
//! replay test (`tests/fuzz_replay.rs`, which includes this file): the
//! loaders a user's files reach. Errors are the expected outcome for most
//! inputs; a panic, an abort, a hang or an allocation beyond the fuzzer's
//! limit is a finding.

use std::path::PathBuf;

/// The fuzz targets, by name (the names of `fuzz/corpus/` folders).
pub const TARGETS: &[&str] = &["idx", "npy", "csv", "image", "model", "checkpoint", "toml"];

/// A file of this process holding `bytes` (in /dev/shm where there is one),
/// named `name`, in a folder of its own.
fn file(name: &str, bytes: &[u8]) -> PathBuf {
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!(
        "wgae-fuzz-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Runs `bytes` through target `name`'s loaders.
pub fn run(name: &str, bytes: &[u8]) {
    use wgae::data::{files, source::Source};
    match name {
        "idx" => {
            let p = file("t-images-idx3-ubyte", bytes);
            let _ = files::load(&p, Some(files::Format::Idx));
            if let Ok(s) = Source::map(&p, Some(files::Format::Idx)) {
                read_all(&s);
            }
        }
        "npy" => {
            let p = file("data.npy", bytes);
            let _ = files::load(&p, Some(files::Format::Npy));
            if let Ok(s) = Source::map(&p, Some(files::Format::Npy)) {
                read_all(&s);
            }
        }
        "csv" => {
            let p = file("data.csv", bytes);
            let _ = files::load(&p, Some(files::Format::Csv));
            let _ = files::detect(&p);
        }
        "image" => {
            let p = file("image.png", bytes);
            let _ = files::load_images(p.parent().unwrap(), None, false);
            let _ = files::load_images(p.parent().unwrap(), None, true);
        }
        "model" => {
            let _ = wgae::io::read_model_bytes(bytes.to_vec(), "fuzz", 64);
        }
        "checkpoint" => {
            let _ = wgae::io::read_checkpoint_bytes(bytes.to_vec(), "fuzz", 64);
        }
        "toml" => {
            if let Ok(text) = std::str::from_utf8(bytes) {
                if let Ok(c) = wgae::train::ConfigFile::from_toml(text) {
                    let _ = c.model.validate();
                    let _ = c.train.validate();
                }
            }
        }
        other => panic!("no fuzz target {other}"),
    }
}

/// Every row of a source, in order and by index, as training reads them.
fn read_all(s: &wgae::data::Source) {
    let (rows, cols) = (s.rows().min(64), s.cols());
    if cols > 1 << 16 {
        return;
    }
    let mut out = vec![0f32; rows * cols];
    let _ = s.read(0, rows, &mut out);
    let idx: Vec<u32> = (0..rows as u32).rev().collect();
    let _ = s.gather(&idx, &mut out);
    if s.is_u8() {
        let mut b = vec![0u8; rows * cols];
        let _ = s.gather_bytes(&idx, &mut b);
        let _ = s.lut();
    }
}
