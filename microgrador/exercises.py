"""Exercises: the student writes the derivative rule of every op; the grader checks each.

    init_exercises("hw")             writes hw/derivatives.py: one d_<op> per op, to fill in
    report = grade_exercises("hw")   plugs each d_<op> in as that op's rule and checks it
    print(report)                    a table, one row per op: pass, wrong (with why), todo

A rule `d_tanh(out, x)` has the signature of `Op.derivatives`: the op's result, then its
inputs, and it returns one local derivative per input. The grader puts it inside a copy
of the engine's op (the engine's forward, the student's rule; the engine's own ops are
left alone) and draws points over the op's domain, away from kinks, with hypothesis:

    order 1   backward() through the student's rule   vs  central differences of the forward
    order 2   reverse over reverse (create_graph=True) vs  central differences of the
              engine's own first derivative

The smallest counterexample hypothesis finds is reported. hypothesis is imported only
when grading starts, so the engine itself still needs nothing outside the standard library.
"""
from __future__ import annotations

import importlib.util
import math
import numbers
import os
import pathlib
import random
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from . import ops
from .engine import Value
from .floats import type_name
from .testing import _analytic_hessian, analytic_grad, floats_in, numerical_grad

FILENAME = "derivatives.py"
RTOL, ATOL = 1e-5, 1e-6      # |got - expected| <= ATOL + RTOL |expected|
MAX_EXAMPLES = 50            # points drawn per op and order (the whole check takes seconds)

ORDERS = {1: "order 1 (the rule on floats)",
          2: "order 2 (first derivatives pass; the rule on Values, reverse over reverse)"}
Case = Tuple[Tuple[float, ...], Dict[str, Any]]    # (inputs, constants such as n or i)


@dataclass(frozen=True)
class Exercise:
    """One op to derive: its rule's signature, what the docstring asks, the key, how to
    make the engine's op, and the points to grade it on."""
    op: str                                  # the name in d_<op> and in the report
    task: str
    params: str                              # the rule's parameters after `out`
    doc: str                                 # forward formula and what to return
    solution: str                            # the teacher's key: the body of the rule
    engine_op: Callable[[Dict[str, Any]], ops.Op]
    cases: Callable[[], Any]                 # a hypothesis strategy of Case (built lazily)
    probe: Case                              # one point, to tell a todo from a wrong rule

    @property
    def function(self) -> str:
        return f"d_{self.op}"


# --- the points each op is graded on ----------------------------------------------------------
def _reals(*ranges: Tuple[float, float], avoid: Sequence[float] = (), margin: float = 1e-3):
    """Tuples of floats, one per (low, high), away from the points in `avoid`."""
    from hypothesis import strategies as st
    return st.tuples(*[floats_in(lo, hi, avoid, margin) for lo, hi in ranges]).map(lambda xs: (xs, {}))


def _vectors(constant: Optional[str] = None):
    """Lists of 1..5 logits, with a class index `constant` (i, target) among them.
    (No flatmap: strategies built once per search, not once per example, keep it fast.)"""
    from hypothesis import strategies as st
    return st.tuples(st.lists(floats_in(-5.0, 5.0), min_size=1, max_size=5), st.integers(0, 4)).map(
        lambda p: (tuple(p[0]), {constant: p[1] % len(p[0])} if constant else {}))


def _pow_const_cases():
    """x ** n: integer n on both sides of 0, fractional n on x > 0."""
    from hypothesis import strategies as st
    def case(p):
        n, x, negative = p
        return ((-x if negative and n == int(n) else x,), {"n": n})
    return st.tuples(st.sampled_from([2.0, 3.0, 1.0, 0.0, -1.0, -2.0, 0.5, 1.5, -0.5]),
                     floats_in(0.1, 4.0), st.booleans()).map(case)


def _leaky_relu_cases():
    from hypothesis import strategies as st
    return st.tuples(floats_in(-5.0, 5.0, avoid=[0.0], margin=0.01), floats_in(0.01, 0.5)).map(
        lambda p: ((p[0],), {"slope": p[1]}))


