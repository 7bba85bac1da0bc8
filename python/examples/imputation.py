"""Imputation by an autoencoder that learns from incomplete rows: scikit-learn's
wine data (178 rows, 13 features) with 20% of its entries removed at random.
Autoencoder(missing="mask") trains on the observed entries alone and fills
each gap with its reconstruction; its error on the removed entries is
printed beside scikit-learn's SimpleImputer (column means), KNNImputer and
IterativeImputer, over several seeds of the removal.

    python python/examples/imputation.py [--seeds 5]

The error is the RMSE over the removed entries in units of each feature's
standard deviation (so that every feature counts alike).
"""
import argparse

import numpy as np
from sklearn.datasets import load_wine
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer
from sklearn.preprocessing import StandardScaler

import wgae


def autoencoder_impute(Xm, seed):
    scaler = StandardScaler().fit(Xm)  # skips NaN
    Z = scaler.transform(Xm)
    ae = wgae.Autoencoder(hidden=(8, 4), missing="mask", epochs=200, batch_size=16, lr=3e-3,
                          random_state=seed).fit(Z)
    return scaler.inverse_transform(ae.impute(Z))


METHODS = {
    "wgae autoencoder": autoencoder_impute,
    "SimpleImputer (mean)": lambda Xm, seed: SimpleImputer().fit_transform(Xm),
    "KNNImputer": lambda Xm, seed: KNNImputer().fit_transform(Xm),
    "IterativeImputer": lambda Xm, seed: IterativeImputer(random_state=seed, max_iter=20)
    .fit_transform(Xm),
}


def run(seeds=5, share=0.2):
    X = load_wine().data
    sd = X.std(axis=0)
    scores = {name: [] for name in METHODS}
    for seed in range(seeds):
        Xm = X.copy()
        gaps = np.random.default_rng(seed).random(X.shape) < share
        Xm[gaps] = np.nan
        for name, impute in METHODS.items():
            filled = impute(Xm, seed)
            scores[name].append(float(np.sqrt(np.mean(((filled - X) / sd)[gaps] ** 2))))
    return scores


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5)
    args = p.parse_args()
    scores = run(args.seeds)
    print(f"wine, 20% of entries removed at random, {args.seeds} seeds "
          f"({wgae.devices()[0]['name']}); RMSE on the removed entries, in standard deviations")
    for name, v in scores.items():
        print(f"{name:22s} {np.mean(v):.3f}  (seeds: {', '.join(f'{x:.3f}' for x in v)})")


if __name__ == "__main__":
    main()
