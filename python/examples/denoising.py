"""Denoising: scikit-learn's digits with a quarter of their pixels knocked
out. A denoising autoencoder (trained on clean digits, corrupted afresh on
the GPU at every step) against a plain one: how close each gets to the clean
digits from the noisy ones, and a picture (denoising.png: noisy, plain,
denoising, clean).

    python python/examples/denoising.py   (needs matplotlib)
"""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import wgae

X = load_digits().data / 16.0
train, test = train_test_split(X, test_size=0.25, random_state=0)
rng = np.random.default_rng(0)
noisy = test * (rng.random(test.shape) > 0.25)  # the same masking noise as "mask:0.25"

common = dict(hidden=(48, 24), loss="bce", epochs=300, batch_size=64, lr=3e-3, random_state=0)
plain = wgae.Autoencoder(**common).fit(train)
denoiser = wgae.Autoencoder(variant="denoising", noise="mask:0.25", **common).fit(train)

for name, model in (("plain", plain), ("denoising", denoiser)):
    err = np.mean((model.reconstruct(noisy) - test) ** 2)
    print(f"{name:9s} autoencoder: MSE per pixel against the clean digits {err:.4f}")
print(f"(the noisy digits themselves: {np.mean((noisy - test) ** 2):.4f})")

rows = [("noisy", noisy), ("plain", plain.reconstruct(noisy)),
        ("denoising", denoiser.reconstruct(noisy)), ("clean", test)]
fig, axes = plt.subplots(len(rows), 10, figsize=(10, 4.4))
for r, (label, images) in enumerate(rows):
    for c in range(10):
        ax = axes[r, c]
        ax.imshow(images[c].reshape(8, 8), cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[r, 0].set_ylabel(label)
fig.savefig("denoising.png", dpi=100)
print("wrote denoising.png")
