//! shaders/gather.wgsl: a batch gathered from the resident dataset by the
//! epoch's row order, one or four columns per invocation.

use bytemuck::{Pod, Zeroable};

use crate::data::windows::{WindowLayout, Windows};
use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GpuTensor, Kernel, Shader, Step};
use crate::kernels::common::COMMON;
use crate::kernels::elementwise::ew_groups;
use crate::kernels::shape::{need, product, u32_dim};

/// shaders/gather.wgsl.
pub static SHADER: Shader = Shader {
    name: "gather",
    prelude: COMMON,
    body: include_str!("../../shaders/gather.wgsl"),
    needs_f16: false,
    needs_subgroups: false,
};

/// The bindings of shaders/gather.wgsl, as the shader names them (binding 0 is
/// the uniform parameters).
pub mod binding {
    pub const IDX: u32 = 1;
    pub const SRC: u32 = 2;
    pub const OUT: u32 = 3;
    pub const SRC4: u32 = 4;
    pub const OUT4: u32 = 5;
    /// chunk0..chunk3: `CHUNK0 + k`.
    pub const CHUNK0: u32 = 6;
    /// bytes0..bytes3: `BYTES0 + k`.
    pub const BYTES0: u32 = 10;
    pub const LUT: u32 = 14;
}

/// The most buffers a resident dataset may span (gather_chunks' bindings).
pub const MAX_CHUNKS: usize = 4;

/// The bindings by WGSL name, for the test that reads them back from the shader.
pub const BINDINGS: &[(&str, u32)] = &[
    ("idx", 1),
    ("src", 2),
    ("out", 3),
    ("src4", 4),
    ("out4", 5),
    ("chunk0", 6),
    ("chunk1", 7),
    ("chunk2", 8),
    ("chunk3", 9),
    ("bytes0", 10),
    ("bytes1", 11),
    ("bytes2", 12),
    ("bytes3", 13),
    ("lut", 14),
];

