//! Sparse rows (`Source::sparse`, a rating matrix kept as its ratings):
//! they read as the dense matrix with its absent cells, and training on
//! them gives the bits of training on the dense matrix, whether they stay
//! sparse on the GPU (gathered per batch by `gather_sparse`), are streamed
//! (densified on the host a slot at a time), or are held under a GPU
//! memory cap too small for the dense matrix.

mod common;

use common::{gpu, rng};
use rand::Rng;
use wgae::data::sparse::Csr;
use wgae::data::{Source, MISSING};
use wgae::{Activation, Control, GpuContext, LossKind, ModelConfig, TrainConfig, Trainer};

const ROWS: usize = 93;
const COLS: usize = 71;

/// About 8% of the cells rated 1 to 5, the rest `absent`; row 4 empty.
fn ratings(seed: u64, absent: f32) -> (Csr, Vec<f32>) {
    let mut g = rng(seed);
    let (mut r, mut c, mut v) = (Vec::new(), Vec::new(), Vec::new());
    let mut dense = vec![absent; ROWS * COLS];
    for i in (0..ROWS).filter(|&i| i != 4) {
        for j in 0..COLS {
            if g.random::<f64>() < 0.08 {
                let x = g.random_range(1..=5) as f32;
                r.push(i as u32);
                c.push(j as u32);
                v.push(x);
                dense[i * COLS + j] = x;
            }
        }
    }
    (
        Csr::from_triples(ROWS, COLS, &r, &c, &v, absent).unwrap(),
        dense,
    )
}

#[test]
fn sparse_rows_read_as_the_dense_matrix() {
    for absent in [MISSING, 0.0] {
        let (m, dense) = ratings(1, absent);
        let s = Source::sparse(m);
        assert!(s.is_sparse());
        let mut got = vec![0.0; ROWS * COLS];
        s.read(0, ROWS, &mut got).unwrap();
        assert_eq!(got, dense);
        let idx = [92u32, 4, 0, 17];
        let mut got = vec![0.0; 4 * COLS];
        s.gather(&idx, &mut got).unwrap();
        for (k, &i) in idx.iter().enumerate() {
            let i = i as usize;
            assert_eq!(
                got[k * COLS..(k + 1) * COLS],
                dense[i * COLS..(i + 1) * COLS]
            );
        }
        let part = s.slice(10, 20);
        let m = part.sparse_rows().unwrap();
        assert_eq!((m.rows, m.offsets[0]), (10, 0));
        assert_eq!(part.sparse_entries(), Some(m.nnz()));
        assert_eq!(part.stored_bytes(), m.nnz() as u64 * 8 + 11 * 4);
    }
}

/// AutoRec's shape (a sigmoid hidden layer, a linear output, masked MSE)
/// trained for two epochs on the sparse rows and on the dense matrix.
#[test]
fn training_on_sparse_rows_gives_the_bits_of_the_dense_matrix() {
    let Some(ctx) = gpu() else { return };
    let (m, dense) = ratings(2, MISSING);
    let cfg = ModelConfig::dense(COLS, &[13])
        .act(Activation::Sigmoid)
        .code_act(Activation::Sigmoid)
        .out_act(Activation::Identity)
        .loss(LossKind::Mse)
        .masked();
    let t = |batch_size| TrainConfig {
        epochs: 2,
        batch_size,
        validation_split: 0.0,
        lr: 0.01,
        ..TrainConfig::default()
    };
    let sparse = Source::sparse(m);
    let (train, val) = (sparse.slice(0, 80), sparse.slice(80, ROWS));
    let dense = Source::memory(dense, ROWS, COLS).unwrap().with_missing();
    let (dtrain, dval) = (dense.slice(0, 80), dense.slice(80, ROWS));
    let fit = |ctx: &GpuContext, train: &Source, val: &Source, batch| {
        let model = wgae::Autoencoder::new(ctx, &cfg, 7).unwrap();
        let mut tr = Trainer::from_source(model, &t(batch), train, Some(val)).unwrap();
        let h = tr.fit(|_| Control::Continue, |_| {}).unwrap();
        (
            tr.model().params_host().unwrap(),
            h.epochs.last().unwrap().val_loss,
            tr.is_streamed(),
        )
    };
    let want = fit(ctx, &dtrain, &dval, 16);
    let resident = fit(ctx, &train, &val, 16);
    assert!(!resident.2, "sparse rows that fit stay on the GPU");
    let mut opts = common::context_options();
    opts.stream = Some(true);
    opts.stream_slot = Some((3 * 16 * COLS * 4) as u64);
    let streamed = fit(&GpuContext::with_options(&opts).unwrap(), &train, &val, 16);
    assert!(streamed.2);
    // A binding too small for the entries (but not for a batch of 2
    // rows): streamed without being told.
    let mut opts = common::context_options();
    opts.max_binding = Some((2 * COLS * 4 + 8) as u64);
    let narrow = fit(&GpuContext::with_options(&opts).unwrap(), &train, &val, 2);
    assert!(narrow.2, "entries beyond one binding are streamed");
    let want2 = fit(ctx, &dtrain, &dval, 2);
    for (what, run, want) in [
        ("resident", &resident, &want),
        ("streamed", &streamed, &want),
        ("narrow", &narrow, &want2),
    ] {
        let same = want
            .0
            .iter()
            .zip(&run.0)
            .all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(same, "{what}: other weights than the dense matrix");
        assert_eq!(want.1, run.1, "{what}: validation loss");
    }
}

