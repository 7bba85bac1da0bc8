"""AutoRec on MovieLens-100K from the CLI (`wgae train --rows items`), the
ratings read from the RecBole 1.2.1 wheel at test time (the MovieLens licence
forbids storing them here). Under CI=true a failed fetch fails; elsewhere it
skips."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from test_files import cli  # noqa: E402


def movielens(tmp_path):
    from wheel_data import movielens_100k

    try:
        return movielens_100k(tmp_path / "ml-100k.inter")
    except Exception as e:  # noqa: BLE001 - a fetch can fail many ways
        if os.environ.get("CI") in ("true", "1"):
            raise
        pytest.skip(f"cannot fetch the recbole wheel: {e}")


def test_i_autorec_beats_the_item_means_on_movielens_100k(tmp_path):
    inter = movielens(tmp_path)
    out = subprocess.run(
        [cli(), "train", "--data", str(inter), "--rows", "items", "--epochs", "20",
         "--batch", "64", "--lr", "1e-3", "--weight-decay", "2e-3", "--quiet"],
        check=True, capture_output=True, text=True,
    ).stdout
    assert "held-out ratings (10066)" in out, out
    rmse = float(out.split("RMSE ")[1].split(",")[0])
    # The item means predict the held-out ratings at RMSE 1.02-1.03; this
    # budget (20 epochs of batches of 64, not the defaults' 150 full-matrix
    # epochs, which reach 0.87-0.90 in about 4 minutes) measured 0.9115 on
    # lavapipe with this seed (42), and 0.886-0.912 over seeds 1-5
    # (BENCHMARKS.md). The bound leaves 2% above this seed's figure for
    # another device's rounding.
    assert rmse < 0.93, out


def test_implicit_feedback_beats_popularity_on_movielens_100k(tmp_path):
    inter = movielens(tmp_path)
    run = subprocess.run(
        [cli(), "train", "--data", str(inter), "--implicit", "--epochs", "10", "--batch", "32",
         "--lr", "3e-3"],
        check=True, capture_output=True, text=True,
    )
    recall = float(run.stdout.split("recall@10 ")[1].split(",")[0])
    popular = float(run.stderr.split("popularity baseline: recall@10 ")[1].split()[0])
    # Measured 0.2006 against popularity's 0.1603 (BENCHMARKS.md).
    assert recall > popular + 0.02, (recall, popular)


def test_scipy_sparse_npz_ratings_train_alike_in_every_format(tmp_path):
    """MovieLens-100K saved by scipy.sparse.save_npz (users x items) as
    CSR, CSC and COO: the same ratings, so the same held-out RMSE; the
    model file then recommends by row number."""
    import numpy as np
    import scipy.sparse as sp

    inter = movielens(tmp_path)
    lines = inter.read_text().splitlines()[1:]
    u, i, r = (np.array([ln.split("\t")[k] for ln in lines]) for k in range(3))
    users, ui = np.unique(u.astype(int), return_inverse=True)
    items, ii = np.unique(i.astype(int), return_inverse=True)
    m = sp.coo_matrix((r.astype(np.float32), (ui, ii)), shape=(len(users), len(items)))
    outs = []
    for fmt in ("csr", "csc", "coo"):
        path = tmp_path / f"ml.{fmt}.npz"
        sp.save_npz(path, m.asformat(fmt))
        args = [cli(), "train", "--data", str(path), "--rows", "items", "--epochs", "2",
                "--batch", "64", "--lr", "1e-3", "--quiet"]
        if fmt == "csr":
            args += ["--save", str(tmp_path / "ml.safetensors")]
        outs.append(subprocess.run(args, check=True, capture_output=True, text=True).stdout)
    assert "held-out ratings (" in outs[0], outs[0]
    assert outs[0] == outs[1] == outs[2], outs
    top = subprocess.run(
        [cli(), "recommend", "--model", str(tmp_path / "ml.safetensors"),
         "--data", str(tmp_path / "ml.csr.npz"), "--user", "0", "--k", "5"],
        check=True, capture_output=True, text=True,
    ).stdout.splitlines()
    assert top[0] == "item,predicted" and len(top) == 6, top
    rated = set(m.tocsr()[0].indices)
    assert all(int(line.split(",")[0]) not in rated for line in top[1:]), top
    bsr = tmp_path / "ml.bsr.npz"
    sp.save_npz(bsr, m.tobsr())
    bad = subprocess.run([cli(), "train", "--data", str(bsr), "--rows", "items"],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "tocsr" in bad.stderr, bad.stderr
