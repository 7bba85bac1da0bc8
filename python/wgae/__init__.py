"""wgae: autoencoders trained and run on any GPU through WebGPU (Vulkan,
Metal, DX12), with no CUDA.

    >>> import wgae
    >>> ae = wgae.Autoencoder(hidden=(64, 8), epochs=20).fit(X)
    >>> codes = ae.transform(X)           # the codes
    >>> scores = ae.score_samples(X)      # higher is more normal
    >>> labels = ae.predict(X)            # -1 for the worst `contamination`

:class:`Autoencoder` is a scikit-learn estimator (Pipeline, GridSearchCV,
clone, pickle). :func:`load` reads a model file written by ``save`` or by the
``wgae`` CLI. :class:`AutoRec` predicts and recommends from ratings. :mod:`wgae.series` cuts one long series into windows and
turns window errors back into per-step scores. :mod:`wgae.dask` scores Dask arrays and dataframes partition
by partition on a cluster.
"""

from ._wgae import contexts_opened
from ._wgae import devices as _devices
from . import series
from .autorec import AutoRec
from .estimator import Autoencoder, load

__version__ = "0.1.0"


def devices():
    """The GPU adapters wgpu sees, best first: a list of dicts with the
    adapter's ``name``, ``backend`` (Vulkan, Metal, Dx12, Gl), ``type``,
    whether it is ``software`` (lavapipe, WARP), and whether it is the
    ``default`` wgae picks (``device=None``). Pass part of a name as
    ``device=`` to choose another."""
    return _devices()


__all__ = ["Autoencoder", "AutoRec", "load", "devices", "series", "contexts_opened",
           "__version__"]
