"""Check derivatives numerically: for microgrador's own tests and for yours.

    numerical_grad(f, xs)  central differences (f(x + h) - f(x - h)) / 2h
    gradcheck(f, xs)       backward() against numerical_grad, True or a table of what differs

and hypothesis strategies (`floats_in`, `values`, `expressions`) that generate
inputs and random expression graphs. hypothesis is only needed for the strategies.
"""
from __future__ import annotations

from typing import Callable, List, Sequence, Tuple, Union

from .engine import Value, as_float
from .ops import Scalar
from . import ops



class GradcheckError(AssertionError):
    """backward() and finite differences disagree; the message has the table."""


def _call(f: Callable[..., Scalar], xs: Sequence[float]) -> float:
    out = f(*[Value(x) for x in xs])
    if isinstance(out, Value):
        return out.data
    return as_float(out, "gradcheck: f's result")


def numerical_grad(f: Callable[..., Scalar], xs: Sequence[float], eps: float = 1e-6) -> List[float]:
    """df/dx_i by central differences, (f(.., x_i + h, ..) - f(.., x_i - h, ..)) / 2h,
    with h = eps * max(1, |x_i|). The error is O(h^2) for smooth f."""
    xs = [as_float(x, "numerical_grad(xs)") for x in xs]
    grads = []
    for i, x in enumerate(xs):
        h = eps * max(1.0, abs(x))
        up, down = list(xs), list(xs)
        up[i], down[i] = x + h, x - h
        grads.append((_call(f, up) - _call(f, down)) / (2 * h))
    return grads


def analytic_grad(f: Callable[..., Scalar], xs: Sequence[float]) -> List[float]:
    """df/dx_i from one backward() pass."""
    inputs = [Value(as_float(x, "gradcheck(xs)"), label=f"x{i}") for i, x in enumerate(xs)]
    out = f(*inputs)
    if not isinstance(out, Value):
        return [0.0] * len(inputs)    # f ignored its inputs: every derivative is 0
    out.backward()
    return [v.grad for v in inputs]


def gradcheck(f: Callable[..., Scalar], xs: Sequence[float], rtol: float = 1e-5,
              atol: float = 1e-7, eps: float = 1e-6, order: int = 1) -> bool:
    """True if backward() agrees with central differences at `xs` for every input:
    |analytic - numeric| <= atol + rtol * |numeric|. Otherwise raise GradcheckError
    with a table of every input, both derivatives and the difference.

    order=2 also checks second derivatives, like PyTorch's gradgradcheck: each row of
    the Hessian from reverse over reverse (backward(create_graph=True), then
    backward() of each gradient) against central differences of the gradient.

    >>> gradcheck(lambda x, y: x * y.sin(), [1.5, 0.3], order=2)
    True
    """
    if order not in (1, 2):
        raise ValueError(f"gradcheck: order must be 1 or 2, got {order!r}")
    analytic = analytic_grad(f, xs)
    numeric = numerical_grad(f, xs, eps)
    _compare("d f/d x", xs, analytic, numeric, rtol, atol)
    if order == 2:
        hessian = _analytic_hessian(f, xs)
        for i in range(len(xs)):
            # row i: d/dx_j of df/dx_i by central differences of df/dx_i
            numeric = numerical_grad(lambda *x: analytic_grad(f, [v.data for v in x])[i], xs, eps)
            _compare(f"d/d x_j (d f/d x{i})", xs, hessian[i], numeric, rtol, atol)
    return True


def _analytic_hessian(f: Callable[..., Scalar], xs: Sequence[float]) -> List[List[float]]:
    """d^2 f/dx_i dx_j by reverse over reverse: backward(create_graph=True) leaves
    the gradients as Values, and backward() of gradient i gives row i."""
    inputs = [Value(as_float(x, "gradcheck(xs)"), label=f"x{i}") for i, x in enumerate(xs)]
    out = f(*inputs)
    if not isinstance(out, Value):
        return [[0.0] * len(inputs) for _ in inputs]
    out.backward(create_graph=True)
    rows = []
    for g in [v.grad for v in inputs]:
        for v in inputs:
            v.grad = 0.0          # leaves accumulate over backward() calls: start at 0
        if isinstance(g, Value):
            g.backward()
        rows.append([float(v.grad) for v in inputs])
    return rows