def _dot_cases():
    """n = 1..3 pairs a[k], b[k], and a bias or not."""
    from hypothesis import strategies as st
    def case(p):
        n, bias, xs = p
        return tuple(xs[:2 * n + bias]), {"n": n, "bias": bias}
    return st.tuples(st.integers(1, 3), st.booleans(),
                     st.lists(floats_in(-5.0, 5.0), min_size=7, max_size=7)).map(case)


def _same(op: ops.Op) -> Callable[[Dict[str, Any]], ops.Op]:
    return lambda constants: op


def _through_softmax(op: str, constant: str, doc: str, term: str, engine_op: type) -> Exercise:
    """One of the ops softmax(xs)[i], log_softmax(xs)[i], cross_entropy(xs, target): n
    inputs and a constant class index; the key writes d out/d xs[j] as `term` of y = ys[j]."""
    return Exercise(op, NARY, f"*xs, {constant}",
                    f"{doc}\n\n{_EACH}\nmg.softmax(list(xs)) gives all the outputs of softmax.",
                    f"ys = mg.softmax(list(xs))\nreturn tuple({term} for j, y in enumerate(ys))",
                    lambda c: engine_op(c[constant]), lambda: _vectors(constant),
                    ((1.0, -2.0, 0.5), {constant: 1}))


class SoftmaxOutput(ops.Op):
    """Output i of softmax as one node over all n logits: y_i = e^x_i / sum_j e^x_j.

    The engine itself routes softmax through one shared logsumexp node, so that n
    outputs keep n + 1 local derivatives instead of n * n; the exercise asks for the
    textbook rule of this n-input node, d y_i/d x_j = y_i (delta_ij - y_j)."""
    def __init__(self, i: int) -> None:
        self.i = i
        self.name = f"softmax[{i}]"
    def forward(self, *xs):
        return ops.softmax(list(xs))[self.i]
    def derivatives(self, out, *xs):
        return tuple(out * ((1.0 if j == self.i else 0.0) - y)
                     for j, y in enumerate(ops.softmax(list(xs))))


class LogSoftmaxOutput(ops.Op):
    """Output i of log_softmax as one node over all n logits: x_i - logsumexp(x)."""
    def __init__(self, i: int) -> None:
        self.i = i
        self.name = f"log_softmax[{i}]"
    def forward(self, *xs):
        return ops.log_softmax(list(xs))[self.i]
    def derivatives(self, out, *xs):
        return tuple((1.0 if j == self.i else 0.0) - y for j, y in enumerate(ops.softmax(list(xs))))


ARITHMETIC, ELEMENTWISE, NARY = "arithmetic", "elementwise", "n-ary"
_EACH = "Return a tuple of len(xs) derivatives: d out/d xs[j] for each j."
HEADERS = {ARITHMETIC: "Task 1: arithmetic",
           ELEMENTWISE: "Task 2: elementwise functions",
           NARY: "Task 3: n-ary ops (one node, many inputs)"}

