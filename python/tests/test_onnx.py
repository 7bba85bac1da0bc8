"""ONNX export (`wgae export`) checked by the real runtimes: every example
config and every dense variant is trained briefly, exported in its four
parts, passed through onnx's full checker, and run in onnxruntime at batch
sizes 1, 7 and 256 on random and real rows. Its outputs must match `wgae
reconstruct`, `encode` and `anomaly` within 1e-5 of the largest value.
Under CI=true a missing onnx or onnxruntime fails; elsewhere it skips."""
import csv
import gzip
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from test_files import cli

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted((REPO / "examples" / "configs").glob("*.toml"))
PARTS = ("full", "encoder", "decoder", "score")


def runtimes():
    try:
        import onnx
        import onnxruntime
    except ImportError as e:
        if os.environ.get("CI") in ("true", "1"):
            raise
        pytest.skip(f"onnx or onnxruntime is not installed: {e}")
    return onnx, onnxruntime


def mnist_rows(n):
    """The first n MNIST test images in [0, 1] (WGAE_MNIST_DIR), or None."""
    d = Path(os.environ.get("WGAE_MNIST_DIR", REPO.parent / "shared" / "data" / "mnist"))
    path = d / "t10k-images-idx3-ubyte.gz"
    if not path.exists():
        if os.environ.get("CI") in ("true", "1"):
            pytest.fail(f"{path} is missing")
        return None
    raw = gzip.open(path).read()
    return (np.frombuffer(raw[16:16 + n * 784], np.uint8).reshape(n, 784) / 255).astype(np.float32)


def wgae(*args, cwd):
    return subprocess.run([cli(), *args], check=True, capture_output=True, text=True, cwd=cwd)


def scores(path):
    """`wgae anomaly --per-feature`'s scores and each feature's share."""
    with open(path) as f:
        rows = list(csv.DictReader(f))
    shares = [[float(v) for k, v in r.items() if k.startswith("share")] for r in rows]
    return np.array([float(r["score"]) for r in rows], np.float32), np.array(shares, np.float32)


def close(name, got, want):
    scale = max(float(np.abs(want).max()), 1e-6)
    err = float(np.abs(got - want).max())
    assert err <= 1e-5 * scale, f"{name}: max |onnx - wgae| {err:.3g} of {scale:.3g}"


def check_export(tmp, train_args, rows_sets, nan=False):
    """Trains with `train_args` on the first rows set, exports each part and
    compares onnxruntime with the CLI on every rows set."""
    onnx, ort = runtimes()
    np.save(tmp / "train.npy", rows_sets[0][1])
    wgae("train", "--data", "train.npy", "--epochs", "1", "--batch", "32", "--quiet",
         "--save", "m.safetensors", *train_args, cwd=tmp)
    sessions = {}
    for part in PARTS:
        out = wgae("export", "--model", "m.safetensors", "--onnx", f"{part}.onnx", "--part", part,
                   cwd=tmp).stdout
        assert "wrote" in out, out
        model = onnx.load(tmp / f"{part}.onnx")
        onnx.checker.check_model(model, full_check=True)
        assert model.opset_import[0].version == 17
        sessions[part] = ort.InferenceSession(str(tmp / f"{part}.onnx"),
                                              providers=["CPUExecutionProvider"])
    for what, X in rows_sets:
        np.save(tmp / "x.npy", X)
        wgae("reconstruct", "--model", "m.safetensors", "--data", "x.npy", "--out", "rec.npy",
             "--force", cwd=tmp)
        wgae("encode", "--model", "m.safetensors", "--data", "x.npy", "--out", "codes.npy",
             "--force", cwd=tmp)
        wgae("anomaly", "--model", "m.safetensors", "--data", "x.npy", "--out", "scores.csv",
             "--per-feature", "--force", cwd=tmp)
        rec, codes = np.load(tmp / "rec.npy"), np.load(tmp / "codes.npy")
        score, shares = scores(tmp / "scores.csv")
        rec, codes = rec.reshape(len(X), -1), codes.reshape(len(X), -1)
        # A share is a feature's squared error over the row's observed
        # entries (all of them without a mask); a missing entry has none.
        flat = X.reshape(len(X), -1)
        seen = (~np.isnan(flat)).sum(axis=1, keepdims=True) if nan else flat.shape[1]
        feature_errors = shares * np.maximum(seen, 1)
        for batch in (1, 7, 256):
            x = X[:batch]
            name = f"{what} batch {batch}"
            close(f"full {name}", sessions["full"].run(None, {"input": x})[0], rec[:batch])
            close(f"encoder {name}", sessions["encoder"].run(None, {"input": x})[0],
                  codes[:batch])
            close(f"decoder {name}", sessions["decoder"].run(None, {"code": codes[:batch]})[0],
                  rec[:batch])
            s, fe = sessions["score"].run(None, {"input": x})
            close(f"score {name}", s, score[:batch])
            assert fe.shape == x.shape
            close(f"feature errors {name}", fe, feature_errors[:batch])
            if nan:
                assert (fe[np.isnan(x)] == 0).all(), f"{name}: a missing entry has an error"


def random_rows(n, d, seed=0, nan=0.0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, d)).astype(np.float32)
    if nan:
        X[rng.random(X.shape) < nan] = np.nan
    return X


