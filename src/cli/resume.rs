//! `wgae train --resume`: what a checkpoint keeps of the data it was
//! trained on, and what a resumed run may change. Another model is refused;
//! other data or settings are warned of, since the run then no longer
//! matches the uninterrupted one.

use std::path::Path;

use wgae::train::TrainConfig;
use wgae::ModelConfig;

/// The settings of `now` that differ from the checkpoint's `then` and
/// change what the resumed epochs compute (the epoch count, logging and the
/// divergence policy do not).
pub fn resume_changes(then: &TrainConfig, now: &TrainConfig) -> Vec<&'static str> {
    let mut v = Vec::new();
    macro_rules! cmp {
        ($($field:ident => $name:literal),*) => { $( if then.$field != now.$field { v.push($name); } )* };
    }
    cmp!(optimizer => "optimizer", lr => "learning rate", batch_size => "batch size",
         validation_split => "validation split", seed => "seed", schedule => "schedule",
         weight_decay => "weight decay", clip_norm => "clipping norm", warmup_steps => "warm-up",
         beta1 => "beta1", beta2 => "beta2", eps => "eps", step_epochs => "step_epochs",
         gamma => "gamma", min_lr => "min_lr", early_stopping => "early stopping",
         min_delta => "min_delta");
    v
}

/// Refuses to resume `ck_path` (whose model is `ours`) as `theirs`, which
/// `what` (a config, flags) describes, naming the settings that differ.
pub fn refuse_other_model(
    ours: &ModelConfig,
    theirs: &ModelConfig,
    ck_path: &Path,
    what: &str,
) -> wgae::Result<()> {
    if ours == theirs {
        return Ok(());
    }
    let (a, b) = (
        serde_json::to_value(ours).unwrap_or_default(),
        serde_json::to_value(theirs).unwrap_or_default(),
    );
    let keys: Vec<String> = match (a.as_object(), b.as_object()) {
        (Some(a), Some(b)) => a
            .keys()
            .chain(b.keys())
            .filter(|k| a.get(*k) != b.get(*k))
            .cloned()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect(),
        _ => Vec::new(),
    };
    Err(wgae::Error::InvalidArgument(format!(
        "{what} would change the model of {} (in: {}), which --resume continues as it is; \
         drop them to continue it, or train the new model without --resume",
        ck_path.display(),
        if keys.is_empty() {
            "its layers".to_string()
        } else {
            keys.join(", ")
        }
    )))
}
/// What a checkpoint keeps of the data it was trained on: the file (or
/// the built-in digits), its rows after `--limit`, and the limit.
pub fn data_notes(
    data: Option<&Path>,
    limit: Option<usize>,
    rows: usize,
) -> std::collections::BTreeMap<String, String> {
    let source = match data {
        Some(p) if wgae::data::bounded::is_pipe(p) => "a pipe".to_string(),
        Some(p) => std::fs::canonicalize(p)
            .unwrap_or_else(|_| p.to_path_buf())
            .display()
            .to_string(),
        None => "synthetic".to_string(),
    };
    [
        ("data".to_string(), source),
        ("rows".to_string(), rows.to_string()),
        (
            "limit".to_string(),
            limit.map_or("none".into(), |l| l.to_string()),
        ),
    ]
    .into_iter()
    .collect()
}

/// Compares the data of a resumed run with the checkpoint's: training on
/// the built-in digits instead of a file is refused; other data, another
/// row count or another `--limit` are warned of.
pub fn check_resumed_data(
    then: &std::collections::BTreeMap<String, String>,
    now: &std::collections::BTreeMap<String, String>,
    ck_path: &Path,
) -> wgae::Result<()> {
    let get = |m: &std::collections::BTreeMap<String, String>, k: &str| m.get(k).cloned();
    let (Some(was), Some(is)) = (get(then, "data"), get(now, "data")) else {
        return Ok(()); // a checkpoint from before wgae kept its data
    };
    if is == "synthetic" && was != "synthetic" {
        return Err(wgae::Error::InvalidArgument(format!(
            "{} was trained on {was}: give --data {was} to resume it (without --data, wgae \
             trains on built-in synthetic digits)",
            ck_path.display()
        )));
    }
    let mut changed = Vec::new();
    if was != is && was != "a pipe" && is != "a pipe" {
        changed.push(format!("data ({is}, not {was})"));
    }
    if get(then, "limit") != get(now, "limit") {
        changed.push(format!(
            "--limit ({}, not {})",
            get(now, "limit").unwrap_or_default(),
            get(then, "limit").unwrap_or_default()
        ));
    }
    if get(then, "rows") != get(now, "rows") {
        changed.push(format!(
            "number of rows ({}, not {})",
            get(now, "rows").unwrap_or_default(),
            get(then, "rows").unwrap_or_default()
        ));
    }
    if !changed.is_empty() {
        eprintln!(
            "warning: --resume with a changed {}: training goes on, but no longer exactly as \
             the uninterrupted run would",
            changed.join(", ")
        );
    }
    Ok(())
}
