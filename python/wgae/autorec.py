"""AutoRec (Sedhain et al., 2015): an autoencoder over the rows of a rating
matrix, learnt from the rated cells alone, which predicts the others.

    >>> rec = wgae.AutoRec().fit(ratings)                # user, item, rating
    >>> rec.predict("196", "242")                        # a predicted rating
    >>> rec.recommend("196", k=10)                       # items it has not rated

The rows are items (I-AutoRec, the default) or users (``rows="users"``). The
model is :class:`wgae.Autoencoder`'s with ``missing="mask"``: one sigmoid
hidden layer (500), a linear output, and the MSE over the rated cells with
L2 weight decay. The rating matrix stays sparse, as ``wgae train --rows``
keeps it: its ratings on the GPU, each batch's dense rows gathered there,
and predictions reconstructed only for the rows asked about. Memory grows
with the ratings, not with users x items.
"""
import json
import numbers
import sys

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from . import _wgae
from .estimator import Autoencoder

# The dense rows of a default batch take at most this (the CLI's rule).
_WHOLE_BATCH_BYTES = 64 << 20


def _triples(X):
    """(users, items, ratings) from a DataFrame (its first three columns,
    or ones named user/item/rating), a scipy.sparse matrix (users x items)
    or a 2-D array with NaN where unrated."""
    if hasattr(X, "iloc"):
        low = {str(c).split(":")[0].lower(): c for c in X.columns}

        def pick(*names):
            return next((low[n] for n in names if n in low), None)

        names = [pick("user_id", "user", "userid"),
                 pick("item_id", "item", "itemid", "movie_id", "movieid"),
                 pick("rating", "score")]
        if any(n is None for n in names):
            if X.shape[1] < 3:
                raise ValueError("X needs user, item and rating columns")
            names = list(X.columns[:3])
        users, items, r = (X[n].to_numpy() for n in names)
        return users.astype(str), items.astype(str), r.astype(np.float64)
    if hasattr(X, "tocoo"):
        coo = X.tocoo()
        return coo.row.astype(str), coo.col.astype(str), coo.data.astype(np.float64)
    A = np.asarray(X, dtype=np.float64)
    if A.ndim != 2:
        raise ValueError(f"X must be ratings (a DataFrame, a sparse matrix or a 2-D array), "
                         f"not an array of {A.ndim} dimensions")
    u, i = np.nonzero(~np.isnan(A))
    return u.astype(str), i.astype(str), A[u, i]


