"""Scoring at cluster scale with Dask: a fitted :class:`wgae.Autoencoder`
applied to a ``dask.array`` or ``dask.dataframe`` partition by partition.

    >>> import dask.array as da, wgae.dask
    >>> X = da.from_zarr(...)                      # rows of features
    >>> scores = wgae.dask.score_samples(ae, X)    # a lazy dask array
    >>> scores.compute()

The estimator travels to the workers pickled (its weights as a model file's
bytes). Each worker process opens its GPU context once, on first use, and
keeps it; a model unpickled again for the next task reuses its copy on the
GPU. Every call here returns a lazy collection: nothing runs until
``compute()``.
"""

import numpy as np

__all__ = ["score_samples", "decision_function", "predict", "transform", "reconstruct"]


def _is_dataframe(X):
    return hasattr(X, "map_partitions") and hasattr(X, "columns")


def _apply(estimator, X, method, per_row):
    """``estimator.<method>`` over each block (dask.array) or partition
    (dask.dataframe); ``per_row``: the method gives one value per row."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)
    if _is_dataframe(X):
        import pandas as pd

        if per_row:
            meta = pd.Series([], dtype="float64", name=method)
        else:
            width = estimator.n_components_ if method == "transform" else estimator.n_features_in_
            meta = pd.DataFrame({f"{method}_{i}": np.array([], dtype="float64")
                                 for i in range(width)})
        return X.map_partitions(_partition, estimator, method, per_row, meta=meta)
    import dask.array as da

    if not isinstance(X, da.Array):
        raise TypeError(f"expected a dask.array or dask.dataframe, got {type(X).__name__}")
    if X.ndim != 2:
        raise ValueError(f"expected 2-D rows of features, got {X.ndim} dimensions")
    if X.numblocks[1] != 1:
        X = X.rechunk({1: -1})
    dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64

    if per_row:
        out_dtype = np.int64 if method == "predict" else dtype
        return X.map_blocks(_block, estimator, method, drop_axis=1, dtype=out_dtype)
    width = estimator.n_components_ if method == "transform" else estimator.n_features_in_
    return X.map_blocks(_block, estimator, method, chunks=(X.chunks[0], (width,)), dtype=dtype)


def _block(b, estimator, method):
    """One block of a dask.array, on a worker."""
    return getattr(estimator, method)(b)


def _partition(df, estimator, method, per_row):
    """One partition of a dask.dataframe, on a worker: a Series (one value
    per row) or a DataFrame, with the partition's index."""
    import pandas as pd

    values = getattr(estimator, method)(df.to_numpy())
    if per_row:
        return pd.Series(values, index=df.index, name=method)
    return pd.DataFrame(values, index=df.index,
                        columns=[f"{method}_{i}" for i in range(values.shape[1])])


def score_samples(estimator, X):
    """Minus each row's reconstruction error (higher is more normal)."""
    return _apply(estimator, X, "score_samples", per_row=True)


def decision_function(estimator, X):
    """``score_samples - offset_``: negative for outliers."""
    return _apply(estimator, X, "decision_function", per_row=True)


def predict(estimator, X):
    """+1 for inliers, -1 for outliers."""
    return _apply(estimator, X, "predict", per_row=True)


def transform(estimator, X):
    """The codes of the rows."""
    return _apply(estimator, X, "transform", per_row=False)


def reconstruct(estimator, X):
    """The reconstructions of the rows."""
    return _apply(estimator, X, "reconstruct", per_row=False)
