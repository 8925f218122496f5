"""The ROS node's per-frame costs under pytest-benchmark (the full comparison: python -m bench.ros).

python -m pytest bench/test_bench_ros.py --benchmark-only
"""

from __future__ import annotations

import pytest

from bench import ros
from bench.compare import SuiteUnavailable


@pytest.fixture(scope="module")
def ros_available() -> None:
    try:
        ros._require_ros()
    except SuiteUnavailable as exc:
        pytest.skip(str(exc))


@pytest.mark.parametrize(("width", "height"), ros.SIZES, ids=["640x480", "1920x1080"])
def test_image_message_to_detector_input(benchmark, ros_available, width, height):
    from sensor_msgs.msg import Image

    from trtpipe.ros.image_input import raw_frame

    msg = Image(height=height, width=width, encoding="bgr8", step=width * 3)
    msg.data = ros._frame(width, height).tobytes()
    frame = benchmark(raw_frame, msg)
    assert frame.data.nbytes == width * height * 3


@pytest.mark.parametrize(("width", "height"), ros.SIZES, ids=["640x480", "1920x1080"])
def test_publish_to_detections_noop_detector(benchmark, ros_available, width, height):
    loop = ros.Loop(ros.NoOpDetector(), "default", f"pb{width}")
    try:
        msg = loop.message(ros._frame(width, height))
        seq = iter(range(1, 1_000_000))

        def round_trip() -> None:
            n = next(seq)
            loop.send(msg, n)
            assert loop.wait_for(n) is not None

        benchmark.pedantic(round_trip, rounds=30, warmup_rounds=3)
    finally:
        loop.close()
