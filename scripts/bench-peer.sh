#!/usr/bin/env bash
# The gateway bench's peer: LiteLLM's proxy, in its own environment (.bench-peer), never
# a dependency of Charter. `charter bench gateway --peer litellm` runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="${LITELLM_VERSION:-1.108.7}"
if [ ! -x .bench-peer/bin/litellm ]; then
  python3 -m venv .bench-peer
  .bench-peer/bin/pip install --quiet --upgrade pip
  .bench-peer/bin/pip install --quiet "litellm[proxy]==${VERSION}"
fi
.bench-peer/bin/litellm --version
