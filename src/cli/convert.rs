//! `wgae convert`: a CSV file, a folder of images or an IDX file, converted
//! once to a `.npy` that training and inference then read from disk as
//! they need it (mapped), rather than parsing and holding it whole each
//! time. CSV becomes float32 rows, read line by line; images and IDX stay
//! unsigned bytes (a quarter of the size; wgae scales them by 1/255 when it
//! reads them, as it does the originals).

use std::io::IsTerminal;
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use wgae::data::files::{self, Format};
use wgae::data::idx;
use wgae::io;

use crate::cli::interrupt;

/// The npy header's length while its row count is unknown: room for any.
const HEADER_ROOM: usize = 128;

pub fn convert(
    given: &Path,
    format: Option<Format>,
    rgb: bool,
    out: &Path,
    force: bool,
    quiet: bool,
) -> wgae::Result<()> {
    crate::cli::out_format(out, &["npy"])?;
    io::check_writable(out, force)?;
    // A pipe is spooled to a temporary file first (format detection reads
    // the start twice).
    let held = crate::cli::data::DataPath::new(given, crate::cli::data::host_budget(None))?;
    convert_file(held.path(), format, rgb, out, force, quiet).map_err(|e| held.name_errors(e))
}

fn convert_file(
    data: &Path,
    format: Option<Format>,
    rgb: bool,
    out: &Path,
    force: bool,
    quiet: bool,
) -> wgae::Result<()> {
    // (`convert` checked the output before reading any data.)
    let format = match format {
        Some(f) => f,
        None => files::detect(data)?,
    };
    if rgb && format != Format::Images {
        return Err(wgae::Error::InvalidArgument(
            "--rgb reads a folder of images in colour; this input is not one".into(),
        ));
    }
    let bar = |len: Option<u64>, what: &str| {
        let (b, template) = match len {
            _ if quiet || !std::io::stderr().is_terminal() => {
                (ProgressBar::hidden(), String::new())
            }
            Some(n) => (
                ProgressBar::new(n),
                format!("{what} [{{bar:30}}] {{pos}}/{{len}}"),
            ),
            None => (
                ProgressBar::new_spinner(),
                format!("{{spinner}} {what}: {{pos}}"),
            ),
        };
        if let Ok(style) = ProgressStyle::with_template(&template) {
            b.set_style(style);
        }
        b
    };
    let mut file = io::AtomicFile::create(out, force)?;
    let (rows, shape, descr) = match format {
        Format::Npy => {
            return Err(wgae::Error::File {
                path: data.to_path_buf(),
                message: "is already a .npy file: train on it as it is".into(),
            })
        }
        Format::Csv => {
            let b = bar(None, "reading CSV rows");
            file.write(&io::npy_header_of("<f4", &[0, 0], HEADER_ROOM))?;
            let mut cols = 0;
            let rows = files::for_each_csv_row(data, |row| {
                cols = row.len();
                b.inc(1);
                interrupt::check(out)?;
                file.write(&io::f32_bytes(row))
            })?;
            b.finish_and_clear();
            (rows, vec![rows, cols], "<f4")
        }
        Format::Images => {
            let n = files::image_files(data)?.len();
            let b = bar(Some(n as u64), "decoding images");
            let mut side = 0;
            let mut first = true;
            let (rows, s) = files::for_each_image(data, None, rgb, |bytes| {
                if first {
                    // The side is the first image's.
                    side = ((bytes.len() / if rgb { 3 } else { 1 }) as f64).sqrt() as usize;
                    let shape = if rgb {
                        vec![n, side, side, 3]
                    } else {
                        vec![n, side, side]
                    };
                    file.write(&io::npy_header_of("|u1", &shape, HEADER_ROOM))?;
                    first = false;
                }
                b.inc(1);
                interrupt::check(out)?;
                file.write(bytes)
            })?;
            b.finish_and_clear();
            let shape = if rgb {
                vec![rows, s, s, 3]
            } else {
                vec![rows, s, s]
            };
            (rows, shape, "|u1")
        }
        Format::Idx => {
            let (dims, values) = idx::read_idx_u8(data)?;
            if dims.len() < 2 {
                return Err(wgae::Error::File {
                    path: data.to_path_buf(),
                    message: format!("an image file needs [n, h, w] dimensions, got {dims:?}"),
                });
            }
            file.write(&io::npy_header_of("|u1", &dims, HEADER_ROOM))?;
            file.write(&values)?;
            (dims[0], dims, "|u1")
        }
    };
    interrupt::check(out)?;
    // The header again, now that the shape is known (same length).
    file.write_at(0, &io::npy_header_of(descr, &shape, HEADER_ROOM))?;
    file.commit()?;
    println!(
        "wrote {rows} samples shaped {:?} ({}) to {}",
        &shape[1..],
        if descr == "<f4" { "float32" } else { "uint8" },
        out.display()
    );
    Ok(())
}
