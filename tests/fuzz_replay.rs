//! The fuzz targets' stand-in on stable Rust, for CI: every seed in
//! `fuzz/corpus/`, every past finding in `fuzz/regressions/`, and a few
//! thousand seeded mutations of the seeds go through the same loaders the
//! fuzz targets drive (`fuzz/harness.rs`). None may panic, and none may ask
//! for a large allocation: the test binary's allocator records the largest
//! request, and small files must not cost more than a small multiple of
//! themselves (the bound below).

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

#[path = "../fuzz/harness.rs"]
mod harness;

/// The system allocator, remembering the largest single request.
struct Watch;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Watch {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Watch = Watch;

/// The largest allocation any input of a few KiB may cause: decoded
/// images are capped at 128 MiB (data::files::MAX_IMAGE_SIDE), and every
/// other loader at what the file holds or a 64 MiB read buffer.
const LARGEST_ALLOWED: usize = 160 << 20;

fn inputs(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| {
                    (
                        e.path().display().to_string(),
                        std::fs::read(e.path()).unwrap(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// A seeded mutation of `seed`: flipped bits, bytes set to extremes,
/// large integers written over the header, truncation or repetition.
fn mutate(seed: &[u8], r: &mut u64) -> Vec<u8> {
    let mut next = || {
        *r ^= *r << 13;
        *r ^= *r >> 7;
        *r ^= *r << 17;
        *r
    };
    let mut b = seed.to_vec();
    for _ in 0..1 + next() % 4 {
        if b.is_empty() {
            b.push(next() as u8);
            continue;
        }
        let at = (next() % b.len() as u64) as usize;
        match next() % 6 {
            0 => b[at] ^= 1 << (next() % 8),
            1 => b[at] = [0u8, 0xff, 0x7f, 0x80][(next() % 4) as usize],
            2 => {
                let v = [u32::MAX, 0x7fff_ffff, 1 << 30, 0][(next() % 4) as usize];
                let bytes = if next() % 2 == 0 {
                    v.to_le_bytes()
                } else {
                    v.to_be_bytes()
                };
                for (i, x) in bytes.iter().enumerate() {
                    if at + i < b.len() {
                        b[at + i] = *x;
                    }
                }
            }
            3 => b.truncate(at),
            4 => {
                let tail = b[at..].to_vec();
                b.extend(tail);
            }
            _ => b.insert(at, next() as u8),
        }
    }
    b
}

#[test]
fn fuzz_corpora_and_mutations_run_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mutations: usize = std::env::var("WGAE_FUZZ_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    let mut total = 0;
    for &target in harness::TARGETS {
        let seeds = inputs(&root.join("corpus").join(target));
        assert!(!seeds.is_empty(), "fuzz/corpus/{target} has no seeds");
        let mut cases = seeds.clone();
        cases.extend(inputs(&root.join("regressions").join(target)));
        let mut r = 0x9E37_79B9_7F4A_7C15u64 ^ target.len() as u64;
        for i in 0..mutations {
            let (name, seed) = &seeds[i % seeds.len()];
            cases.push((format!("{name} (mutation {i})"), mutate(seed, &mut r)));
        }
        for (name, bytes) in &cases {
            LARGEST.store(0, Ordering::Relaxed);
            let outcome = std::panic::catch_unwind(|| harness::run(target, bytes));
            assert!(outcome.is_ok(), "{target}: {name} panicked");
            let largest = LARGEST.load(Ordering::Relaxed);
            assert!(
                largest <= LARGEST_ALLOWED,
                "{target}: {name} ({} bytes) allocated {largest} bytes at once",
                bytes.len()
            );
        }
        total += cases.len();
    }
    eprintln!("{total} inputs through {} targets", harness::TARGETS.len());
}
