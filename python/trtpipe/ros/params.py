"""The detecting nodes' parameters, their defaults, their checks and their ROS declarations.

``config/params.yaml`` of the ``trtpipe_ros`` package lists the detector node's defaults (a test
keeps the two equal).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import os
from dataclasses import dataclass
from typing import Any, TypeVar

from trtpipe.decode.common import DecodeOptions
from trtpipe.errors import InputError
from trtpipe.ros.qos import PRESETS

P = TypeVar("P")

INPUT_TYPES = ("raw", "compressed")


def check_at_least(name: str, value: float, low: float, note: str = "") -> None:
    """InputError ``name: expected >= low (note), given value`` unless ``value`` is a finite
    number of at least ``low`` (NaN and inf fail): every lower bound of a parameter is worded
    alike."""
    if not (math.isfinite(value) and value >= low):
        bound = f"{low} ({note})" if note else f"{low}"
        raise InputError(f"{name}: expected >= {bound}, given {value}")


def check_above(name: str, value: float, low: float) -> None:
    """InputError ``name: expected > low, given value`` unless ``value`` is a finite number
    above ``low`` (NaN and inf fail)."""
    if not (math.isfinite(value) and value > low):
        raise InputError(f"{name}: expected > {low}, given {value}")


@dataclass(frozen=True)
class DetectingNodeParams:
    """What every node that runs a detector and publishes its detections is given (the detector,
    cameras and RGB-D nodes)."""

    model: str = ""  # ONNX model or serialised engine; empty: trtpipe's sample model
    backend: str = "auto"  # "auto" | "tensorrt" | "onnxruntime" | "torch"
    device: str = "auto"
    conf: float = DecodeOptions.conf
    iou: float = DecodeOptions.iou
    qos: str = "sensor_data"  # preset of the image subscriptions (see trtpipe.ros.qos)
    detections_qos: str = "default"  # preset of the detections (and debug image) publishers
    diagnostics_period_s: float = 1.0

    def __post_init__(self) -> None:
        DecodeOptions(conf=self.conf, iou=self.iou)  # the thresholds' rule, before a model loads
        for name in ("qos", "detections_qos"):
            preset = getattr(self, name)
            if preset not in PRESETS:
                raise InputError(f"{name}: expected one of {PRESETS}, given {preset!r}")
        check_above("diagnostics_period_s", self.diagnostics_period_s, 0)

    @classmethod
    def declare(cls: type[P], node: Any) -> P:
        """Declares every parameter on ``node`` (defaults from this class) and reads them."""
        return declare_params(node, cls)


@dataclass(frozen=True)
class DetectorParams(DetectingNodeParams):
    """The detector node's: one image topic in, its detections (and a debug image) out."""

    image_topic: str = "image"
    input_type: str = "raw"  # "raw": sensor_msgs/Image, "compressed": sensor_msgs/CompressedImage
    # read images from the serialized message in place (false: rclpy deserialises each one)
    serialized_input: bool = True
    detections_topic: str = "detections"
    publish_debug_image: bool = False
    debug_image_topic: str = "detections/image"
    labels_file: str = ""  # one label per line; empty: the model's own labels, if any
    input_width: int = 0  # 0: the model's input size
    input_height: int = 0
    max_detections: int = 300
    deadline_ms: float = 33.0  # the "reliable" preset's deadline
    liveliness_lease_ms: float = 100.0  # the "reliable" preset's liveliness lease
    max_consecutive_failures: int = 5  # inference failures in a row before the engine reloads
    fallback_to_cpu: bool = False  # when a reload does not help, continue on the CPU backend
    fallback_model: str = ""  # ONNX model for the CPU fallback; empty: ``model``
    latency_budget_ms: float = 33.0  # end-to-end time above which a frame counts as a miss
    nvml_device: int = 0  # GPU index for utilisation and memory in diagnostics; -1: off
    log_period_s: float = 5.0  # "Inference Performance - ..." log line period; 0: off
    metrics_port: int = -1  # Prometheus /metrics on this port (0: any free one); -1: off
    # the address /metrics listens on: 127.0.0.1 this machine only; 0.0.0.0 every interface
    metrics_address: str = "127.0.0.1"
    # a frame runs through the detector in its own callback, on the executor thread, while the
    # slowest of the last runs took at most this (ros/inline_runs.py); else, and for the first
    # frames, on the worker thread (0: always there)
    inline_detect_max_ms: float = 2.0

    def __post_init__(self) -> None:
        if self.input_type not in INPUT_TYPES:
            raise InputError(
                f"input_type: expected one of {INPUT_TYPES}, given {self.input_type!r}"
            )
        for name in ("input_width", "input_height"):
            check_at_least(name, getattr(self, name), 0)
        if (self.input_width == 0) != (self.input_height == 0):
            raise InputError(
                "input_width/input_height: expected both 0 or both positive, given "
                f"{self.input_width}x{self.input_height}"
            )
        check_at_least("max_detections", self.max_detections, 1)
        check_at_least("max_consecutive_failures", self.max_consecutive_failures, 1)
        check_at_least("log_period_s", self.log_period_s, 0, "0: off")
        check_above("latency_budget_ms", self.latency_budget_ms, 0)
        if self.fallback_to_cpu and self.fallback_model and not os.path.isfile(self.fallback_model):
            # found now, not when the GPU has failed and the fallback is all that is left
            raise InputError(
                f"fallback_model: expected an existing ONNX file, given {self.fallback_model!r}"
            )
        try:
            ipaddress.ip_address(self.metrics_address)
        except ValueError:
            raise InputError(
                "metrics_address: expected an IP address (127.0.0.1: this machine only, "
                f"0.0.0.0: every interface), given {self.metrics_address!r}"
            ) from None
        if not -1 <= self.metrics_port <= 65535:
            raise InputError(
                f"metrics_port: expected -1 (off), 0 (any free port) or a port number, given "
                f"{self.metrics_port}"
            )
        super().__post_init__()
        if not self.inline_detect_max_ms >= 0:
            raise InputError(
                f"inline_detect_max_ms: expected >= 0 (0: off), given {self.inline_detect_max_ms}"
            )

    @property
    def input_size(self) -> tuple[int, int] | None:
        return (self.input_width, self.input_height) if self.input_width else None

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {f.name: f.default for f in dataclasses.fields(cls)}

    @classmethod
    def read(cls, node: Any) -> DetectorParams:
        """The current values of the (already declared) parameters on ``node``."""
        return read_params(node, cls)

    def load_labels(self) -> list[str] | None:
        if not self.labels_file:
            return None
        try:
            with open(self.labels_file, encoding="utf-8") as f:
                labels = [line.strip() for line in f if line.strip()]
        except OSError as exc:
            raise InputError(
                f"labels_file: expected a readable text file, given {self.labels_file!r} ({exc})"
            ) from exc
        if not labels:
            raise InputError(
                f"labels_file: expected one label per line, {self.labels_file!r} is empty"
            )
        return labels


