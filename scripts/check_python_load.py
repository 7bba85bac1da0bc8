#!/usr/bin/env python3
"""Loads a wgae model file in Python and checks that PyTorch's conventions
reproduce wgae's own output.

    wgae train --save model.safetensors ...
    wgae encode --model model.safetensors --data DATA --out codes.npy
    python3 scripts/check_python_load.py model.safetensors DATA.npy codes.npy

Reads the file with `safetensors` (numpy, or torch when installed), prints
the tensors and the architecture from the metadata, runs the encoder as
PyTorch's nn.Linear does (y = x W^T + b) and compares with codes.npy.
With torch installed it also builds the encoder and decoder as nn.Sequential
with the activations from the metadata, loads the weights with
load_state_dict(strict=True), and compares the torch encoder's codes. The data file is a .npy of the same rows given to encode.
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

        def act_module(name):
            if name.startswith("leaky_relu"):
                return torch.nn.LeakyReLU(float(name.split(":")[1]) if ":" in name else 0.01)
            return {
                "relu": torch.nn.ReLU(),
                "sigmoid": torch.nn.Sigmoid(),
                "tanh": torch.nn.Tanh(),
                "gelu": torch.nn.GELU(approximate="tanh"),
                "identity": torch.nn.Identity(),
            }[name]

        widths = [cfg["input_dim"]] + cfg["encoder"]
        enc_layers = []
        for i in range(n_enc):
            enc_layers += [torch.nn.Linear(widths[i], widths[i + 1]), act_module(code_act if i == n_enc - 1 else act)]
        enc = torch.nn.Sequential(*enc_layers)
        dec_widths = [widths[-1]] + (cfg.get("decoder") or widths[-2:0:-1]) + [cfg["input_dim"]]
        dec_layers = []
        for i in range(len(dec_widths) - 1):
            last = i == len(dec_widths) - 2
            dec_layers += [torch.nn.Linear(dec_widths[i], dec_widths[i + 1]), act_module(cfg.get("out_act", "sigmoid") if last else act)]
        dec = torch.nn.Sequential(*dec_layers)
        state = load_torch(path)
        enc.load_state_dict({k[len("encoder."):]: v for k, v in state.items() if k.startswith("encoder.")}, strict=True)
        if not cfg.get("tied", False):
            dec.load_state_dict({k[len("decoder."):]: v for k, v in state.items() if k.startswith("decoder.")}, strict=True)
        with torch.no_grad():
            t_codes = enc(torch.from_numpy(np.load(data_path).astype(np.float32))).numpy()
        terr = float(np.max(np.abs(t_codes - codes)))
        print(f"torch {torch.__version__}: encoder and decoder load with load_state_dict(strict=True);"
              f" the torch encoder matches wgae encode to {terr:.2e}")
        ok = ok and terr < 1e-3
    except ImportError:
        print("torch is not installed here: checked with safetensors.numpy, the same file format")
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
