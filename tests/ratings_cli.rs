//! `wgae train --rows items|users` (AutoRec) from the command line on a
//! small synthetic ratings file: it trains, reports the held-out RMSE and
//! MAE, beats the global mean on ratings with structure; bad files and flags
//! that do not apply get one clear error each. (MovieLens-100K's figure is
//! checked in python/tests/test_ratings.py, which fetches it.)

mod common;
#[path = "common/cli.rs"]
mod common_cli;

use common_cli::{fails, ok, wgae, workdir};

fn run(line: &str, dir: &std::path::Path) -> std::process::Output {
    wgae(&line.split_whitespace().collect::<Vec<_>>(), dir)
}

/// 60 users x 40 items, two tastes: a user of taste t rates items of
/// genre t 4 and the others 2; 40% of pairs rated.
fn ratings_csv(path: &std::path::Path) {
    let mut s = String::from("user,item,rating,timestamp\n");
    for u in 0..60u32 {
        for i in 0..40u32 {
            let h = (u * 7919 + i * 104_729) % 100;
            if h >= 40 {
                continue;
            }
            let liked = (u % 2) == (i % 2);
            let r = if liked { 4 + h % 2 } else { 1 + h % 2 };
            s += &format!("u{u},i{i},{r},{}\n", u * 1000 + i);
        }
    }
    std::fs::write(path, s).unwrap();
}

fn rmse_of(out: &str) -> f64 {
    out.split("RMSE ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("no RMSE in: {out}"))
}

#[test]
fn autorec_trains_on_ratings_and_reports_held_out_errors() {
    let Some(_) = common::gpu() else { return };
    let dir = workdir("ratings");
    ratings_csv(&dir.join("r.csv"));
    let out = ok(&run(
        "train --data r.csv --rows items --arch 60,16 --epochs 150 --batch 8 --lr 0.01 \
         --weight-decay 1e-4 --quiet --save m.safetensors",
        &dir,
    ));
    // A rating is 4 where a user's taste and an item's genre agree, 2
    // where they do not: the global mean (about 3) errs by 1 on each; the
    // tastes are learnt (0.014 measured).
    let rmse = rmse_of(&out);
    assert!(rmse < 0.5, "{out}");
    assert!(out.contains("held-out ratings ("), "{out}");
    assert!(dir.join("m.safetensors").exists());
    // The saved model recommends for a user: items it has not rated, of its
    // taste (u0 likes the even items).
    let top = ok(&run(
        "recommend --model m.safetensors --data r.csv --user u0 --k 5",
        &dir,
    ));
    let items: Vec<&str> = top
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(items.len(), 5, "{top}");
    let given = std::fs::read_to_string(dir.join("r.csv")).unwrap();
    for item in &items {
        assert!(
            !given.contains(&format!("u0,{item},")),
            "{item} was rated: {top}"
        );
        assert_eq!(item[1..].parse::<u32>().unwrap() % 2, 0, "{top}");
    }
    fails(
        &run(
            "recommend --model m.safetensors --data r.csv --user nobody",
            &dir,
        ),
        &["--user nobody", "60 users"],
    );
    // Early stopping keeps the best epoch on the chosen share: the final
    // figure is that epoch's.
    let o = run(
        "train --data r.csv --rows items --arch 60,16 --epochs 40 --batch 8 --lr 0.01 \
         --early-stop 2",
        &dir,
    );
    let (out, err) = (ok(&o), common_cli::stderr(&o));
    let epoch: usize = err
        .split("the weights of epoch ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no early stop in: {err}"));
    let line = err
        .lines()
        .find(|l| l.starts_with(&format!("epoch {epoch:3}:")))
        .unwrap_or_else(|| panic!("no epoch {epoch} in: {err}"));
    let at_epoch: f64 = line.split("held-out RMSE ").nth(1).unwrap()[..6]
        .parse()
        .unwrap();
    assert!((rmse_of(&out) - at_epoch).abs() < 1e-3, "{line} / {out}");
    // Held-out ratings from their own file: unknown users are left out.
    std::fs::write(dir.join("t.csv"), "u0,i0,4\nu1,i0,2\nstranger,i0,3\n").unwrap();
    let o = run(
        "train --data r.csv --rows items --arch 60,16 --epochs 2 --test t.csv",
        &dir,
    );
    assert!(
        ok(&o).contains("held-out ratings (2)"),
        "{}",
        common_cli::stderr(&o)
    );
    assert!(common_cli::stderr(&o).contains("1 ratings of users or items not in --data"));
    let users = ok(&run(
        "train --data r.csv --rows users --arch 40,16 --epochs 5 --quiet",
        &dir,
    ));
    assert!(users.contains("RMSE"), "{users}");
}