def declare_fields(node: Any, params: type[Any]) -> None:
    """Declares every field of the ``params`` dataclass as a parameter of ``node``, its default
    the field's: a tuple declares a list, an empty one a list of the type its annotation names
    (``tuple[float, ...]``: doubles), left unset."""
    from rclpy.parameter import Parameter

    arrays = {
        "float": Parameter.Type.DOUBLE_ARRAY,
        "int": Parameter.Type.INTEGER_ARRAY,
        "str": Parameter.Type.STRING_ARRAY,
        "bool": Parameter.Type.BOOL_ARRAY,
    }
    for f in dataclasses.fields(params):
        if f.default == ():
            element = str(f.type).partition("[")[2].split(",")[0].strip()
            node.declare_parameter(f.name, arrays[element])
        else:
            default = list(f.default) if isinstance(f.default, tuple) else f.default
            node.declare_parameter(f.name, default)


def read_params(node: Any, params: type[P]) -> P:
    """``params`` made of the current values of the declared parameters (an unset list: the
    field's default)."""
    from rclpy.exceptions import ParameterUninitializedException

    values = {}
    for f in dataclasses.fields(params):
        try:
            value = node.get_parameter(f.name).value
        except ParameterUninitializedException:
            value = f.default
        values[f.name] = tuple(value or ()) if isinstance(f.default, tuple) else value
    return params(**values)


def declare_params(node: Any, params: type[P]) -> P:
    """:func:`declare_fields`, then :func:`read_params`."""
    declare_fields(node, params)
    return read_params(node, params)
