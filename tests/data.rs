//! Loaders on files written here: IDX (raw and gzip), .npy, CSV and image
//! folders load what was written; truncated, corrupt or lying files get one
//! clear error naming the file, without a giant allocation.

use std::io::Write;
use std::path::{Path, PathBuf};

use wgae::data::{files, idx, synthetic, Dataset};

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wgae-data-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn idx_bytes(dims: &[u32], values: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        b.extend(d.to_be_bytes());
    }
    b.extend(values);
    b
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn err(p: &Path) -> String {
    files::load(p, None).unwrap_err().to_string()
}

#[test]
fn idx_raw_and_gzip_with_labels() {
    let pixels: Vec<u8> = (0..3 * 2 * 2).map(|i| (i * 20) as u8).collect();
    let img = tmp("t-images-idx3-ubyte.gz");
    std::fs::write(&img, gz(&idx_bytes(&[3, 2, 2], &pixels))).unwrap();
    std::fs::write(
        tmp("t-labels-idx1-ubyte.gz"),
        gz(&idx_bytes(&[3], &[7, 1, 4])),
    )
    .unwrap();
    let ds = files::load(&img, None).unwrap();
    assert_eq!((ds.rows, ds.cols), (3, 4));
    assert_eq!(ds.labels, Some(vec![7, 1, 4]));
    assert!((ds.data[1] - 20.0 / 255.0).abs() < 1e-7);
    let raw = tmp("raw.idx");
    std::fs::write(&raw, idx_bytes(&[3, 2, 2], &pixels)).unwrap();
    assert_eq!(
        files::load(&raw, Some(files::Format::Idx)).unwrap().data,
        ds.data
    );
}

#[test]
fn idx_truncated_corrupt_and_lying_headers() {
    let p = tmp("short.idx");
    std::fs::write(&p, idx_bytes(&[10, 28, 28], &[0u8; 100])).unwrap();
    let e = err(&p);
    assert!(e.contains("short.idx") && e.contains("truncated"), "{e}");
    // A header claiming 4 billion images must not allocate them.
    std::fs::write(&p, idx_bytes(&[u32::MAX, 28, 28], &[0u8; 100])).unwrap();
    let e = err(&p);
    assert!(e.contains("truncated or corrupt"), "{e}");
    let bad = tmp("bad.gz");
    let mut g = gz(&idx_bytes(&[1, 2, 2], &[1, 2, 3, 4]));
    g.truncate(g.len() / 2);
    std::fs::write(&bad, g).unwrap();
    let e = err(&bad);
    assert!(e.contains("bad.gz") && e.contains("gzip"), "{e}");
    // Reads are bounded by the header: a device is refused at once (it read
    // until the kernel killed wgae), a compressed file that claims billions
    // of values is refused before reading them, and bytes past what the
    // header claims mean corruption.
    for dev in ["/dev/zero", "/dev/urandom"] {
        for f in [files::Format::Idx, files::Format::Npy, files::Format::Csv] {
            let e = files::load(Path::new(dev), Some(f))
                .unwrap_err()
                .to_string();
            assert!(e.contains(dev) && e.contains("device"), "{e}");
        }
    }
    let big = tmp("claims.idx.gz");
    std::fs::write(&big, gz(&idx_bytes(&[u32::MAX, 28, 28], &[0u8; 100]))).unwrap();
    let e = err(&big);
    assert!(e.contains("claims.idx.gz") && e.contains("memory"), "{e}");
    let long = tmp("long.idx");
    std::fs::write(&long, idx_bytes(&[1, 2, 2], &[1, 2, 3, 4, 5])).unwrap();
    let e = err(&long);
    assert!(e.contains("more than its header claims"), "{e}");
    let e = err(&tmp("does-not-exist.idx"));
    assert!(e.contains("no such file"), "{e}");
    let e = idx::load_mnist(Path::new("/nonexistent"), "t10k")
        .unwrap_err()
        .to_string();
    assert!(e.contains("WGAE_MNIST_DIR"), "{e}");
}

fn npy(descr: &str, shape: &str, body: &[u8]) -> Vec<u8> {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend((header.len() as u16).to_le_bytes());
    b.extend(header.as_bytes());
    b.extend(body);
    b
}

