//! Bounded host memory with data larger than the budget: training on a
//! .npy file four times larger than `--host-memory` (and than
//! `--gpu-memory`, which on a software adapter is host memory too) peaks
//! within those budgets plus the process's fixed overhead, measured on the
//! same binary with tiny data. The bound is generous; BENCHMARKS.md has
//! the measured figures.

use std::io::Write;
use std::path::Path;
use std::process::Command;

/// Runs the wgae binary with `args` in `dir` and returns its peak resident
/// memory in bytes (VmHWM, read from /proc while it runs) and its stderr.
fn peak_rss(args: &[&str], dir: &Path) -> (u64, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wgae"))
        .args(args)
        .current_dir(dir)
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    loop {
        if let Ok(s) = std::fs::read_to_string(&status_path) {
            if let Some(kb) = s
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
            {
                peak = peak.max(kb * 1024);
            }
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{err}");
    (peak, err)
}

#[test]
fn training_on_a_file_four_times_the_budget_stays_within_it() {
    if !Path::new("/proc/self/status").exists() {
        eprintln!("no /proc: peak memory cannot be read here");
        return;
    }
    let dir = std::env::temp_dir().join(format!("wgae-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // 90,000 rows of 784 float32: 269 MiB, over four times the 64 MiB budgets.
    let (rows, cols) = (90_000usize, 784usize);
    let path = dir.join("big.npy");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        f.write_all(&wgae::io::npy_header(rows, cols)).unwrap();
        let mut x = 12345u32;
        let mut row = Vec::with_capacity(cols * 4);
        for _ in 0..rows {
            row.clear();
            for _ in 0..cols {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                row.extend(((x >> 8) as f32 / 16_777_216.0).to_le_bytes());
            }
            f.write_all(&row).unwrap();
        }
    }
    let budget = 64u64 << 20;
    let (base, _) = peak_rss(
        &["train", "--synthetic", "1000", "--epochs", "1", "--quiet"],
        &dir,
    );
    let (peak, err) = peak_rss(
        &[
            "train",
            "--data",
            "big.npy",
            "--epochs",
            "1",
            "--loss",
            "mse",
            "--host-memory",
            "64M",
            "--gpu-memory",
            "64M",
        ],
        &dir,
    );
    assert!(err.contains("streamed from host memory"), "{err}");
    let mib = |b: u64| b >> 20;
    eprintln!(
        "peak RSS {} MiB on a {} MiB file (fixed overhead {} MiB, budgets 64 + 64 MiB)",
        mib(peak),
        mib(std::fs::metadata(&path).unwrap().len()),
        mib(base)
    );
    // The budgets, the fixed overhead, and 96 MiB of slack for what is
    // neither (allocator slack, the driver's staging).
    let bound = base + 2 * budget + (96 << 20);
    assert!(
        peak <= bound,
        "peak RSS {} MiB exceeds {} MiB",
        mib(peak),
        mib(bound)
    );
    std::fs::remove_dir_all(&dir).ok();
}
