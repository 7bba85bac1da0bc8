//! Rating matrices from scipy.sparse `.npz` files (`data::npz`), written
//! here with the zip crate as `scipy.sparse.save_npz` writes them: CSR, CSC
//! and COO (stored or deflated) read as the same ratings, and every bad
//! file gets one clear error. (`python/tests/test_ratings.py` reads files
//! scipy itself wrote.)

use std::io::Write;

use wgae::data::ratings::Ratings;

/// A .npy of `descr` and `shape` holding `bytes`.
fn npy(descr: &str, shape: &[usize], bytes: &[u8]) -> Vec<u8> {
    let mut out = wgae::io::npy_header_of(descr, shape, 0);
    out.extend_from_slice(bytes);
    out
}

fn i32s(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn write(name: &str, arrays: &[(&str, Vec<u8>)], deflate: bool) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("wgae-npz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let mut z = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let method = if deflate {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    let opts = zip::write::SimpleFileOptions::default().compression_method(method);
    for (n, b) in arrays {
        z.start_file(format!("{n}.npy"), opts).unwrap();
        z.write_all(b).unwrap();
    }
    z.finish().unwrap();
    path
}

/// The 3 x 4 matrix [[0, 5, 0, 0], [0, 0, 0, 0], [1, 0, 0, 3]] in each
/// format; a pair given twice in COO keeps its last value.
#[test]
fn csr_csc_and_coo_read_as_the_same_ratings() {
    let shape = npy(
        "<i8",
        &[2],
        &[3i64, 4]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect::<Vec<_>>(),
    );
    let fmt = |f: &str| npy("|S3", &[], f.as_bytes());
    let data = |v: &[f64]| {
        npy(
            "<f8",
            &[v.len()],
            &v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<_>>(),
        )
    };
    let ints = |v: &[i32]| npy("<i4", &[v.len()], &i32s(v));
    let csr = write(
        "csr.npz",
        &[
            ("format", fmt("csr")),
            ("shape", shape.clone()),
            ("indptr", ints(&[0, 1, 1, 3])),
            ("indices", ints(&[1, 0, 3])),
            ("data", data(&[5.0, 1.0, 3.0])),
        ],
        true,
    );
    let csc = write(
        "csc.npz",
        &[
            ("format", fmt("csc")),
            ("shape", shape.clone()),
            ("indptr", ints(&[0, 1, 2, 2, 3])),
            ("indices", ints(&[2, 0, 2])),
            ("data", data(&[1.0, 5.0, 3.0])),
        ],
        false,
    );
    let coo = write(
        "coo.npz",
        &[
            ("format", fmt("coo")),
            ("shape", shape.clone()),
            ("row", ints(&[2, 0, 2, 0])),
            ("col", ints(&[3, 1, 0, 1])),
            ("data", data(&[3.0, 4.0, 1.0, 5.0])),
        ],
        true,
    );
    let cell = |r: &Ratings| {
        let mut v: Vec<(u32, u32, f32)> = (0..r.len())
            .map(|k| (r.user[k], r.item[k], r.rating[k]))
            .collect();
        v.sort_by_key(|a| (a.0, a.1));
        v
    };
    let want = vec![(0, 1, 5.0), (2, 0, 1.0), (2, 3, 3.0)];
    for p in [&csr, &csc, &coo] {
        let r = Ratings::load(p).unwrap();
        assert_eq!((r.users.len(), r.items.len()), (3, 4), "{}", p.display());
        assert_eq!(cell(&r), want, "{}", p.display());
    }
    assert_eq!(Ratings::load(&coo).unwrap().duplicates, 1);
    let implicit = Ratings::load_implicit(&csr).unwrap();
    assert!(implicit.rating.iter().all(|&v| v == 1.0));
    // Bad files: one clear error each.
    let err = |arrays: &[(&str, Vec<u8>)]| {
        let p = write("bad.npz", arrays, false);
        Ratings::load(&p).unwrap_err().to_string()
    };
    let e = err(&[("format", fmt("bsr")), ("shape", shape.clone())]);
    assert!(e.contains("'bsr'") && e.contains("tocsr"), "{e}");
    let e = err(&[
        ("format", fmt("csr")),
        ("shape", shape.clone()),
        ("indptr", ints(&[0, 1, 1, 3])),
        ("indices", ints(&[1, 9, 3])),
        ("data", data(&[5.0, 1.0, 3.0])),
    ]);
    assert!(e.contains("outside its 3 x 4 shape"), "{e}");
    let e = err(&[
        ("format", fmt("csr")),
        ("shape", shape.clone()),
        ("indptr", ints(&[0, 2, 1, 3])),
        ("indices", ints(&[1, 0, 3])),
        ("data", data(&[5.0, 1.0, 3.0])),
    ]);
    assert!(e.contains("indptr.npy"), "{e}");
    let e = err(&[
        ("format", fmt("coo")),
        ("shape", shape.clone()),
        ("row", ints(&[-1])),
        ("col", ints(&[0])),
        ("data", data(&[1.0])),
    ]);
    assert!(e.contains("negative"), "{e}");
    let e = err(&[
        ("format", fmt("coo")),
        ("shape", shape.clone()),
        ("row", ints(&[0])),
        ("col", ints(&[0])),
        ("data", data(&[f64::NAN])),
    ]);
    assert!(e.contains("not a number"), "{e}");
    let e = err(&[("format", fmt("csr"))]);
    assert!(e.contains("no shape.npy"), "{e}");
    let mut short = ints(&[0, 1, 1, 3]);
    short.truncate(short.len() - 2);
    let e = err(&[
        ("format", fmt("csr")),
        ("shape", shape.clone()),
        ("indptr", short),
    ]);
    assert!(e.contains("does not match its size"), "{e}");
    // Arrays beyond the budget are refused before they are read.
    let e = wgae::data::ratings::Ratings::load_within(&csr, false, 100)
        .unwrap_err()
        .to_string();
    assert!(e.contains("host budget"), "{e}");
}
