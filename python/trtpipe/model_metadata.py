"""Reading what a model file says about itself: ONNX metadata_props (Ultralytics exports
record ``names`` and ``imgsz`` there)."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

log = logging.getLogger(__name__)


#: the most class ids a ``names`` table may span (a larger id is a typo, not a class)
MAX_CLASSES = 100_000
#: the largest side ``imgsz`` may give, in pixels
MAX_IMAGE_SIDE = 65_536


def onnx_metadata(path: str | Path) -> dict[str, str]:
    """The model's metadata_props as a dict ({} where unreadable or not an ONNX file)."""
    path = Path(path)
    if path.suffix.lower() != ".onnx" or not path.is_file():
        return {}
    try:
        import onnx
    except ImportError:
        onnx = None
    if onnx is not None:
        try:
            model = onnx.load(str(path), load_external_data=False)
            return {p.key: p.value for p in model.metadata_props}
        except Exception as exc:  # protobuf's DecodeError: the caller falls back to defaults
            log.debug("no metadata from %s: %s", path, exc)
            return {}
    try:
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return dict(session.get_modelmeta().custom_metadata_map)
    except Exception as exc:  # an unreadable file: the caller falls back to its defaults
        log.debug("no metadata from %s: %s", path, exc)
        return {}


# The metadata is the model author's: a value that cannot be used is logged and ignored (None),
# so the model still loads with the caller's defaults.


def _class_id(key: object) -> int | None:
    """A ``names`` key as a class id: an int >= 0 or a string of digits ('0'); else None."""
    if isinstance(key, bool):
        return None
    if isinstance(key, int):
        return key if key >= 0 else None
    if isinstance(key, str) and key.strip().isdecimal():
        return int(key)
    return None


def class_names(metadata: dict[str, str]) -> list[str] | None:
    """Ultralytics' ``names`` ("{0: 'person', ...}") as a list by class id: entry ``i`` names
    class ``i``. An id the table skips is named by its number ("{0: 'a', 2: 'c'}" ->
    ['a', '1', 'c'], with a warning), so later classes keep their names. Keys that are not
    class ids (negative, fractional) make the table unusable: a warning and None."""
    text = metadata.get("names")
    if not text:
        return None
    try:
        table = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        log.warning("model metadata names: expected a dict or list of class names, given %r", text)
        return None
    if isinstance(table, (list, tuple)):
        return [str(n) for n in table]
    if not isinstance(table, dict):
        log.warning("model metadata names: expected a dict or list of class names, given %r", text)
        return None
    by_id: dict[int, str] = {}
    for key, name in table.items():
        class_id = _class_id(key)
        if class_id is None or class_id >= MAX_CLASSES or class_id in by_id:
            log.warning(
                "model metadata names: expected distinct class ids 0..%d as keys, given %r; "
                "ignoring the names",
                MAX_CLASSES - 1,
                key,
            )
            return None
        by_id[class_id] = str(name)
    if not by_id:
        return None
    count = max(by_id) + 1
    missing = [i for i in range(count) if i not in by_id]
    if missing:
        log.warning(
            "model metadata names: no name for class ids %s; naming them by their number",
            missing[:20],
        )
    return [by_id.get(i, str(i)) for i in range(count)]


def image_size(metadata: dict[str, str]) -> tuple[int, int] | None:
    """Ultralytics' ``imgsz`` ("[h, w]" or "640") as (width, height); None, with a warning,
    where it is not one or two whole sizes of 1..MAX_IMAGE_SIDE pixels."""
    text = metadata.get("imgsz")
    if not text:
        return None
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        value = None
    if isinstance(value, int):
        value = [value, value]

    def side(v: object) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_IMAGE_SIDE

    if isinstance(value, (list, tuple)) and len(value) == 2 and all(side(v) for v in value):
        return int(value[1]), int(value[0])
    log.warning(
        "model metadata imgsz: expected [height, width] in pixels (1..%d), given %r; ignoring it",
        MAX_IMAGE_SIDE,
        text,
    )
    return None
