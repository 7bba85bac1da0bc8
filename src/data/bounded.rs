//! Reading a file whose size is not to be trusted: a device (`/dev/zero`,
//! `/dev/urandom`), a folder or a socket is refused, and a pipe (`<(cat
//! f)`, a FIFO) is read within a bound that follows from what the file is
//! (a config's cap, a model file's own header), never to its end.

use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};

fn file_err(path: &Path, message: impl Into<String>) -> Error {
    Error::File {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// An error unless `path` is a regular file or a pipe: a folder, a
/// character or block device, or a socket has no end to read to.
pub fn check_kind(path: &Path) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            file_err(path, "no such file or folder")
        } else {
            file_err(path, format!("cannot read: {e}"))
        }
    })?;
    if meta.is_dir() {
        return Err(file_err(path, "is a folder, not a file"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_char_device() || t.is_block_device() || t.is_socket() {
            return Err(file_err(
                path,
                "is a device or a socket, not a file (a pipe is fine)",
            ));
        }
    }
    Ok(())
}

/// Whether `path` is a pipe (a FIFO, `<(...)`, `/dev/stdin` on a pipe): a
/// stream that can be read once, from its start, and has no size.
pub fn is_pipe(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        std::fs::metadata(path).is_ok_and(|m| m.file_type().is_fifo())
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

/// The whole file, which must hold at most `cap` bytes (`what` names it
/// in the error): a config, a small table.
pub fn read_capped(path: &Path, cap: u64, what: &str) -> Result<Vec<u8>> {
    check_kind(path)?;
    let f = std::fs::File::open(path).map_err(|e| file_err(path, format!("cannot read: {e}")))?;
    let mut out = Vec::new();
    f.take(cap + 1)
        .read_to_end(&mut out)
        .map_err(|e| file_err(path, format!("cannot read: {e}")))?;
    if out.len() as u64 > cap {
        return Err(file_err(
            path,
            format!(
                "holds more than {} KiB, more than any {what}: is it the right file?",
                cap >> 10
            ),
        ));
    }
    Ok(out)
}

/// The most bytes a TOML config may hold.
pub const CONFIG_CAP: u64 = 1 << 20;

/// A text file of at most `cap` bytes, as UTF-8.
pub fn read_text_capped(path: &Path, cap: u64, what: &str) -> Result<String> {
    String::from_utf8(read_capped(path, cap, what)?)
        .map_err(|_| file_err(path, format!("is not text (not UTF-8), so not a {what}")))
}

/// The largest header safetensors itself accepts.
const SAFETENSORS_HEADER_CAP: u64 = 100_000_000;

/// A safetensors file read header first: the 8-byte header length, the
/// JSON header, then exactly the data bytes its tensors' offsets cover
/// (within what this machine can hold), then the end of the file. A
/// device is refused; a pipe, or an endless stream, is read no further
/// than the header says.
pub fn read_safetensors(path: &Path) -> Result<Vec<u8>> {
    check_kind(path)?;
    let mut f =
        std::fs::File::open(path).map_err(|e| file_err(path, format!("cannot read: {e}")))?;
    let not_st = |why: String| {
        file_err(
            path,
            format!("not a safetensors file, or truncated or corrupt ({why})"),
        )
    };
    let mut len8 = [0u8; 8];
    f.read_exact(&mut len8)
        .map_err(|_| not_st("shorter than the 8-byte header length".into()))?;
    let n = u64::from_le_bytes(len8);
    if n > SAFETENSORS_HEADER_CAP {
        return Err(not_st(format!(
            "its first 8 bytes claim a {n}-byte header, beyond safetensors' 100 MB"
        )));
    }
    let header = read_exact_bytes(path, &mut f, n as usize, "the header")?;
    let json: std::collections::HashMap<String, serde_json::Value> =
        serde_json::from_slice(&header)
            .map_err(|e| not_st(format!("the header is not JSON: {e}")))?;
    let data_len = json
        .iter()
        .filter(|(k, _)| k.as_str() != "__metadata__")
        .filter_map(|(_, v)| v.get("data_offsets")?.get(1)?.as_u64())
        .max()
        .unwrap_or(0);
    crate::data::memory::check_host(
        &format!("{}'s tensors", path.display()),
        u128::from(data_len),
        1,
    )?;
    let data = read_exact_bytes(path, &mut f, data_len as usize, "the tensors")?;
    expect_end(path, &mut f, &format!("{data_len} bytes of tensors"))?;
    let mut bytes = Vec::with_capacity(8 + header.len() + data.len());
    bytes.extend_from_slice(&len8);
    bytes.extend_from_slice(&header);
    bytes.extend_from_slice(&data);
    Ok(bytes)
}

/// Exactly `n` bytes of `r`, or an error saying the file is truncated. The
/// buffer grows with what is read (from 64 MiB up), so a stream that ends
/// early (a small compressed file whose header claims gigabytes) never
/// costs what the header claims.
pub fn read_exact_bytes(path: &Path, r: &mut dyn Read, n: usize, what: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    out.try_reserve_exact(n.min(64 << 20))
        .map_err(|_| file_err(path, format!("{what}: {n} bytes cannot be allocated")))?;
    r.take(n as u64)
        .read_to_end(&mut out)
        .map_err(|e| file_err(path, format!("cannot read ({what}): {e}")))?;
    if out.len() < n {
        return Err(file_err(
            path,
            format!(
                "{what}: {n} bytes expected, the file ends after {}: truncated",
                out.len()
            ),
        ));
    }
    Ok(out)
}

/// An error unless `r` is at its end: a file longer than its header says
/// is corrupt.
pub fn expect_end(path: &Path, r: &mut dyn Read, claimed: &str) -> Result<()> {
    let mut one = [0u8; 1];
    match r.read(&mut one) {
        Ok(0) => Ok(()),
        Ok(_) => Err(file_err(
            path,
            format!("the file holds more than its header claims ({claimed}): corrupt"),
        )),
        Err(e) => Err(file_err(path, format!("cannot read: {e}"))),
    }
}