#[test]
fn npy_f32_f64_u8_and_bad_files() {
    let vals = [0.5f32, -1.0, 2.0, 3.5, 0.0, 1.0];
    let p = tmp("a.npy");
    std::fs::write(
        &p,
        npy(
            "<f4",
            "(2, 3)",
            &vals
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect::<Vec<_>>(),
        ),
    )
    .unwrap();
    let ds = files::load(&p, None).unwrap();
    assert_eq!((ds.rows, ds.cols, ds.data.clone()), (2, 3, vals.to_vec()));
    let p8 = tmp("b.npy");
    std::fs::write(
        &p8,
        npy(
            "<f8",
            "(3, 2)",
            &vals
                .iter()
                .flat_map(|&v| f64::from(v).to_le_bytes())
                .collect::<Vec<_>>(),
        ),
    )
    .unwrap();
    assert_eq!(files::load(&p8, None).unwrap().data, vals.to_vec());
    let pu = tmp("c.npy");
    std::fs::write(
        &pu,
        npy("|u1", "(2, 2, 2)", &[0, 255, 51, 102, 0, 0, 0, 255]),
    )
    .unwrap();
    let ds = files::load(&pu, None).unwrap();
    assert_eq!((ds.rows, ds.cols), (2, 4));
    assert!((ds.data[2] - 0.2).abs() < 1e-6);
    let pt = tmp("trunc.npy");
    std::fs::write(&pt, npy("<f4", "(1000000, 784)", &[0u8; 64])).unwrap();
    let e = err(&pt);
    assert!(e.contains("trunc.npy") && e.contains("truncated"), "{e}");
    let pi = tmp("i.npy");
    std::fs::write(&pi, npy("<i8", "(1,)", &[0u8; 8])).unwrap();
    assert!(err(&pi).contains("not supported"));
    let pn = tmp("nan.npy");
    std::fs::write(
        &pn,
        npy(
            "<f4",
            "(1, 2)",
            &[1.0f32, f32::NAN]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect::<Vec<_>>(),
        ),
    )
    .unwrap();
    let e = err(&pn);
    assert!(
        e.contains("not finite") && e.contains("column 2 (counting from 1)"),
        "{e}"
    );
}

#[test]
fn csv_with_and_without_header() {
    let p = tmp("h.csv");
    std::fs::write(&p, "a,b,c\n1,2,3\n4.5,-1,0\n").unwrap();
    let ds = files::load(&p, None).unwrap();
    assert_eq!((ds.rows, ds.cols), (2, 3));
    assert_eq!(ds.data, vec![1.0, 2.0, 3.0, 4.5, -1.0, 0.0]);
    let q = tmp("n.csv");
    std::fs::write(&q, "1;2\n3;4\n").unwrap();
    assert_eq!(
        files::load(&q, None).unwrap().data,
        vec![1.0, 2.0, 3.0, 4.0]
    );
    let r = tmp("ragged.csv");
    std::fs::write(&r, "1,2,3\n4,5\n").unwrap();
    let e = err(&r);
    assert!(
        e.contains("ragged.csv") && e.contains("line 2") && e.contains("2 columns"),
        "{e}"
    );
    let s = tmp("text.csv");
    std::fs::write(&s, "1,2\n3,x\n").unwrap();
    assert!(err(&s).contains("'x' is not a number"));
    let t = tmp("inf.csv");
    std::fs::write(&t, "1,inf\n").unwrap();
    let e = err(&t);
    assert!(
        e.contains("line 1, column 2") && e.contains("not a finite number"),
        "{e}"
    );
}

#[test]
fn image_folder_grayscale_and_resized() {
    let dir = tmp("imgs");
    std::fs::create_dir_all(&dir).unwrap();
    let a = image::RgbImage::from_fn(8, 8, |x, _| image::Rgb([if x < 4 { 0 } else { 255 }; 3]));
    a.save(dir.join("a.png")).unwrap();
    let b = image::GrayImage::from_pixel(16, 16, image::Luma([128]));
    b.save(dir.join("b.png")).unwrap();
    let ds = files::load(&dir, None).unwrap();
    assert_eq!((ds.rows, ds.cols), (2, 64));
    assert_eq!(ds.data[0], 0.0);
    assert_eq!(ds.data[7], 1.0);
    assert!((ds.data[64] - 128.0 / 255.0).abs() < 0.01);
    let rgb = files::load_images(&dir, Some(4), true).unwrap();
    assert_eq!((rgb.rows, rgb.cols), (2, 4 * 4 * 3));
    std::fs::write(dir.join("c.png"), b"not a png").unwrap();
    let e = err(&dir);
    assert!(e.contains("c.png") && e.contains("decode"), "{e}");
    let empty = tmp("empty-dir");
    std::fs::create_dir_all(&empty).unwrap();
    assert!(err(&empty).contains("no .png"));
}

