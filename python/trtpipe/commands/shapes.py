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
