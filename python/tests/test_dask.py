"""Scoring with Dask on a local cluster of worker processes: partition by
partition, the same numbers as in this process, and one GPU context per
worker however many tasks it runs."""
import numpy as np
import pandas as pd
import pytest

import wgae
import wgae.dask as wd

da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(3)
    X = rng.random((600, 10)).astype(np.float32)
    return wgae.Autoencoder(hidden=(6, 3), epochs=3, batch_size=64, random_state=0).fit(X), X


def test_dask_array_partition_by_partition(client, fitted):
    ae, X = fitted
    dX = da.from_array(X, chunks=(97, 10))
    assert dX.numblocks[0] == 7
    scores = wd.score_samples(ae, dX)
    assert isinstance(scores, da.Array)
    np.testing.assert_array_equal(scores.compute(), ae.score_samples(X))
    np.testing.assert_array_equal(wd.transform(ae, dX).compute(), ae.transform(X))
    np.testing.assert_array_equal(wd.reconstruct(ae, dX).compute(), ae.reconstruct(X))
    np.testing.assert_array_equal(wd.predict(ae, dX).compute(), ae.predict(X))
    np.testing.assert_array_equal(
        wd.decision_function(ae, dX).compute(), ae.decision_function(X)
    )
    # Column chunks are joined into whole rows.
    np.testing.assert_array_equal(
        wd.score_samples(ae, da.from_array(X, chunks=(200, 4))).compute(), ae.score_samples(X)
    )
    # Each worker opened its GPU context once for all those tasks.
    opened = client.run(wgae.contexts_opened)
    assert len(opened) == 2 and all(n == 1 for n in opened.values()), opened


def test_dask_dataframe(client, fitted):
    ae, X = fitted
    df = pd.DataFrame(X, columns=[f"c{i}" for i in range(10)])
    ddf = dd.from_pandas(df, npartitions=4)
    scores = wd.score_samples(ae, ddf).compute()
    assert isinstance(scores, pd.Series)
    np.testing.assert_array_equal(scores.to_numpy(), ae.score_samples(X))
    assert (scores.index == df.index).all()
    codes = wd.transform(ae, ddf).compute()
    assert codes.shape == (600, 3)
    np.testing.assert_array_equal(codes.to_numpy(), ae.transform(X))


def test_dask_refuses_what_it_cannot_score(fitted):
    ae, X = fitted
    with pytest.raises(TypeError, match="dask"):
        wd.score_samples(ae, X)
    with pytest.raises(ValueError, match="2-D"):
        wd.score_samples(ae, da.from_array(X[0]))
    with pytest.raises(Exception, match="fitted"):
        wd.score_samples(wgae.Autoencoder(), da.from_array(X))
