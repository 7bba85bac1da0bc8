"""Writes the page's digits: the first N images of the MNIST test set in
../shared/data/mnist (WGAE_MNIST_DIR), as www/data/digits.bin: a
little-endian u32 count, then count x 784 pixels (u8, row-major 28x28),
then count labels (u8). Nothing is downloaded, at build time or in the page.
"""

import gzip
import os
import struct
import sys

N = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
here = os.path.dirname(os.path.abspath(__file__))
mnist = os.environ.get("WGAE_MNIST_DIR", os.path.join(here, "..", "..", "shared", "data", "mnist"))


def read(name, magic):
    path = os.path.join(mnist, name)
    if not os.path.exists(path):
        sys.exit(
            f"web/digits.py: {path} is missing; the page's digits come from the MNIST "
            "test set in ../shared/data/mnist (set WGAE_MNIST_DIR to its folder)"
        )
    with gzip.open(path, "rb") as f:
        data = f.read()
    if struct.unpack(">I", data[:4])[0] != magic:
        sys.exit(f"web/digits.py: {path} is not an MNIST IDX file")
    return data


images = read("t10k-images-idx3-ubyte.gz", 2051)
labels = read("t10k-labels-idx1-ubyte.gz", 2049)
count = min(N, struct.unpack(">I", images[4:8])[0])
out = os.path.join(here, "www", "data")
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "digits.bin"), "wb") as f:
    f.write(struct.pack("<I", count))
    f.write(images[16 : 16 + count * 784])
    f.write(labels[8 : 8 + count])
print(f"web/www/data/digits.bin: {count} MNIST test digits")
