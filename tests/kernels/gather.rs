//! Gathering rows: by index, from chunks, from a byte table.

use crate::common::{assert_close, gpu, poisoned, rand_vec, rng, tol};
use rand::Rng;
use wgae::kernels::{self as ops};
use wgae::reference as r;

#[test]
fn gather_rows_by_index() {
    let Some(ctx) = gpu() else { return };
    // Widths that are multiples of 4 take the vec4 kernel.
    let shapes = [
        (1usize, 1usize),
        (7, 33),
        (1000, 777),
        (1, 4),
        (9, 36),
        (1000, 784),
    ];
    for (si, &(src_rows, cols)) in shapes.iter().enumerate() {
        let mut g = rng(9000 + si as u64);
        let src = rand_vec(&mut g, src_rows * cols, -1.0, 1.0);
        let off = 3;
        let rows = src_rows.min(65);
        let mut idx: Vec<u32> = (0..off + rows)
            .map(|_| g.random_range(0..src_rows as u32))
            .collect();
        idx[off] = src_rows as u32 + 5; // out of range: a zero row, no stray read
        let ti = ctx.upload("idx", &idx).unwrap();
        let ts = ctx.upload("src", &src).unwrap();
        let to = poisoned(ctx, rows * cols);
        ctx.run(&[&ops::gather_rows(ctx, rows, cols, off, src_rows, &ti, &ts, &to).unwrap()])
            .unwrap();
        let got = ctx.read(&to).unwrap();
        let want = r::gather_rows(&idx, off, &src, src_rows, rows, cols);
        assert_close(
            &format!("gather {src_rows}x{cols}"),
            &got,
            &want,
            tol(0.0, 0.0),
        );
    }
}

/// A dataset split over 2, 3 and 4 buffers of whole rows (the last one
/// short) gathers the same rows as the whole; bad chunkings are refused.
#[test]
fn gather_from_chunks_matches_the_whole() {
    let Some(ctx) = gpu() else { return };
    for (si, &(src_rows, cols, chunk_rows)) in [
        (10usize, 7usize, 5usize),
        (11, 13, 4),
        (1000, 33, 251),
        (37, 784, 10),
        (4, 1, 1),
    ]
    .iter()
    .enumerate()
    {
        let mut g = rng(9100 + si as u64);
        let src = rand_vec(&mut g, src_rows * cols, -1.0, 1.0);
        let chunks: Vec<wgae::GpuTensor> = src
            .chunks(chunk_rows * cols)
            .map(|c| ctx.upload("chunk", c).unwrap())
            .collect();
        let off = 2;
        let rows = src_rows.min(70);
        let mut idx: Vec<u32> = (0..off + rows)
            .map(|_| g.random_range(0..src_rows as u32))
            .collect();
        idx[off] = src_rows as u32; // out of range: a zero row
        idx[off + rows - 1] = (src_rows - 1) as u32; // the last chunk's last row
        let ti = ctx.upload("idx", &idx).unwrap();
        let to = poisoned(ctx, rows * cols);
        let step = ops::gather_chunks(
            ctx, rows, cols, off, src_rows, chunk_rows, &ti, &chunks, &to,
        )
        .unwrap();
        ctx.run(&[&step]).unwrap();
        assert_close(
            &format!("gather {src_rows}x{cols} in {} chunks", chunks.len()),
            &ctx.read(&to).unwrap(),
            &r::gather_rows(&idx, off, &src, src_rows, rows, cols),
            tol(0.0, 0.0),
        );
    }
    let t = ctx.zeros("t", 64).unwrap();
    let five = vec![t.clone(); 5];
    assert!(
        ops::gather_chunks(ctx, 1, 1, 0, 5, 1, &t, &five, &t).is_err(),
        "5 chunks"
    );
    let two = vec![t.clone(); 2];
    assert!(
        ops::gather_chunks(ctx, 1, 1, 0, 9, 3, &t, &two, &t).is_err(),
        "9 rows in 2x3"
    );
    assert!(
        ops::gather_chunks(ctx, 1, 1, 0, 4, 0, &t, &two, &t).is_err(),
        "0 rows per chunk"
    );
}

