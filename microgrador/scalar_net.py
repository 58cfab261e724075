"""`microgrador scalar-net`: the course's 2-3-2 network worked out with scalars.

    k_j = sum_i x_i W[i][j] + b_j        (W[i][j]: input i -> hidden j)
    h_j = sigmoid(k_j)
    o_k = sum_j h_j V[j][k] + c_k        (V[j][k]: hidden j -> output k)
    y   = softmax(o)
    loss = -log y[target]

Every product w * x is its own node and every sum is a chain of `+` nodes, so a
drawing of the graph shows the whole chain rule. With the course's numbers
(x = [1, -1], W = [[1, 1, 1], [-1, -1, -1]], b = 0, V = [[1, 1], [-1, -1], [-1, -1]],
c = 0, target 0) the two outputs are equal, so y = [1/2, 1/2], the loss is ln 2,
dc = y - onehot = [-1/2, 1/2] and dW = db = 0 (each hidden unit feeds both outputs
with the same weight, so the two error signals cancel).
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

from . import ops
from .engine import Value, as_float

# The assignment's numbers.
X = (1.0, -1.0)
TARGET = 0
W = ((1.0, 1.0, 1.0), (-1.0, -1.0, -1.0))
B = (0.0, 0.0, 0.0)
V = ((1.0, 1.0), (-1.0, -1.0), (-1.0, -1.0))
C = (0.0, 0.0)


class ScalarNet:
    """The built graph, before backward(): `loss`, the parameters in `params`
    ({"W": [[Value]], "b": [Value], "V": [[Value]], "c": [Value]}), the inputs `x`,
    and the intermediate Values `k`, `h`, `o`, `y` (lists, labelled "k[0]", ...)."""

    __slots__ = ("x", "target", "params", "k", "h", "o", "y", "loss")

    def __init__(self, x, target, params, k, h, o, y, loss) -> None:
        self.x, self.target, self.params = x, target, params
        self.k, self.h, self.o, self.y, self.loss = k, h, o, y, loss

    def numbers(self) -> Dict[str, Any]:
        """Every number of the worked example as plain floats (gradients are those of
        the last backward(): zero before it)."""
        P = self.params
        return {
            "x": [v.data for v in self.x], "target": self.target,
            "W": _data(P["W"]), "b": _data(P["b"]), "V": _data(P["V"]), "c": _data(P["c"]),
            "k": _data(self.k), "h": _data(self.h), "o": _data(self.o), "y": _data(self.y),
            "loss": self.loss.data,
            # what a student checks by hand, from the loss backwards
            "do": _grads(self.o), "dh": _grads(self.h), "dk": _grads(self.k),
            "dW": _grads(P["W"]), "db": _grads(P["b"]), "dV": _grads(P["V"]), "dc": _grads(P["c"]),
        }


def _data(values) -> list:
    return [_data(v) if isinstance(v, list) else v.data for v in values]


def _grads(values) -> list:
    return [_grads(v) if isinstance(v, list) else v.grad for v in values]


def _matrix(m: Any, rows: int, cols: Optional[int], name: str, why: str = "") -> List[List[float]]:
    if not isinstance(m, (list, tuple)) or len(m) != rows:
        raise ValueError(f"{name} must be a list of {rows} rows{why}, got {m!r:.80}")
    out = []
    for i, row in enumerate(m):
        if not isinstance(row, (list, tuple)) or (cols is not None and len(row) != cols) or not row:
            want = f"{cols} numbers" if cols is not None else "a list of numbers"
            raise ValueError(f"{name}[{i}] must be {want}, got {row!r:.80}")
        out.append([as_float(v, f"{name}[{i}][{j}]") for j, v in enumerate(row)])
    if cols is None and len({len(r) for r in out}) != 1:
        raise ValueError(f"the rows of {name} must all have the same length, got "
                         f"{[len(r) for r in out]}")
    return out


def _vector(v: Any, n: int, name: str, why: str = "") -> List[float]:
    if not isinstance(v, (list, tuple)) or len(v) != n:
        raise ValueError(f"{name} must be a list of {n} numbers{why}, got {v!r:.80}")
    return [as_float(x, f"{name}[{i}]") for i, x in enumerate(v)]


def _sum_of_products(start: Value, pairs: List[Tuple[Value, Value]], label: str) -> Value:
    """start + a_0 * w_0 + a_1 * w_1 + ...: each product its own node labelled "a*w",
    the sum a chain of `+` nodes, so a drawing shows every step of the chain rule."""
    total = start
    for a, w in pairs:
        prod = a * w
        prod.label = f"{a.label}*{w.label}"
        total = total + prod
    total.label = label
    return total


def build(x: Sequence[float] = X, target: int = TARGET, W: Sequence = W, b: Sequence = B,
          V: Sequence = V, c: Sequence = C) -> ScalarNet:
    """Build the network's graph from elementary ops (no backward yet).

    Shapes: x has n inputs, W is n x m (input i -> hidden j), b has m, V is m x p
    (hidden j -> output k), c has p; target is a class in 0..p-1."""
    if not isinstance(x, (list, tuple)) or not x:
        raise ValueError(f"x must be a non-empty list of numbers, got {x!r:.80}")
    n = len(x)
    # The same numbers, checked and as floats; then each one becomes a leaf Value.
    W = _matrix(W, n, None, "W", f" (one per input: x has {n})")
    m = len(W[0])
    b = _vector(b, m, "b", f" (one per hidden unit: W has {m} columns)")
    V = _matrix(V, m, None, "V", f" (one per hidden unit: W has {m} columns)")
    p = len(V[0])
    c = _vector(c, p, "c", f" (one per output: V has {p} columns)")
    if type(target) is not int or not 0 <= target < p:
        raise ValueError(f"target must be an output class in 0..{p - 1}, got {target!r}")

    inputs = [Value(as_float(v, f"x[{i}]"), f"x[{i}]") for i, v in enumerate(x)]
    params = {"W": [[Value(w, f"W[{i}][{j}]") for j, w in enumerate(row)] for i, row in enumerate(W)],
              "b": [Value(v, f"b[{j}]") for j, v in enumerate(b)],
              "V": [[Value(w, f"V[{j}][{out}]") for out, w in enumerate(row)] for j, row in enumerate(V)],
              "c": [Value(v, f"c[{out}]") for out, v in enumerate(c)]}
    W, b, V, c = params["W"], params["b"], params["V"], params["c"]

    k, h = [], []                         # hidden unit j: k[j], then h[j] = sigmoid(k[j])
    for j in range(m):                    # k_j = b_j + x_0 W[0][j] + x_1 W[1][j] + ...
        k.append(_sum_of_products(b[j], [(inputs[i], W[i][j]) for i in range(n)], f"k[{j}]"))
        h.append(ops.sigmoid(k[j]))
        h[j].label = f"h[{j}]"
    # output `out` (the k of o_k in the formulas above): o_k = c_k + h_0 V[0][k] + h_1 V[1][k] + ...
    o = [_sum_of_products(c[out], [(h[j], V[j][out]) for j in range(m)], f"o[{out}]")
         for out in range(p)]
    y = ops.softmax(o)
    for out, y_out in enumerate(y):
        y_out.label = f"y[{out}]"
    logy = ops.log(y[target])
    logy.label = f"log y[{target}]"
    loss = -logy
    loss.label = "loss"
    return ScalarNet(inputs, target, params, k, h, o, y, loss)


def run(x: Sequence[float] = X, target: int = TARGET, W: Sequence = W, b: Sequence = B,
        V: Sequence = V, c: Sequence = C) -> Dict[str, Any]:
    """Build, run backward, and return every number: x, target, W, b, V, c, the
    intermediates k, h, o, y, the loss, the gradients of the intermediates do, dh, dk,
    and of the parameters dW, db, dV, dc."""
    net = build(x, target, W, b, V, c)
    net.loss.backward()
    return net.numbers()


# --- command line ----------------------------------------------------------------------------------
def format_numbers(r: Dict[str, Any]) -> str:
    """The numbers as text, matrices in the layout of W[i][j], V[j][k], at full precision."""
    def vec(v):
        return "[" + ", ".join(repr(x) for x in v) + "]"

    def mat(name, m, i, rows, j, cols):
        lines = [f"{name}[{i}][{j}] ({rows} {i} -> {cols} {j}), one row per {rows}:"]
        lines += [f"  {vec(row)}" for row in m]
        return lines

    out = [f"x = {vec(r['x'])}, target class {r['target']}", "parameters:"]
    out += ["  " + line for line in mat("W", r["W"], "i", "input", "j", "hidden")]
    out.append(f"  b = {vec(r['b'])}")
    out += ["  " + line for line in mat("V", r["V"], "j", "hidden", "k", "output")]
    out.append(f"  c = {vec(r['c'])}")
    out += ["forward:",
           f"  k = x W + b   = {vec(r['k'])}",
           f"  h = sigmoid(k) = {vec(r['h'])}",
           f"  o = h V + c   = {vec(r['o'])}",
           f"  y = softmax(o) = {vec(r['y'])}",
           f"loss = -log y[{r['target']}] = {r['loss']!r}",
           "backward (d loss / d node), from the loss back:",
           f"  dL/do = y - onehot(target)      = {vec(r['do'])}",
           f"  dL/dh = V dL/do                 = {vec(r['dh'])}",
           f"  dL/dk = dL/dh * h * (1 - h)     = {vec(r['dk'])}",
           "gradients (d loss / d parameter):"]
    out += mat("dW", r["dW"], "i", "input", "j", "hidden")
    out.append(f"db = {vec(r['db'])}")
    out += mat("dV", r["dV"], "j", "hidden", "k", "output")
    out.append(f"dc = {vec(r['dc'])}")
    return "\n".join(out)


def main(args: argparse.Namespace) -> int:
    params: Dict[str, Any] = {"W": W, "b": B, "V": V, "c": C}
    if args.weights:
        try:
            with open(args.weights, "r", encoding="utf-8") as f:
                given = json.load(f)
        except OSError as e:
            print(f"scalar-net: cannot read {args.weights}: {e.strerror}", file=sys.stderr)
            return 2
        except json.JSONDecodeError as e:
            print(f"scalar-net: {args.weights} is not valid JSON: {e.msg} at line {e.lineno} "
                  f"column {e.colno}", file=sys.stderr)
            return 2
        if not isinstance(given, dict) or set(given) - set(params):
            extra = sorted(set(given) - set(params)) if isinstance(given, dict) else None
            print(f"scalar-net: {args.weights} must be a JSON object with keys among W, b, V, c"
                  + (f" (unexpected: {', '.join(extra)})" if extra else ""), file=sys.stderr)
            return 2
        params.update(given)
    x = X if args.x is None else args.x
    try:
        result = run(x, args.target, **params)
    except (ValueError, TypeError) as e:
        print(f"scalar-net: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result))
    else:
        print(format_numbers(result))
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "scalar-net", help="the course's 2-3-2 network: one forward and backward pass with scalars",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--x", type=float, nargs="+", metavar="X",
                   help="the input (default: 1 -1)")
    p.add_argument("--target", type=int, default=TARGET, help="the target class (default: 0)")
    p.add_argument("--weights", metavar="FILE.json",
                   help='a JSON object with any of "W", "b", "V", "c" (the rest keep the '
                        'course\'s values), e.g. {"W": [[1, 1, 1], [-1, -1, -1]]}')
    p.add_argument("--json", action="store_true", help="print one JSON object with every number")
    p.set_defaults(func=main)
