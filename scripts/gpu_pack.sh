#!/usr/bin/env bash
# Packs into .gl/ what scripts/gpu_run.sh needs on a GPU machine that has no
# Rust toolchain and reaches no registry (the device machine of the
# developers' brief):
#   .gl/wgae          the release binary, stripped (9-10 MB; unstripped it is
#                     too big to travel)
#   .gl/tests/NAME    the GPU test binaries (kernels, with every kernel family,
#                     training, residual, recurrent, tune, digests), stripped
#                     (about 55 MB with the binary: the carry limit is 64 MiB), so the kernels are
#                     checked against their f64 references on the real GPU
#                     too, and every plan there trains to the same bits
#   .gl/*.deb         the Vulkan loader (libvulkan1), fetched once
# Then, there, with .gl carried: bash scripts/gpu_run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .git/info .gl/tests
grep -qx '/.gl/' .git/info/exclude 2>/dev/null || echo '/.gl/' >>.git/info/exclude

cargo build --release
strip -o .gl/wgae target/release/wgae

rm -f .gl/tests/*
# cargo names each test executable on stderr: "Executable tests/NAME.rs (PATH)",
# or "tests/NAME/main.rs" for a test of several modules (kernels).
cargo test --release --no-run --test kernels --test training --test residual --test recurrent --test tune --test digests 2>&1 |
    sed -n 's/.*Executable tests\/\([a-z_]*\)\(\/main\)\{0,1\}\.rs (\(.*\))$/\1 \3/p' |
    while read -r name path; do
        strip -o ".gl/tests/$name" "$path"
    done
[ -n "$(ls .gl/tests)" ] || { echo "no test binaries were built" >&2; exit 1; }

if ! ls .gl/*.deb >/dev/null 2>&1; then
    o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
    mkdir -p /tmp/amd64/partial
    # shellcheck disable=SC2086
    apt-get $o update
    # shellcheck disable=SC2086
    (cd .gl && apt-get $o download libvulkan1)
fi
ls -la .gl .gl/tests
du -sh .gl
