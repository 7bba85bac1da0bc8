#!/usr/bin/env bash
# Builds wgae's page into web/www: the wasm module (release, wasm32), its
# JavaScript bindings (wasm-bindgen --target web, into www/pkg) and the
# digits it trains on (www/data/digits.bin, from ../shared/data/mnist; set
# WGAE_MNIST_DIR to read them elsewhere). Serve web/www with any static file
# server afterwards, e.g. `node web/tests/serve.mjs 8080`.
set -euo pipefail
cd "$(dirname "$0")/.."

# wasm-bindgen-cli must be the version of the wasm-bindgen crate in Cargo.lock.
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
if [ "$have" != "$want" ]; then
    echo "web/build.sh: needs wasm-bindgen-cli $want (found: ${have:-none});" \
        "install it with: cargo install wasm-bindgen-cli --version $want" >&2
    exit 1
fi
if ! rustup target list --installed 2>/dev/null | grep -q wasm32-unknown-unknown; then
    rustup target add wasm32-unknown-unknown
fi

cargo build --release -p wgae-web --lib --target wasm32-unknown-unknown
wasm-bindgen --target web --out-dir web/www/pkg \
    target/wasm32-unknown-unknown/release/wgae_web.wasm
python3 web/digits.py
echo "web/build.sh: built web/www; serve it with: node web/tests/serve.mjs 8080"
