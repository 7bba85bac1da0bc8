"""Deploying a detector without wgae: an autoencoder trained by the `wgae` CLI
on the benign tumours of scikit-learn's breast-cancer data (30 raw features,
standardized inside the model by `--scale standard`), exported with `wgae
export --part score`, then used through onnxruntime alone: raw rows in, each
row's reconstruction error out, and the malignant tumours flagged above the
99th percentile of the training errors.

    python python/examples/onnx_detector.py [--out DIR]

The wgae binary is WGAE_BIN, or `wgae` on PATH, or the repository's release
build. The second half of the script imports nothing of wgae.
"""
import argparse
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import roc_auc_score

REPO = Path(__file__).resolve().parents[2]


def wgae_bin():
    found = os.environ.get("WGAE_BIN") or shutil.which("wgae")
    return found or str(REPO / "target" / "release" / "wgae")


def train_and_export(out, X_train):
    """Trains on raw rows (the scaling is the model's) and exports the score."""
    header = ",".join(f"f{j}" for j in range(X_train.shape[1]))
    np.savetxt(out / "benign.csv", X_train, delimiter=",", header=header, comments="")
    run = lambda *a: subprocess.run([wgae_bin(), *a], check=True, cwd=out)  # noqa: E731
    run("train", "--data", "benign.csv", "--arch", "30,12,4", "--loss", "mse", "--scale",
        "standard", "--epochs", "200", "--batch", "32", "--lr", "3e-3", "--seed", "0",
        "--quiet", "--force", "--save", "detector.safetensors")
    run("export", "--model", "detector.safetensors", "--part", "score", "--onnx",
        "detector.onnx", "--force")
    return out / "detector.onnx"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, help="where the model files go (a temporary folder)")
    args = ap.parse_args()
    data = load_breast_cancer()
    X, malignant = data.data.astype(np.float32), data.target == 0
    rng = np.random.default_rng(0)
    benign = np.flatnonzero(~malignant)
    train = rng.choice(benign, size=len(benign) * 2 // 3, replace=False)
    test = np.setdiff1d(np.arange(len(X)), train)
    out = args.out or Path(tempfile.mkdtemp(prefix="wgae-onnx-"))
    out.mkdir(parents=True, exist_ok=True)
    path = train_and_export(out, X[train])

    # From here on: onnxruntime and numpy only, as a deployment would.
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inputs = [i.name for i in session.get_inputs()]
    outputs = [o.name for o in session.get_outputs()]
    print(f"{path}: inputs {inputs}, outputs {outputs}")
    train_scores = session.run(["score"], {"input": X[train]})[0]
    threshold = float(np.quantile(train_scores, 0.99))
    scores = session.run(["score"], {"input": X[test]})[0]
    flagged = scores > threshold
    y = malignant[test]
    print(f"threshold (99th percentile of the training errors): {threshold:.4f}")
    print(f"held-out rows: {len(test)} ({int(y.sum())} malignant)")
    print(f"ROC AUC of the score: {roc_auc_score(y, scores):.3f}")
    print(f"flagged: {int(flagged.sum())}; malignant among them: {int((flagged & y).sum())}; "
          f"malignant caught: {(flagged & y).sum() / y.sum():.1%}; "
          f"benign flagged: {(flagged & ~y).sum() / (~y).sum():.1%}")


if __name__ == "__main__":
    main()