#[test]
fn standardize_splits_and_synthetic_digits() {
    let mut ds = Dataset::new(vec![1.0, 10.0, 3.0, 10.0, 5.0, 10.0], 3, 2, None).unwrap();
    let (mean, std) = ds.standardize();
    assert_eq!(mean, vec![3.0, 10.0]);
    // A constant column keeps scale 1: the saved transform stays usable.
    assert!((std[0] - (8.0f32 / 3.0).sqrt()).abs() < 1e-6 && std[1] == 1.0);
    let col0: Vec<f32> = (0..3).map(|i| ds.data[i * 2]).collect();
    assert!((col0.iter().sum::<f32>()).abs() < 1e-6);
    assert!((col0.iter().map(|v| v * v).sum::<f32>() / 3.0 - 1.0).abs() < 1e-5);
    assert!((0..3).all(|i| ds.data[i * 2 + 1] == 0.0));
    // Statistics of the first rows only (the training rows).
    let ds = Dataset::new(vec![0.0, 2.0, 100.0], 3, 1, None).unwrap();
    assert_eq!(ds.standard_transform(2), (vec![1.0], vec![1.0]));
    assert_eq!(ds.unit_transform(2), (vec![0.0], vec![2.0]));
    let (t, v) = synthetic::digits(100, 1).split_validation(0.2).unwrap();
    assert_eq!((t.rows, v.rows), (80, 20));
    assert_eq!(v.labels.as_ref().unwrap()[0], 0);
    assert!(synthetic::digits(10, 1).split_validation(1.0).is_err());
}

