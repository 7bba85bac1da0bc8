#!/usr/bin/env python3
"""Loads a wgae model file of a layer-list model (convolutions, pooling,
upsampling, batch normalization, Dense, residual blocks) into PyTorch and checks that PyTorch reproduces wgae.

    wgae train --config examples/configs/conv.toml --data DATA --save conv.safetensors
    wgae reconstruct --model conv.safetensors --data DATA --n 200 --out rec.npy
    wgae encode --model conv.safetensors --data DATA --out codes.npy
    python3 scripts/check_torch_conv.py conv.safetensors DATA rec.npy codes.npy

Builds the encoder and decoder as torch.nn.Sequential from the metadata
(`wgae.model`): each layer followed by its activation module (nn.Identity
where there is none), which is the naming wgae saves under
(`encoder.0.weight`, `encoder.2.weight`, ...); a residual block is a module
with the Sequential `body` and, where shapes differ, `proj`
(`encoder.2.body.0.weight`, `encoder.2.proj.weight`). A mirrored decoder is
read from `wgae.decoder_layers`. Loads the weights with
load_state_dict(strict=True) (batch normalization's running statistics and
its int64 num_batches_tracked included), puts the model in eval() mode, and
compares the torch reconstructions and codes
with wgae's. Padding that PyTorch's modules cannot express (TensorFlow's
'same' with the odd pixel after) is applied with F.pad in subclasses that keep
the modules' parameter names. DATA is an IDX (.gz) or .npy file; values are
scaled as wgae scales them (u8 images / 255).
"""
import gzip
import sys
import tomllib

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file

ACTS = {
    "relu": torch.nn.ReLU,
    "sigmoid": torch.nn.Sigmoid,
    "tanh": torch.nn.Tanh,
    "identity": torch.nn.Identity,
}


