"""Instructions as a model's token ids: a Hugging Face ``tokenizer.json`` read by the
``tokenizers`` library, padded or truncated to the model's sequence length, with its attention
mask (1 for a token, 0 for padding).

Text given as bytes is decoded as UTF-8, undecodable bytes replaced by U+FFFD (counted in
:attr:`TextTokenizer.replaced`), so a garbled instruction still tokenises; an instruction longer
than the sequence keeps its first tokens (counted in :attr:`TextTokenizer.truncated`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trtpipe.errors import BackendUnavailableError, InputError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Tokens:
    ids: np.ndarray  # (1, length) int64
    mask: np.ndarray  # (1, length) int64: 1 for a token, 0 for padding
    count: int  # tokens before padding (after truncation)


class TextTokenizer:
    """``tokenizer``: a path to a ``tokenizer.json`` or a ``tokenizers.Tokenizer``. ``length``:
    the model's sequence length. ``pad_id``: the padding id (default: the tokenizer's padding
    token, else 0)."""

    def __init__(self, tokenizer: str | Path | Any, length: int, pad_id: int | None = None):
        if isinstance(length, bool) or not isinstance(length, int) or length < 1:
            raise InputError(f"length: expected an int >= 1, given {length!r}")
        if isinstance(tokenizer, (str, Path)):
            try:
                from tokenizers import Tokenizer
            except ImportError as exc:
                raise BackendUnavailableError(
                    f"tokenizer: reading {tokenizer} needs the tokenizers package "
                    "(pip install 'trtpipe[vla]')"
                ) from exc
            path = Path(tokenizer)
            if not path.is_file():
                raise InputError(f"tokenizer: expected a tokenizer.json file, given {str(path)!r}")
            try:
                tokenizer = Tokenizer.from_file(str(path))
            except Exception as exc:  # the library's own parse errors
                raise InputError(f"tokenizer: {path} is not a tokenizer.json ({exc})") from exc
        self._tokenizer = tokenizer
        self.length = length
        padding = getattr(tokenizer, "padding", None) or {}
        self.pad_id = int(pad_id if pad_id is not None else padding.get("pad_id", 0))
        self.replaced = 0
        self.truncated = 0

    def __call__(self, text: str | bytes) -> Tokens:
        if isinstance(text, (bytes, bytearray)):
            decoded = bytes(text).decode("utf-8", errors="replace")
            if "\ufffd" in decoded and b"\xef\xbf\xbd" not in text:
                self.replaced += 1
                log.warning("instruction: undecodable UTF-8 bytes replaced")
            text = decoded
        if not isinstance(text, str):
            raise InputError(f"instruction: expected str or bytes, given {type(text).__name__}")
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:  # lone surrogates: no UTF-8 for the tokenizer to read
                text = text.encode("utf-8", errors="replace").decode("utf-8")
                self.replaced += 1
                log.warning("instruction: characters without a UTF-8 form replaced")
        ids = list(self._tokenizer.encode(text).ids)
        if len(ids) > self.length:
            self.truncated += 1
            ids = ids[: self.length]
        count = len(ids)
        out = np.full((1, self.length), self.pad_id, np.int64)
        out[0, :count] = ids
        mask = np.zeros((1, self.length), np.int64)
        mask[0, :count] = 1
        return Tokens(out, mask, count)
