"""Detector on the real sample model (NudeNet's YOLOv8n) and images, against two oracles: a
NumPy reference decode of the same ONNX Runtime outputs (exact), and NudeNet's own detect()
(an independent pipeline: it pads bottom/right, so boxes are matched by IoU)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from decode_reference import letterbox_to_source, yolov8
from trtpipe.backends.base import Engine
from trtpipe.decode import box_iou
from trtpipe.errors import InputError
from trtpipe.monitor import PerformanceMonitor

pytest.importorskip("onnxruntime")
pytest.importorskip("nudenet")
if importlib.util.find_spec("skimage") is None:  # its data files, not an import
    pytest.skip("scikit-image is not installed", allow_module_level=True)

from trtpipe import samples
from trtpipe.detector import PIPELINE_DEPTH, Detector
from trtpipe.preprocess import letterbox_params


class Recording(Engine):
    """Passes frames to a real engine and keeps the last outputs."""

    def __init__(self, inner: Engine):
        self.inner = inner
        self.backend = inner.backend
        self.last: dict[str, np.ndarray] = {}

    @property
    def inputs(self):
        return self.inner.inputs

    @property
    def outputs(self):
        return self.inner.outputs

    @property
    def device(self):
        return self.inner.device

    def infer(self, inputs):
        self.last = {k: np.array(v) for k, v in self.inner.infer(inputs).items()}
        return self.last


@pytest.fixture(scope="module")
def images():
    return dict(samples.sample_images())


@pytest.fixture(scope="module")
def detector():
    det = Detector(samples.sample_model())
    yield det
    det.close()


def test_sample_model_and_labels():
    det = Detector(samples.sample_model())
    assert det.input_size == (320, 320)
    assert det.decoder is None  # chosen from the first outputs
    assert det.labels == samples.sample_labels()
    assert len(det.labels) == 18 and "FACE_FEMALE" in det.labels and "FACE_MALE" in det.labels


@pytest.mark.parametrize("name", ["astronaut", "camera", "coffee", "chelsea"])
def test_boxes_equal_reference_decode_of_the_same_outputs(detector, images, name):
    recording = Recording(detector.engine)
    det = Detector(recording, input_size=320, labels=detector.labels, conf=0.2)
    image = images[name]
    dets = det(image)
    assert det.decoder == "yolov8"
    (out,) = recording.last.values()
    boxes, scores, classes = yolov8(out[0], 0.2, 0.45, 300)
    lb = letterbox_params(image.shape[1], image.shape[0], 320, 320)
    if len(boxes):
        boxes = letterbox_to_source(
            boxes, lb.scale_x, lb.scale_y, lb.pad_x, lb.pad_y, image.shape[1], image.shape[0]
        )
    assert dets.class_ids.tolist() == classes.tolist()
    np.testing.assert_allclose(dets.scores, scores, atol=1e-6, rtol=0)
    np.testing.assert_allclose(dets.boxes, np.reshape(boxes, (-1, 4)), atol=1e-3, rtol=0)
    assert dets.labels == [detector.labels[c] for c in classes]


def nudenet_boxes(image: np.ndarray):
    from nudenet import NudeDetector

    bgr = np.stack([image] * 3, axis=-1) if image.ndim == 2 else image
    found = NudeDetector().detect(bgr)
    boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in (d["box"] for d in found)])
    return boxes.reshape(-1, 4), [d["class"] for d in found], [d["score"] for d in found]


@pytest.mark.parametrize("name, face", [("astronaut", "FACE_FEMALE"), ("camera", "FACE_MALE")])
def test_faces_match_nudenet(detector, images, name, face):
    dets = detector(images[name])
    theirs, labels, scores = nudenet_boxes(images[name])
    confident = [i for i, s in enumerate(scores) if s >= 0.5]
    assert face in [labels[i] for i in confident]
    for i in confident:
        same = [j for j, lab in enumerate(dets.labels) if lab == labels[i]]
        assert same, f"nudenet found {labels[i]}, trtpipe did not"
        assert box_iou(theirs[i : i + 1], dets.boxes[same]).max() >= 0.8
    for j in np.flatnonzero(dets.scores >= 0.5):
        matching = [i for i in range(len(labels)) if labels[i] == dets.labels[j]]
        assert matching, f"trtpipe found {dets.labels[j]}, nudenet did not"
        assert box_iou(dets.boxes[j : j + 1], theirs[matching]).max() >= 0.8


@pytest.mark.parametrize("name", ["coffee", "chelsea"])
def test_no_confident_detections_on_negatives(detector, images, name):
    _, _, scores = nudenet_boxes(images[name])
    assert not [s for s in scores if s >= 0.5]
    assert (detector(images[name]).scores < 0.5).all()


def test_raw_bytes_equal_array(detector, images):
    image = images["astronaut"]
    h, w = image.shape[:2]
    want = detector(image)
    padded = np.zeros((h, w * 3 + 16), np.uint8)  # rows with a step larger than width * 3
    padded[:, : w * 3] = image.reshape(h, -1)
    got = detector.detect_bytes(padded.tobytes(), w, h, "bgr8", step=w * 3 + 16)
    np.testing.assert_array_equal(got.boxes, want.boxes)
    rgb = detector(np.ascontiguousarray(image[..., ::-1]), encoding="rgb8")
    np.testing.assert_allclose(rgb.boxes, want.boxes, atol=1e-3)


def test_submit_result_pipelining(detector, images):
    a, b = images["astronaut"], images["camera"]
    want_a, want_b = detector(a), detector(b)
    ta, tb = detector.submit(a), detector.submit(b)
    with pytest.raises(InputError):
        detector.submit(a)  # every input buffer is in flight
    got_b, got_a = detector.result(tb), detector.result(ta)
    np.testing.assert_array_equal(got_a.boxes, want_a.boxes)
    np.testing.assert_array_equal(got_b.boxes, want_b.boxes)
    with pytest.raises(InputError):
        detector.result(ta)  # already collected
    assert PIPELINE_DEPTH == 2


def test_timings_recorded_every_call(images):
    monitor = PerformanceMonitor(nvml_device=None)
    det = Detector(samples.sample_model(), monitor=monitor)
    end_to_end = []
    for _ in range(3):
        det(images["coffee"])
        end_to_end.append(det.last_timings["end_to_end"])
    assert set(det.last_timings) == {"preprocess", "inference", "postprocess", "end_to_end"}
    t = det.last_timings
    assert t["end_to_end"] >= t["preprocess"] + t["inference"] + t["postprocess"] - 1e-6
    snap = monitor.snapshot()  # also the last frame, whose statistics were deferred
    assert snap.frames == 3
    assert snap.host["end_to_end"].max_ms == max(end_to_end)
    assert snap.host["end_to_end"].mean_ms == pytest.approx(np.mean(end_to_end))
    assert snap.host["inference"] is not None and snap.host["postprocess"] is not None


def test_class_filter_and_max_detections(images):
    labels = samples.sample_labels()
    det = Detector(samples.sample_model(), conf=0.05, classes=[labels.index("FACE_MALE")])
    dets = det(images["astronaut"])
    assert set(dets.labels) <= {"FACE_MALE"}
    assert (
        len(Detector(samples.sample_model(), conf=0.01, max_detections=2)(images["astronaut"])) <= 2
    )


@pytest.mark.parametrize(
    "image, encoding",
    [
        (np.zeros((10, 10, 3), np.float32), None),
        (np.zeros((10, 10, 2), np.uint8), None),
        (np.zeros((0, 10, 3), np.uint8), None),
        (np.zeros((10, 10, 3), np.uint8), "mono8"),
        (np.zeros((10, 10, 3), np.uint8), "yuv422"),
        ("not an image", None),
    ],
)
def test_bad_images_raise_input_error(detector, image, encoding):
    with pytest.raises(InputError):
        detector(image, encoding=encoding)


def test_bad_raw_frames_raise_input_error(detector):
    with pytest.raises(InputError):
        detector.detect_bytes(b"\0" * 100, 10, 10, "bgr8")  # needs 300 bytes
    with pytest.raises(InputError):
        detector.detect_bytes(b"\0" * 300, 10, 10, "bgr8", step=20)  # step < width * 3


def test_bad_arguments_raise_input_error():
    with pytest.raises(InputError):
        Detector(samples.sample_model(), decoder="ssd")
    with pytest.raises(InputError):
        Detector(samples.sample_model(), conf=1.5)