EXERCISES: List[Exercise] = [
    Exercise("add", ARITHMETIC, "a, b", "out = a + b.\n\nReturn (d out/d a, d out/d b).",
             "return (1.0, 1.0)", _same(ops.add), lambda: _reals((-5, 5), (-5, 5)), ((1.5, -0.5), {})),
    Exercise("sub", ARITHMETIC, "a, b", "out = a - b.\n\nReturn (d out/d a, d out/d b).",
             "return (1.0, -1.0)", _same(ops.sub), lambda: _reals((-5, 5), (-5, 5)), ((1.5, -0.5), {})),
    Exercise("mul", ARITHMETIC, "a, b", "out = a * b.\n\nReturn (d out/d a, d out/d b).",
             "return (b, a)", _same(ops.mul), lambda: _reals((-5, 5), (-5, 5)), ((1.5, -0.5), {})),
    Exercise("div", ARITHMETIC, "a, b", "out = a / b (b != 0).\n\nReturn (d out/d a, d out/d b).",
             "return (1 / b, -a / (b * b))", _same(ops.div),
             lambda: _reals((-5, 5), (-5, 5), avoid=[0.0], margin=0.25), ((1.5, -0.5), {})),
    Exercise("neg", ARITHMETIC, "x", "out = -x.\n\nReturn (d out/d x,): a tuple of one.",
             "return (-1.0,)", _same(ops.neg), lambda: _reals((-5, 5)), ((1.5,), {})),
    Exercise("pow_const", ARITHMETIC, "x, *, n",
             "out = x ** n for a constant number n (not a Value: not an input).\n\n"
             "Return (d out/d x,).",
             "return (n * x ** (n - 1),)", lambda c: ops.PowConst(c["n"]), _pow_const_cases,
             ((1.5,), {"n": 3.0})),
    Exercise("pow", ARITHMETIC, "a, b",
             "out = a ** b with both a and b Values (so a > 0).\n\n"
             "Return (d out/d a, d out/d b).",
             "return (b * a ** (b - 1), a ** b * mg.log(a))", _same(ops.Pow()),
             lambda: _reals((0.2, 4), (-3, 3)), ((1.5, -0.5), {})),
    Exercise("exp", ELEMENTWISE, "x", "out = e ** x.\n\nReturn (d out/d x,).",
             "return (mg.exp(x),)", _same(ops.exp), lambda: _reals((-5, 5)), ((0.5,), {})),
    Exercise("log", ELEMENTWISE, "x", "out = log(x), the natural logarithm (x > 0).\n\nReturn (d out/d x,).",
             "return (1 / x,)", _same(ops.log), lambda: _reals((0.05, 10)), ((0.5,), {})),
    Exercise("sqrt", ELEMENTWISE, "x", "out = sqrt(x) (x > 0).\n\nReturn (d out/d x,).",
             "return (1 / (2 * mg.sqrt(x)),)", _same(ops.sqrt), lambda: _reals((0.05, 10)), ((0.5,), {})),
    Exercise("tanh", ELEMENTWISE, "x",
             "out = tanh(x) = (e^x - e^-x) / (e^x + e^-x).\n\n"
             "Return (d out/d x,). Hint: it can be written with out alone.",
             "return (1 - out * out,)", _same(ops.tanh), lambda: _reals((-4, 4)), ((0.5,), {})),
    Exercise("sigmoid", ELEMENTWISE, "x",
             "out = sigmoid(x) = 1 / (1 + e^-x).\n\n"
             "Return (d out/d x,). Hint: it can be written with out alone.",
             "return (out * (1 - out),)", _same(ops.sigmoid), lambda: _reals((-6, 6)), ((0.5,), {})),
    Exercise("relu", ELEMENTWISE, "x",
             "out = max(0, x).\n\nReturn (d out/d x,), taking 0 at the kink x = 0 (as PyTorch).",
             "return (1.0 if x > 0 else 0.0,)", _same(ops.relu),
             lambda: _reals((-5, 5), avoid=[0.0], margin=0.01), ((0.5,), {})),
    Exercise("leaky_relu", ELEMENTWISE, "x, *, slope",
             "out = x if x > 0 else slope * x, for a constant slope such as 0.01.\n\n"
             "Return (d out/d x,), taking slope at x = 0 (as PyTorch).",
             "return (1.0 if x > 0 else slope,)", lambda c: ops.LeakyRelu(c["slope"]),
             _leaky_relu_cases, ((0.5,), {"slope": 0.01})),
    Exercise("abs", ELEMENTWISE, "x",
             "out = |x|.\n\nReturn (d out/d x,), taking 0 at the kink x = 0 (as PyTorch).",
             "return (1.0 if x > 0 else -1.0 if x < 0 else 0.0,)", _same(ops.absolute),
             lambda: _reals((-5, 5), avoid=[0.0], margin=0.01), ((0.5,), {})),
    Exercise("sin", ELEMENTWISE, "x", "out = sin(x).\n\nReturn (d out/d x,).",
             "return (mg.cos(x),)", _same(ops.sin), lambda: _reals((-6, 6)), ((0.5,), {})),
    Exercise("cos", ELEMENTWISE, "x", "out = cos(x).\n\nReturn (d out/d x,).",
             "return (-mg.sin(x),)", _same(ops.cos), lambda: _reals((-6, 6)), ((0.5,), {})),
    Exercise("sum", NARY, "*xs", "out = xs[0] + xs[1] + ... + xs[n-1], one node.\n\n" + _EACH,
             "return (1.0,) * len(xs)", _same(ops.Sum()), _vectors, ((1.0, -2.0, 0.5), {})),
    Exercise("dot", NARY, "*xs, n, bias",
             "out = a[0] b[0] + ... + a[n-1] b[n-1] (+ c), one node, where xs is\n"
             "a[0..n-1], then b[0..n-1], then the bias c if bias is True.\n\n"
             "Return a tuple of len(xs) derivatives, in the order of xs.",
             "a, b = xs[:n], xs[n:2 * n]\n"
             "return tuple(b) + tuple(a) + ((1.0,) if bias else ())",
             lambda c: ops.Dot(c["n"], None, c["bias"]), _dot_cases,
             ((1.0, -2.0, 0.5, 3.0), {"n": 2, "bias": False})),
    Exercise("logsumexp", NARY, "*xs", "out = log(e^xs[0] + ... + e^xs[n-1]).\n\n" + _EACH,
             "return tuple(mg.exp(x - out) for x in xs)", _same(ops.LogSumExp()), _vectors,
             ((1.0, -2.0, 0.5), {})),
    _through_softmax("softmax", "i",
                     "out = softmax(xs)[i] = e^xs[i] / (e^xs[0] + ... + e^xs[n-1]): one output of\n"
                     "softmax, for a constant index i (the engine makes one node per output).",
                     "out * ((1.0 if j == i else 0.0) - y)", SoftmaxOutput),
    _through_softmax("log_softmax", "i",
                     "out = log(softmax(xs)[i]) = xs[i] - logsumexp(xs), for a constant index i.",
                     "(1.0 if j == i else 0.0) - y", LogSoftmaxOutput),
    _through_softmax("cross_entropy", "target",
                     "out = -log(softmax(xs)[target]): the loss of logits xs for the class index target.",
                     "y - (1.0 if j == target else 0.0)", ops.CrossEntropy),
]


