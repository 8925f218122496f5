"""The real model through the node: sample images published as sensor_msgs/Image, detections
from ONNX Runtime received on loopback, checked against the same Detector called directly."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from .ros_harness import Graph, image_msg, stamp_ns, wait_for

pytestmark = pytest.mark.ros


@pytest.fixture(scope="module")
def samples() -> Any:
    import trtpipe
    from trtpipe.ros.detector_factory import detector_class

    try:
        detector_cls = detector_class()
        from trtpipe import samples as trtpipe_samples
    except (trtpipe.BackendUnavailableError, ImportError) as exc:
        pytest.skip(str(exc))

    try:
        model = trtpipe_samples.sample_model()
        images = trtpipe_samples.sample_images()
    except trtpipe.BackendUnavailableError as exc:
        pytest.skip(str(exc))
    pytest.importorskip("onnxruntime")
    return detector_cls, model, images


def _as_tuples(msg: Any) -> list[tuple]:
    return [
        (
            d.bbox.center.position.x,
            d.bbox.center.position.y,
            d.bbox.size_x,
            d.bbox.size_y,
            d.results[0].hypothesis.class_id,
            d.results[0].hypothesis.score,
        )
        for d in msg.detections
    ]


@pytest.mark.parametrize(
    ("backend", "device"),
    [("onnxruntime", "cpu"), pytest.param("auto", "cuda", marks=pytest.mark.gpu)],
    ids=["onnxruntime-cpu", "gpu"],
)
def test_sample_images_through_the_node_match_the_direct_detector(
    ros_context, samples, backend, device
):
    from trtpipe.ros.detector_factory import load_detector

    detector_cls, model, images = samples
    direct = detector_cls(model, backend=backend, device=device)
    g = Graph(
        ros_context,
        load_detector,  # the node's own loading path, from its parameters
        f"e2e_{device}",
        model=str(model),
        backend=backend,
        device=device,
    )
    try:
        for i, (name, image) in enumerate(images):
            encoding = "mono8" if image.ndim == 2 else "bgr8"
            stamp = 1_800_000_000_000_000_000 + i
            out = g.send_and_wait(image_msg(image, encoding, stamp, frame_id=name), i + 1)
            assert stamp_ns(out.header) == stamp and out.header.frame_id == name
            expected = direct(image, encoding=encoding).to_msg()
            got, want = _as_tuples(out), _as_tuples(expected)
            assert len(got) == len(want), name
            for a, b in zip(got, want, strict=True):
                assert a[4] == b[4]
                np.testing.assert_allclose(a[:4] + a[5:], b[:4] + b[5:], rtol=1e-5, atol=1e-3)
            if name in ("astronaut", "camera"):  # both show a person
                assert any(t[4] == "person" for t in got), (name, got)
        # one monitor: the Detector records its frames into the node's, each once
        runtime = g.node.runtime
        assert runtime.detector.monitor is runtime.monitor
        wait_for(lambda: runtime.counters.published == len(images), what="the last frame counted")
        snap = runtime.monitor.snapshot()
        assert snap.frames == len(images)
        from trtpipe.ros.diagnostics import diagnostic_values

        keys = {k for k, _ in diagnostic_values(snap, runtime.counters, runtime.backend)}
        if device == "cuda":  # GPU stage times and the Detector's pools reach /diagnostics
            assert {"gpu.preprocess.p50_ms", "gpu.inference.p50_ms"} <= keys, keys
            assert any(k.startswith("pool.detector_") for k in keys), keys
    finally:
        g.close()
        direct.close()
