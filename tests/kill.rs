//! Crash safety as a user meets it: `wgae train` killed with SIGKILL at
//! many points while it writes checkpoints leaves a checkpoint that loads
//! (or none yet), never a torn one; and a run killed after a checkpoint
//! and resumed from it ends with the same weights, bit for bit, as one
//! that was never interrupted.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn workdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("wgae-kill-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn wgae(args: &[&str], dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wgae"));
    c.args(args)
        .current_dir(dir)
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

/// The epochs a checkpoint file has done, read on the host (no GPU), or
/// None if it does not load.
fn epochs_done(path: &Path) -> Option<usize> {
    let bytes = std::fs::read(path).ok()?;
    wgae::io::read_checkpoint_bytes(bytes, "checkpoint", 64)
        .ok()
        .map(|c| c.epochs_done)
}

/// The tensors of a model file, sorted by name.
fn tensors(path: &Path) -> Vec<(String, Vec<u8>)> {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut t: Vec<(String, Vec<u8>)> = st
        .tensors()
        .into_iter()
        .map(|(n, v)| (n, v.data().to_vec()))
        .collect();
    t.sort();
    t
}

const TRAIN: &[&str] = &[
    "train",
    "--synthetic",
    "600",
    "--arch",
    "784,16",
    "--seed",
    "3",
];

#[test]
fn a_kill_at_any_point_leaves_a_checkpoint_that_loads() {
    let d = workdir("points");
    let ck = d.join("ck/checkpoint.safetensors");
    let mut loaded = 0;
    // Kill points spread over start-up, training and checkpoint writes.
    for i in 0..14u64 {
        let args = [
            TRAIN,
            &["--epochs", "500", "--checkpoint-dir", "ck", "--force"],
        ]
        .concat();
        let mut child = wgae(&args, &d).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(250 + i * 73));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        if ck.exists() {
            assert!(
                epochs_done(&ck).is_some(),
                "kill point {i}: the checkpoint left behind does not load"
            );
            loaded += 1;
        }
        // Whatever else is there is a temporary of a killed write.
        for e in std::fs::read_dir(d.join("ck")).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            assert!(
                name == "checkpoint.safetensors"
                    || name.starts_with(".checkpoint.safetensors.tmp-"),
                "kill point {i}: unexpected {name}"
            );
        }
    }
    assert!(
        loaded >= 10,
        "only {loaded} of 14 kills came after a checkpoint"
    );
    // The next run's first write removes the dead runs' temporaries.
    let args = [
        TRAIN,
        &["--epochs", "2", "--checkpoint-dir", "ck", "--force"],
    ]
    .concat();
    assert!(wgae(&args, &d).status().unwrap().success());
    let left: Vec<_> = std::fs::read_dir(d.join("ck"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(left, ["checkpoint.safetensors"]);
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn a_killed_run_resumed_ends_with_the_same_bits() {
    let d = workdir("resume");
    let epochs = "24";
    let full = [TRAIN, &["--epochs", epochs, "--save", "full.safetensors"]].concat();
    let o = wgae(&full, &d).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let killed = [TRAIN, &["--epochs", epochs, "--checkpoint-dir", "ck"]].concat();
    let mut child = wgae(&killed, &d).spawn().unwrap();
    let ck = d.join("ck/checkpoint.safetensors");
    let started = Instant::now();
    let mut at = None;
    while at.is_none() && started.elapsed() < Duration::from_secs(120) {
        at = epochs_done(&ck).filter(|&e| e >= 3);
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let at = epochs_done(&ck).expect("a checkpoint after the kill");
    assert!((3..24).contains(&at), "killed after epoch {at}");

    let resume = [
        "train",
        "--synthetic",
        "600",
        "--resume",
        "ck/checkpoint.safetensors",
        "--epochs",
        epochs,
        "--save",
        "resumed.safetensors",
    ];
    let o = wgae(&resume, &d).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        tensors(&d.join("full.safetensors")),
        tensors(&d.join("resumed.safetensors")),
        "resumed after epoch {at}: other weights"
    );
    // The resumed run went on writing the checkpoint it came from.
    assert_eq!(epochs_done(&ck), Some(24));
    std::fs::remove_dir_all(&d).ok();
}

/// Ctrl-C (SIGINT) stops training within a few steps: the model goes back
/// to the last whole epoch, `--save` writes it (the same tensors as the
/// checkpoint of that epoch), the message says how to resume, and the exit
/// code is 130.
#[test]
fn ctrl_c_saves_the_last_whole_epoch_and_exits_130() {
    let d = workdir("sigint");
    let args = [
        TRAIN,
        &[
            "--epochs",
            "400",
            "--checkpoint-dir",
            "ck",
            "--save",
            "m.safetensors",
        ],
    ]
    .concat();
    let child = wgae(&args, &d).spawn().unwrap();
    let ck = d.join("ck/checkpoint.safetensors");
    let started = Instant::now();
    while epochs_done(&ck).is_none_or(|e| e < 2) && started.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(5));
    }
    // The shell's own kill: no procps needed.
    let sent = Command::new("sh")
        .args(["-c", &format!("kill -INT {}", child.id())])
        .status()
        .unwrap();
    assert!(sent.success());
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert!(
        err.contains("Ctrl-C during epoch") && err.contains("--resume ck/checkpoint.safetensors"),
        "{err}"
    );
    let done = epochs_done(&ck).unwrap();
    assert!(
        err.contains(&format!("weights after epoch {done}")),
        "{err}"
    );
    // The saved model is the checkpoint's epoch, tensor for tensor.
    let model = tensors(&d.join("m.safetensors"));
    let checkpoint: Vec<_> = tensors(&ck)
        .into_iter()
        .filter(|(n, _)| !n.starts_with("optim."))
        .collect();
    assert_eq!(model, checkpoint);
    std::fs::remove_dir_all(&d).ok();
}