# --- writing the file ---------------------------------------------------------------------------
_HEADER = '''\
"""{title}

Each d_<op> is the derivative rule of one of microgrador's ops, as in Op.derivatives:
it gets the op's result `out` and then the op's inputs, and returns a tuple with one
local derivative d out/d input per input. Use `out` where it saves work.

Write the rules with arithmetic and microgrador's functions (mg.exp, mg.log, mg.cos,
mg.softmax, ...), not math.*: the grader runs each rule on floats for first derivatives
and again on Values for second derivatives (reverse over reverse).

Check your rules:   microgrador exercises check {check_dir}
"""
import microgrador as mg
'''


def source(solutions: bool = False, check_dir: str = "DIR") -> str:
    """The text of derivatives.py: every rule raising NotImplementedError, or the key."""
    title = ("The teacher's key: microgrador's derivative rules, one per op." if solutions else
             "Exercises: write the derivative rule of every microgrador op.")
    parts = [_HEADER.format(title=title, check_dir=check_dir)]
    task = None
    for ex in EXERCISES:
        if ex.task != task:
            task = ex.task
            parts.append(f"\n\n\n# {'=' * 4} {HEADERS[task]} {'=' * max(4, 70 - len(HEADERS[task]))}")
        doc = "\n".join(("    " + line).rstrip() for line in ex.doc.splitlines())
        body = ex.solution if solutions else "raise NotImplementedError"
        body = "\n".join("    " + line for line in body.splitlines())
        parts.append(f'\n\n\ndef {ex.function}(out, {ex.params}):\n    """{doc.lstrip()}\n    """\n{body}')
    return "".join(parts) + "\n"


