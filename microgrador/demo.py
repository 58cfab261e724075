"""`microgrador demo`: the engine at work in a minute, offline.

It builds a small expression, shows every node's value and gradient, checks the
gradients against finite differences, and (when the parts are installed) runs the
course's scalar network and a short training run.
"""
from __future__ import annotations

import argparse
import math

from .engine import Value, topological_order
from .testing import gradcheck


def chain_rule_example() -> None:
    x, w, b = Value(1.0, "x"), Value(-2.0, "w"), Value(0.5, "b")
    y = (x * w + b).tanh()
    y.label = "y"
    y.backward()
    print("1. y = tanh(x*w + b) at x = 1, w = -2, b = 0.5, after y.backward():")
    for node in topological_order(y) + [x, w, b]:
        print(f"   {node.label or node.op:>6}  data = {node.data: .6f}   grad = {node.grad: .6f}")
    expected = (1 - math.tanh(-1.5) ** 2) * x.data
    print(f"   dy/dw by hand: (1 - tanh(-1.5)^2) * x = {expected:.6f}  "
          f"(engine: {w.grad:.6f})")
    ok = gradcheck(lambda x, w, b: (x * w + b).tanh(), [1.0, -2.0, 0.5])
    print(f"   gradcheck against central differences: {'passed' if ok else 'FAILED'}")


def run(args: argparse.Namespace) -> int:
    chain_rule_example()
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("demo", help="a one-minute tour of the engine (offline)",
                              description=__doc__)
    p.set_defaults(func=run)
