//! `wgae reconstruct`: samples above their reconstructions, as a PNG grid;
//! or, to a `.npy` or `.csv` file, the reconstructions themselves, written
//! block by block.

use wgae::{io, report};

use crate::cli::encode::TableWriter;
use crate::cli::{interrupt, open_gpu, out_format, ModelData};

pub fn reconstruct(
    input: &ModelData,
    out: &std::path::Path,
    n: Option<usize>,
    force: bool,
) -> wgae::Result<()> {
    let kind = out_format(out, &["png", "npy", "csv"])?;
    if n == Some(0) {
        return Err(wgae::Error::InvalidArgument(
            "--n 0 would reconstruct nothing; give at least 1, or leave --n out".into(),
        ));
    }
    io::check_writable(out, force)?;
    let ctx = open_gpu(input.gpu_memory)?;
    let (m, data) = input.load(&ctx)?;
    let src = &data.source;
    let cols = src.cols();
    if kind != "png" {
        // The rows' reconstructions as values: all, or the first n.
        let src = match n {
            Some(n) => src.slice(0, n),
            None => src.clone(),
        };
        let mut w = TableWriter::create(out, src.rows(), cols, |j| format!("x{j}"), force)?;
        m.reconstruct_source(&src, input.precision, |_, rec| {
            interrupt::check(out)?;
            w.rows(rec, cols)
        })?;
        w.commit()?;
        println!(
            "wrote {} reconstructions of {cols} values to {}",
            src.rows(),
            out.display()
        );
        return Ok(());
    }
    let extras = &data.extras;
    let dims = src.dims();
    let pic = crate::cli::picture_of(&m, extras)
        .or_else(|| report::Picture::of(dims.as_deref(), cols))
        .ok_or_else(|| wgae::Error::File {
            path: input.data.clone(),
            message: format!(
                "{cols} features are not an image (no shape is known for them, and they are not \
                 a square), so there is no picture to draw; write the reconstructions to .npy or \
                 .csv, or use `wgae anomaly` for the errors"
            ),
        })?;
    let rows = n.unwrap_or(10).min(src.rows());
    let sample = src.head(rows)?;
    let rec = m.reconstruct_with(wgae::Rows::new(&sample, rows, cols)?, input.precision)?;
    interrupt::check(out)?;
    report::save_picture_pairs(out, &sample, &rec, pic, rows)?;
    println!(
        "wrote {rows} originals (top) and reconstructions (bottom) to {}",
        out.display()
    );
    Ok(())
}
