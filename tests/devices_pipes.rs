//! Files that are not files (issue 22): a device or an endless stream as
//! any path wgae reads is refused at once with bounded memory, and data
//! from a pipe or process substitution is read whole, exactly as the same
//! file would be.

#[path = "common/cli.rs"]
mod cli;

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use cli::{fails, ok, sh, wgae, workdir};

/// Runs `args` and requires it to end (with an error) within `secs`: an
/// endless read would not.
fn ends_with_error(args: &[&str], dir: &Path, secs: u64, mentions: &[&str]) {
    let mut child = cli::bin()
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(secs) {
            child.kill().ok();
            panic!("{args:?} was still running after {secs} s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    fails(&child.wait_with_output().unwrap(), mentions);
}

/// A FIFO at `path` fed, once opened, with `head` and then zeros without
/// end (until the reader closes it).
fn endless_fifo(path: &Path, head: Vec<u8>) -> std::thread::JoinHandle<()> {
    let made = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(made.success());
    let p = path.to_path_buf();
    std::thread::spawn(move || {
        let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&p) else {
            return;
        };
        if f.write_all(&head).is_err() {
            return;
        }
        let zeros = vec![0u8; 1 << 16];
        // SIGPIPE is ignored in Rust programs: a closed reader is an error.
        while f.write_all(&zeros).is_ok() {}
    })
}

#[test]
fn devices_and_endless_streams_are_refused_everywhere() {
    let d = workdir("devices");
    ok(&wgae(
        &[
            "train",
            "--synthetic",
            "300",
            "--epochs",
            "1",
            "--arch",
            "784,8",
            "--checkpoint-dir",
            "ck",
            "--save",
            "m.st",
            "--quiet",
        ],
        &d,
    ));
    let device = ["is a device", "a pipe is fine"];
    for dev in ["/dev/zero", "/dev/urandom"] {
        let cases: Vec<Vec<&str>> = vec![
            vec![
                "encode", "--model", dev, "--data", "x.npy", "--out", "c.npy",
            ],
            vec!["generate", "--model", dev, "--out", "g.png"],
            vec!["anomaly", "--model", dev, "--data", "x", "--out", "a.csv"],
            vec!["train", "--config", dev, "--epochs", "1"],
            vec!["train", "--resume", dev, "--epochs", "2"],
            vec!["train", "--data", dev],
            vec!["train", "--synthetic", "300", "--val", dev],
            vec!["encode", "--model", "m.st", "--data", dev, "--out", "c.npy"],
            vec!["convert", "--data", dev, "--out", "c.npy"],
            vec!["train", "--data", dev, "--rows", "items"],
            vec!["train", "--data", dev, "--implicit"],
            vec!["train", "--data", dev, "--window", "8"],
        ];
        for args in cases {
            ends_with_error(&args, &d, 60, &[dev, device[0]]);
        }
    }
    // A labels file beside the images that is a device.
    let images = cli::idx(&[300, 28, 28], &vec![7u8; 300 * 784]);
    std::fs::write(d.join("x-images-idx3-ubyte"), images).unwrap();
    std::os::unix::fs::symlink("/dev/zero", d.join("x-labels-idx1-ubyte")).unwrap();
    ends_with_error(
        &["train", "--data", "x-images-idx3-ubyte", "--epochs", "1"],
        &d,
        60,
        &["x-labels-idx1-ubyte", device[0]],
    );
    // An image in a folder of images that is a device.
    std::fs::create_dir_all(d.join("imgs")).unwrap();
    image::GrayImage::from_pixel(8, 8, image::Luma([9]))
        .save(d.join("imgs/a.png"))
        .unwrap();
    std::os::unix::fs::symlink("/dev/urandom", d.join("imgs/b.png")).unwrap();
    ends_with_error(
        &["train", "--data", "imgs", "--epochs", "1"],
        &d,
        60,
        &["b.png", "not a regular file"],
    );
    // FIFOs that never end: garbage, a real model with zeros after it, and
    // a config. Each read stops where the kind of file says it must.
    endless_fifo(&d.join("junk.fifo"), Vec::new());
    ends_with_error(
        &["generate", "--model", "junk.fifo", "--out", "g.png"],
        &d,
        60,
        &["junk.fifo", "not a safetensors file"],
    );
    endless_fifo(
        &d.join("model.fifo"),
        std::fs::read(d.join("m.st")).unwrap(),
    );
    ends_with_error(
        &["generate", "--model", "model.fifo", "--out", "g.png"],
        &d,
        60,
        &["model.fifo", "more than its header claims"],
    );
    endless_fifo(&d.join("ck.fifo"), b"x".repeat(64));
    ends_with_error(
        &[
            "train",
            "--resume",
            "ck.fifo",
            "--checkpoint-dir",
            "ck2",
            "--epochs",
            "2",
        ],
        &d,
        60,
        &["ck.fifo", "not a safetensors file"],
    );
    endless_fifo(&d.join("config.fifo"), b"[train]\nepochs = 1\n".to_vec());
    ends_with_error(
        &["train", "--config", "config.fifo"],
        &d,
        60,
        &["config.fifo", "more than 1024 KiB", "TOML config"],
    );
    // An endless ratings stream: spooled within the host budget, then refused.
    endless_fifo(&d.join("ratings.fifo"), b"u1,i1,4\n".to_vec());
    ends_with_error(
        &[
            "train",
            "--data",
            "ratings.fifo",
            "--rows",
            "items",
            "--host-memory",
            "8M",
        ],
        &d,
        60,
        &["ratings.fifo", "host budget"],
    );
    assert!(!d.join("g.png").exists() && !d.join("c.npy").exists());
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn pipes_and_process_substitution_read_as_the_file_does() {
    let d = workdir("pipes");
    let gz = {
        let ds = wgae::data::synthetic::digits(300, 4);
        let bytes: Vec<u8> = ds.data.iter().map(|&v| (v * 255.0).round() as u8).collect();
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&cli::idx(&[300, 28, 28], &bytes)).unwrap();
        e.finish().unwrap()
    };
    std::fs::write(d.join("digits.gz"), gz).unwrap();
    cli::digits_npy(&d.join("digits.npy"), 300, 5);
    cli::table_csv(&d.join("table.csv"), 200, 6, |i, j| {
        ((i * 5 + j * 3) % 11) as f32 / 10.0
    });
    let train = "train --epochs 2 --arch {W},4 --seed 3 --json --quiet";
    let result = |line: &str, w: &str| -> serde_json::Value {
        let o = sh(&line.replace("TRAIN", &train.replace("{W}", w)), &d);
        let out = ok(&o);
        serde_json::from_str(out.lines().last().unwrap()).unwrap()
    };
    for (file, piped, w) in [
        (
            "wgae TRAIN --data digits.gz",
            "wgae TRAIN --data <(cat digits.gz)",
            "784",
        ),
        (
            "wgae TRAIN --data digits.gz",
            "zcat digits.gz | wgae TRAIN --data /dev/stdin",
            "784",
        ),
        (
            "wgae TRAIN --data digits.npy",
            "cat digits.npy | wgae TRAIN --data /dev/stdin",
            "784",
        ),
        (
            "wgae TRAIN --data table.csv --loss mse",
            "cat table.csv | wgae TRAIN --data /dev/stdin --loss mse",
            "6",
        ),
    ] {
        let (a, b) = (result(file, w), result(piped, w));
        assert_eq!(a["train_loss"], b["train_loss"], "{piped}");
        assert_eq!(a["recon_mse"], b["recon_mse"], "{piped}");
    }
    // A model through process substitution, and a validation set.
    ok(&sh(
        "wgae train --data digits.npy --arch 784,4 --epochs 1 --quiet --save m.st \
         --val <(cat digits.gz)",
        &d,
    ));
    ok(&sh(
        "wgae encode --model <(cat m.st) --data <(cat digits.npy) --out direct.npy",
        &d,
    ));
    ok(&wgae(
        &[
            "encode",
            "--model",
            "m.st",
            "--data",
            "digits.npy",
            "--out",
            "file.npy",
        ],
        &d,
    ));
    assert_eq!(
        std::fs::read(d.join("direct.npy")).unwrap(),
        std::fs::read(d.join("file.npy")).unwrap()
    );
    ok(&sh(
        "cat table.csv | wgae convert --data /dev/stdin --out t.npy",
        &d,
    ));
    // An error about piped data names the pipe, not a temporary file.
    let o = sh(
        "printf 'a,b\\n1,x\\n' | wgae train --data /dev/stdin --epochs 1",
        &d,
    );
    fails(&o, &["/dev/stdin"]);
    // A pipe larger than the host budget is refused, naming the flag.
    let o = sh(
        "cat digits.npy | wgae train --data /dev/stdin --host-memory 100K",
        &d,
    );
    fails(&o, &["/dev/stdin", "--host-memory"]);
    assert!(cli::temporaries(&std::env::temp_dir())
        .iter()
        .all(|n| !n.starts_with(".wgae-pipe-")));
    std::fs::remove_dir_all(&d).ok();
}
