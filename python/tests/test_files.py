"""Persistence: the model file the CLI reads and writes, pickling (joblib
too), and errors from files."""
import io
import os
import pickle
import subprocess
from pathlib import Path

import joblib
import numpy as np
import pytest

import wgae
from conftest import small

REPO = Path(__file__).resolve().parents[2]


def cli():
    """The wgae binary (WGAE_BIN, or the repository's release build)."""
    path = Path(os.environ.get("WGAE_BIN", REPO / "target" / "release" / "wgae"))
    if not path.exists():
        if os.environ.get("CI") in ("true", "1"):
            pytest.fail(f"{path} is missing: CI builds it before the Python tests")
        pytest.skip(f"no wgae binary at {path} (cargo build --release)")
    return str(path)


def npy_rows(path):
    return np.load(path).reshape(-1, np.load(path).shape[-1])


def test_pickle_and_joblib_round_trip(blobs, tmp_path):
    ae = small(contamination=0.2).fit(blobs)
    for restored in (
        pickle.loads(pickle.dumps(ae)),
        joblib.load(joblib.dump(ae, tmp_path / "ae.joblib")[0]),
    ):
        np.testing.assert_array_equal(restored.transform(blobs), ae.transform(blobs))
        np.testing.assert_array_equal(restored.predict(blobs), ae.predict(blobs))
        assert restored.threshold_ == ae.threshold_
        assert restored.get_params() == ae.get_params()
    # The weights travel as a model file's bytes.
    state = ae.__getstate__()
    assert b"encoder.0.weight" in state["_model_bytes"]
    # An unfitted estimator pickles too.
    assert pickle.loads(pickle.dumps(small())).hidden == (8, 3)


def test_save_is_the_clis_model_file(blobs, tmp_path):
    ae = small().fit(blobs)
    path = tmp_path / "ae.safetensors"
    ae.save(path)
    with pytest.raises(FileExistsError, match="overwrite|force"):
        ae.save(path)
    ae.save(path, overwrite=True)
    data = tmp_path / "x.npy"
    np.save(data, blobs)
    out = tmp_path / "codes.npy"
    subprocess.run(
        [cli(), "encode", "--model", str(path), "--data", str(data), "--out", str(out)],
        check=True, capture_output=True,
    )
    np.testing.assert_array_equal(npy_rows(out), ae.transform(blobs))
    loaded = wgae.load(path, contamination=0.1)
    np.testing.assert_array_equal(loaded.transform(blobs), ae.transform(blobs))
    assert loaded.hidden == (8, 3) and loaded.n_features_in_ == 12
    with pytest.raises(Exception, match="threshold|fitted"):
        loaded.predict(blobs)
    np.testing.assert_array_equal(loaded.set_threshold(blobs).predict(blobs), ae.predict(blobs))


def test_a_cli_trained_model_loads_in_python(blobs, tmp_path):
    data = tmp_path / "x.npy"
    np.save(data, blobs)
    path = tmp_path / "cli.safetensors"
    subprocess.run(
        [cli(), "train", "--data", str(data), "--arch", "12,6,2", "--loss", "mse",
         "--out-act", "identity", "--epochs", "2", "--save", str(path)],
        check=True, capture_output=True,
    )
    rec = tmp_path / "rec.npy"
    subprocess.run(
        [cli(), "reconstruct", "--model", str(path), "--data", str(data), "--out", str(rec)],
        check=True, capture_output=True,
    )
    ae = wgae.load(path)
    assert ae.hidden == (6, 2)
    np.testing.assert_array_equal(ae.reconstruct(blobs), npy_rows(rec))


def test_file_errors_have_the_right_types(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such model file"):
        wgae.load(tmp_path / "missing.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    with pytest.raises(ValueError, match="safetensors"):
        wgae.load(bad)
    bad.write_bytes(b"")
    with pytest.raises(ValueError):
        wgae.load(bad)
    with pytest.raises(ValueError):
        pickle.loads(pickle.dumps(small())).__setstate__({"_model_bytes": b"junk"})
    ae = small().fit(np.random.default_rng(0).random((50, 4)).astype(np.float32))
    with pytest.raises(FileNotFoundError, match="folder"):
        ae.save(tmp_path / "no" / "such" / "folder" / "m.safetensors")
