"""micrograd 0.1.0 has no exp, log or sigmoid; the benches add them here in its own
style (one node each, with a _backward closure), so both compare against the same code.

    ops = micrograd_ops()      # None when micrograd is not installed
    Value, exp, log, sigmoid = ops
"""
from __future__ import annotations

import math


def micrograd_ops():
    """(Value, exp, log, sigmoid) built on micrograd.engine.Value, or None."""
    try:
        from micrograd.engine import Value
    except ImportError:
        return None

    # Written out as micrograd writes its own ops (no shared helper: an extra call
    # per node would slow micrograd down and flatter microgrador).
    def exp(v):
        out = Value(math.exp(v.data), (v,), "exp")

        def _backward():
            v.grad += out.data * out.grad
        out._backward = _backward
        return out

    def log(v):
        out = Value(math.log(v.data), (v,), "log")

        def _backward():
            v.grad += out.grad / v.data
        out._backward = _backward
        return out

    def sigmoid(v):
        out = Value(1.0 / (1.0 + math.exp(-v.data)), (v,), "sigmoid")

        def _backward():
            v.grad += out.data * (1.0 - out.data) * out.grad
        out._backward = _backward
        return out

    return Value, exp, log, sigmoid
