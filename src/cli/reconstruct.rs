//! `wgae reconstruct`: samples above their reconstructions, as a PNG grid;
//! or, to a `.npy` or `.csv` file, the reconstructions themselves, written
//! block by block.

use wgae::{io, report};

use crate::cli::encode::{table_kind, TableWriter};
use crate::cli::{open_gpu, ModelData};

pub fn reconstruct(
    input: &ModelData,
    out: &std::path::Path,
    n: Option<usize>,
    force: bool,
) -> wgae::Result<()> {
    io::check_writable(out, force)?;
    let ctx = open_gpu(input.gpu_memory)?;
    let (m, data) = input.load(&ctx)?;
    let src = &data.source;
    let cols = src.cols();
    if table_kind(out).is_some() {
        // The rows' reconstructions as values: all, or the first n.
        let src = match n {
            Some(n) => src.slice(0, n.max(1)),
            None => src.clone(),
        };
        let mut w = TableWriter::create(out, src.rows(), cols, |j| format!("x{j}"), force)?;
        m.reconstruct_source(&src, input.precision, |_, rec| w.rows(rec, cols))?;
        w.commit()?;
        println!(
            "wrote {} reconstructions of {cols} values to {}",
            src.rows(),
            out.display()
        );
        return Ok(());
    }
    let extras = io::load_extras(&input.model)?;
    let dims = src.dims();
    let pic = crate::cli::picture_of(&m, &extras)
        .or_else(|| report::Picture::of(dims.as_deref(), cols))
        .ok_or_else(|| wgae::Error::File {
            path: input.data.clone(),
            message: format!(
                "{cols} features are not an image (no shape is known for them, and they are not \
                 a square), so there is no picture to draw; write the reconstructions to .npy or \
                 .csv, or use `wgae anomaly` for the errors"
            ),
        })?;
    let rows = n.unwrap_or(10).max(1).min(src.rows());
    let sample = src.head(rows)?;
    let rec = m.reconstruct_with(wgae::Rows::new(&sample, rows, cols)?, input.precision)?;
    report::save_picture_pairs(out, &sample, &rec, pic, rows)?;
    println!(
        "wrote {rows} originals (top) and reconstructions (bottom) to {}",
        out.display()
    );
    Ok(())
}
