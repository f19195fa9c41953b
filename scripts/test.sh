#!/usr/bin/env bash
# Runs Kahuna's whole test suite: unit, golden-script, storage conformance and process-level
# cluster tests. Installs what is missing first. One build profile (release) for everything.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
command -v cargo-nextest >/dev/null 2>&1 || cargo install cargo-nextest --locked

cargo build --release --workspace --all-targets
cargo nextest run --release --workspace --no-fail-fast
