"""Parsing of ``--shape NAME=1x3x640x640`` arguments shared by the subcommands."""

from __future__ import annotations

from trtpipe.errors import InputError


def parse_shapes(items: list[str] | None) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    for item in items or []:
        name, sep, dims = item.partition("=")
        try:
            shape = tuple(int(d) for d in dims.lower().split("x"))
        except ValueError:
            shape = ()
        if not sep or not name or not shape:
            raise InputError(f"--shape: expected NAME=DxDxD (-1 for the batch), given {item!r}")
        shapes[name] = shape
    return shapes


def parse_size(text: str, option: str) -> tuple[int, int]:
    """``608x608`` → (608, 608), width first."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        width = height = 0
    if width <= 0 or height <= 0:
        raise InputError(f"{option}: expected WIDTHxHEIGHT, e.g. 608x608, given {text!r}")
    return width, height
