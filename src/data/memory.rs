//! What the host can hold: every size a user gives (rows to generate,
//! samples to draw, a benchmark's matrices) is checked here before anything
//! is allocated, so that a typo in a flag is an error naming the flag, not
//! an abort of the whole process.

use crate::error::{Error, Result};

/// Bytes the kernel says can be allocated without swapping
/// (`MemAvailable` in /proc/meminfo); `None` where that is unknown.
pub fn available_host_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// A size in bytes: a number with an optional unit, K, M, G or T (powers of
/// 1024; `KiB`, `MB` and `GB` read the same) — `512M`, `1.5G`, `1048576`.
pub fn parse_size(s: &str) -> std::result::Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let unit = unit.trim().to_ascii_lowercase();
    let mult: u64 = match unit.trim_end_matches("ib").trim_end_matches('b') {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        _ => {
            return Err(format!(
                "'{s}' is not a size: give bytes, or a number with K, M, G or T"
            ))
        }
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a size: give bytes, or a number with K, M, G or T"))?;
    let bytes = v * mult as f64;
    if !(1.0..1.8e19).contains(&bytes) {
        return Err(format!("'{s}' is not a size of at least one byte"));
    }
    Ok(bytes as u64)
}

/// An error naming `what` unless `count` values of `elem` bytes each fit in
/// memory (in the address space, and in the host's available memory where
/// it is known).
pub fn check_host(what: &str, count: u128, elem: u128) -> Result<u64> {
    let bytes = count
        .checked_mul(elem)
        .filter(|&b| b <= isize::MAX as u128)
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "{what}: {count} values of {elem} bytes cannot be addressed; give a smaller number"
            ))
        })? as u64;
    if let Some(avail) = available_host_bytes() {
        if bytes > avail {
            return Err(Error::InvalidArgument(format!(
                "{what}: {count} values need {} MiB of memory, but this machine has {} MiB \
                 available; give a smaller number",
                bytes.div_ceil(1 << 20),
                avail >> 20
            )));
        }
    }
    Ok(bytes)
}
