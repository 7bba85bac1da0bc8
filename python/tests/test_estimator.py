"""What the estimator does with data: the methods' meaning, data types and
layouts, bad input, the epoch callback, verbose output, Ctrl-C, and training
with the GIL released."""
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd
import pytest

import wgae
from conftest import small


def test_methods_and_fitted_attributes(blobs):
    ae = small(epochs=30, contamination=0.05).fit(blobs)
    n = len(blobs)
    assert ae.n_features_in_ == 12 and ae.n_components_ == 3
    assert len(ae.history_) == 30 and ae.n_iter_ == 30
    assert ae.history_[-1]["train_loss"] < ae.history_[0]["train_loss"]
    codes = ae.transform(blobs)
    assert codes.shape == (n, 3) and codes.dtype == np.float32
    # fit_transform is fit then transform, bit for bit (same seed).
    np.testing.assert_array_equal(small(epochs=30).fit_transform(blobs), codes)
    rec = ae.reconstruct(blobs)
    np.testing.assert_allclose(ae.inverse_transform(codes), rec, rtol=1e-5, atol=1e-6)
    err = ae.reconstruction_error(blobs)
    np.testing.assert_allclose(err, ((rec - blobs) ** 2).mean(axis=1), rtol=1e-4, atol=1e-7)
    # Higher scores are more normal; predict flags the contamination share.
    np.testing.assert_array_equal(ae.score_samples(blobs), -err)
    labels = ae.predict(blobs)
    assert set(np.unique(labels)) == {-1, 1}
    assert abs((labels == -1).mean() - 0.05) <= 0.01
    np.testing.assert_array_equal(labels, np.where(err > ae.threshold_, -1, 1))
    np.testing.assert_allclose(ae.decision_function(blobs), -err - ae.offset_)
    # Points far from the data are outliers.
    far = np.full((3, 12), 0.5, np.float32) + np.eye(3, 12, dtype=np.float32) * 3
    assert (ae.predict(far) == -1).all()
    assert "Linear" in ae.summary()


def test_variants_and_a_vae_samples(blobs):
    for variant in ("sparse", "kl-sparse", "denoising", "contractive"):
        hidden = (4,) if variant == "contractive" else (8, 4)
        ae = small(variant=variant, hidden=hidden, loss="bce").fit(blobs)
        assert np.isfinite(ae.history_[-1]["train_loss"]), variant
    # kl_beta takes effect with the variant's default rho.
    a = small(variant="kl-sparse", loss="bce").fit(blobs).history_[-1]["penalty"]
    b = small(variant="kl-sparse", kl_beta=5.0, loss="bce").fit(blobs).history_[-1]["penalty"]
    assert b > 2 * a
    vae = small(variant="vae", hidden=(8, 2), loss="bce", epochs=10).fit(blobs)
    assert vae.history_[-1]["elbo"] is not None
    s = vae.sample(7, random_state=1)
    assert s.shape == (7, 12) and np.isfinite(s).all() and (s >= 0).all() and (s <= 1).all()
    np.testing.assert_array_equal(s, vae.sample(7, random_state=1))
    with pytest.raises(ValueError, match="VAE"):
        small().fit(blobs).sample(3)


def test_a_conv_model_from_layers():
    rng = np.random.default_rng(1)
    X = rng.random((64, 2 * 6 * 8)).astype(np.float32)
    ae = small(
        loss="bce",
        input_shape=(2, 6, 8),
        encoder_layers=[
            {"type": "conv2d", "filters": 3, "kernel": 3, "padding": "same", "act": "identity",
             "bias": False},
            {"type": "batch_norm2d", "act": "relu"},
            {"type": "max_pool2d", "size": 2},
        ],
        batch_size=16,
    ).fit(X)
    assert ae.transform(X).shape == (64, 3 * 3 * 4)
    assert ae.reconstruct(X).shape == X.shape
    assert "BatchNorm2d" in ae.summary()
    with pytest.raises(ValueError, match="input_shape"):
        small(input_shape=(2, 6, 7), encoder_layers=[{"type": "flatten"}]).fit(X)


