//! `wgae impute`: the data with each missing entry (NaN, or an empty, NaN
//! or NA CSV field) replaced by the model's reconstruction of it, in the
//! data's own units (the model's scaling undone), and every observed entry
//! as it was; to .csv or .npy, block by block. The model must have been
//! trained with `--missing mask`.

use std::path::Path;

use wgae::data::MISSING;
use wgae::io;
use wgae::model::Missing;

use crate::cli::data::{self, DataPath};
use crate::cli::encode::TableWriter;
use crate::cli::{interrupt, open_gpu, out_format, ModelData};

pub fn impute(input: &ModelData, out: &Path, force: bool) -> wgae::Result<()> {
    out_format(out, &["npy", "csv"])?;
    io::check_writable(out, force)?;
    let ctx = open_gpu(input.gpu_memory)?;
    let (m, extras) = io::load_model_with_extras(&ctx, &input.model)?;
    let m = m.with_plan_options(crate::cli::plan_options()?);
    if m.config().missing != Missing::Mask {
        return Err(wgae::Error::InvalidArgument(format!(
            "{} was trained without --missing mask, so it never learned from rows with gaps; \
             train it with --missing mask to impute",
            input.model.display()
        )));
    }
    let budget = data::host_budget(None);
    let held = DataPath::new(&input.data, budget)?;
    let opened = data::open(held.path(), input.format, None, false, true, budget)
        .map_err(|e| held.name_errors(e))?;
    let cols = m.config().input_dim;
    if opened.cols() != cols {
        return Err(wgae::Error::File {
            path: input.data.clone(),
            message: format!(
                "{} features per sample, but the model expects {cols}",
                opened.cols()
            ),
        });
    }
    // The rows as stored (their observed entries are written back as they
    // are), and as the model reads them.
    let (raw, _) = opened.into_source()?;
    let scaled = match &extras.transform {
        Some((o, s)) => raw.with_transform_clipped(
            o.clone(),
            s.clone(),
            m.config().loss == wgae::LossKind::Bce,
        )?,
        None => raw.clone(),
    };
    let (offset, scale) = extras
        .transform
        .clone()
        .unwrap_or_else(|| (vec![0.0; cols], vec![1.0; cols]));
    let mut w = TableWriter::create(out, raw.rows(), cols, |j| format!("x{j}"), force)?;
    let (mut filled, mut rows_with_gaps, mut empty_rows) = (0usize, 0usize, 0usize);
    let mut x = Vec::new();
    m.reconstruct_source(&scaled, input.precision, |r0, rec| {
        interrupt::check(out)?;
        x.resize(rec.len(), 0.0);
        raw.read(r0, r0 + rec.len() / cols, &mut x)?;
        for (row, rrow) in x.chunks_mut(cols).zip(rec.chunks(cols)) {
            let gaps = row.iter().filter(|&&v| v == MISSING).count();
            filled += gaps;
            rows_with_gaps += usize::from(gaps > 0);
            empty_rows += usize::from(gaps == cols);
            for (j, (v, r)) in row.iter_mut().zip(rrow).enumerate() {
                if *v == MISSING {
                    *v = r * scale[j] + offset[j];
                }
            }
        }
        w.rows(&x, cols)
    })?;
    w.commit()?;
    println!(
        "filled {filled} missing entries in {rows_with_gaps} of {} rows with the model's \
         reconstruction; written to {}",
        raw.rows(),
        out.display()
    );
    if empty_rows > 0 {
        println!(
            "{empty_rows} rows had no observed entry: they were filled from the model's \
             reading of an all-missing row (the same values for each)"
        );
    }
    Ok(())
}