def act_module(name):
    if name.startswith("leaky_relu"):
        return torch.nn.LeakyReLU(float(name.split(":")[1]) if ":" in name else 0.01)
    if name == "gelu":
        return torch.nn.GELU(approximate="tanh")
    return ACTS[name]()


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def same(size, k, s, d=1):
    """TensorFlow's 'same': (before, after, out)."""
    span = (k - 1) * d + 1
    out = -(-size // s)
    total = max((out - 1) * s + span - size, 0)
    return total // 2, total - total // 2, out


def padding(spec, size, k, s, d, dim):
    """(before, after, out) of one dimension, as wgae computes it."""
    span = (k - 1) * d + 1
    if spec == "same":
        return same(size, k, s, d)
    if spec == "valid" or spec is None:
        return 0, 0, (size - span) // s + 1
    p = pair(spec)[dim]
    return p, p, (size + 2 * p - span) // s + 1


class PadConv2d(torch.nn.Conv2d):
    """nn.Conv2d (same parameter names) after an asymmetric F.pad."""

    def __init__(self, *args, pad, **kwargs):
        super().__init__(*args, **kwargs)
        self.pad = pad

    def forward(self, x):
        return F.conv2d(F.pad(x, self.pad), self.weight, self.bias, self.stride, 0, self.dilation)


class PadConv1d(torch.nn.Conv1d):
    def __init__(self, *args, pad, **kwargs):
        super().__init__(*args, **kwargs)
        self.pad = pad

    def forward(self, x):
        return F.conv1d(F.pad(x, self.pad), self.weight, self.bias, self.stride, 0, self.dilation)


class FlatLinear(torch.nn.Linear):
    """nn.Linear (same parameter names) on flattened samples, reshaped to
    `out` (c, h, w) after."""

    def __init__(self, n_in, n_out, out):
        super().__init__(n_in, n_out)
        self.out = out

    def forward(self, x):
        y = super().forward(x.flatten(1))
        return y.reshape(-1, *self.out) if self.out[1:] != (1, 1) else y


class SamePool(torch.nn.Module):
    """Max or average pooling after an asymmetric pad; the padding is never
    the maximum and does not count in the average (wgae's rule)."""

    def __init__(self, kind, k, s, pad):
        super().__init__()
        self.kind, self.k, self.s, self.pad = kind, k, s, pad

    def forward(self, x):
        one_d = x.dim() == 3
        pad = self.pad[:2] if one_d else self.pad
        k, s = (self.k[1], self.s[1]) if one_d else (self.k, self.s)
        mx, avg = (F.max_pool1d, F.avg_pool1d) if one_d else (F.max_pool2d, F.avg_pool2d)
        if self.kind == "max":
            return mx(F.pad(x, pad, value=-float("inf")), k, s)
        total = avg(F.pad(x, pad), k, s)
        count = avg(F.pad(torch.ones_like(x), pad), k, s)
        return total / count


class Recurrent(torch.nn.Module):
    """nn.LSTM or nn.GRU (batch_first, one layer) as wgae's `lstm`/`gru`:
    every step's output, or the last hidden state. The parameters keep
    PyTorch's names (weight_ih_l0, ...) on this module itself."""

    def __init__(self, kind, f, hidden, return_sequences):
        super().__init__()
        Rnn = torch.nn.LSTM if kind == "lstm" else torch.nn.GRU
        rnn = Rnn(f, hidden, batch_first=True)
        for name, p in rnn.named_parameters():
            self.register_parameter(name, p)
        self._rnn = [rnn]
        self.return_sequences = return_sequences

    def forward(self, x):
        out, state = self._rnn[0](x)
        if self.return_sequences:
            return out
        h = state[0] if isinstance(state, tuple) else state
        return h[-1]


class Repeat(torch.nn.Module):
    """Keras' RepeatVector: (N, H) to (N, T, H)."""

    def __init__(self, times):
        super().__init__()
        self.times = times

    def forward(self, z):
        return z.unsqueeze(1).repeat(1, self.times, 1)


class Permute(torch.nn.Module):
    """A sequence's two axes swapped: (N, C, L) to (N, L, C) and back."""

    def forward(self, x):
        return x.permute(0, 2, 1)


class Residual(torch.nn.Module):
    """body(x) + x, or body(x) + proj(x) where the shapes differ; the block's
    activation follows it in the outer Sequential."""

    def __init__(self, body, proj):
        super().__init__()
        self.body = body
        if proj is not None:
            self.proj = proj

    def forward(self, x):
        short = self.proj(x) if hasattr(self, "proj") else x
        return self.body(x) + short


def projection(shape, out, one_d_model):
    """wgae's shortcut from `shape` to `out` (c, h, w): None, nn.Linear or a
    1x1 (transposed) convolution."""
    (c, h, w), (oc, oh, ow) = shape, out
    if (c, h, w) == (oc, oh, ow):
        return None
    if (h, w) == (1, 1) or (oh, ow) == (1, 1):
        return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(c * h * w, oc * oh * ow),
                                   torch.nn.Unflatten(1, (oc, oh, ow)))
    one_d = h == 1 and oh == 1
    if oh <= h and ow <= w:
        s = [next(s for s in range(1, n + 1) if (n - 1) // s + 1 == m) for n, m in ((h, oh), (w, ow))]
        Conv = torch.nn.Conv1d if one_d else torch.nn.Conv2d
        return Conv(c, oc, 1, s[1] if one_d else tuple(s))
    s = (oh // h, ow // w)
    if one_d:
        return torch.nn.ConvTranspose1d(c, oc, 1, s[1], output_padding=s[1] - 1)
    return torch.nn.ConvTranspose2d(c, oc, 1, s, output_padding=(s[0] - 1, s[1] - 1))


def build(layers, shape, default_act, last_act, body=False):
    """nn.Sequential of `layers` on samples shaped `shape` (c, h, w); a
    residual block's `body` ends with no activation."""
    mods = []
    c, h, w = shape
    for i, L in enumerate(layers):
        t = L["type"]
        last = i == len(layers) - 1
        norm = t in ("batch_norm1d", "batch_norm2d")
        # Batch normalization has no activation of its own unless given, but
        # as the code or output layer.
        act = L.get("act", last_act if last else "identity" if norm else default_act)
        if body and last:
            act = "identity"
        has_act = norm or t in ("dense", "conv2d", "conv1d", "conv_transpose2d", "conv_transpose1d", "residual")
        bias = L.get("bias", True)
        one_d = t.endswith("1d")
        if t in ("lstm", "gru"):
            rs = L.get("return_sequences", False)
            mods.append(Recurrent(t, h * w, L["hidden"], rs))
            act, has_act = "identity", False
            c, h, w = (c, 1, L["hidden"]) if rs else (L["hidden"], 1, 1)
        elif t == "repeat":
            mods.append(Repeat(L["times"]))
            c, h, w = L["times"], 1, c
        elif t == "permute":
            mods.append(Permute())
            act, has_act = "identity", False
            c, h, w = w, 1, c
        elif t == "time_dense":
            mods.append(torch.nn.Linear(h * w, L["units"], bias=bias))
            has_act = True
            c, h, w = c, 1, L["units"]
        elif t == "residual":
            inner, out = build(L["layers"], (c, h, w), default_act, "identity", body=True)
            proj = projection((c, h, w), out, one_d)
            if proj is not None and isinstance(proj, torch.nn.Sequential):
                # A Dense projection is stored as proj.weight, proj.bias.
                lin = proj[1]
                proj = FlatLinear(lin.in_features, lin.out_features, out)
            mods.append(Residual(inner, proj))
            c, h, w = out
        elif norm:
            Norm = torch.nn.BatchNorm1d if one_d else torch.nn.BatchNorm2d
            mods.append(Norm(c, eps=L.get("eps", 1e-5), momentum=L.get("momentum", 0.1)))
        elif t == "dense":
            mods.append(torch.nn.Linear(c * h * w, L["units"], bias=bias))
            c, h, w = L["units"], 1, 1
        elif t in ("conv2d", "conv1d"):
            kh, kw = (1, L["kernel"]) if one_d else pair(L["kernel"])
            sh, sw = (1, L.get("stride", 1)) if one_d else pair(L.get("stride", 1))
            dh, dw = (1, L.get("dilation", 1)) if one_d else pair(L.get("dilation", 1))
            spec = L.get("padding", "valid")
            top, bottom, oh = (0, 0, 1) if one_d else padding(spec, h, kh, sh, dh, 0)
            left, right, ow = padding(spec, w, kw, sw, dw, 1)
            Conv = torch.nn.Conv1d if one_d else torch.nn.Conv2d
            ks = (kw,) if one_d else (kh, kw)
            st = (sw,) if one_d else (sh, sw)
            dl = (dw,) if one_d else (dh, dw)
            if top == bottom and left == right:
                pd = (left,) if one_d else (top, left)
                mods.append(Conv(c, L["filters"], ks, st, padding=pd, dilation=dl, bias=bias))
            else:
                Pad = PadConv1d if one_d else PadConv2d
                pad = (left, right) if one_d else (left, right, top, bottom)
                mods.append(Pad(c, L["filters"], ks, st, dilation=dl, pad=pad, bias=bias))
            c, h, w = L["filters"], oh, ow
        elif t in ("conv_transpose2d", "conv_transpose1d"):
            k = (1, L["kernel"]) if one_d else pair(L["kernel"])
            s = (1, L.get("stride", 1)) if one_d else pair(L.get("stride", 1))
            spec = L.get("padding", "valid")
            op_given = L.get("output_padding")
            ps, ops, outs = [], [], []
            for dim, (size, kk, ss) in enumerate(zip((h, w), k, s)):
                if spec == "same":
                    need = max(kk - ss, 0)
                    p = need // 2 + need % 2
                    op = 2 * p - (kk - ss)
                elif spec == "valid":
                    p, op = 0, 0
                else:
                    p, op = pair(spec)[dim], 0
                if op_given is not None:
                    op = op_given if one_d else pair(op_given)[dim]
                ps.append(p)
                ops.append(op)
                outs.append((size - 1) * ss - 2 * p + kk + op)
            Conv = torch.nn.ConvTranspose1d if one_d else torch.nn.ConvTranspose2d
            if one_d:
                mods.append(Conv(c, L["filters"], k[1], s[1], padding=ps[1], output_padding=ops[1], bias=bias))
                c, h, w = L["filters"], 1, outs[1]
            else:
                mods.append(Conv(c, L["filters"], k, s, padding=tuple(ps), output_padding=tuple(ops), bias=bias))
                c, h, w = L["filters"], outs[0], outs[1]
        elif t in ("max_pool2d", "avg_pool2d", "max_pool1d", "avg_pool1d"):
            kh, kw = (1, L["size"]) if one_d else pair(L["size"])
            st = L.get("stride") or L["size"]
            sh, sw = (1, st) if one_d else pair(st)
            spec = L.get("padding", "valid")
            top, bottom, oh = (0, 0, 1) if one_d else padding(spec, h, kh, sh, 1, 0)
            left, right, ow = padding(spec, w, kw, sw, 1, 1)
            kind = "max" if t.startswith("max") else "avg"
            mods.append(SamePool(kind, (kh, kw), (sh, sw), (left, right, top, bottom)))
            h, w = oh, ow
        elif t in ("upsample2d", "upsample1d"):
            f = (1, L["factor"]) if one_d else pair(L["factor"])
            mods.append(torch.nn.Upsample(scale_factor=f[1] if one_d else f, mode="nearest"))
            h, w = h * f[0], w * f[1]
        elif t == "flatten":
            mods.append(torch.nn.Flatten())
            c, h, w = c * h * w, 1, 1
        elif t == "reshape":
            s = L["shape"]
            c, h, w = (s[0], 1, 1) if len(s) == 1 else (s[0], 1, s[1]) if len(s) == 2 else s
            mods.append(torch.nn.Unflatten(1, tuple(s)))
        else:
            sys.exit(f"layer type {t} not covered by this check")
        mods.append(act_module(act) if has_act else torch.nn.Identity())
    return torch.nn.Sequential(*mods), (c, h, w)


def load_data(path, n):
    if path.endswith(".npy"):
        x = np.load(path).astype(np.float32)
    else:
        with gzip.open(path, "rb") as f:
            data = f.read()
        count, hh, ww = (int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(3))
        x = np.frombuffer(data, dtype=np.uint8, offset=16).reshape(count, hh * ww).astype(np.float32) / 255.0
    return x[:n]


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    path, data_path, rec_path, codes_path = sys.argv[1:]
    with safe_open(path, framework="pt") as f:
        meta = f.metadata()
    cfg = tomllib.loads(meta["wgae.model"])
    shape = cfg["input_shape"]
    shape = (shape[0], 1, 1) if len(shape) == 1 else (shape[0], 1, shape[1]) if len(shape) == 2 else tuple(shape)
    act = cfg.get("act", "relu")
    enc_layers = cfg["encoder_layers"]
    vae = "variational" in cfg
    if vae:
        enc_layers = enc_layers[:-1] + [dict(enc_layers[-1], units=2 * enc_layers[-1]["units"], act="identity")]
    code_act = "identity" if vae else cfg.get("code_act", act)
    enc, code_shape = build(enc_layers, shape, act, code_act)
    if vae:
        code_shape = (code_shape[0] // 2, 1, 1)
    dec_layers = cfg.get("decoder_layers") or tomllib.loads(meta["wgae.decoder_layers"])["decoder_layers"]
    dec, _ = build(dec_layers, code_shape, act, cfg.get("out_act", "sigmoid"))
    state = load_file(path)
    enc.load_state_dict({k[8:]: v for k, v in state.items() if k.startswith("encoder.")}, strict=True)
    dec.load_state_dict({k[8:]: v for k, v in state.items() if k.startswith("decoder.")}, strict=True)
    enc.eval()
    dec.eval()
    rec_wgae = np.load(rec_path)
    codes_wgae = np.load(codes_path)
    x = load_data(data_path, rec_wgae.shape[0])
    is_1d = shape[1] == 1 and len(cfg["input_shape"]) == 2
    xt = torch.from_numpy(x).reshape(-1, shape[0], shape[2]) if is_1d else torch.from_numpy(x).reshape(-1, *shape)
    with torch.no_grad():
        z = enc(xt)
        if vae:
            z = z[:, : z.shape[1] // 2]
        rec = dec(z).reshape(len(x), -1).numpy()
        codes = z.reshape(len(x), -1).numpy()
    rerr = float(np.max(np.abs(rec - rec_wgae)))
    cerr = float(np.max(np.abs(codes - codes_wgae[: len(x)])))
    print(f"torch {torch.__version__}: {sum(p.numel() for p in enc.parameters()) + sum(p.numel() for p in dec.parameters())} parameters loaded with load_state_dict(strict=True)")
    print(f"reconstructions of {len(x)} samples: max |torch - wgae| {rerr:.2e}; codes: {cerr:.2e}")
    ok = rerr < 1e-4 and cerr < 1e-3
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
