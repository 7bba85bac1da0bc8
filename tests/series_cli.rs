//! One long series from the command line: `wgae train --window` on a CSV
//! with a timestamp and a label column (dense, 1-D conv and LSTM models),
//! and `wgae anomaly` writing a score per time step with each channel's
//! share, the flagged ranges, the ROC AUC and a plot; every bad window,
//! column and file gets one clear error.

mod common;
#[path = "common/cli.rs"]
mod common_cli;

use std::path::Path;

use common_cli::{fails, ok, wgae, workdir};

const STEPS: usize = 1200;
/// Where the injected anomaly sits (channel 2 jumps).
const ANOMALY: std::ops::Range<usize> = 900..930;

/// A CSV series of three channels with a time and a label column.
fn series_csv(path: &Path) {
    let mut s = String::from("time,a,b,label,c\n");
    for t in 0..STEPS {
        let x = t as f64;
        let a = (x * std::f64::consts::TAU / 40.0).sin();
        let mut b = 5.0 + 2.0 * (x * std::f64::consts::TAU / 64.0).cos();
        let c = 0.5 * (x * std::f64::consts::TAU / 25.0).sin() + 0.01 * ((t * 7919) % 13) as f64;
        let label = u8::from(ANOMALY.contains(&t));
        if label == 1 {
            b += 4.0;
        }
        s += &format!("t{t:05},{a:.5},{b:.5},{label},{c:.5}\n");
    }
    std::fs::write(path, s).unwrap();
}

/// `wgae` with the words of `line` (no quoting: no word holds a space).
fn run(line: &str, dir: &Path) -> std::process::Output {
    wgae(&line.split_whitespace().collect::<Vec<_>>(), dir)
}

fn rows(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

#[test]
fn a_dense_model_on_windows_scores_every_step() {
    let Some(_) = common::gpu() else { return };
    let dir = workdir("series-dense");
    series_csv(&dir.join("s.csv"));
    let cols = "--time-column time --label-column label";
    ok(&run(
        &format!(
            "train --data s.csv --window 32 --stride 2 --arch 96,24,8 --scale standard \
             --loss mse --epochs 25 --batch 32 --lr 0.005 --save m.safetensors --quiet {cols}"
        ),
        &dir,
    ));
    let out = ok(&run(
        &format!(
            "anomaly --model m.safetensors --data s.csv --out scores.csv --plot scores.png \
             --percentile 97 {cols}"
        ),
        &dir,
    ));
    assert!(out.contains("of 1200 time steps score above"), "{out}");
    let auc: f64 = out
        .split("ROC AUC of the step scores against the label column: ")
        .nth(1)
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("no ROC AUC in: {out}"));
    assert!(auc > 0.9, "ROC AUC {auc}: {out}");
    let table = rows(&dir.join("scores.csv"));
    assert_eq!(
        table[0],
        ["step", "time", "score", "anomaly", "label", "share_a", "share_b", "share_c"]
    );
    assert_eq!(table.len(), STEPS + 1);
    assert_eq!(table[901][1], "t00900");
    // A step's shares add up to its score; in the anomaly, b moved.
    for r in &table[1..] {
        let score: f64 = r[2].parse().unwrap();
        let shares: f64 = r[5..].iter().map(|v| v.parse::<f64>().unwrap()).sum();
        assert!((score - shares).abs() <= 1e-5 * score.max(1e-3), "{r:?}");
    }
    let moved = &table[ANOMALY.start + 4];
    let share = |k: usize| moved[k].parse::<f64>().unwrap();
    assert!(share(6) > share(5) && share(6) > share(7), "{moved:?}");
    let flagged: Vec<usize> = table[1..]
        .iter()
        .enumerate()
        .filter(|(_, r)| r[3] == "1")
        .map(|(t, _)| t)
        .collect();
    // The flags lie within a window's length of the anomaly (its edges
    // stand out most), none far from it.
    let near = ANOMALY.start - 32..ANOMALY.end + 32;
    let inside = flagged.iter().filter(|t| ANOMALY.contains(t)).count();
    assert!(
        inside >= 10,
        "{inside} flagged inside the anomaly: {flagged:?}"
    );
    assert!(flagged.iter().all(|t| near.contains(t)), "{flagged:?}");
    let png = image::open(dir.join("scores.png")).unwrap();
    assert_eq!(png.width(), 1000);
    assert!(png.height() > 500);

    // The scores alone as .npy, and each channel's share with --per-feature.
    ok(&run(
        &format!(
            "anomaly --model m.safetensors --data s.csv --out s.npy --per-feature \
             --point-score max {cols}"
        ),
        &dir,
    ));
    let npy = std::fs::read(dir.join("s.npy")).unwrap();
    let header = String::from_utf8_lossy(&npy[..128]);
    assert!(header.contains("(1200, 3)"), "{header}");
}