def test_dtypes_layouts_and_containers(blobs):
    ae = small().fit(blobs)
    want = ae.transform(blobs)
    X64 = blobs.astype(np.float64)
    out64 = ae.transform(X64)
    assert out64.dtype == np.float64
    np.testing.assert_array_equal(out64.astype(np.float32), want)
    for X in (np.asfortranarray(blobs), blobs.tolist(), pd.DataFrame(blobs)):
        np.testing.assert_array_equal(np.asarray(ae.transform(X), np.float32), want)
    # A DataFrame's column names are kept and checked.
    df = pd.DataFrame(blobs, columns=[f"f{i}" for i in range(12)])
    fitted = small().fit(df)
    assert list(fitted.feature_names_in_) == list(df.columns)
    # Training from the same data in any layout gives the same bits.
    np.testing.assert_array_equal(small().fit(X64).transform(blobs), want)


def test_c_contiguous_float32_reaches_the_gpu_without_a_copy(blobs, monkeypatch):
    seen = {}
    real = wgae.estimator._wgae.train

    def spy(model_json, train_json, x, *rest):
        seen["x"] = x
        return real(model_json, train_json, x, *rest)

    monkeypatch.setattr(wgae.estimator._wgae, "train", spy)
    small().fit(blobs)
    assert seen["x"] is blobs or np.shares_memory(seen["x"], blobs)
    small().fit(np.asfortranarray(blobs))
    assert not np.shares_memory(seen["x"], blobs)


@pytest.mark.parametrize(
    "X, message",
    [
        (np.array([[0.1, np.nan], [0.2, 0.3]]), "NaN"),
        (np.array([[0.1, np.inf], [0.2, 0.3]]), "infinity"),
        (np.array([0.1, 0.2, 0.3]), "2D array"),
        (np.zeros((0, 3)), "0 sample"),
        (np.zeros((3, 0)), "0 feature"),
        (np.array([["a", "b"]]), "convert"),
    ],
)
def test_bad_data_raises_value_error(X, message):
    with pytest.raises(ValueError, match=message):
        small().fit(X)


def test_bad_parameters_raise_clear_errors(blobs):
    cases = [
        (dict(lr=-1), "lr=-1"),
        (dict(weight_decay=-1), "weight_decay"),
        (dict(validation_split=float("nan")), "validation_split"),
        (dict(validation_split=1.5), "validation_split"),
        (dict(epochs=0), "epochs"),
        (dict(hidden=()), "hidden"),
        (dict(hidden=(0,)), "hidden"),
        (dict(activation="swish"), "activation"),
        (dict(loss="hinge"), "loss"),
        (dict(variant="vq"), "variant"),
        (dict(optimizer="lbfgs"), "optimizer"),
        (dict(contamination=0.7), "contamination"),
        (dict(early_stopping=3), "validation"),
        (dict(noise="blur:3"), "noise"),
        (dict(tied=True, decoder=(4,)), "tied"),
        (dict(loss="bce", output_activation="identity"), "sigmoid"),
        (dict(precision="f8"), "precision"),
    ]
    for params, message in cases:
        with pytest.raises(ValueError, match=message):
            small(**params).fit(blobs)
    # BCE compares with probabilities: data outside [0, 1] is refused.
    with pytest.raises(ValueError, match="MinMaxScaler"):
        small(loss="bce").fit(blobs * 3 - 1)
    # Wrong widths at inference name both.
    ae = small().fit(blobs)
    with pytest.raises(ValueError, match="12 features"):
        ae.transform(blobs[:, :5])
    with pytest.raises(ValueError, match="3 values per row"):
        ae.inverse_transform(np.zeros((2, 4)))


