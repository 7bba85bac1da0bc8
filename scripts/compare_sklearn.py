#!/usr/bin/env python3
"""wgae against a trusted peer: scikit-learn's MLPRegressor trained as an
autoencoder with the same settings on the same MNIST images.

Both: 784-32-784, relu hidden layer, identity output, squared loss, Adam at
lr 1e-3, batch 256, the same N images and the same number of epochs, no
regularization, no validation split. Prints each one's final training MSE
per pixel (computed the same way: mean((X - reconstruction)^2) over the
training images with the trained model), their ratio, and samples/s.

wgae passes when its MSE is no worse than 1.05x the peer's. One training
run's final MSE varies by about +-5% with the seed (initial weights and
batch order) for both tools, as much as the tolerance, so each tool trains
with --seeds different seeds (default 5) and the means are compared.

    cargo build --release
    python3 scripts/compare_sklearn.py [--n 8000] [--epochs 10]

Needs numpy and scikit-learn (pip install numpy scikit-learn) and MNIST
(WGAE_MNIST_DIR, default ../shared/data/mnist).
"""
import argparse
import gzip
import json
import os
import subprocess
import sys
import time
import warnings

import numpy as np


def load_idx_images(path):
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        data = f.read()
    n, h, w = (int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(3))
    return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(n, h * w).astype(np.float32) / 255.0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mnist-dir", default=os.environ.get("WGAE_MNIST_DIR", "../shared/data/mnist"))
    ap.add_argument("--n", type=int, default=8000)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--wgae", default="target/release/wgae")
    args = ap.parse_args()

    images = os.path.join(args.mnist_dir, "t10k-images-idx3-ubyte.gz")
    if not os.path.exists(images):
        sys.exit(f"MNIST not found at {images}; set WGAE_MNIST_DIR")
    x = load_idx_images(images)[: args.n]

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    peer_mse, peer_rate = [], []
    for seed in range(args.seeds):
        peer = MLPRegressor(
            hidden_layer_sizes=(32,),
            activation="relu",
            solver="adam",
            learning_rate_init=1e-3,
            batch_size=256,
            max_iter=args.epochs,
            shuffle=True,
            random_state=seed,
            alpha=0.0,
            tol=0.0,
            n_iter_no_change=args.epochs + 1,
            early_stopping=False,
        )
        t0 = time.time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            peer.fit(x, x)
        peer_rate.append(args.n * args.epochs / (time.time() - t0))
        peer_mse.append(float(np.mean((peer.predict(x) - x) ** 2)))

    wgae_mse, wgae_rate, adapter = [], [], "?"
    for seed in range(1, args.seeds + 1):
        cmd = [
            args.wgae, "train", "--data", images, "--limit", str(args.n),
            "--arch", "784,32", "--act", "relu", "--out-act", "identity", "--loss", "mse",
            "--optimizer", "adam", "--lr", "1e-3", "--batch", "256", "--epochs", str(args.epochs),
            "--val-split", "0", "--seed", str(seed), "--json", "--quiet",
        ]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"wgae failed:\n{out.stderr}")
        result = json.loads(out.stdout.strip().splitlines()[-1])
        wgae_mse.append(result["recon_mse"])
        wgae_rate.append(result["samples_per_sec"])
        adapter = result["adapter"]

    pm, wm = float(np.mean(peer_mse)), float(np.mean(wgae_mse))
    ratio = wm / pm
    fmt = lambda v: ", ".join(f"{x:.5f}" for x in v)
    print(f"data: first {args.n} MNIST test images, {args.epochs} epochs, 784-32-784 relu/identity, MSE, Adam 1e-3, batch 256, {args.seeds} seeds")
    print(f"scikit-learn MLPRegressor: final training MSE/pixel mean {pm:.5f} [{fmt(peer_mse)}], {np.mean(peer_rate):.0f} samples/s (CPU)")
    print(f"wgae on {adapter}: final training MSE/pixel mean {wm:.5f} [{fmt(wgae_mse)}], {np.mean(wgae_rate):.0f} samples/s")
    print(f"ratio of means wgae / peer: {ratio:.3f}  ({'PASS' if ratio <= 1.05 else 'FAIL'}: must be <= 1.05)")
    sys.exit(0 if ratio <= 1.05 else 1)


if __name__ == "__main__":
    main()