def _compare(what: str, xs, analytic, numeric, rtol, atol) -> bool:
    bad = [i for i, (a, n) in enumerate(zip(analytic, numeric))
           if not abs(a - n) <= atol + rtol * abs(n)]
    if not bad:
        return True
    rows = [f"{'input':>6} {'x':>14} {'backward':>22} {'numerical':>22} {'difference':>12}"]
    for i, (x, a, n) in enumerate(zip(xs, analytic, numeric)):
        mark = "  <-- differs" if i in bad else ""
        rows.append(f"{i:>6} {x:>14.6g} {a:>22.15g} {n:>22.15g} {a - n:>12.3g}{mark}")
    raise GradcheckError(f"gradcheck failed for {what} at {len(bad)} of {len(xs)} inputs "
                         f"(rtol={rtol}, atol={atol}):\n" + "\n".join(rows))


# --- hypothesis strategies ----------------------------------------------------------------
# Binary and unary building blocks for random graphs, each finite and smooth on all
# reals, so a random graph never leaves its domain: log, sqrt and division appear
# through guarded forms (log(1 + a^2), b / (1 + a^2)), exp through exp(tanh(a)).
SMOOTH_OPS = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "div": lambda a, b: b / (1 + a * a),
    "tanh": lambda a, b: ops.tanh(a),
    "sigmoid": lambda a, b: ops.sigmoid(a),
    "sin": lambda a, b: ops.sin(a),
    "cos": lambda a, b: ops.cos(a),
    "exp": lambda a, b: ops.exp(ops.tanh(a)),
    "log": lambda a, b: ops.log(1 + a * a),
    "sqrt": lambda a, b: ops.sqrt(1 + a * a),
    "square": lambda a, b: a ** 2,
    "pow": lambda a, b: (1 + a * a) ** ops.tanh(b),
    "sum": lambda a, b: ops.sum_of([a, b, a]),
    "dot": lambda a, b: ops.dot([a, b], [b, 0.5]),
    "logsumexp": lambda a, b: ops.logsumexp([a, b]),
    "softmax": lambda a, b: ops.softmax([a, b, 0.3])[0],
    "log_softmax": lambda a, b: ops.log_softmax([a, b])[1],
    "cross_entropy": lambda a, b: ops.cross_entropy([a, b, a * b], 2),
}


class Expression:
    """A random expression graph: `program` is a list of (op name, i, j) steps, each
    reading two earlier slots (inputs first) and appending its result, so a slot read
    twice is a shared sub-expression. Call it like a function of its inputs."""

    def __init__(self, num_inputs: int, program: List[Tuple[str, int, int]],
                 table=SMOOTH_OPS) -> None:
        self.num_inputs, self.program, self.table = num_inputs, program, table

    def __call__(self, *xs: Scalar) -> Scalar:
        slots = list(xs)
        for name, i, j in self.program:
            slots.append(self.table[name](slots[i], slots[j]))
        # the output mixes every slot so no input is left out by chance
        return ops.sum_of(slots[self.num_inputs:]) if self.program else ops.sum_of(slots)

    def __repr__(self) -> str:
        inputs = "s0" if self.num_inputs == 1 else f"s0..s{self.num_inputs - 1}"
        lines = [f"Expression with inputs {inputs}:"]
        for k, (name, i, j) in enumerate(self.program):
            lines.append(f"  s{self.num_inputs + k} = {name}(s{i}, s{j})")
        return "\n".join(lines)


def floats_in(low: float, high: float, avoid: Sequence[float] = (), margin: float = 1e-3):
    """Finite floats in [low, high], at least `margin` away from each point in `avoid`
    (the kinks and singularities where a derivative is undefined)."""
    from hypothesis import strategies as st
    finite = st.floats(low, high, allow_nan=False, allow_infinity=False)
    if not avoid:
        return finite
    return finite.filter(lambda x: all(abs(x - a) >= margin for a in avoid))


def values(low: float = -10.0, high: float = 10.0, avoid: Sequence[float] = ()):
    """Leaf Values whose data is drawn by floats_in(low, high, avoid)."""
    return floats_in(low, high, avoid).map(Value)


def expressions(num_inputs: int = 3, max_steps: int = 8, ops_names: Sequence[str] = tuple(SMOOTH_OPS)):
    """Random `Expression` graphs over the named ops of SMOOTH_OPS, with shared
    sub-expressions, together with inputs in [-2, 2]: draws (expression, xs)."""
    from hypothesis import strategies as st

    @st.composite
    def build(draw):
        n = draw(st.integers(1, max(1, num_inputs)))
        steps = draw(st.integers(1, max_steps))
        program = []
        for k in range(steps):
            name = draw(st.sampled_from(list(ops_names)))
            i = draw(st.integers(0, n + k - 1))
            j = draw(st.integers(0, n + k - 1))
            program.append((name, i, j))
        xs = draw(st.lists(floats_in(-2.0, 2.0), min_size=n, max_size=n))
        return Expression(n, program), xs

    return build()
