"""Residual blocks from Python: layer dicts with type "residual" and a
list of body layers, as wgae's TOML writes them."""
import numpy as np
import pytest
from sklearn.datasets import load_digits

import wgae
from conftest import small


def digits():
    X = load_digits().data.astype(np.float32) / 16.0
    return X[:300]


BLOCK = {
    "type": "residual",
    "layers": [
        {"type": "conv2d", "filters": 4, "kernel": 3, "padding": "same", "bias": False},
        {"type": "batch_norm2d", "act": "relu"},
        {"type": "conv2d", "filters": 4, "kernel": 3, "stride": 2, "padding": "same"},
    ],
}


def test_a_residual_conv_model_fits_transforms_and_round_trips(tmp_path):
    X = digits()
    ae = small(
        loss="bce",
        input_shape=(1, 8, 8),
        encoder_layers=[
            {"type": "conv2d", "filters": 4, "kernel": 3, "padding": "same"},
            BLOCK,
            {"type": "flatten"},
            {"type": "dense", "units": 6, "act": "identity"},
        ],
        epochs=4,
        batch_size=32,
    ).fit(X)
    assert ae.transform(X).shape == (len(X), 6)
    rec = ae.reconstruct(X)
    assert rec.shape == X.shape
    # Training moved the loss down from its first epoch.
    losses = [h["train_loss"] for h in ae.history_]
    assert losses[-1] < losses[0], losses
    summary = ae.summary()
    assert "Residual" in summary and "encoder.2.body.0" in summary
    path = tmp_path / "res.safetensors"
    ae.save(str(path))
    again = wgae.load(str(path))
    np.testing.assert_allclose(again.reconstruct(X), rec, rtol=0, atol=1e-6)


def test_a_bad_block_names_the_parameter():
    X = digits()
    bad = dict(BLOCK, layers=BLOCK["layers"][:2] + [dict(BLOCK["layers"][2], act="relu")])
    with pytest.raises(ValueError, match="block's `act`"):
        small(input_shape=(1, 8, 8), encoder_layers=[bad, {"type": "flatten"}]).fit(X)