/// A 1-D convolutional model (channels first) and an LSTM (steps first)
/// read the same windows in their own layouts; the model file keeps it.
#[test]
fn conv1d_and_lstm_models_read_windows_in_their_layouts() {
    let Some(_) = common::gpu() else { return };
    let dir = workdir("series-layouts");
    series_csv(&dir.join("s.csv"));
    let root = env!("CARGO_MANIFEST_DIR");
    let cols = "--time-column time --label-column label";
    for (config, window, layout) in [
        ("timeseries.toml", 64, "channels"),
        ("lstm.toml", 24, "time"),
    ] {
        // The shipped configs read 3 x 64 and 24 x 2: the LSTM's is made
        // to read 3 channels.
        let cfg = std::fs::read_to_string(format!("{root}/examples/configs/{config}"))
            .unwrap()
            .replace("input_shape = [24, 2]", "input_shape = [24, 3]");
        std::fs::write(dir.join(config), cfg).unwrap();
        ok(&run(
            &format!(
                "train --config {config} --data s.csv --window {window} --stride 4 \
                 --scale standard --epochs 2 --save m.safetensors --force --quiet {cols}"
            ),
            &dir,
        ));
        let text = String::from_utf8_lossy(&std::fs::read(dir.join("m.safetensors")).unwrap())
            .into_owned();
        assert!(
            text.contains(&format!("len={window},channels=3,layout={layout}")),
            "{config}: the model file keeps its windows"
        );
        assert!(text.contains("a,b,c"), "{config}: the channel names");
        let out = ok(&run(
            &format!("anomaly --model m.safetensors --data s.csv --out o.csv --force {cols}"),
            &dir,
        ));
        assert!(out.contains("ROC AUC"), "{config}: {out}");
    }
}

/// A little-endian f32 .npy of `shape` holding 0, 0.01, 0.02, ...
fn npy(path: &Path, shape: &[usize]) {
    let n: usize = shape.iter().product();
    let values: Vec<f32> = (0..n).map(|i| i as f32 * 0.01).collect();
    let mut bytes = wgae::io::npy_header_of("<f4", shape, 0);
    bytes.extend(wgae::io::f32_bytes(&values));
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn bad_windows_columns_and_files_are_refused() {
    let Some(_) = common::gpu() else { return };
    let dir = workdir("series-bad");
    series_csv(&dir.join("s.csv"));
    let train = |extra: &str| {
        run(
            &format!("train --data s.csv --time-column time --label-column label {extra}"),
            &dir,
        )
    };
    fails(
        &train("--window 1201"),
        &["--window 1201", "1200 time steps"],
    );
    fails(&train("--window 8 --stride 0"), &["--stride 0"]);
    fails(&train("--stride 2"), &["--stride", "--window"]);
    fails(
        &run("train --data s.csv --window 8 --label-column flag", &dir),
        &["no column 'flag'", "time, a, b, label, c"],
    );
    // A gap in the series.
    let text = std::fs::read_to_string(dir.join("s.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[5] = "t00004,0.1,,0,0.2".into();
    std::fs::write(dir.join("gap.csv"), lines.join("\n")).unwrap();
    fails(
        &run("train --data gap.csv --window 8 --time-column time", &dir),
        &["gap.csv", "line 6, column 3 (b)", "gaps or NaN"],
    );
    // Columns of a .npy; samples that are not one series.
    npy(&dir.join("series.npy"), &[200, 2]);
    npy(&dir.join("windows.npy"), &[20, 10, 2]);
    fails(
        &run("train --data series.npy --window 8 --time-column 1", &dir),
        &["--time-column", "a .npy holds values only"],
    );
    fails(
        &run("train --data windows.npy --window 8", &dir),
        &["--window cuts one long series"],
    );
    // A model trained on windows of 16 steps scores windows of 16.
    ok(&run(
        "train --data series.npy --window 16 --arch 32,4 --epochs 1 --loss mse \
         --save m.safetensors --quiet",
        &dir,
    ));
    let anomaly = |extra: &str| {
        run(
            &format!("anomaly --model m.safetensors --data series.npy {extra}"),
            &dir,
        )
    };
    fails(
        &anomaly("--window 8 --out o.csv"),
        &["--window 8", "windows of 16 time steps"],
    );
    fails(
        &anomaly("--out o.csv --plot o.jpg"),
        &["--out must end in .png"],
    );
    fails(
        &run(
            "anomaly --model m.safetensors --data s.csv --out o.csv --time-column time",
            &dir,
        ),
        &["s.csv", "holds 4 channels", "trained on 2 (ch1, ch2)"],
    );
    ok(&anomaly("--out o.csv --stride 3"));
    let table = rows(&dir.join("o.csv"));
    // 200 steps, windows of 16 every 3: the last step lies in none.
    assert_eq!(table.len(), 201);
    assert_eq!(table[200][1], "", "an unscored step has no score");
    // --plot and --point-score are for series: refused for a model of rows.
    ok(&run(
        "train --data windows.npy --arch 20,4 --epochs 1 --loss mse --save rows.safetensors \
         --quiet",
        &dir,
    ));
    fails(
        &run(
            "anomaly --model rows.safetensors --data windows.npy --out o.csv --force \
             --plot p.png",
            &dir,
        ),
        &["give --window W"],
    );
}
