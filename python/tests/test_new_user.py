"""What a new user tripped over (issue 22): GridSearchCV without a scoring,
shaped samples for a convolutional model, per-feature errors, a threshold
without a contamination guess, and errors in Python's words."""
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV

import wgae
from conftest import small

LAYERS = [
    {"type": "conv2d", "filters": 3, "kernel": 3, "padding": "same"},
    {"type": "max_pool2d", "size": 2},
]


def test_score_is_the_mean_score_and_grid_search_needs_no_scoring(blobs):
    ae = small(epochs=10).fit(blobs)
    assert ae.score(blobs) == pytest.approx(float(np.mean(ae.score_samples(blobs))), rel=1e-6)
    assert ae.score(blobs) < 0
    # A wider code reconstructs better, so GridSearchCV picks it by score.
    search = GridSearchCV(small(epochs=40), {"hidden": [(8, 1), (8, 6)]}, cv=2).fit(blobs)
    assert search.best_params_ == {"hidden": (8, 6)}
    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores)) and scores[1] > scores[0]


def test_shaped_samples_go_in_and_come_out_in_their_shape():
    rng = np.random.default_rng(3)
    X4 = rng.random((32, 2, 6, 8)).astype(np.float32)
    flat = X4.reshape(32, -1)
    # input_shape is taken from X when it is not given.
    ae = small(loss="bce", encoder_layers=LAYERS, batch_size=16).fit(X4)
    assert ae.sample_shape_ == (2, 6, 8) and ae.n_features_in_ == 96
    rec = ae.reconstruct(X4)
    assert rec.shape == X4.shape
    # The same bits as the flattened rows, which still work.
    np.testing.assert_array_equal(rec.reshape(32, -1), ae.reconstruct(flat))
    assert ae.reconstruct(flat).shape == flat.shape
    codes = ae.transform(X4)
    np.testing.assert_array_equal(codes, ae.transform(flat))
    assert ae.inverse_transform(codes).shape == X4.shape
    np.testing.assert_array_equal(ae.reconstruction_error(X4), ae.reconstruction_error(flat))
    # (n, C, L) for a 1-D model, with input_shape given.
    X3 = rng.random((20, 3, 10)).astype(np.float32)
    ae1 = small(loss="bce", input_shape=(3, 10), batch_size=8, encoder_layers=[
        {"type": "conv1d", "filters": 2, "kernel": 3, "padding": "same"}]).fit(X3)
    assert ae1.reconstruct(X3).shape == X3.shape
    # Samples of another shape are refused, naming both shapes; channels
    # last gets the way to move them.
    with pytest.raises(ValueError, match=r"\(6, 8, 2\).*\(2, 6, 8\).*moveaxis"):
        ae.reconstruct(np.moveaxis(X4, 1, -1))
    with pytest.raises(ValueError, match="input_shape"):
        small(input_shape=(2, 6, 8), encoder_layers=LAYERS).fit(X4[:, :, :, :6])


def test_per_feature_errors_add_up_to_the_row_error(blobs):
    ae = small(epochs=10).fit(blobs)
    shares = ae.reconstruction_error(blobs, per_feature=True)
    assert shares.shape == blobs.shape and (shares >= 0).all()
    np.testing.assert_allclose(shares.sum(axis=1), ae.reconstruction_error(blobs),
                               rtol=1e-4, atol=1e-7)
    # The feature that was broken is the one that is blamed.
    broken = blobs[:5].copy()
    broken[:, 7] += 3.0
    assert (ae.reconstruction_error(broken, per_feature=True).argmax(axis=1) == 7).all()


def test_a_threshold_without_a_contamination_guess(blobs):
    ae = small(epochs=10, contamination="mad").fit(blobs)
    err = ae.reconstruction_error(blobs).astype(np.float64)
    med = np.median(err)
    want = med + 3 * 1.4826 * np.median(np.abs(err - med))
    assert ae.threshold_ == pytest.approx(want, rel=1e-6)
    k5 = small(epochs=10, contamination="mad:5").fit(blobs)
    assert k5.threshold_ > ae.threshold_
    far = np.full((3, 12), 0.5, np.float32) + np.eye(3, 12, dtype=np.float32) * 3
    assert (ae.predict(far) == -1).all()
    for bad in ("mad:-1", "median", "mad:x"):
        with pytest.raises(ValueError, match="contamination"):
            small(contamination=bad).fit(blobs)


def test_save_speaks_python(tmp_path, blobs):
    ae = small().fit(blobs)
    path = tmp_path / "m.safetensors"
    ae.save(path)
    with pytest.raises(FileExistsError, match="overwrite=True") as e:
        ae.save(path)
    assert "--force" not in str(e.value)
    with pytest.raises(FileNotFoundError):
        wgae.load(tmp_path / "none.safetensors")
    with pytest.raises(ValueError, match="device"):
        wgae.load("/dev/zero")


def test_library_errors_name_parameters_not_flags(blobs):
    with pytest.raises(Exception, match="diverged") as e:
        small(lr=1e12, epochs=3, optimizer="sgd").fit(blobs * 1e3)
    assert "`lr`" in str(e.value) and "--" not in str(e.value)
