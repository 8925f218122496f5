"""Inference backends behind one Engine interface (TensorRT, ONNX Runtime, PyTorch)."""

from trtpipe.backends.availability import BackendStatus, probe_backends

__all__ = ["BackendStatus", "probe_backends"]