/// A byte dataset (one to four chunks, odd row widths so that rows start
/// mid-word) gathers through a shared or per-column table to exactly the
/// table's values; out-of-range rows give zero rows; bad chunkings are refused.
#[test]
fn gather_u8_matches_the_table() {
    let Some(ctx) = gpu() else { return };
    for (si, &(src_rows, cols, chunk_rows, per_column)) in [
        (10usize, 7usize, 10usize, false),
        (11, 13, 4, true),
        (1000, 33, 251, false),
        (37, 785, 10, true),
        (5, 1, 2, false),
    ]
    .iter()
    .enumerate()
    {
        let mut g = rng(9200 + si as u64);
        let src: Vec<u8> = (0..src_rows * cols)
            .map(|_| g.random_range(0..=255u8))
            .collect();
        let chunks: Vec<wgae::GpuTensor> = src
            .chunks(chunk_rows * cols)
            .map(|c| {
                let mut b = c.to_vec();
                b.resize(ops::u8_words(c.len()) * 4, 0xAB);
                let words: Vec<u32> = b
                    .chunks(4)
                    .map(|w| u32::from_le_bytes(w.try_into().unwrap()))
                    .collect();
                ctx.upload("bytes", &words).unwrap()
            })
            .collect();
        let lut = rand_vec(&mut g, if per_column { 256 * cols } else { 256 }, -3.0, 3.0);
        let tl = ctx.upload("lut", &lut).unwrap();
        let off = 3;
        let rows = src_rows.min(70);
        let mut idx: Vec<u32> = (0..off + rows)
            .map(|_| g.random_range(0..src_rows as u32))
            .collect();
        idx[off] = src_rows as u32 + 2; // out of range: a zero row
        idx[off + rows - 1] = (src_rows - 1) as u32;
        let ti = ctx.upload("idx", &idx).unwrap();
        let to = poisoned(ctx, rows * cols);
        let step = ops::gather_u8(
            ctx, rows, cols, off, src_rows, chunk_rows, &ti, &chunks, &tl, per_column, &to,
        )
        .unwrap();
        ctx.run(&[&step]).unwrap();
        assert_close(
            &format!("gather_u8 {src_rows}x{cols} in {} chunks", chunks.len()),
            &ctx.read(&to).unwrap(),
            &r::gather_u8(&idx, off, &src, src_rows, rows, cols, &lut, per_column),
            tol(0.0, 0.0),
        );
    }
    let t = ctx.zeros("t", 256).unwrap();
    let five = vec![t.clone(); 5];
    assert!(ops::gather_u8(ctx, 1, 1, 0, 5, 1, &t, &five, &t, false, &t).is_err());
    let one = vec![t.clone()];
    let small = ctx.zeros("lut", 255).unwrap();
    assert!(
        ops::gather_u8(ctx, 1, 1, 0, 1, 1, &t, &one, &small, false, &t).is_err(),
        "a table of 255"
    );
}

/// Windows cut from one series held in one to four chunks (neighbouring
/// chunks sharing the steps their edge windows overlap), in both layouts,
/// with odd window lengths, strides and channel counts, are the f64
/// twin's; a window past the end gives zeros; bad chunkings are refused.
#[test]
fn gather_windows_matches_the_twin() {
    use wgae::data::windows::{WindowLayout, Windows};
    let Some(ctx) = gpu() else { return };
    for (si, &(steps, len, stride, channels, chunk_rows, layout)) in [
        (50usize, 7usize, 1usize, 1usize, 50usize, WindowLayout::Time),
        (103, 9, 2, 3, 13, WindowLayout::Time),
        (97, 5, 3, 4, 9, WindowLayout::Channels),
        (64, 64, 5, 2, 1, WindowLayout::Channels),
        (1001, 33, 7, 5, 40, WindowLayout::Time),
    ]
    .iter()
    .enumerate()
    {
        let mut g = rng(9300 + si as u64);
        let win = Windows::new(len, stride, channels, layout).unwrap();
        let src_rows = win.count(steps).unwrap();
        let series = rand_vec(&mut g, steps * channels, -1.0, 1.0);
        let chunks: Vec<wgae::GpuTensor> = (0..src_rows)
            .step_by(chunk_rows)
            .map(|w0| {
                let held = chunk_rows.min(src_rows - w0);
                let s0 = w0 * stride * channels;
                let s1 = s0 + win.span(held) * channels;
                ctx.upload("chunk", &series[s0..s1]).unwrap()
            })
            .collect();
        assert!(chunks.len() <= 4, "case {si}");
        let off = 2;
        let rows = src_rows.min(45);
        let mut idx: Vec<u32> = (0..off + rows)
            .map(|_| g.random_range(0..src_rows as u32))
            .collect();
        idx[off] = src_rows as u32; // out of range: zeros
        idx[off + rows - 1] = (src_rows - 1) as u32; // the last window
        let ti = ctx.upload("idx", &idx).unwrap();
        let to = poisoned(ctx, rows * win.cols());
        let step = ops::gather_windows(
            ctx, rows, &win, off, src_rows, chunk_rows, &ti, &chunks, &to,
        )
        .unwrap();
        ctx.run(&[&step]).unwrap();
        assert_close(
            &format!(
                "windows {len}x{channels} stride {stride} in {} chunks",
                chunks.len()
            ),
            &ctx.read(&to).unwrap(),
            &r::gather_windows(&idx, off, &series, src_rows, rows, &win),
            tol(0.0, 0.0),
        );
    }
    let win = Windows::new(3, 1, 1, WindowLayout::Time).unwrap();
    let t = ctx.zeros("t", 64).unwrap();
    let two = vec![t.clone(); 2];
    assert!(
        ops::gather_windows(ctx, 1, &win, 0, 9, 3, &t, &two, &t).is_err(),
        "9 windows in 2x3"
    );
    let small = vec![ctx.zeros("small", 2).unwrap()];
    assert!(
        ops::gather_windows(ctx, 1, &win, 0, 1, 1, &t, &small, &t).is_err(),
        "a chunk shorter than its windows' span"
    );
}
