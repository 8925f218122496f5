"""Frames of an image file, a folder of images or a video, for the detection commands."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trtpipe.annotate import _cv2
from trtpipe.errors import InputError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg"}


@dataclass
class Source:
    """What ``trtpipe detect`` reads: ``kind`` is "image", "folder" or "video"."""

    path: Path
    kind: str
    count: int | None  # frames, where known in advance
    fps: float = 30.0

    def frames(self) -> Iterator[tuple[str, np.ndarray | InputError]]:
        """(name, BGR or mono uint8 image) pairs; names are file names, or ``stem:frame`` for
        video. 16-bit images keep their high byte; other sample types (float, signed) are not
        read. In a folder, a file that does not read comes as (name, the InputError saying
        why), so the files after it are still read; a lone image file that does not read
        raises."""
        cv2 = _cv2()
        if self.kind == "video":
            capture = cv2.VideoCapture(str(self.path))
            try:
                index = 0
                while True:
                    ok, frame = capture.read()
                    if not ok:
                        return
                    yield f"{self.path.stem}:{index:06d}", frame
                    index += 1
            finally:
                capture.release()
        files = [self.path] if self.kind == "image" else _images_in(self.path)
        for file in files:
            image = cv2.imread(str(file), cv2.IMREAD_UNCHANGED)
            error = None
            if image is None:
                error = InputError(
                    f"{file}: expected an image OpenCV can read, given an unreadable file"
                )
            elif image.dtype == np.uint16:  # 16-bit PNGs and TIFFs: the high byte
                # exact for 8-bit values stored either as v << 8 or as v * 257
                image = (image >> 8).astype(np.uint8)
            elif image.dtype != np.uint8:
                # float samples have no one range (0..1? 0..255? metres?) and signed ones
                # would wrap: refuse rather than guess
                error = InputError(
                    f"{file}: expected an image of 8- or 16-bit unsigned samples, given "
                    f"{image.dtype} samples"
                )
            if error is not None:
                if self.kind == "image":
                    raise error
                yield file.name, error
                continue
            yield file.name, image


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def open_source(path: str | Path) -> Source:
    path = Path(path)
    if path.is_dir():
        files = _images_in(path)
        if not files:
            suffixes = ", ".join(sorted(IMAGE_SUFFIXES))
            raise InputError(f"{path}: expected a folder with images ({suffixes}), given none")
        return Source(path, "folder", len(files))
    if not path.is_file():
        raise InputError(
            f"source: expected an image, a folder or a video, given {path} (not found)"
        )
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return Source(path, "image", 1)
    if suffix in VIDEO_SUFFIXES:
        cv2 = _cv2()
        capture = cv2.VideoCapture(str(path))
        if not capture.isOpened():
            raise InputError(f"{path}: expected a video OpenCV can open, given an unreadable file")
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
        fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
        capture.release()
        return Source(path, "video", count, fps)
    raise InputError(
        f"source: expected an image ({', '.join(sorted(IMAGE_SUFFIXES))}), a folder or a video "
        f"({', '.join(sorted(VIDEO_SUFFIXES))}), given {path}"
    )
