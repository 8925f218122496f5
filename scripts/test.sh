#!/usr/bin/env bash
# Installs trtpipe with its test extras into .venv and runs lint and the test suite.
# This is the README's test command and what CI runs. GPU tests skip, with the reason,
# where no GPU is usable.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -d /usr/local/cuda/bin ]; then export PATH="$PATH:/usr/local/cuda/bin"; fi
if command -v nvcc >/dev/null; then export TRTPIPE_EXPECT_CUDA=1; else export TRTPIPE_EXPECT_CUDA=0; fi

python3 -m venv .venv
# shellcheck disable=SC1091
. .venv/bin/activate
python -m pip install --quiet --upgrade pip

if root=$(PYTHON=python scripts/fetch-tensorrt-headers.sh); then
  export TENSORRT_ROOT="$root"
else
  echo "warning: could not fetch TensorRT headers; the TensorRT adapter will not be compiled" >&2
fi

echo "== building and installing trtpipe"
python -m pip install --quiet ".[test]"

echo "== lint"
ruff check .
ruff format --check .

echo "== tests"
python -m pytest "$@"
