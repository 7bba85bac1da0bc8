"""Dimensionality reduction of scikit-learn's digits (1,797 images of 8x8):
a 64-32-2 autoencoder's codes beside PCA's two components, coloured by
digit, in digits_codes.png; and how well each reconstructs from 2 numbers.

    python python/examples/digits_codes.py   (needs matplotlib)
"""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA

import wgae

X, y = load_digits(return_X_y=True)
X = X / 16.0  # pixels in [0, 1], for the BCE loss

ae = wgae.Autoencoder(hidden=(32, 2), code_activation="identity", loss="bce",
                      epochs=300, batch_size=64, lr=3e-3, random_state=0).fit(X)
codes = ae.transform(X)
pca = PCA(n_components=2).fit(X)
comps = pca.transform(X)

mse_ae = float(np.mean((ae.reconstruct(X) - X) ** 2))
mse_pca = float(np.mean((pca.inverse_transform(comps) - X) ** 2))
print(f"reconstruction MSE per pixel from 2 numbers: autoencoder {mse_ae:.4f}, PCA {mse_pca:.4f}")

fig, axes = plt.subplots(1, 2, figsize=(11, 5))
for ax, z, title in ((axes[0], codes, f"wgae autoencoder 64-32-2 (MSE {mse_ae:.4f})"),
                     (axes[1], comps, f"PCA, 2 components (MSE {mse_pca:.4f})")):
    s = ax.scatter(z[:, 0], z[:, 1], c=y, cmap="tab10", s=6)
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
fig.colorbar(s, ax=axes, ticks=range(10), label="digit")
fig.savefig("digits_codes.png", dpi=110)
print("wrote digits_codes.png")
