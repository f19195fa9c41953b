#!/usr/bin/env bash
# Runs Kahuna's whole test suite: unit, golden-script, storage conformance, process-level
# cluster and fault tests, and the C, C#, Python and command-line clients against real clusters.
# Installs what is missing first. One build profile (release) for everything.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh mono
command -v cargo-nextest >/dev/null 2>&1 || cargo install cargo-nextest --locked

cargo build --release --workspace --all-targets
# The Python package (pyo3, built by maturin into the same target directory) and pytest. A
# Python that refuses `pip install` (Debian's own, PEP 668 "externally managed") or has no pip
# gets a virtual environment under the target directory, first on PATH for the tests too.
if ! python3 -c 'import os, sys, sysconfig
managed = os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED"))
sys.exit(1 if managed and sys.prefix == sys.base_prefix else 0)' || ! python3 -m pip --version >/dev/null 2>&1; then
  venv="${CARGO_TARGET_DIR:-$PWD/target}/python-venv"
  [ -x "$venv/bin/python3" ] || { scripts/deps.sh python3-venv; python3 -m venv "$venv"; }
  export PATH="$venv/bin:$PATH"
  echo "using the virtual environment $venv for the Python client" >&2
fi
python3 -m pip install --quiet --disable-pip-version-check pytest ./bindings/python
cargo nextest run --release --workspace --no-fail-fast
