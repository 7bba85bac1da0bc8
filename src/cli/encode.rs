//! `wgae encode`: the code of every sample, to .npy or .csv, written block
//! by block as the input is read, so any size runs with bounded memory.

use wgae::io;

use crate::cli::{interrupt, open_gpu, out_format, ModelData};

/// Rows of `cols` values written to a .npy or .csv file as they come: the
/// header first (a .npy's holds the row count, known in advance), then
/// each block, through a temporary file renamed into place at the end.
pub struct TableWriter {
    file: io::AtomicFile,
    npy: bool,
}

impl TableWriter {
    pub fn create(
        out: &std::path::Path,
        rows: usize,
        cols: usize,
        names: impl Fn(usize) -> String,
        force: bool,
    ) -> wgae::Result<Self> {
        let npy = out_format(out, &["npy", "csv"])? == "npy";
        let mut file = io::AtomicFile::create(out, force)?;
        if npy {
            file.write(&io::npy_header(rows, cols))?;
        } else {
            let header: Vec<String> = (0..cols).map(names).collect();
            file.write(format!("{}\n", header.join(",")).as_bytes())?;
        }
        Ok(Self { file, npy })
    }

    pub fn rows(&mut self, values: &[f32], cols: usize) -> wgae::Result<()> {
        if self.npy {
            return self.file.write(&io::f32_bytes(values));
        }
        let mut s = String::new();
        for row in values.chunks(cols) {
            let cells: Vec<String> = row.iter().map(|v| v.to_string()).collect();
            s.push_str(&cells.join(","));
            s.push('\n');
        }
        self.file.write(s.as_bytes())
    }

    pub fn commit(self) -> wgae::Result<()> {
        self.file.commit()
    }
}

pub fn encode(input: &ModelData, out: &std::path::Path, force: bool) -> wgae::Result<()> {
    out_format(out, &["npy", "csv"])?;
    io::check_writable(out, force)?;
    let ctx = open_gpu(input.gpu_memory)?;
    let (m, data) = input.load(&ctx)?;
    let c = m.config().code_dim();
    let rows = data.source.rows();
    let mut w = TableWriter::create(out, rows, c, |j| format!("code{j}"), force)?;
    m.encode_source(&data.source, input.precision, |_, codes| {
        interrupt::check(out)?;
        w.rows(codes, c)
    })?;
    w.commit()?;
    println!("wrote {rows} codes of {c} values to {}", out.display());
    Ok(())
}
