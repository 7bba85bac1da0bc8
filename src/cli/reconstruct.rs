//! `wgae reconstruct`: samples above their reconstructions, as a PNG grid;
//! or, to a `.npy` or `.csv` file, the reconstructions themselves.

use wgae::{io, report};

use crate::cli::{open_gpu, ModelData};

pub fn reconstruct(
    input: &ModelData,
    out: &std::path::Path,
    n: Option<usize>,
    force: bool,
) -> wgae::Result<()> {
    io::check_writable(out, force)?;
    let ctx = open_gpu()?;
    let (m, ds) = input.load(&ctx)?;
    let ext = out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if matches!(ext.as_deref(), Some("npy" | "csv")) {
        // The rows' reconstructions as values: all, or the first n.
        let ds = match n {
            Some(n) => ds.take(n.max(1)),
            None => ds,
        };
        let rec = m.reconstruct_with(&ds, input.precision)?;
        let bytes = if ext.as_deref() == Some("npy") {
            io::npy_bytes(&rec, ds.rows, ds.cols)
        } else {
            let header: Vec<String> = (0..ds.cols).map(|j| format!("x{j}")).collect();
            io::csv_bytes(&header, &rec, ds.cols)
        };
        io::write_atomic(out, &bytes, force)?;
        println!(
            "wrote {} reconstructions of {} values to {}",
            ds.rows,
            ds.cols,
            out.display()
        );
        return Ok(());
    }
    let side = report::square_side(ds.cols).ok_or_else(|| wgae::Error::File {
        path: input.data.clone(),
        message: format!(
            "{} features are not a square image, so there is no picture to draw; use `wgae anomaly` for the errors",
            ds.cols
        ),
    })?;
    let sample = ds.take(n.unwrap_or(10).max(1));
    let rec = m.reconstruct_with(&sample, input.precision)?;
    report::save_reconstructions(out, &sample.data, &rec, side, sample.rows)?;
    println!(
        "wrote {} originals (top) and reconstructions (bottom) to {}",
        sample.rows,
        out.display()
    );
    Ok(())
}
