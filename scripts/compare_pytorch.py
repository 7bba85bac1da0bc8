#!/usr/bin/env python3
"""Side by side: the same autoencoder trained in wgae and in PyTorch, on the same
data, with the same model and settings, in one run.

  784-32-784, relu code, sigmoid output, BCE, Adam lr 1e-3, batch 256,
  MNIST (WGAE_MNIST_DIR, default ../shared/data/mnist; the first --n images),
  or, when MNIST is absent (a GPU machine without ../shared) or with
  --synthetic, --n random 28x28 stroke images written to a temporary .npy.

PyTorch runs eager on CUDA when available, else on the CPU; without torch the
peer is scikit-learn's MLPRegressor (relu, identity output, squared loss: the
closest it has). Prints samples/s of both, their ratio, and the final losses.

    cargo build --release
    python3 scripts/compare_pytorch.py [--n 8000] [--epochs 5] [--wgae target/release/wgae]

On a machine where wgae runs through Vulkan on an NVIDIA GPU, point the
loader at the driver if needed:
    VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
"""
import argparse
import gzip
import json
import os
import subprocess
import sys
import time

import numpy as np


def load(path, n):
    with gzip.open(path, "rb") as f:
        data = f.read()
    count, h, w = (int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(3))
    x = np.frombuffer(data, dtype=np.uint8, offset=16).reshape(count, h * w)[:n]
    return x.astype(np.float32) / 255.0


def synthetic(n, seed=0):
    """n 28x28 images in [0, 1]: a few random thick strokes each, like digits."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:28, 0:28].astype(np.float32)
    out = np.zeros((n, 28, 28), np.float32)
    for i in range(n):
        for _ in range(rng.integers(2, 5)):
            (x0, y0), (x1, y1) = rng.uniform(5, 23, 2), rng.uniform(5, 23, 2)
            t = np.linspace(0, 1, 24)[:, None, None]
            d2 = (xx - (x0 + t * (x1 - x0))) ** 2 + (yy - (y0 + t * (y1 - y0))) ** 2
            out[i] = np.maximum(out[i], np.exp(-d2.min(0) / 2.0))
    return out.reshape(n, 784)


def torch_peer(x, epochs, batch):
    import torch

    dev = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 32), torch.nn.ReLU(), torch.nn.Linear(32, 784)
    ).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    xt = torch.from_numpy(x).to(dev)
    n = xt.shape[0]

    def epoch():
        perm = torch.randperm(n, device=dev)
        total = 0.0
        for i in range(0, n, batch):
            xb = xt[perm[i : i + batch]]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), xb)
            loss.backward()
            opt.step()
            total += loss.detach() * xb.shape[0]
        return total

    epoch()  # warm-up (CUDA context, kernels), not timed
    if dev == "cuda":
        torch.cuda.synchronize()
    t0 = time.time()
    for _ in range(epochs):
        total = epoch()
    if dev == "cuda":
        torch.cuda.synchronize()
    seconds = time.time() - t0
    with torch.no_grad():
        final = float(loss_fn(model(xt), xt))
    name = f"PyTorch {torch.__version__} eager on {torch.cuda.get_device_name() if dev == 'cuda' else 'CPU'}"
    return name, n * epochs / seconds, final, "BCE/pixel"


def sklearn_peer(x, epochs, batch):
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    m = MLPRegressor(hidden_layer_sizes=(32,), activation="relu", solver="adam", learning_rate_init=1e-3,
                     batch_size=batch, max_iter=epochs, shuffle=True, random_state=0, alpha=0.0, tol=0.0,
                     n_iter_no_change=epochs + 1)
    t0 = time.time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        m.fit(x, x)
    seconds = time.time() - t0
    final = float(np.mean((m.predict(x) - x) ** 2))
    return "scikit-learn MLPRegressor (CPU)", x.shape[0] * epochs / seconds, final, "MSE/pixel"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mnist-dir", default=os.environ.get("WGAE_MNIST_DIR", "../shared/data/mnist"))
    ap.add_argument("--n", type=int, default=8000)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--wgae", default="target/release/wgae")
    ap.add_argument("--synthetic", action="store_true", help="random stroke images instead of MNIST")
    args = ap.parse_args()
    path = os.path.join(args.mnist_dir, "t10k-images-idx3-ubyte.gz")
    if args.synthetic or not os.path.exists(path):
        import tempfile

        x = synthetic(args.n)
        path = os.path.join(tempfile.mkdtemp(), "synthetic.npy")
        np.save(path, x)
        data_name = "synthetic stroke images"
    else:
        x = load(path, args.n)
        data_name = "MNIST images"

    try:
        import torch  # noqa: F401

        peer = torch_peer(x, args.epochs, args.batch)
        loss_flags = ["--loss", "bce"]
    except ImportError:
        peer = sklearn_peer(x, args.epochs, args.batch)
        loss_flags = ["--loss", "mse", "--out-act", "identity"]

    # wgae: one warm-up epoch more than timed, as for the peer; samples/s is
    # the mean over the timed epochs from its per-epoch report.
    cmd = [args.wgae, "train", "--data", path, "--limit", str(args.n), "--arch", "784,32", "--act", "relu",
           *loss_flags, "--optimizer", "adam", "--lr", "1e-3", "--batch", str(args.batch),
           "--epochs", str(args.epochs + 1), "--val-split", "0", "--json"]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"wgae failed:\n{out.stderr}")
    rates = [float(l.split("  ")[-1].split()[0]) for l in out.stderr.splitlines() if l.startswith("epoch") and "samples/s" in l]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    wgae_rate = sum(rates[1:]) / len(rates[1:]) if len(rates) > 1 else result["samples_per_sec"]
    wgae_loss = result["train_loss"] if loss_flags[1] == "bce" else result["recon_mse"]

    name, rate, loss, unit = peer
    print(f"data: {x.shape[0]} {data_name}, {args.epochs} timed epochs, 784-32-784, Adam 1e-3, batch {args.batch}")
    print(f"{name}: {rate:,.0f} samples/s, final {unit} {loss:.5f}")
    what = "last-epoch mean BCE/pixel" if loss_flags[1] == "bce" else "final MSE/pixel"
    print(f"wgae on {result['adapter']}: {wgae_rate:,.0f} samples/s, {what} {wgae_loss:.5f}")
    print(f"samples/s ratio wgae / peer: {wgae_rate / rate:.2f}")


if __name__ == "__main__":
    main()
