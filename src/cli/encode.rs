//! `wgae encode`: the code of every sample, to .npy or .csv.

use wgae::io;

use crate::cli::{open_gpu, ModelData};

pub fn encode(input: &ModelData, out: &std::path::Path, force: bool) -> wgae::Result<()> {
    io::check_writable(out, force)?;
    let ctx = open_gpu()?;
    let (m, ds) = input.load(&ctx)?;
    let codes = m.encode_with(&ds, input.precision)?;
    let c = m.config().code_dim();
    let bytes = match out.extension().and_then(|e| e.to_str()) {
        Some("npy") => io::npy_bytes(&codes, ds.rows, c),
        Some("csv") => {
            let header: Vec<String> = (0..c).map(|j| format!("code{j}")).collect();
            io::csv_bytes(&header, &codes, c)
        }
        _ => {
            return Err(wgae::Error::File {
                path: out.to_path_buf(),
                message: "the output must end in .npy or .csv".into(),
            });
        }
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
