"""wgae.AutoRec on ratings: fitted from a DataFrame, a scipy.sparse matrix
or an array with NaN, it predicts the held-out ratings of two tastes far
better than the mean, and recommends only items a user has not rated."""
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import wgae


def two_tastes(seed=0):
    """60 users x 40 items: a rating is 4 where a user's taste (u % 2)
    and an item's genre (i % 2) agree, 2 where not; 40% of pairs rated."""
    rng = np.random.default_rng(seed)
    rows = [(f"u{u}", f"i{i}", 4.0 if u % 2 == i % 2 else 2.0)
            for u in range(60) for i in range(40) if rng.random() < 0.4]
    return pd.DataFrame(rows, columns=["user", "item", "rating"])


def test_autorec_learns_tastes_and_recommends_unrated_items():
    df = two_tastes()
    held = df.sample(frac=0.1, random_state=0)
    train = df.drop(held.index)
    rec = wgae.AutoRec(hidden=16, epochs=150, batch_size=8, lr=0.01, weight_decay=1e-4,
                       random_state=0).fit(train)
    pred = rec.predict(held["user"].to_numpy(), held["item"].to_numpy())
    rmse = float(np.sqrt(np.mean((pred - held["rating"].to_numpy()) ** 2)))
    assert rmse < 0.5, rmse  # the mean (about 3) errs by 1
    assert isinstance(rec.predict("u0", "i0"), float)
    assert rec.predict("nobody", "i0") == pytest.approx(rec.mean_)
    top = rec.recommend("u0", k=5)
    rated = set(train.loc[train["user"] == "u0", "item"])
    assert len(top) == 5 and not rated & {item for item, _ in top}
    # u0 likes even items: its top recommendations are even.
    assert all(int(item[1:]) % 2 == 0 for item, _ in top), top
    with pytest.raises(KeyError, match="nobody"):
        rec.recommend("nobody")


def test_autorec_takes_sparse_matrices_and_arrays():
    A = np.full((6, 5), np.nan)
    A[0, :3] = [5, 4, 1]
    A[1, 1:4] = [4, 2, 2]
    A[2::2, 4] = 3
    for X in (A, sp.coo_matrix(np.nan_to_num(A))):
        rec = wgae.AutoRec(hidden=4, epochs=2, rows="users").fit(X)
        assert rec.predict("0", "1") >= 1 and rec.predict("0", "1") <= 5
    with pytest.raises(ValueError, match="rows="):
        wgae.AutoRec(rows="things").fit(A)
    with pytest.raises(ValueError, match="no ratings"):
        wgae.AutoRec().fit(np.full((3, 3), np.nan))