def init_exercises(directory: Union[str, os.PathLike], solutions: bool = False,
                   overwrite: bool = False) -> pathlib.Path:
    """Write DIRECTORY/derivatives.py (the exercises, or with solutions=True the key) and
    return its path. An existing file is kept unless overwrite=True: it may hold work."""
    directory = pathlib.Path(directory)
    path = directory / FILENAME
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists already (it may hold your work); "
                              f"choose another directory or overwrite it on purpose")
    if directory.exists() and not directory.is_dir():
        raise NotADirectoryError(f"{directory} is a file, not a directory for {FILENAME}")
    directory.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{FILENAME}.tmp")
    try:
        tmp.write_text(source(solutions, str(directory)), encoding="utf-8")
        os.replace(tmp, path)       # whole or not at all: never a half-written file
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


# --- the report ---------------------------------------------------------------------------------
@dataclass
class Counterexample:
    """Where a rule is wrong: the inputs (and constants), the right derivatives and the
    rule's. Order 1: one number per input; order 2: the Hessian, row i = d/dx_j (d out/dx_i).
    `got` is None when the rule raised or returned something that is not derivatives."""
    inputs: Dict[str, float]
    constants: Dict[str, Any]
    expected: list
    got: Optional[list]
    order: int

    def to_dict(self) -> Dict[str, Any]:
        return {"inputs": self.inputs, "constants": self.constants, "order": self.order,
                "expected": self.expected, "got": self.got}

    def where(self) -> str:
        return ", ".join(f"{k} = {v!r}" for k, v in [*self.inputs.items(), *self.constants.items()])


@dataclass
class OpResult:
    op: str
    task: str
    status: str                              # "pass", "wrong" or "todo"
    message: str = ""
    counterexample: Optional[Counterexample] = None

    @property
    def function(self) -> str:
        return f"d_{self.op}"

    def to_dict(self) -> Dict[str, Any]:
        return {"op": self.op, "task": self.task, "function": self.function, "status": self.status,
                "message": self.message,
                "counterexample": self.counterexample.to_dict() if self.counterexample else None}


@dataclass
class ExerciseReport:
    path: str
    ops: List[OpResult] = field(default_factory=list)
    error: str = ""                          # the file itself could not be loaded

    @property
    def passed(self) -> int:
        return sum(r.status == "pass" for r in self.ops)

    @property
    def total(self) -> int:
        return len(self.ops)

    @property
    def ok(self) -> bool:
        return not self.error and self.passed == self.total

    def to_json(self) -> Dict[str, Any]:
        """The report as a JSON-ready dict: {"ops": [...], "passed": N, "total": M, ...}."""
        doc = {"ops": [r.to_dict() for r in self.ops], "passed": self.passed, "total": self.total,
               "file": self.path}
        if self.error:
            doc["error"] = self.error
        return doc

    def __str__(self) -> str:
        counts = {status: sum(r.status == status for r in self.ops) for status in ("wrong", "todo")}
        lines = [f"{self.path}: {self.passed} of {self.total} ops pass, "
                 f"{counts['wrong']} wrong, {counts['todo']} todo"]
        if self.error:
            lines.append(f"cannot load it: {self.error}")
            return "\n".join(lines)
        lines.append(f"  {'task':<12} {'op':<14} status")
        for r in self.ops:
            lines.append(f"  {r.task:<12} {r.op:<14} {r.status}")
            if r.status != "pass" and r.message:
                lines += [f"      {line}" for line in r.message.splitlines()]
        return "\n".join(lines)


# --- grading --------------------------------------------------------------------------------------
class _RuleError(Exception):
    """The student's rule raised or returned something that is not derivatives."""


class _StudentRule(ops.Op):
    """The engine's op with the student's derivative rule in place of its own: the forward
    rule, the name and the domain checks stay the engine's."""

    def __init__(self, engine_op: ops.Op, rule: Callable, constants: Dict[str, Any],
                 function: str, path: str) -> None:
        self.engine_op, self.rule, self.constants = engine_op, rule, constants
        self.function, self.path, self.name = function, path, engine_op.name

    def forward(self, *xs):
        return self.engine_op.forward(*xs)

    def derivatives(self, out, *xs):
        on_values = isinstance(out, Value)
        try:
            result = self.rule(out, *xs, **self.constants)
        except Exception as e:
            raise _RuleError(f"{self.function} raised {type(e).__name__}: {e}"
                             f"{_where_in(e, self.path)}") from None
        return _checked(result, len(xs), on_values, self.function)


