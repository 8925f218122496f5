"""Detector on real models and images, against independent oracles: the sample model
(YOLOv4-tiny COCO, YOLOv5 layout) against a NumPy reference decode of the same ONNX Runtime
outputs (exact) and against OpenCV 4's Darknet reader on the original files (boxes by IoU: it
resizes, Detector letterboxes); NudeNet's YOLOv8n against the same reference decode and
against NudeNet's own detect() (it pads bottom/right, so boxes are matched by IoU)."""

from __future__ import annotations

import importlib.util
import threading
import time

import numpy as np
import pytest

from decode_reference import letterbox_to_source, yolov5, yolov8
from onnx_models import coco_model, detector_model
from trtpipe.backends.base import Engine
from trtpipe.decode import box_iou
from trtpipe.errors import EngineError, InputError
from trtpipe.monitor import PerformanceMonitor

pytest.importorskip("onnxruntime")
if importlib.util.find_spec("skimage") is None:  # its data files, not an import
    pytest.skip("scikit-image is not installed", allow_module_level=True)

from trtpipe import samples
from trtpipe.detector import PIPELINE_DEPTH, Detector, Ticket
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
    det = Detector(coco_model())
    yield det
    det.close()


@pytest.fixture(scope="module")
def faces():
    """NudeNet's YOLOv8n (18 body-part classes, faces among them)."""
    path = detector_model()
    if path is None:
        pytest.skip("nudenet (which ships the YOLOv8n detector model) is not installed")
    det = Detector(path)
    yield det
    det.close()


def test_sample_model_and_labels(detector):
    det = Detector(coco_model())
    assert det.input_size == (416, 416)
    assert det.decoder is None  # chosen from the first outputs
    assert det.labels == samples.sample_labels()
    assert len(det.labels) == 80 and det.labels[:3] == ["person", "bicycle", "car"]


# OpenCV 4.14's Darknet reader on the original yolov4-tiny files (plain resize to 416x416):
# the most confident object, clipped to the image.
OPENCV_OBJECTS = {
    "astronaut": ("person", 0.8820, (28.9, 0.0, 401.6, 469.5)),
    "coffee": ("cup", 0.7465, (168.7, 11.9, 409.6, 263.9)),
    "chelsea": ("cat", 0.3676, (19.7, 0.0, 430.6, 269.9)),
}


@pytest.mark.parametrize("name", list(OPENCV_OBJECTS))
def test_the_sample_model_finds_what_opencv_finds(detector, images, name):
    label, score, box = OPENCV_OBJECTS[name]
    dets = detector(images[name])
    best = int(np.argmax(dets.scores))
    assert dets.labels[best] == label
    # letterboxing instead of a plain resize moves the scores a little, not the object
    assert dets.scores[best] >= score - 0.05
    assert box_iou(dets.boxes[best : best + 1], np.array([box])).item() >= 0.8


@pytest.mark.parametrize(
    ("model", "size", "decoder", "reference"),
    [("coco", 416, "yolov5", yolov5), ("faces", 320, "yolov8", yolov8)],
)
@pytest.mark.parametrize("name", ["astronaut", "camera", "coffee", "chelsea"])
def test_boxes_equal_reference_decode_of_the_same_outputs(
    request, images, name, model, size, decoder, reference
):
    real = request.getfixturevalue("detector" if model == "coco" else "faces")
    recording = Recording(real.engine)
    det = Detector(recording, input_size=size, labels=real.labels, conf=0.2)
    image = images[name]
    dets = det(image)
    assert det.decoder == decoder
    (out,) = recording.last.values()
    boxes, scores, classes = reference(out[0], 0.2, 0.45, 300)
    lb = letterbox_params(image.shape[1], image.shape[0], size, size)
    if len(boxes):
        boxes = letterbox_to_source(
            boxes, lb.scale_x, lb.scale_y, lb.pad_x, lb.pad_y, image.shape[1], image.shape[0]
        )
    assert dets.class_ids.tolist() == classes.tolist()
    np.testing.assert_allclose(dets.scores, scores, atol=1e-6, rtol=0)
    np.testing.assert_allclose(dets.boxes, np.reshape(boxes, (-1, 4)), atol=1e-3, rtol=0)
    assert dets.labels == [real.labels[c] for c in classes]