/// Every kernel of the file.
pub fn kernels() -> Vec<Kernel> {
    vec![
        Kernel::new(&SHADER, "gather_rows"),
        Kernel::new(&SHADER, "gather_rows4"),
        Kernel::new(&SHADER, "gather_chunks"),
        Kernel::new(&SHADER, "gather_u8"),
        Kernel::new(&SHADER, "gather_windows"),
    ]
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct GatherParams {
    rows: u32,
    cols: u32,
    idx_offset: u32,
    src_rows: u32,
    chunk_rows: u32,
    lut_cols: u32,
    stride: u32,
    channels: u32,
    win_len: u32,
    channels_first: u32,
    _pad: [u32; 2],
}

/// `out[r, :] = src[idx[idx_offset + r], :]` for r in 0..rows; src is
/// (src_rows, cols).
#[allow(clippy::too_many_arguments)]
pub fn gather_rows(
    ctx: &GpuContext,
    rows: usize,
    cols: usize,
    idx_offset: usize,
    src_rows: usize,
    idx: &GpuTensor,
    src: &GpuTensor,
    out: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "gather_rows";
    let n = product(OP, rows, cols)?;
    need(OP, "idx", idx, idx_offset + rows)?;
    need(OP, "src", src, product(OP, src_rows, cols)?)?;
    need(OP, "out", out, n)?;
    let p = GatherParams {
        rows: u32_dim(OP, "rows", rows)?,
        cols: u32_dim(OP, "cols", cols)?,
        idx_offset: idx_offset as u32,
        src_rows: u32_dim(OP, "src_rows", src_rows)?,
        chunk_rows: 0,
        lut_cols: 0,
        ..Zeroable::zeroed()
    };
    if cols.is_multiple_of(4) {
        // Four columns per invocation (the bindings start 256-byte aligned).
        return ctx.step(
            &Kernel::new(&SHADER, "gather_rows4"),
            format!("{OP}({rows}x{cols},vec4)"),
            &p,
            &[
                (binding::IDX, idx),
                (binding::SRC4, src),
                (binding::OUT4, out),
            ],
            ew_groups(ctx, OP, n / 4)?,
        );
    }
    ctx.step(
        &Kernel::new(&SHADER, "gather_rows"),
        format!("{OP}({rows}x{cols})"),
        &p,
        &[
            (binding::IDX, idx),
            (binding::SRC, src),
            (binding::OUT, out),
        ],
        ew_groups(ctx, OP, n)?,
    )
}

/// An error unless 1 to `MAX_CHUNKS` chunks of `chunk_rows` rows hold
/// exactly `src_rows` rows (the last may hold fewer).
fn check_chunking(
    op: &'static str,
    chunks: usize,
    chunk_rows: usize,
    src_rows: usize,
) -> Result<()> {
    if chunks == 0
        || chunks > MAX_CHUNKS
        || chunk_rows == 0
        || src_rows.div_ceil(chunk_rows) != chunks
    {
        return Err(Error::shape(
            op,
            format!(
                "{chunks} chunks of {chunk_rows} rows cannot hold {src_rows} rows (1 to \
                 {MAX_CHUNKS} chunks)"
            ),
        ));
    }
    Ok(())
}

/// `bindings` and the `MAX_CHUNKS` chunk bindings from `first` on: the
/// chunks, and the first again for those unused.
fn with_chunks<'a>(
    mut bindings: Vec<(u32, &'a GpuTensor)>,
    first: u32,
    chunks: &'a [GpuTensor],
) -> Vec<(u32, &'a GpuTensor)> {
    for k in 0..MAX_CHUNKS {
        bindings.push((first + k as u32, chunks.get(k).unwrap_or(&chunks[0])));
    }
    bindings
}

/// [`gather_rows`] from a dataset held as `chunks`: buffers of `chunk_rows`
/// whole rows each (the last may hold fewer), `src_rows` in all, for a
/// dataset larger than one storage binding. One chunk is [`gather_rows`].
#[allow(clippy::too_many_arguments)]
pub fn gather_chunks(
    ctx: &GpuContext,
    rows: usize,
    cols: usize,
    idx_offset: usize,
    src_rows: usize,
    chunk_rows: usize,
    idx: &GpuTensor,
    chunks: &[GpuTensor],
    out: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "gather_chunks";
    if let [one] = chunks {
        return gather_rows(ctx, rows, cols, idx_offset, src_rows, idx, one, out);
    }
    check_chunking(OP, chunks.len(), chunk_rows, src_rows)?;
    let n = product(OP, rows, cols)?;
    need(OP, "idx", idx, idx_offset + rows)?;
    need(OP, "out", out, n)?;
    for (k, c) in chunks.iter().enumerate() {
        let held = chunk_rows.min(src_rows - k * chunk_rows);
        need(OP, "chunk", c, product(OP, held, cols)?)?;
    }
    let p = GatherParams {
        rows: u32_dim(OP, "rows", rows)?,
        cols: u32_dim(OP, "cols", cols)?,
        idx_offset: u32::try_from(idx_offset).map_err(|_| Error::shape(OP, "index offset"))?,
        src_rows: u32_dim(OP, "src_rows", src_rows)?,
        chunk_rows: u32_dim(OP, "chunk_rows", chunk_rows)?,
        lut_cols: 0,
        ..Zeroable::zeroed()
    };
    let bindings = with_chunks(
        vec![(binding::IDX, idx), (binding::OUT, out)],
        binding::CHUNK0,
        chunks,
    );
    ctx.step(
        &Kernel::new(&SHADER, OP),
        format!("{OP}({rows}x{cols}, {} chunks)", chunks.len()),
        &p,
        &bindings,
        ew_groups(ctx, OP, n)?,
    )
}

/// Words holding `bytes` bytes, four to a word.
pub fn u8_words(bytes: usize) -> usize {
    bytes.div_ceil(4)
}

/// [`gather_chunks`] from a dataset stored as unsigned bytes (four to a
/// little-endian u32 word, each chunk's bytes from its first word), each
/// byte b becoming `lut[b]` (one table of 256 for every column), or
/// `lut[c * 256 + b]` with `per_column` (256 per column).
#[allow(clippy::too_many_arguments)]
pub fn gather_u8(
    ctx: &GpuContext,
    rows: usize,
    cols: usize,
    idx_offset: usize,
    src_rows: usize,
    chunk_rows: usize,
    idx: &GpuTensor,
    chunks: &[GpuTensor],
    lut: &GpuTensor,
    per_column: bool,
    out: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "gather_u8";
    check_chunking(OP, chunks.len(), chunk_rows, src_rows)?;
    let n = product(OP, rows, cols)?;
    need(OP, "idx", idx, idx_offset + rows)?;
    need(OP, "out", out, n)?;
    need(OP, "lut", lut, if per_column { 256 * cols } else { 256 })?;
    for (k, c) in chunks.iter().enumerate() {
        let held = chunk_rows.min(src_rows - k * chunk_rows);
        need(OP, "chunk", c, u8_words(product(OP, held, cols)?))?;
    }
    let p = GatherParams {
        rows: u32_dim(OP, "rows", rows)?,
        cols: u32_dim(OP, "cols", cols)?,
        idx_offset: u32::try_from(idx_offset).map_err(|_| Error::shape(OP, "index offset"))?,
        src_rows: u32_dim(OP, "src_rows", src_rows)?,
        chunk_rows: u32_dim(OP, "chunk_rows", chunk_rows)?,
        lut_cols: if per_column {
            u32_dim(OP, "cols", cols)?
        } else {
            0
        },
        ..Zeroable::zeroed()
    };
    let bindings = with_chunks(
        vec![
            (binding::IDX, idx),
            (binding::OUT, out),
            (binding::LUT, lut),
        ],
        binding::BYTES0,
        chunks,
    );
    ctx.step(
        &Kernel::new(&SHADER, OP),
        format!("{OP}({rows}x{cols}, {} chunks)", chunks.len()),
        &p,
        &bindings,
        ew_groups(ctx, OP, n)?,
    )
}

/// Windows `w` cut from one series held as `chunks`, into `out` (`rows`
/// windows of `w.cols()` values in `w`'s layout): window `idx[idx_offset +
/// r]` of `src_rows`. Chunk k holds the time steps of windows `k *
/// chunk_rows ..` (`w.span` of them, `w.channels` values each), so
/// neighbouring chunks share the steps their edge windows overlap.
#[allow(clippy::too_many_arguments)]
pub fn gather_windows(
    ctx: &GpuContext,
    rows: usize,
    w: &Windows,
    idx_offset: usize,
    src_rows: usize,
    chunk_rows: usize,
    idx: &GpuTensor,
    chunks: &[GpuTensor],
    out: &GpuTensor,
) -> Result<Step> {
    const OP: &str = "gather_windows";
    check_chunking(OP, chunks.len(), chunk_rows, src_rows)?;
    let cols = w.cols();
    let n = product(OP, rows, cols)?;
    need(OP, "idx", idx, idx_offset + rows)?;
    need(OP, "out", out, n)?;
    for (k, c) in chunks.iter().enumerate() {
        let held = chunk_rows.min(src_rows - k * chunk_rows);
        need(OP, "chunk", c, product(OP, w.span(held), w.channels)?)?;
    }
    let p = GatherParams {
        rows: u32_dim(OP, "rows", rows)?,
        cols: u32_dim(OP, "cols", cols)?,
        idx_offset: u32::try_from(idx_offset).map_err(|_| Error::shape(OP, "index offset"))?,
        src_rows: u32_dim(OP, "src_rows", src_rows)?,
        chunk_rows: u32_dim(OP, "chunk_rows", chunk_rows)?,
        lut_cols: 0,
        stride: u32_dim(OP, "stride", w.stride)?,
        channels: u32_dim(OP, "channels", w.channels)?,
        win_len: u32_dim(OP, "window", w.len)?,
        channels_first: u32::from(w.layout == WindowLayout::Channels),
        _pad: [0; 2],
    };
    let bindings = with_chunks(
        vec![(binding::IDX, idx), (binding::OUT, out)],
        binding::CHUNK0,
        chunks,
    );
    ctx.step(
        &Kernel::new(&SHADER, OP),
        format!(
            "{OP}({rows}x{}x{}, {} chunks)",
            w.len,
            w.channels,
            chunks.len()
        ),
        &p,
        &bindings,
        ew_groups(ctx, OP, n)?,
    )
}