def test_no_input_panics_or_aborts(blobs):
    # Sizes past what the GPU holds are errors, not aborts.
    with pytest.raises((ValueError, RuntimeError)):
        small(hidden=(4_000_000_000,)).fit(blobs)
    # A batch larger than the data is the whole data, as in Keras.
    assert small(batch_size=2**40, epochs=1).fit(blobs).n_iter_ == 1
    with pytest.raises(RuntimeError, match="adapter"):
        small(device="no-such-gpu-anywhere").fit(blobs)
    with pytest.raises(ValueError):
        small(encoder_layers=[{"type": "conv2d", "filters": 2}]).fit(blobs)
    with pytest.raises(ValueError):
        small(encoder_layers=[{"type": "teleport"}]).fit(blobs)
    with pytest.raises(ValueError, match="n_samples"):
        small(variant="vae", loss="bce").fit(blobs).sample(0)


def test_callback_gets_each_epoch_and_can_stop(blobs):
    seen = []
    ae = small(epochs=10, validation_split=0.25,
               callback=lambda m: seen.append(m) or len(seen) < 3).fit(blobs)
    assert [m["epoch"] for m in seen] == [1, 2, 3] and len(ae.history_) == 3
    assert all(m["val_loss"] is not None for m in seen)

    def boom(_):
        raise RuntimeError("callback failed")

    with pytest.raises(RuntimeError, match="callback failed"):
        small(callback=boom).fit(blobs)


def test_verbose_prints_one_line_per_epoch(blobs, capsys):
    small(epochs=3, verbose=1).fit(blobs)
    lines = [l for l in capsys.readouterr().err.splitlines() if l.startswith("epoch")]
    assert len(lines) == 3 and "loss" in lines[0]
    small(epochs=3).fit(blobs)
    assert "epoch" not in capsys.readouterr().err


CTRL_C_CHILD = r"""
import sys
import numpy as np
import wgae

X = np.random.default_rng(0).random((400, 12)).astype(np.float32)
ae = wgae.Autoencoder(hidden=(8, 3), epochs=100_000, batch_size=16, random_state=0,
                      callback=lambda m: print("epoch", m["epoch"], flush=True))
try:
    ae.fit(X)
except KeyboardInterrupt:
    # Fitted with the weights so far, and usable.
    codes = ae.transform(X)
    print("interrupted after", ae.n_iter_, "epochs; codes", codes.shape,
          "outliers", int((ae.predict(X) == -1).sum()), flush=True)
    sys.exit(3)
print("not interrupted", flush=True)
"""


def test_ctrl_c_stops_at_an_epoch_boundary_and_keeps_the_model(tmp_path):
    # SIGINT to a training subprocess, as a terminal's Ctrl-C sends it (run
    # from elsewhere, so that the installed package is the one imported).
    # The child gets SIGINT's default action, as a terminal's process has:
    # a test run in the background inherits it ignored (POSIX shells ignore
    # SIGINT in asynchronous lists), and Python then leaves it ignored.
    child = subprocess.Popen(
        [sys.executable, "-c", CTRL_C_CHILD],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=tmp_path,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        for line in child.stdout:
            if line.startswith("epoch 3"):
                child.send_signal(signal.SIGINT)
                break
        out, _ = child.communicate(timeout=120)
    finally:
        child.kill()
    assert child.returncode == 3, out
    epochs = int(out.split("interrupted after ")[1].split()[0])
    assert 3 <= epochs < 1000, out
    assert "codes (400, 3)" in out and "outliers 40" in out, out


def test_training_releases_the_gil(blobs):
    X = np.tile(blobs, (20, 1))
    done = threading.Event()
    ticks = []

    def count():
        while not done.is_set():
            ticks.append(1)
            time.sleep(0.001)

    t = threading.Thread(target=count)
    t.start()
    t0 = time.time()
    small(epochs=20, hidden=(64, 32, 8), batch_size=32).fit(X)
    elapsed = time.time() - t0
    done.set()
    t.join()
    # A thread that needs the GIL every millisecond kept running (held, it
    # would tick only between epochs).
    assert elapsed > 0.5, "training too short to tell"
    assert len(ticks) > 0.25 * elapsed * 1000 / 2, (len(ticks), elapsed)