@pytest.mark.parametrize("config", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_every_example_config_exports(tmp_path, config):
    text = config.read_text()
    shape = None
    for line in text.splitlines():
        key = line.split("=")[0].strip()
        if key in ("input_dim", "input_shape"):
            value = line.split("=")[1].split("#")[0].strip()
            shape = [int(v) for v in value.strip("[]").split(",")]
    d = int(np.prod(shape))
    masked = 'missing = "mask"' in text
    sets = [("random", random_rows(300, d, nan=0.2 if masked else 0.0))]
    if d == 784:
        real = mnist_rows(300)
        if real is not None:
            sets.append(("MNIST", real))
    check_export(tmp_path, ["--config", str(config)], sets, nan=masked)


VARIANTS = {
    "plain": ["--arch", "64,24,8", "--loss", "mse", "--scale", "standard"],
    "tied": ["--arch", "64,24,8", "--tied"],
    "deep-gelu": ["--arch", "64,32,16,6", "--act", "gelu", "--loss", "mse"],
    "leaky-tanh": ["--arch", "64,16,4", "--act", "leaky_relu:0.2", "--code-act", "tanh"],
    "dropout": ["--arch", "64,16,4", "--dropout", "0.3"],
    "denoising": ["--arch", "64,16,4", "--variant", "denoising"],
    "sparse": ["--arch", "64,16,4", "--variant", "sparse"],
    "kl-sparse": ["--arch", "64,16,4", "--variant", "kl-sparse"],
    "contractive": ["--arch", "64,16", "--variant", "contractive"],
    "vae": ["--arch", "64,16,2", "--variant", "vae"],
    "masked": ["--arch", "64,16,4", "--loss", "mse", "--scale", "standard", "--missing", "mask"],
}


@pytest.mark.parametrize("variant", VARIANTS, ids=list(VARIANTS))
def test_every_dense_variant_exports(tmp_path, variant):
    from sklearn.datasets import load_digits

    digits = (load_digits().data / 16).astype(np.float32)
    nan = variant == "masked"
    real = digits[:300].copy()
    if nan:
        real[np.random.default_rng(1).random(real.shape) < 0.2] = np.nan
    sets = [("digits", real), ("random", random_rows(300, 64, seed=2, nan=0.2 if nan else 0.0))]
    check_export(tmp_path, VARIANTS[variant], sets, nan=nan)


def test_export_refuses_what_it_cannot_write(tmp_path):
    runtimes()
    np.save(tmp_path / "x.npy", random_rows(64, 8))
    wgae("train", "--data", "x.npy", "--arch", "8,3", "--epochs", "1", "--quiet", "--save",
         "m.safetensors", cwd=tmp_path)
    (tmp_path / "m.onnx").write_bytes(b"keep")
    for args, says in [
        (["--onnx", "m.onnx"], "--force"),
        (["--onnx", "m.txt"], ".onnx"),
        (["--onnx", "n.onnx", "--part", "middle"], "full, encoder, decoder or score"),
    ]:
        r = subprocess.run([cli(), "export", "--model", "m.safetensors", *args],
                           capture_output=True, text=True, cwd=tmp_path)
        assert r.returncode != 0 and says in r.stderr, (args, r.stderr)
    assert (tmp_path / "m.onnx").read_bytes() == b"keep"
    (tmp_path / "bad.safetensors").write_bytes(b"\x00" * 40)
    r = subprocess.run([cli(), "export", "--model", "bad.safetensors", "--onnx", "b.onnx"],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode != 0 and "bad.safetensors" in r.stderr, r.stderr
    assert not (tmp_path / "b.onnx").exists()


def test_a_gru_sequence_model_exports(tmp_path):
    """The LSTM example with GRU cells (ONNX's gate order z, r, h and
    linear_before_reset, as PyTorch computes it)."""
    text = (REPO / "examples" / "configs" / "lstm.toml").read_text().replace('"lstm"', '"gru"')
    (tmp_path / "gru.toml").write_text(text)
    check_export(tmp_path, ["--config", "gru.toml"], [("random", random_rows(300, 48))])


def test_the_estimator_exports_what_it_scores(tmp_path):
    """`Autoencoder.to_onnx`: the reconstruction, the codes and the
    reconstruction errors of the fitted estimator, NaN read as missing."""
    _, ort = runtimes()
    import wgae

    X = random_rows(200, 12, seed=3)
    ae = wgae.Autoencoder(hidden=(6, 3), loss="mse", epochs=2, random_state=0).fit(X)
    for part in PARTS:
        ae.to_onnx(tmp_path / f"{part}.onnx", part=part)
    run = lambda part, feed: ort.InferenceSession(  # noqa: E731
        str(tmp_path / f"{part}.onnx"), providers=["CPUExecutionProvider"]).run(None, feed)
    close("reconstruction", run("full", {"input": X})[0], ae.reconstruct(X))
    close("codes", run("encoder", {"input": X})[0], ae.transform(X))
    close("errors", run("score", {"input": X})[0], -ae.score_samples(X))
    with pytest.raises(FileExistsError):
        ae.to_onnx(tmp_path / "full.onnx")
    with pytest.raises(ValueError, match="part='middle'"):
        ae.to_onnx(tmp_path / "x.onnx", part="middle")
    masked = wgae.Autoencoder(hidden=(6,), loss="mse", epochs=2, missing="mask",
                              random_state=0)
    Xn = X.copy()
    Xn[np.random.default_rng(4).random(X.shape) < 0.2] = np.nan
    masked.fit(Xn).to_onnx(tmp_path / "m.onnx", part="score")
    s = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    close("masked errors", s.run(None, {"input": Xn})[0], -masked.score_samples(Xn))


def test_the_deployment_example_runs(tmp_path):
    runtimes()
    import sys

    r = subprocess.run(
        [sys.executable, str(REPO / "python" / "examples" / "onnx_detector.py"), "--out",
         str(tmp_path)],
        check=True, capture_output=True, text=True, env={**os.environ, "WGAE_BIN": cli()},
    )
    auc = float(r.stdout.split("ROC AUC of the score: ")[1].split()[0])
    assert auc > 0.9, r.stdout  # 0.947 measured
