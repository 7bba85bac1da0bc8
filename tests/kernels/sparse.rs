//! Sparse rows gathered into dense batches on the GPU, against the f64
//! twin at odd shapes (empty rows, full rows, rows wider than a workgroup,
//! more rows than one dispatch dimension holds), in a shuffled order from
//! an offset, into poisoned outputs, with both absent values.

use crate::common::{assert_close, gpu, poisoned, rng, tol};
use rand::seq::SliceRandom;
use rand::Rng;
use wgae::data::sparse::Csr;
use wgae::kernels::{self as ops, SparseTensors, MISSING};
use wgae::reference::sparse as r;

/// A random `rows` x `cols` matrix with about `density` of its cells set,
/// row 0 empty and row 1 (where there is one) full.
fn random_csr(seed: u64, rows: usize, cols: usize, density: f64, absent: f32) -> Csr {
    let mut g = rng(seed);
    let (mut rr, mut cc, mut vv) = (Vec::new(), Vec::new(), Vec::new());
    for i in 1..rows {
        for j in 0..cols {
            if i == 1 || g.random::<f64>() < density {
                rr.push(i as u32);
                cc.push(j as u32);
                vv.push(g.random_range(-5.0f32..5.0));
            }
        }
    }
    Csr::from_triples(rows, cols, &rr, &cc, &vv, absent).unwrap()
}

#[test]
fn gather_sparse_matches_the_twin() {
    let Some(ctx) = gpu() else { return };
    let shapes = [
        (1usize, 1usize, 0.5f64),
        (3, 7, 0.3),
        (17, 130, 0.05),
        (40, 3, 0.6),
        (9, 1000, 0.02),
        (70_001, 3, 0.3),
    ];
    for (si, &(src_rows, cols, density)) in shapes.iter().enumerate() {
        for absent in [MISSING, 0.0] {
            let m = random_csr(9700 + si as u64, src_rows, cols, density, absent);
            let mut order: Vec<u32> = (0..src_rows as u32).collect();
            order.shuffle(&mut rng(9800 + si as u64));
            let first = src_rows / 3;
            let rows = (src_rows - first).min(src_rows / 2 + 1);
            // A buffer holds at least one element.
            let up = |name: &'static str, v: &[u32]| {
                ctx.upload(name, if v.is_empty() { &[0u32][..] } else { v })
                    .unwrap()
            };
            let offsets = up("offsets", &m.offsets);
            let columns = up("columns", &m.columns);
            let values = ctx
                .upload("values", if m.nnz() == 0 { &[0f32][..] } else { &m.values })
                .unwrap();
            let torder = up("order", &order);
            let src = SparseTensors {
                src_rows,
                entries: m.nnz(),
                offsets: &offsets,
                columns: &columns,
                values: &values,
            };
            let out = poisoned(ctx, rows * cols);
            let step =
                ops::gather_sparse(ctx, rows, cols, first, absent, &torder, &src, &out).unwrap();
            ctx.run(&[&step]).unwrap();
            assert_close(
                &format!("gather_sparse {src_rows}x{cols} from {first}, absent {absent}"),
                &ctx.read(&out).unwrap(),
                &r::gather_sparse(&m, &order, first, rows),
                tol(0.0, 0.0),
            );
        }
    }
}

#[test]
fn gather_sparse_refuses_short_buffers() {
    let Some(ctx) = gpu() else { return };
    let t = ctx.upload("t", &[0u32; 4]).unwrap();
    let src = SparseTensors {
        src_rows: 4,
        entries: 2,
        offsets: &t,
        columns: &t,
        values: &t,
    };
    let Err(e) = ops::gather_sparse(ctx, 2, 3, 0, 0.0, &t, &src, &t) else {
        panic!("offsets of 4 rows need 5 elements");
    };
    let e = e.to_string();
    assert!(e.contains("offsets"), "{e}");
}