class AutoRec(BaseEstimator):
    """AutoRec on ratings: ``fit(X)`` with X a DataFrame of (user, item,
    rating), a scipy.sparse users x items matrix, or a 2-D array with NaN
    where unrated; then ``predict(user, item)`` and ``recommend(user, k)``.

    Parameters
    ----------
    rows : {"items", "users"}, default="items"
        What a row of the rating matrix is: I-AutoRec or U-AutoRec.
    hidden : int, default=500
    batch_size : int or None, default=None
        Rows per step; None takes the whole matrix at once where its dense
        rows take at most 64 MiB, and as many rows as fit in that otherwise
        (as ``wgae train --rows`` does by default: held-out RMSE 0.898 on
        MovieLens-100K).
    epochs, lr, weight_decay, random_state, device, verbose
        As :class:`wgae.Autoencoder`'s (weight_decay is the L2 term).

    Attributes
    ----------
    model_ : the trained network (``save(path)`` writes the model file)
    history_ : list of dict, each epoch's report
    users_, items_ : the IDs, as strings, in the order of their indices
    mean_, range_ : the training ratings' mean and (min, max)
    """

    def __init__(self, rows="items", hidden=500, epochs=150, batch_size=None, lr=1e-2,
                 weight_decay=2e-3, random_state=None, device=None, verbose=0):
        self.rows = rows
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def fit(self, X, y=None):
        if self.rows not in ("items", "users"):
            raise ValueError(f"rows={self.rows!r}: expected 'items' or 'users'")
        if not isinstance(self.hidden, numbers.Integral) or self.hidden < 1:
            raise ValueError(f"hidden={self.hidden!r}: expected a positive width")
        users, items, r = _triples(X)
        if not len(r):
            raise ValueError("X holds no ratings")
        if not np.isfinite(r).all():
            raise ValueError("a rating is NaN or infinite")
        self.users_, u = np.unique(users, return_inverse=True)
        self.items_, i = np.unique(items, return_inverse=True)
        row, col = (i, u) if self.rows == "items" else (u, i)
        shape = (len(self.items_), len(self.users_)) if self.rows == "items" else (
            len(self.users_), len(self.items_))
        # A pair rated twice keeps its last rating.
        self._sparse = _wgae.SparseRows(shape, row.astype(np.uint32), col.astype(np.uint32),
                                        r.astype(np.float32))
        batch = self.batch_size or min(shape[0], max(1, _WHOLE_BATCH_BYTES // (4 * shape[1])))
        est = Autoencoder(
            hidden=(int(self.hidden),), activation="sigmoid", code_activation="sigmoid",
            output_activation="identity", loss="mse", missing="mask", epochs=self.epochs,
            batch_size=batch, lr=self.lr, weight_decay=self.weight_decay,
            random_state=self.random_state, device=self.device, verbose=self.verbose,
        )
        est._check_params()
        rs = self.random_state
        seed = rs if isinstance(rs, numbers.Integral) and not isinstance(rs, bool) and rs >= 0 \
            else check_random_state(rs).randint(np.iinfo(np.int32).max)
        self.history_ = []

        def on_epoch(report_json):
            report = json.loads(report_json)
            self.history_.append(report)
            if self.verbose:
                print(f"epoch {report['epoch']:3d}: loss {report['train_loss']:.5f}",
                      file=sys.stderr, flush=True)
            return True

        self.model_, _, stopped_by = _wgae.train_sparse(
            json.dumps(est._model_config(shape[1])), json.dumps(est._train_config(int(seed))),
            self._sparse, on_epoch, self.device)
        self.mean_ = float(r.mean())
        self.range_ = (float(r.min()), float(r.max()))
        self._rated_rows = np.bincount(row, minlength=shape[0]) > 0
        by_user = np.argsort(u, kind="stable")
        self._user_items = np.split(i[by_user], np.cumsum(np.bincount(u, minlength=len(
            self.users_)))[:-1])
        self._user_index = {k: n for n, k in enumerate(self.users_)}
        self._item_index = {k: n for n, k in enumerate(self.items_)}
        if stopped_by is not None:
            raise stopped_by
        return self

    def _predict_cells(self, ui, ii):
        """Predicted ratings of items ``ii`` by users ``ii`` (indices),
        clipped to the ratings' range; a row with no rating gets the mean."""
        row, col = (ii, ui) if self.rows == "items" else (ui, ii)
        row, col = np.asarray(row, np.uint32), np.asarray(col, np.uint32)
        out = np.clip(self._sparse.predict(self.model_, row, col).astype(np.float64),
                      *self.range_)
        out[~self._rated_rows[row]] = self.mean_
        return out

    def predict(self, user, item):
        """The predicted rating of ``item`` by ``user`` (scalars, or arrays
        of equal length); an unknown user or item gets the mean rating."""
        check_is_fitted(self)
        scalar = np.ndim(user) == 0
        us, its = np.atleast_1d(user).astype(str), np.atleast_1d(item).astype(str)
        if len(us) != len(its):
            raise ValueError(f"{len(us)} users for {len(its)} items")
        out = np.full(len(us), self.mean_)
        known = [(n, self._user_index.get(a), self._item_index.get(b))
                 for n, (a, b) in enumerate(zip(us, its))]
        known = [t for t in known if t[1] is not None and t[2] is not None]
        if known:
            n, ui, ii = (np.array(v) for v in zip(*known))
            out[n] = self._predict_cells(ui, ii)
        return float(out[0]) if scalar else out

    def recommend(self, user, k=10):
        """The ``k`` items ``user`` has not rated with the highest predicted
        ratings, best first, as (item, predicted rating) pairs."""
        check_is_fitted(self)
        if not isinstance(k, numbers.Integral) or k < 1:
            raise ValueError(f"k={k!r} must be a positive integer")
        ui = self._user_index.get(str(user))
        if ui is None:
            raise KeyError(f"user {user!r} is not among the {len(self.users_)} users fitted")
        items = np.arange(len(self.items_))
        scores = self._predict_cells(np.full(len(items), ui), items)
        scores[self._user_items[ui]] = -np.inf
        order = np.argsort(-scores, kind="stable")[:k]
        return [(self.items_[j], float(scores[j])) for j in order if np.isfinite(scores[j])]
