"""Sequence autoencoders from Python: 3-D arrays (n, T, F), PyTorch's
batch_first layout, with LSTM and GRU layers."""
import numpy as np
import pytest

from conftest import small


def waves(n=96, steps=12, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(steps)
    phase = rng.uniform(0, steps, n)[:, None]
    x = np.stack([np.sin(2 * np.pi * (t + phase) / 6), np.cos(2 * np.pi * (t + phase) / 4)], axis=2)
    return x.astype(np.float32)


def test_a_seq2seq_lstm_fits_3d_arrays_and_answers_in_their_shape():
    X = waves()
    ae = small(
        loss="mse",
        output_activation="identity",
        encoder_layers=[{"type": "lstm", "hidden": 8}],
        epochs=5,
        batch_size=16,
        lr=0.01,
    ).fit(X)
    assert ae.transform(X).shape == (len(X), 8)
    rec = ae.reconstruct(X)
    assert rec.shape == X.shape
    losses = [h["train_loss"] for h in ae.history_]
    assert losses[-1] < losses[0], losses
    assert "LSTM" in ae.summary() and "RepeatVector" in ae.summary()
    scores = ae.score_samples(X)
    assert scores.shape == (len(X),) and np.all(np.isfinite(scores))


def test_a_gru_that_cannot_take_an_image_says_so():
    X = np.zeros((8, 2, 3, 3), np.float32)
    with pytest.raises(ValueError, match="sequence"):
        small(encoder_layers=[{"type": "gru", "hidden": 4}]).fit(X)
