#!/usr/bin/env bash
# wgae's browser tests: builds the page (web/build.sh), runs the kernel
# checks natively (lavapipe in CI) for comparison, installs playwright-core
# (pinned in web/package-lock.json; it drives Debian's chromium, it
# downloads no browser), then web/tests/browser.mjs in headless Chromium.
# Pass --screenshot PATH to keep a picture of the trained page.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null; then
    echo "web/test.sh: chromium is missing; install Debian's: apt-get install -y chromium" >&2
    exit 1
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "web/test.sh: Node.js and npm are missing; install them: apt-get install -y nodejs npm" >&2
    exit 1
fi
bash web/build.sh
cargo build --release --bin wgae --bin native-checks -p wgae -p wgae-web
target/release/native-checks web/www/native-checks.json
(cd web && npm ci --no-audit --no-fund --loglevel=error)
node web/tests/browser.mjs --native web/www/native-checks.json --wgae target/release/wgae "$@"
