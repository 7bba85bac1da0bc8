"""wgae.Autoencoder as scikit-learn sees it: its own estimator checks, clone,
get/set_params, Pipeline and GridSearchCV."""
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import wgae
from conftest import small


# Every check of scikit-learn's suite runs. The one that cannot apply,
# check_array_api_input, skips itself (it needs SCIPY_ARRAY_API and an
# array-API namespace; wgae reads numpy arrays).
@parametrize_with_checks([wgae.Autoencoder(hidden=(4, 2), epochs=2, batch_size=16, random_state=0)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_clone_and_params_round_trip():
    ae = small(hidden=(16, 4), lr=0.01, noise="mask:0.2")
    c = clone(ae)
    assert c.get_params() == ae.get_params()
    c.set_params(hidden=(5,), epochs=1)
    assert c.hidden == (5,) and ae.hidden == (16, 4)
    assert "hidden" in repr(c)


def test_pipeline_and_grid_search(blobs):
    X = blobs * 10 - 3
    pipe = make_pipeline(MinMaxScaler(), small(loss="bce"))
    codes = pipe.fit(X).transform(X)
    assert codes.shape == (len(X), 3)
    # GridSearchCV scores with the estimator's score (the mean of
    # score_samples: minus the reconstruction error) and refits the best.
    grid = GridSearchCV(
        make_pipeline(StandardScaler(), small()),
        {"autoencoder__hidden": [(2,), (8, 6)], "autoencoder__epochs": [1, 8]},
        cv=2,
        scoring=lambda est, X, y=None: float(np.mean(est.score_samples(X))),
    )
    grid.fit(X)
    assert grid.best_params_["autoencoder__epochs"] == 8
    assert grid.best_estimator_.predict(X).shape == (len(X),)
