"""How trtpipe reads a caller's numbers: an int must be an int, a real number must be finite.

A float given for a size is not truncated, a string is not parsed, a bool is not counted, and
NaN or inf never reaches a clock, a threshold or a geometry: each raises :class:`InputError`
naming the field.
"""

from __future__ import annotations

import math
import numbers
import operator
from typing import Any

import numpy as np

from trtpipe.errors import InputError


def int_arg(field: str, value: Any) -> int:
    """``value`` if it is an int (or declares itself one with ``__index__``, as NumPy integers
    do); a float, string or bool raises InputError."""
    if not isinstance(value, (bool, np.bool_)):
        try:
            return operator.index(value)
        except TypeError:
            pass
    raise InputError(f"{field}: expected an int, given {type(value).__name__} {value!r}")


def finite_real(field: str, value: Any) -> float:
    """``value`` as a float if it is a finite real number (int, float, NumPy scalar); a bool, a
    string, None, NaN or inf raises InputError."""
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        number = float(value)
        if math.isfinite(number):
            return number
    raise InputError(
        f"{field}: expected a finite real number, given {type(value).__name__} {value!r}"
    )
