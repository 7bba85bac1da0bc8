//! `wgae recommend`: the top items for a user from an AutoRec model file
//! (`wgae train --rows ... --save`): the ratings in `--data` (in the model's
//! ID space; others are left out and counted), kept sparse, are
//! reconstructed where they hold the user's predictions (the user's row, or
//! every item row's cell for the user), and the items the user has not
//! rated there are ranked by predicted rating.

use std::path::Path;

use wgae::data::ratings::{Ratings, RowsAre};
use wgae::data::{Source, MISSING};
use wgae::io;

use crate::cli::data::host_budget;
use crate::cli::{open_gpu, plan_options};

pub fn recommend(model: &Path, data: &Path, user: &str, k: usize) -> wgae::Result<()> {
    if k == 0 {
        return Err(wgae::Error::InvalidArgument(
            "--k 0 would list nothing; give at least 1".into(),
        ));
    }
    let ctx = open_gpu(None)?;
    let (m, extras) = io::load_model_with_extras(&ctx, model)?;
    let m = m.with_plan_options(plan_options()?);
    let Some(info) = extras.ratings else {
        return Err(wgae::Error::File {
            path: model.to_path_buf(),
            message: "is not an AutoRec model (it keeps no users or items): train one with \
                      wgae train --rows items|users --save"
                .into(),
        });
    };
    let Some(u) = info.users.iter().position(|n| n == user) else {
        return Err(wgae::Error::InvalidArgument(format!(
            "--user {user} is not among the model's {} users",
            info.users.len()
        )));
    };
    let rows = if info.rows == "items" {
        RowsAre::Items
    } else {
        RowsAre::Users
    };
    let base = Ratings {
        users: info.users.clone(),
        items: info.items.clone(),
        ..Ratings::default()
    };
    let loaded = crate::cli::ratings::read_ratings(data, false, host_budget(None))?;
    let (known, dropped) = base.reindexed(&loaded);
    if dropped > 0 {
        eprintln!(
            "{}: {dropped} ratings of users or items the model does not know are left out",
            data.display()
        );
    }
    let source = Source::sparse(known.csr(rows, MISSING)?);
    let cells: Vec<(usize, usize)> = (0..info.items.len())
        .map(|i| match rows {
            RowsAre::Items => (i, u),
            RowsAre::Users => (u, i),
        })
        .collect();
    let rec = m.reconstruct_cells(&source, &cells)?;
    let mut rated = vec![false; info.items.len()];
    for k in 0..known.len() {
        if known.user[k] as usize == u {
            rated[known.item[k] as usize] = true;
        }
    }
    let mut ranked: Vec<(usize, f32)> = (0..info.items.len())
        .filter(|&i| !rated[i])
        .map(|i| (i, rec[i].clamp(info.min, info.max)))
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    println!("item,predicted");
    for (i, v) in ranked.iter().take(k) {
        println!("{},{v:.4}", info.items[*i]);
    }
    eprintln!(
        "the {} items user {user} has not rated in {} with the highest predicted ratings \
         (of {} unrated)",
        k.min(ranked.len()),
        data.display(),
        ranked.len()
    );
    Ok(())
}
