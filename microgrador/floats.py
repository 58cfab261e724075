"""What counts as a number here, and how a bad one is reported.

Both the rules (ops.py) and the engine take plain numbers from the user; `as_float`
is the one place that decides what is a number and says what was wrong, and where.
"""
from __future__ import annotations

import math
import numbers
from typing import Iterable


def as_float(x: object, where: str) -> float:
    """`x` as a float, or a TypeError/ValueError that says what `x` was and where.

    bool is refused on purpose: `x * (y > 0)` is almost always a bug in a
    gradient computation; write `float(flag)` if you mean 0.0 or 1.0.
    """
    t = type(x)
    if t is float:
        value = x
    elif t is int:
        try:
            value = float(x)
        except OverflowError:      # an int beyond 1.8e308, e.g. 10**400
            raise ValueError(f"{where}: the integer {_digits(x)} is too large for a float "
                             f"(at most about 1.8e308)") from None
    elif t is bool:
        raise TypeError(f"{where}: got bool {x!r}; microgrador does not treat True/False "
                        f"as numbers, write float({x!r}) if you mean {float(x)!r}")
    elif isinstance(x, numbers.Real) and not isinstance(x, bool):   # NumPy scalars, Fraction, ...
        value = float(x)
    else:
        raise TypeError(f"{where}: expected a real number or a Value, got "
                        f"{type_name(x)} {x!r:.60}")
    if not math.isfinite(value):
        raise ValueError(f"{where}: expected a finite number, got {value}")
    return value


def is_value(x: object) -> bool:
    """Whether `x` is a Value (a leaf or an op's result), known without importing the
    engine: a Value is what records ops on itself (`_record`)."""
    return hasattr(type(x), "_record")


def type_name(x: object) -> str:
    """The name of x's type, for an error message: "Value" for every Value, a leaf or
    an op's result (a `Computed`), since that is the name users know them by."""
    return "Value" if is_value(x) else type(x).__name__


def is_number(x: object) -> bool:
    """Whether `x` is a plain real number (not a Value, not a bool)."""
    return type(x) is float or type(x) is int or (
        isinstance(x, numbers.Real) and not isinstance(x, bool))


def describe(values: Iterable, limit: int = 6) -> str:
    """The first `limit` values, then how many there are in all."""
    values = list(values)
    shown = ", ".join(repr(v) for v in values[:limit])
    return shown + (f", ... ({len(values)} in all)" if len(values) > limit else "")


def _digits(n: int) -> str:
    """A huge int shown by its size, not its (maybe thousands of) digits."""
    return f"of {n.bit_length()} bits (about 10^{int(n.bit_length() * 0.30103)})"
