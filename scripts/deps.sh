#!/usr/bin/env bash
# Installs the system packages Kahuna needs to build and test, if they are missing.
# Debian/Ubuntu (apt). Safe to run repeatedly; does nothing when everything is present.
set -euo pipefail

need=()
command -v capnp >/dev/null 2>&1 || need+=(capnproto libcapnp-dev)
# The rocksdb crate runs bindgen, which needs libclang.
ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1 || ls /usr/lib/x86_64-linux-gnu/libclang*.so* >/dev/null 2>&1 \
  || need+=(libclang-dev clang)
command -v cc >/dev/null 2>&1 || need+=(build-essential)
for extra in "$@"; do
  case "$extra" in
    mono) command -v mcs >/dev/null 2>&1 || need+=(mono-mcs mono-runtime) ;;
    *) dpkg -s "$extra" >/dev/null 2>&1 || need+=("$extra") ;;
  esac
done

if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is missing: install Rust first (https://rustup.rs)" >&2
  exit 1
fi