def _where_in(e: BaseException, path: str) -> str:
    """' (line N of derivatives.py)': the last line of the student's file in e's traceback."""
    lines = [f.lineno for f in traceback.extract_tb(e.__traceback__) if f.filename == path]
    return f" (line {lines[-1]} of {os.path.basename(path)})" if lines else ""


def _checked(result: Any, n: int, on_values: bool, function: str) -> tuple:
    if isinstance(result, Value) or not isinstance(result, (tuple, list)):
        raise _RuleError(f"{function} must return a tuple of {n} derivative{'s' * (n != 1)} "
                         f"(one per input), got {type_name(result)} {result!r:.60}")
    if len(result) != n:
        raise _RuleError(f"{function} must return {n} derivative{'s' * (n != 1)} (one per input), "
                         f"got a {type_name(result)} of {len(result)}")
    for k, d in enumerate(result):
        if isinstance(d, Value):
            if not on_values:
                raise _RuleError(f"{function} returned a Value in position {k} for float inputs: "
                                 f"compute it from out and the inputs (on floats it is a float)")
        elif type(d) is bool:
            raise _RuleError(f"{function} returned bool {d!r} in position {k}: write "
                             f"{float(d)!r} (microgrador does not treat True/False as numbers)")
        elif not isinstance(d, numbers.Real):
            raise _RuleError(f"{function} returned {type_name(d)} {d!r:.40} in position {k}, "
                             f"not a number")
        elif not math.isfinite(d):
            raise _RuleError(f"{function} returned {float(d)} in position {k}, not a finite number")
    return tuple(result)


def _close(got: float, expected: float) -> bool:
    return abs(got - expected) <= ATOL + RTOL * abs(expected)


def _input_names(ex: Exercise, xs: Sequence[float], constants: Dict[str, Any]) -> List[str]:
    params = [p.strip() for p in ex.params.split(",")]
    if not params[0].startswith("*"):
        return [p for p in params if p != "*"][:len(xs)]
    if ex.op == "dot":
        n = constants["n"]
        return [f"a[{k}]" for k in range(n)] + [f"b[{k}]" for k in range(n)] + ["c"] * constants["bias"]
    return [f"xs[{k}]" for k in range(len(xs))]


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def _check(ex: Exercise, rule: Callable, path: str, case: Case, order: int) -> Optional[Tuple[str, Counterexample]]:
    """None if the rule is right at this point, else (message, counterexample)."""
    xs, constants = case
    engine = ex.engine_op(constants)
    student = _StudentRule(engine, rule, constants, ex.function, path)
    names = _input_names(ex, xs, constants)
    wrong = lambda message, expected, got: (message, Counterexample(
        dict(zip(names, xs)), dict(constants), expected, got, order))
    if order == 1:
        expected = numerical_grad(engine, xs)
        try:
            got = analytic_grad(student, xs)
        except _RuleError as e:
            return wrong(f"{ORDERS[1]}: {e}", expected, None)
        bad = [k for k, (g, e) in enumerate(zip(got, expected)) if not _close(g, e)]
        if not bad:
            return None
        k = bad[0]
        return wrong(f"{ORDERS[1]}: d out/d {names[k]} is {_fmt(got[k])}, expected {_fmt(expected[k])} "
                     f"(central differences)", expected, got)
    def engine_first(i):
        return lambda *v: engine.derivatives(engine.forward(*[x.data for x in v]), *[x.data for x in v])[i]
    expected = [numerical_grad(engine_first(i), xs) for i in range(len(xs))]
    try:
        got = _analytic_hessian(student, xs)
    except _RuleError as e:
        return wrong(f"{ORDERS[2]}: {e}", expected, None)
    except Exception as e:   # the engine refusing what the rule built on Values
        return wrong(f"{ORDERS[2]}: the derivatives {ex.function} returned on Values could not be "
                     f"differentiated: {type(e).__name__}: {e}", expected, None)
    for i, row in enumerate(got):
        for j, g in enumerate(row):
            if not _close(g, expected[i][j]):
                return wrong(f"{ORDERS[2]}: d/d {names[j]} (d out/d {names[i]}) is {_fmt(g)}, expected "
                             f"{_fmt(expected[i][j])} (central differences of the engine's first "
                             f"derivative); does the rule drop out of the graph on Values?",
                             expected, got)
    return None


