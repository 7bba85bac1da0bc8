//! `wgae encode`: the code of every sample, to .npy or .csv.

use wgae::io;

use crate::cli::{open_gpu, ModelData};

pub fn encode(input: &ModelData, out: &std::path::Path, force: bool) -> wgae::Result<()> {
    io::check_writable(out, force)?;
    // The output's kind is checked before any work (.NPY counts as .npy).
    let ext = out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if !matches!(ext.as_deref(), Some("npy" | "csv")) {
        return Err(wgae::Error::File {
            path: out.to_path_buf(),
            message: "the output must end in .npy or .csv".into(),
        });
    }
    let ctx = open_gpu()?;
    let (m, ds) = input.load(&ctx)?;
    let codes = m.encode_with(&ds, input.precision)?;
    let c = m.config().code_dim();
    let bytes = if ext.as_deref() == Some("npy") {
        io::npy_bytes(&codes, ds.rows, c)
    } else {
        let header: Vec<String> = (0..c).map(|j| format!("code{j}")).collect();
        io::csv_bytes(&header, &codes, c)
    };
    io::write_atomic(out, &bytes, force)?;
    println!(
        "wrote {} codes of {} values to {}",
        ds.rows,
        c,
        out.display()
    );
    Ok(())
}
