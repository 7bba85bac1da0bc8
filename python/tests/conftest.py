"""Shared by the Python tests: small data, and the GPU requirement.

Like the Rust tests, these need a GPU adapter (lavapipe in CI). Under CI=true
a missing adapter fails; elsewhere WGAE_SKIP_GPU_TESTS=1 skips loudly.
"""
import os

import numpy as np
import pytest

import wgae


def pytest_configure(config):
    try:
        adapters = wgae.devices()
    except Exception as e:  # noqa: BLE001 - reported below
        adapters, error = [], e
    else:
        error = None
    if adapters:
        return
    in_ci = os.environ.get("CI") in ("true", "1")
    if os.environ.get("WGAE_SKIP_GPU_TESTS") == "1" and not in_ci:
        config.issue_config_time_warning(
            pytest.PytestWarning(f"SKIPPING: no GPU adapter ({error})"), stacklevel=2
        )
        return
    raise pytest.UsageError(
        f"no GPU adapter, so the Python tests cannot run ({error}). Install Mesa's software "
        "Vulkan driver: apt-get install mesa-vulkan-drivers libvulkan1 (outside CI, "
        "WGAE_SKIP_GPU_TESTS=1 skips with a message)"
    )


@pytest.fixture
def blobs():
    """400 rows of 12 features in [0, 1]: two clusters on a 3-D subspace."""
    rng = np.random.default_rng(0)
    basis = rng.random((3, 12))
    z = rng.random((400, 3)) + (rng.random((400, 1)) > 0.5)
    X = z @ basis
    X = (X - X.min()) / (X.max() - X.min())
    return X.astype(np.float32)


def small(**kw):
    """A fast estimator for the tests."""
    params = dict(hidden=(8, 3), epochs=4, batch_size=64, random_state=0)
    params.update(kw)
    return wgae.Autoencoder(**params)
