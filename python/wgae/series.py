"""One long series as windows, and window errors back as per-step scores.

    >>> X = wgae.series.windows(series, window=64)      # (N, 64, channels)
    >>> ae = wgae.Autoencoder(layers=[...], epochs=20).fit(X[:500])
    >>> scores, shares = wgae.series.point_scores(X, ae.reconstruct(X))

A window is ``window`` consecutive time steps, one every ``stride`` steps;
each step's score is the mean (``how="max"``: the largest) of the
reconstruction errors the windows that cover it make there, and
``shares[t, c]`` is channel ``c``'s part of it (a row adds up to the
score), so a user sees which sensor moved. The same arithmetic as ``wgae
anomaly --window`` (it runs in the Rust library).

Here the windows are copied out of the series (``window`` times its size);
the ``wgae`` CLI cuts them as it reads, for series larger than memory.
"""

import numpy as np

from ._wgae import point_scores as _point_scores


def _series(series):
    s = np.asarray(series, dtype=np.float32)
    if s.ndim == 1:
        s = s[:, None]
    if s.ndim != 2:
        raise ValueError(
            f"series must be 1-D (time steps) or 2-D (time steps, channels), not {s.ndim}-D"
        )
    if not np.isfinite(s).all():
        t, c = np.argwhere(~np.isfinite(s))[0]
        raise ValueError(
            f"series holds {s[t, c]} at time step {t}, channel {c}: fill or drop gaps first"
        )
    return s


def _check(window, stride, steps):
    for name, v in (("window", window), ("stride", stride)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name}={v!r} must be a whole number >= 1")
    if window > steps:
        raise ValueError(
            f"window={window} is longer than the series ({steps} time steps)"
        )


def windows(series, window, stride=1, channels_first=False):
    """Windows of ``window`` steps every ``stride`` steps of ``series``
    ((T,) or (T, channels)): an array (N, window, channels), or (N,
    channels, window) with ``channels_first`` (what a Conv1d model reads).
    A last partial window is left out."""
    s = _series(series)
    _check(window, stride, len(s))
    view = np.lib.stride_tricks.sliding_window_view(s, window, axis=0)[::stride]
    # view is (N, channels, window).
    out = view if channels_first else view.transpose(0, 2, 1)
    return np.ascontiguousarray(out, dtype=np.float32)


def point_scores(windows, reconstructed, stride=1, how="mean", channels_first=False):
    """Per-step scores from windows (as :func:`windows` cuts them, from the
    start of the series) and their reconstructions: ``(scores, shares)``,
    scores of shape (T,) and each channel's share (T, channels). A step no
    window covers (past the last window at a stride) scores NaN."""
    x = np.asarray(windows, dtype=np.float32)
    r = np.asarray(reconstructed, dtype=np.float32)
    if x.ndim == 2:
        x, r = x[:, :, None], r.reshape(r.shape[0], -1)[:, :, None]
    if x.ndim != 3 or r.size != x.size:
        raise ValueError(
            f"windows must be (N, window, channels) and reconstructed the same size; got "
            f"{x.shape} and {r.shape}"
        )
    window = x.shape[2] if channels_first else x.shape[1]
    _check(window, stride, window)
    if how not in ("mean", "max"):
        raise ValueError(f"how={how!r}: give 'mean' or 'max'")
    n = x.shape[0]
    return _point_scores(
        np.ascontiguousarray(x.reshape(n, -1)),
        np.ascontiguousarray(r.reshape(n, -1)),
        window,
        stride,
        channels_first,
        how,
    )
