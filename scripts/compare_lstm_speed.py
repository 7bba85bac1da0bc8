#!/usr/bin/env python3
"""Training speed of the LSTM autoencoder (examples/configs/lstm.toml: lstm
16 over 24 steps x 2 features, mirrored into repeat, lstm 16 and a per-step
Dense) in wgae and in PyTorch (cuDNN's LSTM on CUDA where there is a GPU,
the CPU otherwise), side by side at batch 32 and 256: training steps per
second and samples per second, Adam, MSE, random windows resident on the
device.

    cargo build --release
    python3 scripts/compare_lstm_speed.py [--wgae target/release/wgae] [--steps 200]

wgae's figures are `wgae bench --config examples/configs/lstm.toml --batch B`
(whole epochs of resident batches, the loss read back once at the end);
PyTorch's are the same number of steps after 20 warm-up steps, synchronized
at the end. Run on the same machine, one after the other.
"""
import argparse
import json
import subprocess
import time

import torch

T, F, H = 24, 2, 16


class Encoder(torch.nn.LSTM):
    def forward(self, x):
        return super().forward(x)[1][0][-1]


class Decoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = torch.nn.LSTM(H, H, batch_first=True)
        self.out = torch.nn.Linear(H, F)

    def forward(self, z):
        return self.out(self.rnn(z.unsqueeze(1).repeat(1, T, 1))[0])


def torch_steps_per_sec(batch, steps, device):
    torch.manual_seed(0)
    enc, dec = Encoder(F, H, batch_first=True).to(device), Decoder().to(device)
    opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), 0.01)
    x = torch.rand(16 * batch, T, F, device=device)

    def step(i):
        b = x[(i % 16) * batch:(i % 16 + 1) * batch]
        loss = ((dec(enc(b)) - b) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    for i in range(20):
        step(i)
    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for i in range(steps):
        loss = step(i)
    float(loss)
    if device == "cuda":
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wgae", default="target/release/wgae")
    ap.add_argument("--steps", type=int, default=200)
    args = ap.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    name = torch.cuda.get_device_name() if device == "cuda" else "CPU"
    cudnn = torch.backends.cudnn.is_available() and device == "cuda"
    print(f"LSTM autoencoder {T}x{F}, hidden {H}: wgae vs PyTorch {torch.__version__} on {name}"
          f"{' (cuDNN)' if cudnn else ''}")
    print("batch  wgae steps/s  samples/s  dispatches/step  |  PyTorch steps/s  samples/s  |  wgae/PyTorch")
    for batch in (32, 256):
        out = subprocess.run(
            [args.wgae, "bench", "--config", "examples/configs/lstm.toml", "--batch", str(batch),
             "--steps", str(args.steps), "--json"],
            check=True, capture_output=True, text=True,
        ).stdout
        w = json.loads(out.strip().splitlines()[-1])
        t = torch_steps_per_sec(batch, args.steps, device)
        print(f"{batch:5d}  {w['steps_per_sec']:12.1f}  {w['samples_per_sec']:9.0f}  "
              f"{w['dispatches_per_step']:15d}  |  {t:15.1f}  {t * batch:9.0f}  |  "
              f"{w['steps_per_sec'] / t:.2f}x  ({w['adapter']})")


if __name__ == "__main__":
    main()
