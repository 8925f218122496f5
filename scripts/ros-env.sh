#!/usr/bin/env bash
# Prints the exports that make the vision_msgs package built by scripts/build-vision-msgs.sh
# importable by the given Python (default python3):  eval "$(scripts/ros-env.sh)"
# Prints nothing when vision_msgs is importable already (a ROS distribution provides it).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
prefix=${1:-$here/.cache/ros-msgs}
if "$python" -c 'import vision_msgs.msg' 2>/dev/null; then exit 0; fi
venv=$("$python" -c 'import sys; print(sys.prefix)')
site=$("$python" -c 'import sys; print(f"lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages")')
if [ ! -d "$prefix/$site/vision_msgs" ]; then
  echo "no vision_msgs under $prefix: run scripts/build-vision-msgs.sh first" >&2
  exit 1
fi
echo "export PYTHONPATH=\"$prefix/$site\${PYTHONPATH:+:\$PYTHONPATH}\""
echo "export LD_LIBRARY_PATH=\"$prefix/lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}\""
echo "export AMENT_PREFIX_PATH=\"$prefix:$venv\${AMENT_PREFIX_PATH:+:\$AMENT_PREFIX_PATH}\""
