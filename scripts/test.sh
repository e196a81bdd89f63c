#!/usr/bin/env bash
# The whole test suite, from a fresh Debian/Ubuntu machine: installs valkey-server 8,
# redis-server 7, prometheus, Valkey 9.1 and chromium + chromedriver (the page's browser
# tests) when missing, checks formatting and lints, then runs every test (unit tests and
# end-to-end tests against real servers and a headless browser it starts itself).
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/ensure-rust.sh
bash scripts/install-deps.sh

echo "== cargo fmt --check"
cargo fmt --check
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings
echo "== cargo test"
# Cluster tests each start 6 servers; two at a time fits a 2-core machine.
cargo test --all-targets -- --test-threads="${TEST_THREADS:-2}"
