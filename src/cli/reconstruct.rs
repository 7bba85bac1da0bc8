//! `wgae reconstruct`: samples above their reconstructions, as a PNG grid.

use wgae::{io, report};

use crate::cli::{open_gpu, ModelData};

pub fn reconstruct(
    input: &ModelData,
    out: &std::path::Path,
    n: usize,
    force: bool,
) -> wgae::Result<()> {
    io::check_writable(out, force)?;
    let ctx = open_gpu()?;
    let (m, ds) = input.load(&ctx)?;
    let side = report::square_side(ds.cols).ok_or_else(|| wgae::Error::File {
        path: input.data.clone(),
        message: format!(
            "{} features are not a square image, so there is no picture to draw; use `wgae anomaly` for the errors",
            ds.cols
        ),
    })?;
    let sample = ds.take(n.max(1));
    let rec = m.reconstruct_with(&sample, input.precision)?;
    report::save_reconstructions(out, &sample.data, &rec, side, sample.rows)?;
    println!(
        "wrote {} originals (top) and reconstructions (bottom) to {}",
        sample.rows,
        out.display()
    );
    Ok(())
}
