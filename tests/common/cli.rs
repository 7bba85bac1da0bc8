//! Running the `wgae` binary in a test: a fresh folder, the command, and
//! its outcome checked as a user reads it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wgae"));
    c.env("RUST_LOG", "error");
    c
}

pub fn wgae(args: &[&str], dir: &Path) -> Output {
    bin()
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the wgae binary runs")
}

/// A shell command line (for pipes and process substitution), with `wgae`
/// on its PATH.
pub fn sh(line: &str, dir: &Path) -> Output {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_wgae"));
    let path = format!(
        "{}:{}",
        exe.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("bash")
        .args(["-c", line])
        .current_dir(dir)
        .env("PATH", path)
        .env("RUST_LOG", "error")
        .output()
        .expect("bash runs")
}

pub fn workdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("wgae-user-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "expected success\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stdout),
        stderr(o)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A failure whose `error:` line names every one of `mentions`, and no panic.
pub fn fails(o: &Output, mentions: &[&str]) -> String {
    let err = stderr(o);
    assert!(!o.status.success(), "expected failure, stderr:\n{err}");
    assert!(!err.contains("panicked"), "panicked:\n{err}");
    let line = err
        .lines()
        .rev()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line in:\n{err}"))
        .to_string();
    for m in mentions {
        assert!(line.contains(m), "error line lacks '{m}': {line}");
    }
    line
}

/// An IDX file's bytes.
pub fn idx(dims: &[u32], values: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        b.extend(d.to_be_bytes());
    }
    b.extend(values);
    b
}

/// `n` synthetic digits as a uint8 .npy of shape (n, 28, 28).
pub fn digits_npy(path: &Path, n: usize, seed: u64) {
    let ds = wgae::data::synthetic::digits(n, seed);
    let mut b = wgae::io::npy_header_of("|u1", &[n, 28, 28], 0);
    b.extend(ds.data.iter().map(|&v| (v * 255.0).round() as u8));
    std::fs::write(path, b).unwrap();
}

/// A table of `rows` x `cols` numbers as CSV with a header.
pub fn table_csv(path: &Path, rows: usize, cols: usize, f: impl Fn(usize, usize) -> f32) {
    let mut s = (0..cols)
        .map(|j| format!("f{j}"))
        .collect::<Vec<_>>()
        .join(",");
    s.push('\n');
    for i in 0..rows {
        let row: Vec<String> = (0..cols).map(|j| f(i, j).to_string()).collect();
        s += &(row.join(",") + "\n");
    }
    std::fs::write(path, s).unwrap();
}

/// The temporaries (`.NAME.tmp-PID`, `.wgae-pipe-*`) in `dir`.
pub fn temporaries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-") || n.starts_with(".wgae-pipe-"))
        .collect()
}