#[test]
fn bad_ratings_and_flags_are_refused() {
    let Some(_) = common::gpu() else { return };
    let dir = workdir("ratings-bad");
    ratings_csv(&dir.join("r.csv"));
    std::fs::write(dir.join("x.csv"), "u1,i1,4\nu2,i1,five\n").unwrap();
    fails(
        &run("train --data x.csv --rows items", &dir),
        &["x.csv", "line 2", "'five'"],
    );
    std::fs::write(dir.join("empty.csv"), "").unwrap();
    fails(
        &run("train --data empty.csv --rows items", &dir),
        &["empty.csv", "no ratings"],
    );
    fails(
        &run("train --data r.csv --rows items --arch 10,4", &dir),
        &["--arch", "60"],
    );
    for (flag, line) in [
        ("--scale", "--scale standard"),
        ("--report", "--report rep"),
    ] {
        fails(
            &run(&format!("train --data r.csv --rows items {line}"), &dir),
            &[flag, "--rows"],
        );
    }
    fails(
        &run("train --data r.csv --test-split 0.2", &dir),
        &["--test-split", "--rows"],
    );
    fails(
        &run("train --data r.csv --rows items --test-split 1.5", &dir),
        &["--test-split 1.5"],
    );
    fails(&run("train --data r.csv --rows things", &dir), &["things"]);
    // Too few ratings to hold any out: refused, not an error of 0 on none.
    std::fs::write(dir.join("few.csv"), "u1,i1,4\nu1,i2,3\nu2,i1,5\n").unwrap();
    for kind in ["--rows items", "--implicit"] {
        fails(
            &run(&format!("train --data few.csv {kind}"), &dir),
            &[
                "--test-split 0.1 of 3 ratings",
                "0 to hold out",
                "--test FILE",
            ],
        );
    }
    fails(
        &run(
            "train --data r.csv --rows items --early-stop 2 --val-split 0.0001",
            &dir,
        ),
        &["--val-split 0.0001", "0 to choose"],
    );
    // A model of rows, not ratings, recommends nothing.
    std::fs::write(
        dir.join("t.csv"),
        "1,2\n3,4\n5,6\n7,8\n9,1\n2,3\n4,5\n6,7\n8,9\n1,1\n",
    )
    .unwrap();
    ok(&run(
        "train --data t.csv --arch 2,1 --loss mse --epochs 1 --save plain.safetensors --quiet",
        &dir,
    ));
    fails(
        &run(
            "recommend --model plain.safetensors --data r.csv --user u0",
            &dir,
        ),
        &["plain.safetensors", "not an AutoRec model"],
    );
}

/// Implicit feedback: users interact with the items of their taste; the
/// denoising model ranks a user's unseen items, and its held-out recall@5
/// beats popularity's.
#[test]
fn implicit_feedback_ranks_unseen_items() {
    let Some(_) = common::gpu() else { return };
    let dir = workdir("implicit");
    let mut s = String::from("user,item\n");
    for u in 0..80u32 {
        for i in 0..40u32 {
            if u % 2 == i % 2 && (u * 31 + i * 17) % 5 < 3 {
                s += &format!("u{u},i{i}\n");
            }
        }
    }
    std::fs::write(dir.join("clicks.csv"), s).unwrap();
    let o = run(
        "train --data clicks.csv --implicit --arch 40,8 --epochs 60 --batch 16 --lr 0.01 --k 5",
        &dir,
    );
    let (out, err) = (ok(&o), common_cli::stderr(&o));
    let value = |text: &str, key: &str| -> f64 {
        text.split(key)
            .nth(1)
            .and_then(|t| t.split_whitespace().next())
            .and_then(|t| t.trim_end_matches(',').parse().ok())
            .unwrap_or_else(|| panic!("no {key} in: {text}"))
    };
    let recall = value(&out, "recall@5 ");
    let popular = value(&err, "popularity baseline: recall@5 ");
    assert!(
        recall > popular + 0.2,
        "recall@5 {recall} vs popularity {popular}\n{err}"
    );
    fails(
        &run("train --data clicks.csv --implicit --rows items", &dir),
        &["--implicit", "--rows items"],
    );
    fails(
        &run("train --data clicks.csv --k 5", &dir),
        &["--k", "--implicit"],
    );
    fails(
        &run("train --data clicks.csv --implicit --k 0", &dir),
        &["--k 0"],
    );
}

/// `wgae bench --sparse` trains AutoRec's shape on sparse rows kept on the
/// GPU (the gather in the step's dispatches); a density outside (0, 1] is
/// refused naming the flag.
#[test]
fn bench_times_sparse_rows() {
    let Some(_) = common::gpu() else { return };
    let dir = workdir("bench-sparse");
    std::fs::write(
        dir.join("a.toml"),
        "[model]\ninput_dim = 50\nencoder = [8]\nout_act = \"identity\"\nloss = \"mse\"\n\
         missing = \"mask\"\n[train]\nbatch_size = 16\n",
    )
    .unwrap();
    let out = ok(&run(
        "bench --config a.toml --sparse 0.1 --steps 4 --profile --json",
        &dir,
    ));
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["sparse_density"], 0.1, "{out}");
    assert!(v["samples_per_sec"].as_f64().unwrap() > 0.0, "{out}");
    let p = v["profile"].as_array().unwrap();
    assert!(
        p.iter()
            .any(|d| d["dispatch"].as_str().unwrap().starts_with("gather_sparse")),
        "{out}"
    );
    fails(
        &run("bench --config a.toml --sparse 1.5", &dir),
        &["--sparse 1.5"],
    );
}

/// The rating matrix stays sparse on the GPU by default and is streamed
/// with `WGAE_STREAM=1`: the same held-out errors either way.
#[test]
fn streamed_ratings_train_as_resident_ones() {
    let Some(_) = common::gpu() else { return };
    let dir = workdir("ratings-stream");
    ratings_csv(&dir.join("r.csv"));
    let line = "train --data r.csv --rows users --arch 40,8 --epochs 3 --batch 8";
    let resident = run(line, &dir);
    let streamed = common_cli::bin()
        .args(line.split_whitespace())
        .current_dir(&dir)
        .env("WGAE_STREAM", "1")
        .output()
        .unwrap();
    let (r, s) = (ok(&resident), ok(&streamed));
    assert!(
        common_cli::stderr(&resident).contains("stay sparse on the GPU"),
        "{}",
        common_cli::stderr(&resident)
    );
    assert!(
        common_cli::stderr(&streamed).contains("are streamed"),
        "{}",
        common_cli::stderr(&streamed)
    );
    assert_eq!(r, s, "streamed and resident ratings train alike");
}