/// Loaders keep each sample's stored shape, and a conv model reads colour
/// images (stored height, width, channel) channels first.
#[test]
fn samples_keep_their_shape_and_colour_becomes_channels_first() {
    use wgae::Dataset;
    // IDX images keep (h, w); a (n, c, l) .npy keeps (c, l).
    let dir = std::env::temp_dir().join(format!("wgae-dims-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let seq = vec![0.25f32; 2 * 3 * 5];
    let mut npy = wgae::io::npy_bytes(&seq, 2, 15);
    // Rewrite the header's shape (2, 15) as (2, 3, 5).
    let at = npy.windows(7).position(|w| w == b"(2, 15)").unwrap();
    npy.splice(at..at + 7, b"(2,3,5)".iter().copied());
    std::fs::write(dir.join("seq.npy"), &npy).unwrap();
    let ds = wgae::data::files::load_npy(&dir.join("seq.npy")).unwrap();
    assert_eq!(ds.dims, Some(vec![3, 5]));
    assert!(ds.clone().for_shape([3, 1, 5]).is_ok());
    let e = ds.clone().for_shape([5, 1, 3]).unwrap_err().to_string();
    assert!(e.contains("[3, 5]") && e.contains("5x1x3"), "{e}");
    let e = ds.for_shape([1, 4, 4]).unwrap_err().to_string();
    assert!(e.contains("15 values") && e.contains("16"), "{e}");

    // One 2x2 RGB image stored (h, w, c): pixel p has channels (p, 10 + p, 20 + p).
    let hwc: Vec<f32> = (0..4)
        .flat_map(|p| [p as f32, 10.0 + p as f32, 20.0 + p as f32])
        .collect();
    let img = Dataset::new(hwc, 1, 12, None)
        .unwrap()
        .with_dims(vec![2, 2, 3]);
    let chw = img.for_shape([3, 2, 2]).unwrap();
    assert_eq!(
        chw.data,
        vec![0.0, 1.0, 2.0, 3.0, 10.0, 11.0, 12.0, 13.0, 20.0, 21.0, 22.0, 23.0]
    );
    assert_eq!(chw.dims, Some(vec![3, 2, 2]));
}

/// A mapped .npy (f32, f64, u8) or raw IDX file reads the rows the loaders
/// load, bit for bit, by range and by index, through a transform, and its
/// statistics are the in-memory ones; a gzipped file cannot be mapped.
#[test]
fn mapped_sources_read_what_the_loaders_load() {
    use wgae::data::source::{mappable, Source};
    let (rows, cols) = (37usize, 6usize);
    let vals: Vec<f32> = (0..rows * cols)
        .map(|i| ((i * 7919) % 1000) as f32 / 37.0 - 9.0)
        .collect();
    let bytes: Vec<u8> = (0..rows * cols).map(|i| ((i * 31) % 256) as u8).collect();
    let f32_body: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
    let f64_body: Vec<u8> = vals
        .iter()
        .flat_map(|&v| f64::from(v).to_le_bytes())
        .collect();
    let cases = [
        (
            tmp("m-f32.npy"),
            npy("<f4", &format!("({rows}, 2, 3)"), &f32_body),
        ),
        (
            tmp("m-f64.npy"),
            npy("<f8", &format!("({rows}, {cols})"), &f64_body),
        ),
        (
            tmp("m-u8.npy"),
            npy("|u1", &format!("({rows}, {cols})"), &bytes),
        ),
        (
            tmp("m-images-idx3-ubyte"),
            idx_bytes(&[rows as u32, 2, 3], &bytes),
        ),
    ];
    for (path, file) in &cases {
        std::fs::write(path, file).unwrap();
        assert!(mappable(path, None), "{}", path.display());
        let loaded = files::load(path, None).unwrap();
        let src = Source::map(path, None).unwrap();
        assert_eq!((src.rows(), src.cols()), (rows, cols));
        let mut all = vec![0f32; rows * cols];
        src.read(0, rows, &mut all).unwrap();
        let same = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
        assert!(same(&all, &loaded.data), "{}", path.display());
        // By index, from a slice (the validation rows, say).
        let tail = src.slice(30, rows);
        let mut two = vec![0f32; 2 * cols];
        tail.gather(&[6, 0], &mut two).unwrap();
        assert!(same(&two[..cols], loaded.row(36)) && same(&two[cols..], loaded.row(30)));
        // Statistics and a transform, as in memory.
        let (o, s) = src.slice(0, 30).standard_transform().unwrap();
        let (o2, s2) = loaded.standard_transform(30);
        assert!(same(&o, &o2) && same(&s, &s2));
        let mut moved = loaded.clone();
        moved.apply_transform(&o, &s);
        src.with_transform(o.clone(), s.clone())
            .unwrap()
            .read(0, rows, &mut all)
            .unwrap();
        assert!(same(&all, &moved.data));
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        assert_eq!(src.is_u8(), !name.starts_with("m-f"), "{name}");
    }
    // Errors: a row out of range; a gzipped file is not mappable.
    let src = Source::map(&cases[0].0, None).unwrap();
    assert!(src.gather(&[rows as u32], &mut vec![0.0; cols]).is_err());
    let gzipped = tmp("m-images-idx3-ubyte.gz");
    std::fs::write(&gzipped, gz(&cases[3].1)).unwrap();
    assert!(!mappable(&gzipped, None));
    assert!(!mappable(&tmp("nowhere.npy"), None));
}

/// A mapped file that changes or shrinks while it is read gives one error
/// naming it (never a crash); a file whose size does not match its header
/// is refused when it is opened; so is anything that is not .npy or IDX.
#[test]
fn mapped_files_that_change_are_refused() {
    use wgae::data::source::Source;
    let body: Vec<u8> = (0..40 * 4).flat_map(|i| (i as f32).to_le_bytes()).collect();
    let path = tmp("changing.npy");
    std::fs::write(&path, npy("<f4", "(40, 4)", &body)).unwrap();
    let src = Source::map(&path, None).unwrap();
    let mut out = vec![0f32; 4];
    src.read(3, 4, &mut out).unwrap();
    assert_eq!(out, [12.0, 13.0, 14.0, 15.0]);
    // Shrunk in place (the bytes still there are not read).
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(200).unwrap();
    let e = src.read(0, 1, &mut out).unwrap_err().to_string();
    assert!(
        e.contains("changing.npy") && e.contains("changed while"),
        "{e}"
    );
    let e = Source::map(&path, None).unwrap_err().to_string();
    assert!(e.contains("changing.npy") && e.contains("truncated"), "{e}");
    // Rewritten at the same size: the modification time tells.
    std::fs::write(&path, npy("<f4", "(40, 4)", &body)).unwrap();
    let src = Source::map(&path, None).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&path, npy("<f4", "(40, 4)", &body)).unwrap();
    let e = src.read(0, 1, &mut out).unwrap_err().to_string();
    assert!(e.contains("changed while"), "{e}");
    let csv = tmp("rows.csv");
    std::fs::write(&csv, "1,2\n3,4\n").unwrap();
    let e = Source::map(&csv, None).unwrap_err().to_string();
    assert!(e.contains("wgae convert"), "{e}");
}