/// Under a GPU memory cap that the dense matrix would exceed, the sparse
/// rows stay resident: what they take is their entries.
#[test]
fn sparse_rows_stay_resident_under_a_cap_the_dense_matrix_exceeds() {
    if gpu().is_none() {
        return;
    }
    let rows = 4000;
    let cols = 3000;
    let mut g = rng(3);
    let (mut r, mut c, mut v) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..rows {
        for _ in 0..5 {
            r.push(i as u32);
            c.push(g.random_range(0..cols as u32));
            v.push(g.random_range(1..=5) as f32);
        }
    }
    let m = Csr::from_triples(rows, cols, &r, &c, &v, MISSING).unwrap();
    let cfg = ModelConfig::dense(cols, &[8])
        .out_act(Activation::Identity)
        .loss(LossKind::Mse)
        .masked();
    // The dense matrix alone takes 48 MB; the model, its batches and the
    // entries fit in 16 MB.
    let mut opts = common::context_options();
    opts.gpu_memory = Some(16 << 20);
    let capped = GpuContext::with_options(&opts).unwrap();
    let t = TrainConfig {
        epochs: 1,
        batch_size: 64,
        validation_split: 0.0,
        ..TrainConfig::default()
    };
    let model = wgae::Autoencoder::new(&capped, &cfg, 1).unwrap();
    let mut tr = Trainer::from_source(model, &t, &Source::sparse(m), None).unwrap();
    assert!(!tr.is_streamed());
    let h = tr.fit(|_| Control::Continue, |_| {}).unwrap();
    assert!(h.epochs[0].train_loss.is_finite());
}

/// Sparse rows whose unset cells are missing need a masked model; a BCE
/// model refuses values outside [0, 1], naming the row and column.
#[test]
fn sparse_rows_that_a_model_cannot_read_are_refused() {
    let Some(ctx) = gpu() else { return };
    let (m, _) = ratings(4, MISSING);
    let t = TrainConfig {
        epochs: 1,
        batch_size: 8,
        validation_split: 0.0,
        ..TrainConfig::default()
    };
    let plain = ModelConfig::dense(COLS, &[5]).loss(LossKind::Mse);
    let model = wgae::Autoencoder::new(ctx, &plain, 1).unwrap();
    let Err(e) = Trainer::from_source(model, &t, &Source::sparse(m), None) else {
        panic!("missing cells reached a model that does not mask them");
    };
    assert!(e.to_string().contains("`missing` mask"), "{e}");
    let (m, _) = ratings(5, 0.0);
    let bce = ModelConfig::dense(COLS, &[5]).loss(LossKind::Bce);
    let model = wgae::Autoencoder::new(ctx, &bce, 1).unwrap();
    let Err(e) = Trainer::from_source(model, &t, &Source::sparse(m.clone()), None) else {
        panic!("ratings of 1 to 5 reached a BCE loss");
    };
    let (cols, _) = m.row(0);
    let want = format!("row 1, column {}", cols[0] + 1);
    assert!(e.to_string().contains(&want), "{e}");
}
