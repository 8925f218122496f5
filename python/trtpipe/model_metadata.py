"""Reading what a model file says about itself: ONNX metadata_props (Ultralytics exports
record ``names`` and ``imgsz`` there)."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def onnx_metadata(path: str | Path) -> dict[str, str]:
    """The model's metadata_props as a dict ({} where unreadable or not an ONNX file)."""
    path = Path(path)
    if path.suffix.lower() != ".onnx" or not path.is_file():
        return {}
    try:
        import onnx

        model = onnx.load(str(path), load_external_data=False)
        return {p.key: p.value for p in model.metadata_props}
    except ImportError:
        pass
    try:
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return dict(session.get_modelmeta().custom_metadata_map)
    except Exception as exc:  # an unreadable file: the caller falls back to its defaults
        log.debug("no metadata from %s: %s", path, exc)
        return {}


def class_names(metadata: dict[str, str]) -> list[str] | None:
    """Ultralytics' ``names`` ("{0: 'person', ...}") as a list by class id."""
    text = metadata.get("names")
    if not text:
        return None
    try:
        table = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None
    if isinstance(table, dict):
        return [str(table[i]) for i in sorted(table)]
    if isinstance(table, (list, tuple)):
        return [str(n) for n in table]
    return None


def image_size(metadata: dict[str, str]) -> tuple[int, int] | None:
    """Ultralytics' ``imgsz`` ("[h, w]") as (width, height)."""
    text = metadata.get("imgsz")
    if not text:
        return None
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None
    if isinstance(value, int):
        return value, value
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return int(value[1]), int(value[0])
    return None
