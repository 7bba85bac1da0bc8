#!/usr/bin/env bash
# Every GPU measurement BENCHMARKS.md asks for, in one run, on a machine with a
# GPU and its Vulkan driver but no Rust toolchain (the device machine of the
# developers' brief). Results go to $OUT (default ./gpu-out), one file each.
#
# Here: bash scripts/gpu_pack.sh (the stripped binary, the GPU test binaries
# and the Vulkan loader's .deb, into .gl/).
# There, with .gl carried:
#   bash scripts/gpu_run.sh
#
# What it writes:
#   info.txt      wgae info: the adapter, its limits and the plan wgae picks
#   bench.json    wgae bench --json (784-32-784 at 256, 4096-1024-256 at 1024):
#                 the default plan (kernels measured per shape, activation
#                 gradients fused), then the fixed rule (WGAE_TUNE=0), then
#                 the gradients written (WGAE_FUSE_ACT_GRAD=0), then wgpu's
#                 loop guard left in the kernels (WGAE_LOOP_BOUNDING=1)
#   tuned.txt     each shape's kernel timings from the default plan's tuning
#   stream.json   wgae bench --stream --json: 784-32-784 at 256 with the data
#                 resident and streamed from host memory, f32 and u8 (the
#                 target: streaming costs under 10%)
#   matmul.json   wgae bench --matmul at 1024, 2048 and 4096 (or $SIZES): every
#                 kernel, the plans' choice marked; then the largest size again
#                 with wgpu's loop guard (WGAE_LOOP_BOUNDING=1)
#   compare.txt   scripts/compare_pytorch.py (PyTorch eager on CUDA vs wgae)
#   conv_quality.txt  scripts/compare_conv_quality.py: the Keras conv model's
#                 validation BCE in wgae and PyTorch, 3 seeds (synthetic
#                 strokes where MNIST is absent)
#   lstm_speed.txt  scripts/compare_lstm_speed.py: the LSTM autoencoder
#                 (examples/configs/lstm.toml) in wgae and in PyTorch's cuDNN
#                 LSTM of the same shape, batch 32 and 256, steps/s side by side
#   torch_mm.txt  PyTorch's own f32 matmul at 4096 (TF32 off): what the card
#                 reaches in CUDA, to put wgae's figure beside
#   tests.txt     the GPU test binaries in .gl/tests (kernels against their f64
#                 references, training and residual blocks against the f64 twin, tuning, and the
#                 rule, tuned and other plans training to the same bits), on
#                 the real GPU; last, so that the figures come back first
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
if ls .gl/*.deb >/dev/null 2>&1; then
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
fi
ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$ICD" ]; then
    export VK_DRIVER_FILES=$ICD
fi
W=${WGAE:-.gl/wgae}
[ -x "$W" ] || W=target/release/wgae

"$W" info >"$OUT/info.txt" 2>&1
{
    RUST_LOG=wgae=debug "$W" bench --json 2>"$OUT/tuned.txt"
    WGAE_TUNE=0 "$W" bench --json
    WGAE_FUSE_ACT_GRAD=0 "$W" bench --json
    WGAE_LOOP_BOUNDING=1 "$W" bench --json
    # The Keras conv autoencoder: im2col + tuned matmul, then direct loops.
    "$W" bench --config examples/configs/conv.toml --json
    WGAE_CONV=direct "$W" bench --config examples/configs/conv.toml --json
    # Strided convolutions with batch normalization (norm.wgsl in the step).
    "$W" bench --config examples/configs/conv_bn.toml --json
    # Residual blocks: shortcuts, 1x1 projections, batch norm in the body.
    "$W" bench --config examples/configs/residual.toml --json
    # The seq2seq LSTM autoencoder: one dispatch per step, 24 steps.
    "$W" bench --config examples/configs/lstm.toml --profile --json
    # The CNN-LSTM: Conv1d, permute, LSTM over 32 steps, and back.
    "$W" bench --config examples/configs/cnn_lstm.toml --json
    # I-AutoRec's shape (943-500-943, the masked loss): dense rows, then
    # MovieLens-100K's density kept sparse on the GPU (gather_sparse's cost
    # in the profile), and the whole 1,682-row matrix in one batch (the
    # `--rows items` default).
    "$W" bench --config examples/configs/autorec.toml --profile --json
    "$W" bench --config examples/configs/autorec.toml --sparse 0.063 --profile --json
    "$W" bench --config examples/configs/autorec.toml --sparse 0.063 --batch 1682 --steps 16 --profile --json
} >"$OUT/bench.json" 2>>"$OUT/info.txt"
"$W" bench --stream --steps 512 --json >"$OUT/stream.json" 2>>"$OUT/info.txt"
SIZES=${SIZES:-1024,2048,4096}
{
    "$W" bench --matmul "$SIZES" --json
    WGAE_LOOP_BOUNDING=1 "$W" bench --matmul "${SIZES##*,}" --json
} >"$OUT/matmul.json" 2>>"$OUT/info.txt"
python3 scripts/compare_pytorch.py --wgae "$W" >"$OUT/compare.txt" 2>&1
python3 scripts/compare_conv_quality.py --wgae "$W" >"$OUT/conv_quality.txt" 2>&1
python3 scripts/compare_lstm_speed.py --wgae "$W" >"$OUT/lstm_speed.txt" 2>&1
python3 - >"$OUT/torch_mm.txt" 2>&1 <<'EOF'
import time
import torch
torch.backends.cuda.matmul.allow_tf32 = False
a = torch.rand(4096, 4096, device="cuda")
b = torch.rand(4096, 4096, device="cuda")
for _ in range(3):
    a @ b
torch.cuda.synchronize()
n, t0 = 50, time.time()
for _ in range(n):
    a @ b
torch.cuda.synchronize()
dt = (time.time() - t0) / n
print(f"torch f32 matmul 4096^3 on {torch.cuda.get_device_name()}: {dt*1e3:.3f} ms, "
      f"{2 * 4096**3 / dt / 1e12:.1f} TFLOP/s")
EOF
if ls .gl/tests/* >/dev/null 2>&1; then
    for t in .gl/tests/*; do
        echo "== $(basename "$t")"
        CI=true timeout 300 "$t" 2>&1
        echo "== $(basename "$t"): exit $?"
    done >"$OUT/tests.txt"
    grep -E "^== .*exit|^test result" "$OUT/tests.txt"
fi
ls -la "$OUT"
