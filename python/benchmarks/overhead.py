"""The Python layer's overhead: the same training and encoding timed through
the Rust API (examples/rust_api_timing.rs) and through wgae.Autoencoder, on
the same rows, the same model and settings, in the same run.

    cargo build --release --example rust_api_timing
    python python/benchmarks/overhead.py [--rows 20000] [--cols 784] [--epochs 3]

Python's fit also scores the training rows once to set threshold_ (the
contamination threshold), which the Rust call does not; it is timed apart.
"""
import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import wgae

REPO = Path(__file__).resolve().parents[2]

ap = argparse.ArgumentParser()
ap.add_argument("--rows", type=int, default=20000)
ap.add_argument("--cols", type=int, default=784)
ap.add_argument("--hidden", default="128,32")
ap.add_argument("--epochs", type=int, default=3)
ap.add_argument("--batch", type=int, default=256)
ap.add_argument("--repeats", type=int, default=3)
ap.add_argument("--rust", default=str(REPO / "target/release/examples/rust_api_timing"))
a = ap.parse_args()

X = np.random.default_rng(0).random((a.rows, a.cols), dtype=np.float32)
hidden = tuple(int(h) for h in a.hidden.split(","))
with tempfile.TemporaryDirectory() as d:
    path = Path(d) / "x.npy"
    np.save(path, X)
    rust = [json.loads(subprocess.run(
        [a.rust, str(path), a.hidden, str(a.epochs), str(a.batch)],
        check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
        for _ in range(a.repeats)]

est = dict(hidden=hidden, epochs=a.epochs, batch_size=a.batch, random_state=0)
wgae.Autoencoder(**dict(est, epochs=1)).fit(X[:512])  # warm-up, as on the Rust side
fits, thresholds, transforms = [], [], []
for _ in range(a.repeats):
    ae = wgae.Autoencoder(**est)
    t0 = time.perf_counter()
    ae.fit(X)
    fits.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    ae.set_threshold(X)
    thresholds.append(time.perf_counter() - t0)
    ae.transform(X)
    t0 = time.perf_counter()
    ae.transform(X)
    transforms.append(time.perf_counter() - t0)

best = lambda v: min(v)  # noqa: E731 - the least disturbed of the repeats
rf, re = best([r["fit_s"] for r in rust]), best([r["encode_s"] for r in rust])
pf, pt, pth = best(fits), best(transforms), best(thresholds)
print(f"{a.rows} x {a.cols}, {a.cols}-{a.hidden.replace(',', '-')}-{a.cols}, {a.epochs} epochs at batch {a.batch}, "
      f"on {rust[0]['adapter']}, best of {a.repeats}:")
print(f"  fit:        Rust {rf:.3f} s, Python {pf:.3f} s "
      f"(of which threshold_ {pth:.3f} s): overhead {pf - pth - rf:+.3f} s "
      f"({(pf - pth) / rf - 1:+.1%}) besides the threshold")
print(f"  transform:  Rust {re:.3f} s, Python {pt:.3f} s: overhead {pt - re:+.3f} s "
      f"({pt / re - 1:+.1%})")
sys.exit(0)
