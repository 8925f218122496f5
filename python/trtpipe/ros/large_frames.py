"""Camera-size messages between processes on one host with Fast DDS.

Fast DDS, ROS 2's default middleware, gives each process a 512 KiB shared-memory segment; a
best-effort message larger than that (any 640×480 or bigger raw frame) is lost between
processes, and the subscriber's counters never see it. The Fast DDS profile shipped here
(``fastdds_large_frames.xml``: a 64 MiB segment, UDPv4 kept) fixes it where the frames are
published. :func:`use_in_this_process` applies it to a trtpipe process (whose debug images are
large too) unless the user chose a profile of their own.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

PROFILE_ENV = "FASTDDS_DEFAULT_PROFILES_FILE"
LEGACY_PROFILE_ENV = "FASTRTPS_DEFAULT_PROFILES_FILE"
# set to 0 to leave this process's Fast DDS transports at their defaults
OPT_OUT_ENV = "TRTPIPE_FASTDDS_PROFILE"


def profile_path() -> Path:
    """The shipped Fast DDS profile (an XML file inside the installed package)."""
    return Path(__file__).with_name("fastdds_large_frames.xml")


def use_in_this_process() -> Path | None:
    """Points Fast DDS at the shipped profile before rclpy starts, where the middleware is
    Fast DDS and no profile was chosen (nor ``TRTPIPE_FASTDDS_PROFILE=0`` set); returns the
    profile set, else None."""
    rmw = os.environ.get("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
    chosen = os.environ.get(PROFILE_ENV) or os.environ.get(LEGACY_PROFILE_ENV)
    if not rmw.startswith("rmw_fastrtps") or chosen or os.environ.get(OPT_OUT_ENV) == "0":
        return None
    path = profile_path()
    os.environ[PROFILE_ENV] = str(path)
    log.info("Fast DDS: large-frame profile %s (64 MiB shared memory, UDPv4)", path)
    return path