def nudenet_boxes(image: np.ndarray):
    from nudenet import NudeDetector

    bgr = np.stack([image] * 3, axis=-1) if image.ndim == 2 else image
    found = NudeDetector().detect(bgr)
    boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in (d["box"] for d in found)])
    return boxes.reshape(-1, 4), [d["class"] for d in found], [d["score"] for d in found]


@pytest.mark.parametrize("name, face", [("astronaut", "FACE_FEMALE"), ("camera", "FACE_MALE")])
def test_faces_match_nudenet(faces, images, name, face):
    dets = faces(images[name])
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
def test_no_confident_faces_on_negatives(faces, images, name):
    _, _, scores = nudenet_boxes(images[name])
    assert not [s for s in scores if s >= 0.5]
    assert (faces(images[name]).scores < 0.5).all()


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


def test_a_ticket_is_redeemed_only_by_its_own_detector(detector, images):
    a, b = images["astronaut"], images["camera"]
    want_b = detector(b)
    with Detector(coco_model()) as other:
        foreign = other.submit(a)
        with pytest.raises(InputError, match="this Detector"):
            detector.result(foreign)
        # neither detector lost or gained a slot: both still take PIPELINE_DEPTH frames
        tickets = [detector.submit(b) for _ in range(PIPELINE_DEPTH)]
        with pytest.raises(InputError, match="in flight"):
            detector.submit(b)
        for ticket in tickets:
            np.testing.assert_array_equal(detector.result(ticket).boxes, want_b.boxes)
        np.testing.assert_array_equal(other.result(foreign).boxes, other(a).boxes)
        forged = Ticket(None, foreign.transform, 0, 0.0, 0.0, 0.0)
        with pytest.raises(InputError, match="this Detector"):
            other.result(forged)


def test_threads_sharing_a_detector_each_get_their_own_frames_detections(images, monkeypatch):
    names = ["astronaut", "camera", "coffee"]
    with Detector(coco_model()) as det:
        want = {name: det(images[name]) for name in names}
        real_submit = det.engine.submit

        def slow_submit(feeds):  # a wide window for another thread's frame
            time.sleep(0.01)
            return real_submit(feeds)

        monkeypatch.setattr(det.engine, "submit", slow_submit)
        got: dict[str, list] = {name: [] for name in names}
        errors: list[BaseException] = []

        def run(name: str) -> None:
            try:
                for _ in range(3):
                    got[name].append(det(images[name]))
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(name,)) for name in names]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert not errors and sorted(det._free) == list(range(PIPELINE_DEPTH))
    for name in names:
        assert len(got[name]) == 3
        for dets in got[name]:
            np.testing.assert_array_equal(dets.boxes, want[name].boxes)


def test_closing_a_detector_another_thread_runs_ends_its_frames_with_engine_error(images):
    det = Detector(coco_model())
    outcome: list[BaseException] = []
    ran = threading.Event()

    def loop() -> None:
        try:
            while True:
                det(images["camera"])
                ran.set()
        except BaseException as exc:  # the one way out
            outcome.append(exc)

    thread = threading.Thread(target=loop)
    thread.start()
    assert ran.wait(60)
    det.close()
    thread.join(60)
    assert len(outcome) == 1 and isinstance(outcome[0], EngineError), outcome
    ticket_det = Detector(coco_model())
    ticket = ticket_det.submit(images["camera"])
    ticket_det.close()
    with pytest.raises(EngineError, match="closed before the frame's result was read"):
        ticket_det.result(ticket)


def test_timings_recorded_every_call(images):
    monitor = PerformanceMonitor(nvml_device=None)
    det = Detector(coco_model(), monitor=monitor)
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
    assert {"cup", "diningtable"} <= set(Detector(coco_model(), conf=0.3)(images["coffee"]).labels)
    det = Detector(coco_model(), conf=0.05, classes=[labels.index("cup")])
    dets = det(images["coffee"])
    assert len(dets) and set(dets.labels) == {"cup"}
    assert len(Detector(coco_model(), conf=0.01, max_detections=2)(images["coffee"])) == 2


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
        Detector(coco_model(), decoder="ssd")
    with pytest.raises(InputError):
        Detector(coco_model(), conf=1.5)
    with pytest.raises(InputError, match=r"monitor: expected None or a trtpipe\.Perf"):
        Detector(coco_model(), monitor=5)
    for labels in ("person", {0: "person"}, 5, ["person", 1]):
        with pytest.raises(InputError, match="label_names: expected"):
            Detector(coco_model(), labels=labels)
