#!/usr/bin/env bash
# Installs Charter and its dependencies into ./.venv (idempotent; re-run after pyproject changes).
# Usage: scripts/install.sh [extras]   e.g. scripts/install.sh test
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null 2>&1 || python=python3

if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
stamp=".venv/.charter-installed-$(cat pyproject.toml | sha256sum | cut -c1-16)-${extras:-base}"
if [ -f "$stamp" ]; then
  exit 0
fi
# This machine's pip configuration names optional local indexes that may be absent; pip
# warns about each one. Those warnings are noise here, so they are filtered out.
pip_install() {
  .venv/bin/python -m pip install --quiet "$@" 2> >(grep -v "is ignored: it is neither" >&2)
}
pip_install --upgrade pip
# The CPU build of PyTorch; an unpinned torch would pull a multi-GB CUDA build.
pip_install "torch==2.13.0"
# llama-cpp-python compiles from source (about 5 minutes, cached by pip afterwards). A
# native build can emit instructions (AMX) that crash some CPUs, so pin the portable set.
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON}"
target="."
if [ -n "$extras" ]; then target=".[$extras]"; fi
pip_install -e "$target"
rm -f .venv/.charter-installed-*
touch "$stamp"
