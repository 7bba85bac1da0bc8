"""Point-wise anomaly scores on a real labelled series: sktime's copy of a
Yahoo S5 series (1,000 points, 7 labelled anomalies), read from the sktime
1.2.0 wheel (see wheel_data.py; nothing is stored in the repository).

Three autoencoders read the same windows of 24 steps: a dense one (a window
as 24 values), a 1-D convolutional one (channels first, (1, 24)) and an
LSTM seq2seq (steps first, (24, 1)). Each trains on the first 400 points,
which hold no labelled anomaly, scaled by their statistics alone; every
step after them gets the mean error of the windows covering it
(wgae.series.point_scores, the arithmetic of `wgae anomaly --window`). The
ROC AUC of those scores against the labels is printed, and the series, its
labels and the three scores are drawn to series_anomaly.png.

    pip install matplotlib
    python python/examples/series_anomaly.py [--out series_anomaly.png]
"""
import argparse
import time

import numpy as np
from sklearn.metrics import roc_auc_score

import wgae
from wheel_data import yahoo

WINDOW, TRAIN = 24, 400

MODELS = {
    "dense": dict(hidden=(16, 4), epochs=150, lr=3e-3),
    "conv1d": dict(
        encoder_layers=[
            {"type": "conv1d", "filters": 8, "kernel": 5, "padding": "same", "act": "relu"},
            {"type": "max_pool1d", "size": 2},
            {"type": "conv1d", "filters": 4, "kernel": 3, "padding": "same", "act": "relu"},
        ],
        epochs=150,
        lr=3e-3,
    ),
    "lstm": dict(encoder_layers=[{"type": "lstm", "hidden": 12}], epochs=60, lr=1e-2),
}


def shaped(kind, X):
    """Windows (N, W, 1) as each model reads them."""
    if kind == "dense":
        return X[:, :, 0]
    if kind == "conv1d":
        return X.transpose(0, 2, 1)
    return X


def run(seed=0, kinds=tuple(MODELS)):
    values, labels = yahoo()
    train = values[:TRAIN]
    scaled = (values - train.mean()) / train.std()
    X = wgae.series.windows(scaled, WINDOW)
    X_train = X[: TRAIN - WINDOW + 1]
    results = {}
    for kind in kinds:
        params = MODELS[kind]
        started = time.perf_counter()
        ae = wgae.Autoencoder(
            loss="mse", output_activation="identity", batch_size=32, random_state=seed,
            **params,
        ).fit(shaped(kind, X_train))
        rec = ae.reconstruct(shaped(kind, X))
        scores, _ = wgae.series.point_scores(
            shaped(kind, X), rec, channels_first=(kind == "conv1d")
        )
        auc = roc_auc_score(labels[TRAIN:], scores[TRAIN:])
        results[kind] = (scores, auc, time.perf_counter() - started)
    return values, labels, results


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="series_anomaly.png")
    args = p.parse_args()
    values, labels, results = run()
    print(f"Yahoo series: {len(values)} points, {labels.sum()} labelled anomalies; trained on "
          f"the first {TRAIN}, windows of {WINDOW} ({wgae.devices()[0]['name']})")
    for kind, (_, auc, secs) in results.items():
        print(f"{kind:7s} ROC AUC of the step scores after step {TRAIN}: {auc:.3f}  ({secs:.1f} s)")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1 + len(results), 1, figsize=(11, 7), sharex=True)
    t = np.arange(len(values))
    axes[0].plot(t, values, lw=0.8, color="tab:blue")
    axes[0].scatter(t[labels == 1], values[labels == 1], color="red", zorder=3,
                    label="labelled anomaly")
    axes[0].axvspan(0, TRAIN, color="0.9", label="training part")
    axes[0].legend(loc="upper left", fontsize=8)
    axes[0].set_ylabel("value")
    for ax, (kind, (scores, auc, _)) in zip(axes[1:], results.items()):
        ax.plot(t, scores, lw=0.8, color="0.2")
        for s in t[labels == 1]:
            ax.axvline(s, color="red", lw=0.6, alpha=0.6)
        ax.set_ylabel(f"{kind}\nscore")
        ax.set_title(f"{kind}: ROC AUC {auc:.3f}", fontsize=9, loc="right")
    axes[-1].set_xlabel("time step")
    fig.suptitle("wgae: per-step anomaly scores on sktime's Yahoo series")
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
