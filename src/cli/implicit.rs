//! `wgae train --rows users --implicit`: implicit feedback (which items a
//! user interacted with, no rating value) by a denoising autoencoder in the
//! manner of CDAE (Wu et al., 2016): each user's row of 0/1 interactions,
//! corrupted by input dropout (`--noise mask:0.2` by default), is
//! reconstructed through a sigmoid output under BCE over every item. A
//! seeded share of the interactions is held out (`--test-split`), and after
//! every epoch each user's unseen items are ranked by the reconstruction:
//! recall@k and NDCG@k (`--k`, 10 by default) over the held-out ones.
//!
//! The interactions stay sparse (a `Csr` whose absent cells read as 0), on
//! the GPU or streamed, and the ranking reconstructs a block of users at a
//! time: memory grows with the interactions, not with users x items.

use wgae::data::ratings::{Ratings, RowsAre};
use wgae::data::sparse::Csr;
use wgae::data::Source;
use wgae::kernels::Noise;
use wgae::{Activation, Autoencoder, Control, LossKind, ModelConfig, Precision, Trainer};

use crate::cli::data::host_budget;
use crate::cli::ratings::split_both;
use crate::cli::train_config::{model_config, train_config, TrainArgs};
use crate::cli::{open_gpu_within, plan_options};

pub fn train(a: &TrainArgs) -> wgae::Result<()> {
    let Some(path) = &a.data else {
        return Err(wgae::Error::InvalidArgument(
            "--implicit reads interactions given with --data (user, item per line)".into(),
        ));
    };
    let k = a.k.unwrap_or(10);
    if k == 0 {
        return Err(wgae::Error::InvalidArgument(
            "--k 0 would rank nothing".into(),
        ));
    }
    let all = crate::cli::ratings::read_ratings(path, true, host_budget(a.host_memory))?;
    let share = a.test_split.unwrap_or(0.1);
    let (train, test) = split_both(
        &all,
        share,
        a.seed.unwrap_or(42),
        "--test-split",
        "hold out",
    )?;
    let (n, m) = (all.users.len(), all.items.len());
    let seen = train.csr(RowsAre::Users, 0.0)?;
    if !a.quiet {
        eprintln!(
            "{} interactions of {n} users with {m} items; {} for training, {} held out",
            all.len(),
            train.len(),
            test.len()
        );
    }
    let mut base = ModelConfig::dense(m, &[100])
        .act(Activation::Sigmoid)
        .code_act(Activation::Sigmoid);
    base.noise = Some(Noise::Mask(0.2));
    let file = wgae::train::ConfigFile {
        model: base,
        train: Default::default(),
    };
    let cfg = model_config(a, Some(&file), m, false)?;
    if cfg.loss != LossKind::Bce {
        return Err(wgae::Error::InvalidArgument(
            "--implicit reconstructs 0/1 interactions under BCE; leave --loss out".into(),
        ));
    }
    let mut t = train_config(a, None, true);
    t.validation_split = 0.0;
    t.early_stopping = None;
    let ctx = open_gpu_within(a.gpu_memory, a.host_memory)?;
    let model = Autoencoder::new(&ctx, &cfg, t.seed)?.with_plan_options(plan_options()?);
    let source = Source::sparse(seen.clone());
    let mut trainer = Trainer::from_source(model, &t, &source, None)?;
    trainer.set_interrupt(Some(crate::cli::interrupt::flag()));
    if !a.quiet {
        // What ranking every user's unseen items by popularity gives.
        let mut count = vec![0f32; m];
        for &i in &train.item {
            count[i as usize] += 1.0;
        }
        let held = held_by_user(&test, n);
        let (mut rs, mut gs) = (0.0, 0.0);
        for (u, items) in held.iter().enumerate().filter(|(_, h)| !h.is_empty()) {
            let (r, g) = rank_user(&count, seen.row(u).0, items, k);
            rs += r;
            gs += g;
        }
        let users = held.iter().filter(|h| !h.is_empty()).count().max(1) as f64;
        let (r, g) = (rs / users, gs / users);
        eprintln!("popularity baseline: recall@{k} {r:.4}  NDCG@{k} {g:.4}");
    }
    let mut last = (0.0, 0.0);
    while trainer.epochs_done() < t.epochs {
        let h = trainer.fit(|_| Control::Stop, |_| {})?;
        let Some(report) = h.epochs.last() else { break };
        last = ranking(trainer.model(), &source, &seen, &test, k)?;
        if !a.quiet {
            eprintln!(
                "epoch {:3}: loss {:.5}  recall@{k} {:.4}  NDCG@{k} {:.4}",
                report.epoch, report.train_loss, last.0, last.1
            );
        }
        if h.interrupted {
            return Err(wgae::Error::Interrupted(
                "training stopped; nothing was saved".into(),
            ));
        }
    }
    if let Some(p) = &a.save {
        let m = trainer.into_model();
        wgae::io::save_model(p, &m, &wgae::io::ModelExtras::default(), a.force)?;
    }
    println!(
        "held-out interactions ({}): recall@{k} {:.4}, NDCG@{k} {:.4}",
        test.len(),
        last.0,
        last.1
    );
    Ok(())
}

/// Each user's held-out items.
fn held_by_user(test: &Ratings, n: usize) -> Vec<Vec<usize>> {
    let mut held = vec![Vec::new(); n];
    for j in 0..test.len() {
        held[test.user[j] as usize].push(test.item[j] as usize);
    }
    held
}

/// Recall@k and NDCG@k over the users with held-out interactions: each
/// user's items not seen in training ranked by the reconstruction of the
/// user's row, a block of users at a time.
fn ranking(
    model: &Autoencoder,
    source: &Source,
    seen: &Csr,
    test: &Ratings,
    k: usize,
) -> wgae::Result<(f64, f64)> {
    let held = held_by_user(test, seen.rows);
    let m = seen.cols;
    let (mut recall, mut ndcg, mut users) = (0.0, 0.0, 0usize);
    model.reconstruct_source(source, Precision::F32, |u0, block| {
        for (i, row) in block.chunks_exact(m).enumerate() {
            let u = u0 + i;
            if !held[u].is_empty() {
                let (r, g) = rank_user(row, seen.row(u).0, &held[u], k);
                recall += r;
                ndcg += g;
                users += 1;
            }
        }
        Ok(())
    })?;
    let users = users.max(1) as f64;
    Ok((recall / users, ndcg / users))
}

/// Recall@k and NDCG@k of one user's `scores` (one per item) for the
/// held-out `items`, the items `seen` in training (sorted) left out.
fn rank_user(scores: &[f32], seen: &[u32], items: &[usize], k: usize) -> (f64, f64) {
    let mut order: Vec<usize> = (0..scores.len())
        .filter(|&i| seen.binary_search(&(i as u32)).is_err())
        .collect();
    order.sort_by(|&x, &y| scores[y].total_cmp(&scores[x]).then(x.cmp(&y)));
    let top = &order[..k.min(order.len())];
    let hits: Vec<usize> = (0..top.len())
        .filter(|&r| items.contains(&top[r]))
        .collect();
    let recall = hits.len() as f64 / items.len().min(k) as f64;
    let dcg: f64 = hits.iter().map(|&r| 1.0 / (r as f64 + 2.0).log2()).sum();
    let ideal: f64 = (0..items.len().min(k))
        .map(|r| 1.0 / (r as f64 + 2.0).log2())
        .sum();
    (recall, dcg / ideal)
}