def _search(ex: Exercise, rule: Callable, path: str, order: int, max_examples: int,
            seed: int) -> Optional[Tuple[str, Counterexample]]:
    """The smallest case hypothesis finds where the rule is wrong at `order`, or None."""
    from hypothesis import Phase, find, settings
    from hypothesis.errors import NoSuchExample
    try:
        case = find(ex.cases(), lambda c: _check(ex, rule, path, c, order) is not None,
                    settings=settings(max_examples=max_examples, database=None, deadline=None,
                                      phases=[Phase.generate, Phase.shrink]),
                    random=random.Random(f"{seed}:{ex.op}:{order}"))
    except NoSuchExample:
        return None
    return _check(ex, rule, path, case, order)


def _grade_one(ex: Exercise, module: Any, path: str, max_examples: int, seed: int) -> OpResult:
    rule = getattr(module, ex.function, None)
    result = lambda status, message="", ce=None: OpResult(ex.op, ex.task, status, message, ce)  # noqa: E731
    if rule is None:
        return result("todo", f"{os.path.basename(path)} has no function {ex.function}")
    if not callable(rule):
        return result("wrong", f"{ex.function} is a {type(rule).__name__}, not a function")
    xs, constants = ex.probe
    try:
        rule(ex.engine_op(constants).forward(*xs), *xs, **constants)
    except NotImplementedError:
        return result("todo")
    except Exception:
        pass      # graded below, which says what it raised and where
    for order in (1, 2):
        found = _search(ex, rule, path, order, max_examples, seed)
        if found is not None:
            message, ce = found
            return result("wrong", f"at {ce.where()}:\n{message}", ce)
    return result("pass")


def _load(path: pathlib.Path) -> Any:
    """Import the student's file as a fresh module, or raise _RuleError saying what failed."""
    name = f"_microgrador_exercise_{abs(hash(str(path))):x}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        raise _RuleError(f"{type(e).__name__} at line {e.lineno}, column {e.offset}: {e.msg}"
                         + (f"\n    {e.text.strip()}" if e.text else "")) from None
    except Exception as e:
        raise _RuleError(f"{type(e).__name__} while importing it{_where_in(e, str(path))}: {e}") from None
    return module


def grade_exercises(path: Union[str, os.PathLike], *, max_examples: int = MAX_EXAMPLES,
                    seed: int = 0) -> ExerciseReport:
    """Grade every d_<op> of PATH (a derivatives.py, or the directory holding one): at
    most `max_examples` hypothesis-drawn points per op and order, deterministic for a
    given seed. A file that does not load gives a report with `error` and every op wrong."""
    path = pathlib.Path(path)
    if path.suffix != ".py":
        path = path / FILENAME
    if not path.is_file():
        raise FileNotFoundError(f"no {path}: write one with `microgrador exercises init "
                                f"{path.parent}`")
    if max_examples < 1:
        raise ValueError(f"grade_exercises: max_examples must be at least 1, got {max_examples!r}")
    report = ExerciseReport(str(path))
    try:
        module = _load(path)
    except _RuleError as e:
        report.error = str(e)
        report.ops = [OpResult(ex.op, ex.task, "wrong", f"{path.name} did not load: {e}")
                      for ex in EXERCISES]
        return report
    resolved = str(path.resolve())
    file = getattr(module, "__file__", None) or resolved
    report.ops = [_grade_one(ex, module, file, max_examples, seed) for ex in EXERCISES]
    return report
