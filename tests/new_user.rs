//! What a new user tripped over (issue 22), each as a user meets it:
//! resuming with a config or other data, output formats, a BCE model's
//! unit scaling on new rows, anomaly rules and per-feature shares, and the
//! should-fix list (refusals, warnings and wording).

#[path = "common/cli.rs"]
mod cli;

use std::path::Path;

use cli::{fails, ok, stderr, wgae, workdir};

fn train(dir: &Path, extra: &[&str]) -> std::process::Output {
    let base = ["train", "--arch", "784,8", "--quiet"];
    wgae(&[&base[..], extra].concat(), dir)
}

#[test]
fn resume_refuses_another_model_and_warns_of_other_data() {
    let d = workdir("resume");
    cli::digits_npy(&d.join("a.npy"), 400, 1);
    cli::digits_npy(&d.join("b.npy"), 400, 2);
    let conv = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/configs/conv.toml");
    ok(&train(
        &d,
        &["--data", "a.npy", "--epochs", "1", "--checkpoint-dir", "ck"],
    ));
    let resume = ["train", "--resume", "ck/checkpoint.safetensors", "--quiet"];
    let with = |extra: &[&str]| wgae(&[&resume[..], extra].concat(), &d);
    // A config with another model, and flags that change the model.
    fails(
        &with(&["--config", conv, "--data", "a.npy", "--epochs", "2"]),
        &["--config", "would change the model", "encoder_layers"],
    );
    fails(
        &with(&["--act", "tanh", "--data", "a.npy", "--epochs", "2"]),
        &["the flags", "act"],
    );
    // Without --data it would train on synthetic digits: refused.
    fails(&with(&["--epochs", "2"]), &["--data", "a.npy"]);
    // Other data, another --limit: warned, and training goes on.
    let o = with(&["--data", "b.npy", "--limit", "300", "--epochs", "2"]);
    ok(&o);
    let err = stderr(&o);
    assert!(
        err.contains("warning: --resume with a changed data")
            && err.contains("b.npy")
            && err.contains("--limit (300, not none)")
            && err.contains("number of rows (300, not 400)"),
        "{err}"
    );
    // A config with the same model: its batch size applies, with a warning.
    std::fs::write(
        d.join("same.toml"),
        "[model]\ninput_dim = 784\nencoder = [8]\nloss = \"bce\"\n[train]\nbatch_size = 32\n",
    )
    .unwrap();
    let o = with(&["--config", "same.toml", "--data", "b.npy", "--epochs", "3"]);
    ok(&o);
    assert!(stderr(&o).contains("batch size"), "{}", stderr(&o));
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn outputs_are_what_their_extension_names() {
    let d = workdir("formats");
    cli::digits_npy(&d.join("x.npy"), 200, 1);
    ok(&train(
        &d,
        &["--data", "x.npy", "--epochs", "1", "--save", "m.st"],
    ));
    let npy_shape = |p: &str| -> String {
        let b = std::fs::read(d.join(p)).unwrap();
        assert!(b.starts_with(b"\x93NUMPY"), "{p} is not a .npy file");
        let h = String::from_utf8_lossy(&b[10..128]).to_string();
        h[h.find("'shape': ").unwrap() + 9..h.find(')').unwrap() + 1].to_string()
    };
    let m = ["--model", "m.st"];
    let md = ["--model", "m.st", "--data", "x.npy"];
    ok(&wgae(
        &[&["generate"], &m[..], &["--n", "7", "--out", "g.npy"]].concat(),
        &d,
    ));
    assert_eq!(npy_shape("g.npy"), "(7, 784)");
    ok(&wgae(
        &[&["generate"], &m[..], &["--n", "3", "--out", "g.csv"]].concat(),
        &d,
    ));
    let csv = std::fs::read_to_string(d.join("g.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4, "a header and three rows");
    ok(&wgae(
        &[&["generate"], &m[..], &["--out", "g.PNG"]].concat(),
        &d,
    ));
    assert!(std::fs::read(d.join("g.PNG"))
        .unwrap()
        .starts_with(b"\x89PNG"));
    ok(&wgae(
        &[&["anomaly"], &md[..], &["--out", "a.npy"]].concat(),
        &d,
    ));
    assert_eq!(npy_shape("a.npy"), "(200,)");
    ok(&wgae(
        &[&["reconstruct"], &md[..], &["--out", "r.npy"]].concat(),
        &d,
    ));
    assert_eq!(npy_shape("r.npy"), "(200, 784)");
    for (cmd, out, list) in [
        ("generate", "g.txt", ".png, .npy or .csv"),
        ("reconstruct", "r.jpg", ".png, .npy or .csv"),
        ("anomaly", "a.png", ".csv or .npy"),
        ("encode", "c.png", ".npy or .csv"),
    ] {
        let args = if cmd == "generate" { &m[..] } else { &md[..] };
        fails(
            &wgae(&[&[cmd], args, &["--out", out]].concat(), &d),
            &[out, list],
        );
        assert!(!d.join(out).exists());
    }
    fails(
        &wgae(
            &[&["reconstruct"], &md[..], &["--n", "0", "--out", "r.png"]].concat(),
            &d,
        ),
        &["--n 0"],
    );
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn a_bce_model_clips_unit_scaled_rows_beyond_its_training_range() {
    let d = workdir("unit-bce");
    // The last rows (held out, and new data later) go beyond the range of
    // the first ones.
    cli::table_csv(&d.join("t.csv"), 300, 5, |i, j| {
        let base = ((i * 7 + j * 3) % 10) as f32;
        if i >= 250 {
            base * 3.0 + 5.0
        } else {
            base
        }
    });
    let o = wgae(
        &[
            "train",
            "--data",
            "t.csv",
            "--arch",
            "5,2",
            "--scale",
            "unit",
            "--loss",
            "bce",
            "--val-split",
            "0.2",
            "--epochs",
            "2",
            "--save",
            "m.st",
            "--quiet",
        ],
        &d,
    );
    ok(&o);
    cli::table_csv(&d.join("new.csv"), 4, 5, |i, _| -50.0 + 40.0 * i as f32);
    let md = ["--model", "m.st", "--data", "new.csv"];
    ok(&wgae(
        &[&["anomaly"], &md[..], &["--out", "s.csv"]].concat(),
        &d,
    ));
    ok(&wgae(
        &[&["encode"], &md[..], &["--out", "c.csv"]].concat(),
        &d,
    ));
    // The scores are those of the clipped rows: finite, and the same for
    // the rows below the range (all 0) and above it (all 1) as for rows
    // of plain 0s and 1s.
    cli::table_csv(
        &d.join("edges.csv"),
        4,
        5,
        |i, _| if i < 2 { -1e3 } else { 1e3 },
    );
    ok(&wgae(
        &[
            "anomaly",
            "--model",
            "m.st",
            "--data",
            "edges.csv",
            "--out",
            "e.csv",
        ],
        &d,
    ));
    let scores = |p: &str| -> Vec<f64> {
        std::fs::read_to_string(d.join(p))
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
            .collect()
    };
    let (s, e) = (scores("s.csv"), scores("e.csv"));
    assert!(
        s.iter().chain(&e).all(|v| v.is_finite() && *v >= 0.0),
        "{s:?} {e:?}"
    );
    assert_eq!(
        s[0], e[0],
        "a row far below the range scores as one at its minimum"
    );
    assert_eq!(
        s[3], e[3],
        "a row far above the range scores as one at its maximum"
    );
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn anomaly_rules_and_per_feature_shares() {
    let d = workdir("anomaly");
    cli::digits_npy(&d.join("x.npy"), 300, 1);
    ok(&train(
        &d,
        &["--data", "x.npy", "--epochs", "2", "--save", "m.st"],
    ));
    let md = ["anomaly", "--model", "m.st", "--data", "x.npy"];
    let o = wgae(&[&md[..], &["--mad", "3", "--out", "mad.csv"]].concat(), &d);
    let said = ok(&o);
    assert!(said.contains("the training errors' median"), "{said}");
    let o = wgae(
        &[&md[..], &["--per-feature", "--out", "pf.csv"]].concat(),
        &d,
    );
    ok(&o);
    let text = std::fs::read_to_string(d.join("pf.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header.len(), 3 + 784);
    assert_eq!(header[3], "share0");
    for l in lines.take(20) {
        let v: Vec<f64> = l.split(',').map(|x| x.parse().unwrap()).collect();
        let sum: f64 = v[3..].iter().sum();
        assert!(
            (sum - v[1]).abs() <= 1e-4 * v[1].max(1e-6),
            "shares add up to {sum}, the score is {}",
            v[1]
        );
    }
    ok(&wgae(
        &[&md[..], &["--per-feature", "--out", "pf.npy"]].concat(),
        &d,
    ));
    let b = std::fs::read(d.join("pf.npy")).unwrap();
    assert!(String::from_utf8_lossy(&b[..128]).contains("(300, 784)"));
    fails(
        &wgae(&[&md[..], &["--mad", "-1", "--out", "x.csv"]].concat(), &d),
        &["--mad -1"],
    );
    let o = wgae(
        &[
            &md[..],
            &["--mad", "3", "--percentile", "9", "--out", "x.csv"],
        ]
        .concat(),
        &d,
    );
    assert!(!o.status.success() && stderr(&o).contains("--mad"));
    std::fs::remove_dir_all(&d).ok();
}
