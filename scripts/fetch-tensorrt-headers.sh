#!/usr/bin/env bash
# Puts real TensorRT C++ headers where CMake finds them, for machines without a TensorRT SDK
# (CI, laptops). They come from the kernel-lens wheel on PyPI (Apache-2.0 headers of TensorRT
# 10.14), unpacked in place under .cache/; nothing is copied into the repository.
# Prints the folder to use as TENSORRT_ROOT.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
dest="$here/.cache/tensorrt-headers"
if [ ! -f "$dest/include/NvInferVersion.h" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  "${PYTHON:-python3}" -m pip download --quiet --no-deps --only-binary=:all: \
    -d "$tmp" "kernel-lens==2.0.1" >&2
  "${PYTHON:-python3}" - "$tmp" "$dest" <<'PY'
import pathlib, sys, zipfile
wheel = next(pathlib.Path(sys.argv[1]).glob("kernel_lens-*.whl"))
dest = pathlib.Path(sys.argv[2]) / "include"
dest.mkdir(parents=True, exist_ok=True)
with zipfile.ZipFile(wheel) as archive:
    for name in archive.namelist():
        if name.startswith("kernel_lens/include/tensorrt/") and name.endswith(".h"):
            (dest / pathlib.Path(name).name).write_bytes(archive.read(name))
PY
fi
echo "$dest"
