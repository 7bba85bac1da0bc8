//! Sizes on the command line: read from a flag (`512M`, `2G`) and written
//! as people read them.

/// A size flag: bytes, or a number with K, M, G or T.
pub fn parse_size(s: &str) -> Result<u64, String> {
    wgae::data::memory::parse_size(s)
}

/// A size as people read it: KiB below a MiB, MiB below 10 GiB, then GiB.
pub fn mib(bytes: u64) -> String {
    match bytes {
        b if b < 1 << 20 => format!("{} KiB", b.div_ceil(1 << 10)),
        b if b < 10 << 30 => format!("{} MiB", b >> 20),
        b => format!("{:.1} GiB", b as f64 / f64::from(1u32 << 30)),
    }
}
