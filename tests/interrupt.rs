//! Ctrl-C outside training (issue 22): `encode`, `reconstruct`, `anomaly`,
//! `generate` and `convert` stop within about a second, remove their
//! temporary, say that nothing was written, and exit 130; and Ctrl-C in
//! a first epoch says that no epoch finished.

#[path = "common/cli.rs"]
mod cli;

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use cli::{ok, wgae, workdir};

fn spawn(args: &[&str], dir: &Path) -> Child {
    cli::bin()
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// SIGINT through the shell's kill (no procps needed).
fn sigint(child: &Child) {
    let sent = std::process::Command::new("sh")
        .args(["-c", &format!("kill -INT {}", child.id())])
        .status()
        .unwrap();
    assert!(sent.success());
}

/// Waits until `ready` holds (or the child ends, which fails), sends
/// SIGINT, and checks the stop: exit 130 within `limit`, the message, no
/// output and no temporary left.
fn stops_cleanly(mut child: Child, dir: &Path, out: &str, ready: impl Fn() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "ended before Ctrl-C: {}",
            String::from_utf8_lossy(&child.wait_with_output().unwrap().stderr)
        );
        assert!(started.elapsed() < Duration::from_secs(120), "never ready");
        std::thread::sleep(Duration::from_millis(10));
    }
    sigint(&child);
    let sent = Instant::now();
    while child.try_wait().unwrap().is_none() && sent.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let took = sent.elapsed();
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "{out}: {err}");
    // A second for the work to stop, and slack for a busy 2-core machine.
    assert!(took < Duration::from_secs(3), "{out}: took {took:?}");
    assert!(
        err.contains("interrupted") && err.contains("nothing"),
        "{out}: {err}"
    );
    assert!(!dir.join(out).exists(), "{out} was written");
    assert_eq!(cli::temporaries(dir), Vec::<String>::new(), "{out}");
}

#[test]
fn ctrl_c_stops_every_command_and_leaves_no_temporary() {
    let d = workdir("ctrlc");
    let conv = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/configs/conv.toml");
    ok(&wgae(
        &[
            "train",
            "--config",
            conv,
            "--synthetic",
            "128",
            "--epochs",
            "1",
            "--save",
            "conv.st",
            "--quiet",
        ],
        &d,
    ));
    // Enough rows for several seconds of the conv model on lavapipe (and
    // on a real GPU a stop before the end is still what is checked).
    cli::digits_npy(&d.join("big.npy"), 6000, 2);
    let tmp_of = |name: &str| {
        let prefix = format!(".{name}.tmp-");
        let d = d.clone();
        move || cli::temporaries(&d).iter().any(|t| t.starts_with(&prefix))
    };
    // Writers that stream: their temporary exists while they work.
    for (cmd, out) in [("encode", "codes.npy"), ("reconstruct", "recon.csv")] {
        let c = spawn(
            &[cmd, "--model", "conv.st", "--data", "big.npy", "--out", out],
            &d,
        );
        stops_cleanly(c, &d, out, tmp_of(out));
    }
    // Scoring first, then writing; and one long GPU call (generate), which
    // the one-second fallback stops.
    let soon = || {
        let t = Instant::now();
        move || t.elapsed() > Duration::from_millis(1500)
    };
    let c = spawn(
        &[
            "anomaly", "--model", "conv.st", "--data", "big.npy", "--out", "s.csv",
        ],
        &d,
    );
    stops_cleanly(c, &d, "s.csv", soon());
    let c = spawn(
        &[
            "generate", "--model", "conv.st", "--n", "20000", "--out", "g.npy",
        ],
        &d,
    );
    stops_cleanly(c, &d, "g.npy", soon());
    // convert reading a pipe that has not ended: its spooled temporary
    // goes too.
    let fifo = d.join("in.fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let c = spawn(&["convert", "--data", "in.fifo", "--out", "c.npy"], &d);
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
        let _ = f.write_all(b"a,b\n1,2\n");
        std::thread::sleep(Duration::from_secs(4));
    });
    stops_cleanly(c, &d, "c.npy", soon());
    let spools: Vec<String> = cli::temporaries(&std::env::temp_dir())
        .into_iter()
        .filter(|n| n.starts_with(".wgae-pipe-"))
        .collect();
    assert!(spools.is_empty(), "{spools:?}");
    writer.join().unwrap();
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn ctrl_c_in_the_first_epoch_says_nothing_was_saved() {
    let d = workdir("ctrlc-first");
    let conv = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/configs/conv.toml");
    let mut child = spawn(
        &[
            "train",
            "--config",
            conv,
            "--synthetic",
            "20000",
            "--epochs",
            "3",
            "--save",
            "m.st",
            "--checkpoint-dir",
            "ck",
        ],
        &d,
    );
    std::thread::sleep(Duration::from_secs(3));
    assert!(child.try_wait().unwrap().is_none());
    sigint(&child);
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert!(
        err.contains("Ctrl-C during epoch 1: no epoch finished, so nothing was saved"),
        "{err}"
    );
    assert!(!err.contains("nothing to train"), "{err}");
    assert!(!d.join("m.st").exists() && !d.join("ck/checkpoint.safetensors").exists());
    std::fs::remove_dir_all(&d).ok();
}
