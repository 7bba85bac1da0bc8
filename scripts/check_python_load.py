#!/usr/bin/env python3
"""Loads a wgae model file in Python and checks that PyTorch's conventions
reproduce wgae's own output.

    wgae train --save model.safetensors ...
    wgae encode --model model.safetensors --data DATA --out codes.npy
    python3 scripts/check_python_load.py model.safetensors DATA.npy codes.npy

Reads the file with `safetensors` (numpy, or torch when installed), prints
the tensors and the architecture from the metadata, runs the encoder as
PyTorch's nn.Linear does (y = x W^T + b) and compares with codes.npy.
With torch installed it also loads the weights into an nn.Sequential with
load_state_dict. The data file is a .npy of the same rows given to encode.
"""
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file

ACTS = {
    "relu": lambda x: np.maximum(x, 0),
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "tanh": np.tanh,
    "identity": lambda x: x,
}


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    path, data_path, codes_path = sys.argv[1:]
    tensors = load_file(path)
    with safe_open(path, framework="np") as f:
        meta = f.metadata()
    print("format:", meta.get("format"), "| kind:", meta.get("wgae.kind"))
    print(meta["wgae.model"].strip())
    for name, t in sorted(tensors.items()):
        print(f"  {name:24s} {t.dtype} {list(t.shape)}")

    import tomllib

    cfg = tomllib.loads(meta["wgae.model"])
    act = cfg.get("act", "relu")
    code_act = cfg.get("code_act", act)
    x = np.load(data_path).astype(np.float64)
    n_enc = len(cfg["encoder"])
    for i in range(n_enc):
        w, b = tensors[f"encoder.{2 * i}.weight"], tensors[f"encoder.{2 * i}.bias"]
        x = x @ w.T.astype(np.float64) + b
        a = code_act if i == n_enc - 1 else act
        if a not in ACTS:
            sys.exit(f"activation {a} not covered by this check")
        x = ACTS[a](x)
    codes = np.load(codes_path)
    err = np.max(np.abs(x - codes)) if x.shape == codes.shape else float("inf")
    print(f"encoder in numpy (PyTorch convention) vs wgae encode: shape {x.shape}, max |diff| {err:.2e}")
    ok = err < 1e-3
    try:
        import torch
        from safetensors.torch import load_file as load_torch

        layers = []
        prev = cfg["input_dim"]
        for i, width in enumerate(cfg["encoder"]):
            layers += [torch.nn.Linear(prev, width), torch.nn.ReLU()]
            prev = width
        enc = torch.nn.Sequential(*layers)
        state = {k[len("encoder."):]: v for k, v in load_torch(path).items() if k.startswith("encoder.")}
        enc.load_state_dict(state)
        print("torch: the encoder loads into nn.Sequential with load_state_dict")
    except ImportError:
        print("torch is not installed here: checked with safetensors.numpy, the same file format")
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
