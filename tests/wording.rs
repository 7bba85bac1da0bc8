//! The should-fix list of issue 22: flags that did nothing or the wrong
//! thing are refused, problems that went unremarked are warned of, and
//! errors say what is wrong in the user's words.

#[path = "common/cli.rs"]
mod cli;

use cli::{fails, ok, stderr, wgae, workdir};

#[test]
fn flags_that_would_do_nothing_are_refused_before_work() {
    let d = workdir("refused");
    cli::digits_npy(&d.join("x.npy"), 100, 1);
    let base = ["train", "--data", "x.npy", "--epochs", "1", "--quiet"];
    let with = |extra: &[&str]| wgae(&[&base[..], extra].concat(), &d);
    fails(&with(&["--limit", "0"]), &["--limit 0"]);
    fails(&with(&["--rgb"]), &["--rgb", "not a folder"]);
    let o = with(&[
        "--checkpoint-dir",
        "ck",
        "--save",
        "ck/checkpoint.safetensors",
    ]);
    fails(&o, &["checkpoint.safetensors", "--save"]);
    assert!(!stderr(&o).contains("epoch"), "refused before training");
    let o = wgae(
        &[
            "bench", "--arch", "20,6", "--batch", "8", "--steps", "5", "--json",
        ],
        &d,
    );
    let r: serde_json::Value = serde_json::from_str(ok(&o).trim()).unwrap();
    assert_eq!(r["steps"], 5.0);
    fails(
        &wgae(&["bench", "--arch", "20,6", "--steps", "17"], &d),
        &["--steps 17"],
    );
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn errors_are_one_line_in_the_users_words() {
    let d = workdir("wording");
    // Bad config values: one line with the line number, the key, and what
    // is allowed, without Rust's type names.
    let layer = "[model]\ninput_shape = [1, 28, 28]\n[[model.encoder_layers]]\ntype = \"conv2d\"\n";
    for (text, line, key, allowed) in [
        (
            format!("{layer}filters = \"x\"\nkernel = 3\n"),
            "line 5",
            "filters",
            "a whole number",
        ),
        (
            "[train]\nepochs = -1\n".to_string(),
            "line 2",
            "epochs",
            "a whole number",
        ),
        (
            "[train]\nlr = \"fast\"\n".to_string(),
            "line 2",
            "lr",
            "a number",
        ),
        (
            format!("{layer}filters = 4\npadding = true\n"),
            "line 6",
            "padding",
            "padding accepts",
        ),
    ] {
        std::fs::write(d.join("bad.toml"), &text).unwrap();
        let o = wgae(&["train", "--config", "bad.toml"], &d);
        let err = fails(&o, &[line, key, allowed]);
        for rust in ["usize", "f32", "untagged", "enum"] {
            assert!(!err.contains(rust), "{err}");
        }
        assert_eq!(
            stderr(&o).lines().filter(|l| !l.contains("WARN")).count(),
            1,
            "{}",
            stderr(&o)
        );
    }
    // A (10, 0) array holds no values; it is not truncated.
    std::fs::write(
        d.join("empty.npy"),
        wgae::io::npy_header_of("<f4", &[10, 0], 0),
    )
    .unwrap();
    let err = fails(&wgae(&["train", "--data", "empty.npy"], &d), &["no values"]);
    assert!(!err.contains("truncated"), "{err}");
    // A GPU memory cap names sizes, not internal tensors.
    let err = fails(
        &wgae(&["train", "--synthetic", "300", "--gpu-memory", "5M"], &d),
        &["--gpu-memory", "MiB"],
    );
    assert!(!err.contains("tensor '"), "{err}");
    // An adapter name that matches none names the adapters there are.
    let o = cli::bin()
        .args(["train", "--synthetic", "100"])
        .env("WGAE_ADAPTER", "no-such-gpu")
        .current_dir(&d)
        .output()
        .unwrap();
    let err = fails(&o, &["no adapter name contains 'no-such-gpu'", "available"]);
    assert!(!err.contains("Mesa") && !err.contains("apt-get"), "{err}");
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn what_went_unremarked_is_now_said() {
    let d = workdir("remarks");
    // The summary shows the decoder; the report's folder is named once.
    let o = wgae(
        &[
            "train",
            "--synthetic",
            "300",
            "--arch",
            "784,16,4",
            "--epochs",
            "1",
            "--dropout",
            "0.1",
            "--report",
            "rep/",
            "--save",
            "m.st",
        ],
        &d,
    );
    ok(&o);
    let err = stderr(&o);
    assert!(err.contains("model 784-16-4-16-784:"), "{err}");
    assert!(err.contains("wrote the report to rep/ ("), "{err}");
    assert!(!err.contains("rep//"), "{err}");
    // Settings are kept as written: dropout 0.1, not 0.10000000149011612.
    let bytes = std::fs::read(d.join("m.st")).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let model = &meta.metadata().as_ref().unwrap()["wgae.model"];
    assert!(model.contains("dropout = 0.1\n"), "{model}");
    // Flatten is called Flatten in the layer table.
    std::fs::write(
        d.join("flat.toml"),
        "[model]\ninput_shape = [1, 28, 28]\nloss = \"bce\"\n\
         [[model.encoder_layers]]\ntype = \"conv2d\"\nfilters = 2\nkernel = 3\npadding = \"same\"\n\
         [[model.encoder_layers]]\ntype = \"flatten\"\n\
         [[model.encoder_layers]]\ntype = \"dense\"\nunits = 8\n",
    )
    .unwrap();
    let o = wgae(
        &[
            "train",
            "--config",
            "flat.toml",
            "--synthetic",
            "64",
            "--epochs",
            "1",
        ],
        &d,
    );
    ok(&o);
    assert!(stderr(&o).contains("Flatten"), "{}", stderr(&o));
    // A loss that explodes but stays finite is warned of.
    let o = wgae(
        &[
            "train",
            "--synthetic",
            "600",
            "--loss",
            "mse",
            "--lr",
            "10",
            "--epochs",
            "2",
            "--quiet",
        ],
        &d,
    );
    assert!(
        stderr(&o).contains("warning: the reconstruction error per value rose"),
        "{}",
        stderr(&o)
    );
    // Data too large for f32: said when training starts, and the advice
    // when it diverges is to scale, not to lower the rate.
    cli::table_csv(&d.join("huge.csv"), 200, 4, |i, j| {
        (1 + (i * 3 + j) % 7) as f32 * 1e19
    });
    let o = wgae(
        &[
            "train", "--data", "huge.csv", "--arch", "4,2", "--loss", "mse", "--epochs", "2",
        ],
        &d,
    );
    let err = fails(&o, &["--scale standard"]);
    assert!(!err.contains("--lr"), "{err}");
    assert!(stderr(&o).contains("warning: the data holds values up to"));
    // f16 inference on values beyond its range is refused, naming the limit.
    cli::table_csv(&d.join("t.csv"), 200, 4, |i, j| ((i + j) % 5) as f32);
    ok(&wgae(
        &[
            "train", "--data", "t.csv", "--arch", "4,2", "--loss", "mse", "--epochs", "1",
            "--save", "t.st", "--quiet",
        ],
        &d,
    ));
    cli::table_csv(&d.join("big.csv"), 3, 4, |_, _| 1e5);
    fails(
        &wgae(
            &[
                "anomaly",
                "--model",
                "t.st",
                "--data",
                "big.csv",
                "--precision",
                "f16",
                "--out",
                "s.csv",
            ],
            &d,
        ),
        &["big.csv", "65504", "--precision f32"],
    );
    // A labels file that does not match its images is warned of.
    let images = cli::idx(&[50, 28, 28], &vec![9u8; 50 * 784]);
    std::fs::write(d.join("s-images-idx3-ubyte"), images).unwrap();
    std::fs::write(d.join("s-labels-idx1-ubyte"), cli::idx(&[80], &[1u8; 80])).unwrap();
    let o = wgae(
        &[
            "train",
            "--data",
            "s-images-idx3-ubyte",
            "--epochs",
            "1",
            "--quiet",
        ],
        &d,
    );
    ok(&o);
    assert!(
        stderr(&o).contains("s-labels-idx1-ubyte holds 80 labels for the 50 images"),
        "{}",
        stderr(&o)
    );
    std::fs::remove_dir_all(&d).ok();
}
