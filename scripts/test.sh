#!/usr/bin/env bash
# Runs Kahuna's whole test suite: unit, golden-script, storage conformance, process-level
# cluster and fault tests, and the C, C#, Python and command-line clients against real clusters.
# Installs what is missing first. One build profile (release) for everything.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh mono
command -v cargo-nextest >/dev/null 2>&1 || cargo install cargo-nextest --locked

cargo build --release --workspace --all-targets
# The Python package (pyo3, built by maturin into the same target directory) and pytest.
python3 -m pip install --quiet --disable-pip-version-check pytest ./bindings/python
cargo nextest run --release --workspace --no-fail-fast
