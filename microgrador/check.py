"""Check a student's hand-written backward pass against the engine's.

A course asks students to derive and code the gradients of a small network by
hand. `check_backprop(fn, sizes)` builds the same network as a microgrador graph,
runs `backward()`, and compares every quantity the student's `fn(x, t, W, b)`
returns, forward ones first, then backward ones in the order backprop computes
them. The first wrong one is named with the rule that produces it, and, when a
common mistake (see `microgrador.mistakes`) reproduces the student's numbers
exactly, with that mistake.

    from microgrador.check import check_backprop
    report = check_backprop(my_backprop, sizes=[2, 3, 2], hidden="sigmoid")
    report.ok, report.first_wrong    # (False, 'dz1')
    report.hint    # "... by dz1 = da1 * a1 * (1 - a1). Your numbers are exactly those of ..."
    print(report)  # one row per quantity

The network: z_l = a_(l-1) @ W_l + b_l (layout "in_out", W_l[i][j] from unit i to
unit j) or W_l @ a_(l-1) + b_l (layout "out_in"), a_0 = x, a_l = hidden(z_l),
y = softmax(z_L), loss = -log y[t].
"""
from __future__ import annotations

import math
import os
import random
import textwrap
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from . import mistakes, ops
from .engine import Value
from .floats import type_name
from .mistakes import Net
from .scalar_net import B as COURSE_B, C as COURSE_C, TARGET as COURSE_TARGET
from .scalar_net import V as COURSE_V, W as COURSE_W, X as COURSE_X
from .time_limit import TimeLimitExceeded, time_limit

ACTIVATIONS = mistakes.ACTIVATIONS
LAYOUTS = mistakes.LAYOUTS

# The course's names for the 2-3-2 network (one hidden layer): k = z1, h = a1, o = z2,
# W = W1, b = b1, V = W2, c = b2, and their gradients.
COURSE_ALIASES = {"k": "z1", "h": "a1", "o": "z2",
                  "dk": "dz1", "dh": "da1", "do": "dz2",
                  "dW": "dW1", "db": "db1", "dV": "dW2", "dc": "db2"}

RIGHT, WRONG, SHAPE, BAD, MISSING = "right", "wrong", "shape mismatch", "bad value", "not returned"


@dataclass
class Row:
    """One quantity of the report: `name` is canonical ("dz1"), `key` the student's
    key for it ("dk"), `status` one of right / wrong / shape mismatch / bad value /
    not returned; `error` the largest |student - engine| at `case` (from 1), `index`."""
    name: str
    key: Optional[str] = None
    status: str = MISSING
    error: Optional[float] = None
    case: Optional[int] = None
    index: Tuple[int, ...] = ()
    detail: str = ""

    @property
    def where(self) -> str:
        if self.case is None or (self.status == RIGHT and not self.error):
            return ""
        return " ".join([f"case {self.case}"] + ["".join(f"[{i}]" for i in self.index)] * bool(self.index))


@dataclass
class Report:
    """What `check_backprop` found. `ok`: every returned quantity right in every case
    (and something returned); `first_wrong`: the canonical name of the first quantity
    that is not right, in backprop's order; `hint`: the rule that makes it and the
    mistake that explains the numbers; `mistake`: that mistake's name in
    `mistakes.CATALOG`, or None; `errors`: what went wrong calling `fn`, per case."""
    rows: List[Row]
    cases: List[Dict[str, Any]]
    first_wrong: Optional[str] = None
    hint: str = ""
    mistake: Optional[str] = None
    errors: List[str] = field(default_factory=list)
    ignored: List[str] = field(default_factory=list)
    aliases: Dict[str, str] = field(default_factory=dict)   # the course's names, if any

    @property
    def ok(self) -> bool:
        returned = [r for r in self.rows if r.status != MISSING]
        return bool(returned) and not self.errors and all(r.status == RIGHT for r in returned)

    def row(self, name: str) -> Row:
        """The row of quantity `name`: canonical ("dz1"), or the course's ("dk") for a
        network with one hidden layer."""
        name = self.aliases.get(name, name)
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(f"no quantity {name!r} in this network; its quantities are "
                       f"{', '.join(r.name for r in self.rows)}")

    def to_json(self) -> Dict[str, Any]:
        """The report as a JSON-ready dict, for an autograder: "ok", "first_wrong",
        "mistake", "hint", "errors", "ignored" and one entry per quantity under "rows"
        (a largest error that is not finite is the string "inf" or "nan")."""
        return {"ok": self.ok, "cases": len(self.cases), "first_wrong": self.first_wrong,
                "mistake": self.mistake, "hint": self.hint, "errors": list(self.errors),
                "ignored": list(self.ignored),
                "rows": [{"quantity": r.name, "key": r.key, "status": r.status,
                          "largest_error": _json_number(r.error), "case": r.case,
                          "index": list(r.index), "detail": r.detail} for r in self.rows]}

    def __str__(self) -> str:
        header = ("quantity", "your key", "status", "largest error", "where")
        lines = [header]
        for r in self.rows:
            err = "" if r.error is None else f"{r.error:.3g}"
            status = r.status + (f": {r.detail}" if r.detail else "")
            lines.append((r.name, r.key or "-", status, err, r.where))
        widths = [max(len(line[i]) for line in lines) for i in range(4)]
        out = ["  ".join(c.ljust(w) for c, w in zip(line[:4], widths)) + "  " + line[4]
               for line in lines]
        out = [line.rstrip() for line in out]
        out.insert(1, "-" * max(len(line) for line in out))
        verdict = "all right" if self.ok else (f"first wrong: {self.first_wrong}" if self.first_wrong
                                               else "not right")
        out.append("")
        out.append(f"{len(self.cases)} case{'s' * (len(self.cases) != 1)}: {verdict}")
        out.extend(_grouped(self.errors))
        if self.ignored:
            out.append("ignored keys (not quantities of this network): " + ", ".join(self.ignored))
        if self.hint:
            out.extend(textwrap.wrap(self.hint, 92))
        return "\n".join(out)


def _json_number(x: Optional[float]) -> Union[None, float, str]:
    """x for JSON, which has no inf or nan: those become the strings "inf", "nan"."""
    return x if x is None or math.isfinite(x) else repr(x)


def _grouped(errors: List[str]) -> List[str]:
    """["case 1: X", "case 2: X"] -> ["cases 1, 2: X"]."""
    by_message: Dict[str, List[str]] = {}
    for e in errors:
        case, _, message = e.partition(": ")
        by_message.setdefault(message, []).append(case.split()[-1])
    return [f"case{'s' * (len(cs) > 1)} {', '.join(cs)}: {m}" for m, cs in by_message.items()]


# --- the student's values -----------------------------------------------------------------
class BadValue(Exception):
    """A returned value that is not numbers (the message says what it is)."""


def to_nested(value: Any, depth: int = 0) -> Any:
    """A float or nested lists of floats from a number, a (nested) list or tuple, a
    Value, or anything with .tolist() (NumPy arrays, without importing NumPy)."""
    if depth > 3:
        raise BadValue("nested more than 3 deep")
    t = type(value)
    if t is bool:
        raise BadValue(f"a bool ({value!r})")
    if t in (float, int):
        return float(value)
    if isinstance(value, Value):
        return value.data
    if isinstance(value, (list, tuple)):
        return [to_nested(v, depth + 1) for v in value]
    if isinstance(value, (str, bytes, dict)) or value is None:
        raise BadValue(f"a {t.__name__}")
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        try:
            listed = tolist()
        except Exception as e:     # the student's object, not ours
            raise BadValue(f"a {t.__name__} whose .tolist() raised {type(e).__name__}: {e}")
        if listed is value:
            raise BadValue(f"a {t.__name__} whose .tolist() returns itself")
        return to_nested(listed, depth)
    try:                           # numpy.float64 and friends are numbers too
        return float(value)
    except Exception:
        raise BadValue(f"a {t.__name__}") from None


def shape_of(v: Any) -> Optional[Tuple[int, ...]]:
    """The shape of nested lists, or None when they are ragged."""
    if not isinstance(v, list):
        return ()
    shapes = {shape_of(e) for e in v}
    if len(shapes) > 1 or None in shapes:
        return None
    return (len(v),) + (shapes.pop() if shapes else ())


def _flat(v: Any) -> List[float]:
    return [x for e in v for x in _flat(e)] if isinstance(v, list) else [v]


def conform(student: Any, expected: Any) -> Any:
    """The student's nested value in the expected value's shape, accepting (n,), (1, n)
    and (n, 1) for a vector of n and any size-1 form for a number; None if it does
    not fit."""
    got, want = shape_of(student), shape_of(expected)
    if got is None:
        return None
    if got == want:
        return student
    size = math.prod(got)
    if size != math.prod(want) or sum(d > 1 for d in got) > 1 or sum(d > 1 for d in want) > 1:
        return None                # only vectors and numbers change form
    flat = _flat(student)
    if want == ():
        return flat[0]
    if len(want) == 1:
        return flat
    return [flat[i * want[1]:(i + 1) * want[1]] for i in range(want[0])]


def compare(student: Any, expected: Any, rtol: float, atol: float
            ) -> Tuple[str, Optional[float], Tuple[int, ...], str]:
    """(status, largest error, its index, detail) of one value against the engine's;
    an element is right when |s - e| <= atol + rtol |e|, as numpy.allclose."""
    try:
        s = to_nested(student)
    except BadValue as e:
        return BAD, None, (), str(e)
    for index, a in enumerate(_flat(s)):
        if not math.isfinite(a):
            return BAD, None, (), f"{a} among the numbers" if isinstance(s, list) else f"{a}"
    fitted = conform(s, expected)
    if fitted is None:
        got = shape_of(s)
        return SHAPE, None, (), (f"shape {got}, expected {shape_of(expected)}" if got is not None
                                 else f"ragged lists, expected shape {shape_of(expected)}")
    worst, where, wrong = -1.0, (), False
    for index, (a, b) in _pairs(fitted, expected):
        err = abs(a - b)
        if err > atol + rtol * abs(b):
            wrong = True
        if err > worst:
            worst, where = err, index
    return (WRONG if wrong else RIGHT), worst, where, ""


def _pairs(a: Any, b: Any, index: Tuple[int, ...] = ()):
    if isinstance(b, list):
        for i, (x, y) in enumerate(zip(a, b)):
            yield from _pairs(x, y, index + (i,))
    else:
        yield index, (a, b)


# --- the engine's numbers -------------------------------------------------------------------
def engine_numbers(net: Net, x: Sequence[float], t: int, W: List, b: List) -> Dict[str, Any]:
    """Every quantity of `net` for one case, from microgrador's graph of the network
    and one backward(): the .grad of each intermediate Value gives dz, da, dy."""
    Wv = [[[Value(w) for w in row] for row in Wl] for Wl in W]
    bv = [[Value(v) for v in bl] for bl in b]
    nodes: Dict[str, List] = {}
    a: List = list(x)
    for l in range(1, net.L + 1):
        n_in, n_out = net.sizes[l - 1], net.sizes[l]
        if net.layout == "in_out":
            columns = [[Wv[l - 1][i][j] for i in range(n_in)] for j in range(n_out)]
        else:
            columns = Wv[l - 1]
        z = [ops.dot(columns[j], a, bias=bv[l - 1][j]) for j in range(n_out)]
        nodes[f"z{l}"] = z
        if l < net.L:
            a = [net.activate(v) for v in z]
            nodes[f"a{l}"] = a
    y = ops.softmax(nodes[f"z{net.L}"])
    loss = -y[t].log()
    loss.backward()
    out: Dict[str, Any] = {}
    for name, values in nodes.items():
        out[name] = [v.data for v in values]
        out["d" + name] = [v.grad for v in values]
    out["y"], out["dy"] = [v.data for v in y], [v.grad for v in y]
    out["loss"] = loss.data
    for l in range(1, net.L + 1):
        out[f"dW{l}"] = [[w.grad for w in row] for row in Wv[l - 1]]
        out[f"db{l}"] = [v.grad for v in bv[l - 1]]
    return out


def make_cases(net: Net, cases: int, seed: int) -> List[Dict[str, Any]]:
    """`cases` inputs: for 2-3-2 first the course's own example, then seeded random
    ones (x ~ N(0, 1), weights ~ N(0, 1/sqrt(fan_in)), biases ~ N(0, 0.5))."""
    rng = random.Random(seed)
    out = []
    if list(net.sizes) == [2, 3, 2] and cases > 0:
        W = [[list(r) for r in COURSE_W], [list(r) for r in COURSE_V]]
        out.append({"x": list(COURSE_X), "t": COURSE_TARGET,
                    "W": [net.from_in_out(m) for m in W], "b": [list(COURSE_B), list(COURSE_C)]})
    while len(out) < cases:
        Ws, bs = [], []
        for n_in, n_out in zip(net.sizes, net.sizes[1:]):
            std = 1 / math.sqrt(n_in)
            Ws.append(net.from_in_out([[rng.gauss(0, std) for _ in range(n_out)] for _ in range(n_in)]))
            bs.append([rng.gauss(0, 0.5) for _ in range(n_out)])
        out.append({"x": [rng.gauss(0, 1) for _ in range(net.sizes[0])],
                    "t": rng.randrange(net.sizes[-1]), "W": Ws, "b": bs})
    return out


# --- calling the student ------------------------------------------------------------------
def _student_frame(exc: BaseException) -> str:
    """' at FILE:LINE in FUNC: CODE' for the innermost frame outside microgrador."""
    here = os.path.dirname(os.path.abspath(__file__))
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if os.path.dirname(os.path.abspath(f.filename)) != here]
    if not frames:
        return ""
    f = frames[-1]
    return f" at {f.filename}:{f.lineno} in {f.name}: {(f.line or '').strip()}"


def _call(fn: Callable, case: Dict[str, Any]) -> Tuple[Optional[Mapping], str]:
    copy = lambda m: [[list(r) for r in Wl] for Wl in m]   # noqa: E731 - the student may mutate
    try:
        result = fn(list(case["x"]), case["t"], copy(case["W"]), [list(bl) for bl in case["b"]])
    except (Exception, SystemExit) as e:
        return None, f"fn raised {type(e).__name__}: {e}{_student_frame(e)}"
    if not isinstance(result, Mapping):
        return None, (f"fn returned a {type_name(result)}, expected a dict of quantities "
                      f"such as {{'dz1': ..., 'dW1': ...}}")
    try:
        return dict(result), ""          # a mapping of the student's own may misbehave
    except Exception as e:
        return None, f"reading the mapping fn returned raised {type(e).__name__}: {e}"


def _aliases(net: Net) -> Dict[str, str]:
    return COURSE_ALIASES if net.L == 2 else {}


def _keys(net: Net, result: Mapping) -> Tuple[Dict[str, str], List[str]]:
    """canonical name -> the student's key, and the keys that name nothing."""
    names = set(net.names)
    aliases = _aliases(net)
    found: Dict[str, str] = {}
    ignored = []
    for key in result:
        canonical = key if key in names else aliases.get(key) if isinstance(key, str) else None
        if canonical is None:
            ignored.append(str(key))
        elif canonical not in found or key == canonical:   # "dz1" wins over "dk"
            found[canonical] = key
    return found, ignored


# --- the check ----------------------------------------------------------------------------
def check_backprop(fn: Callable, sizes: Sequence[int] = (2, 3, 2), hidden: str = "sigmoid",
                   layout: str = "in_out", cases: int = 5, seed: int = 0,
                   rtol: float = 1e-5, atol: float = 1e-7,
                   timeout: Optional[float] = None) -> Report:
    """Call `fn(x, t, W, b)` on `cases` networks and compare what it returns with the
    engine's numbers; never raises on the student's code (only on bad arguments here).
    With `timeout` (seconds per call; main thread on Unix only) a call that does not
    return is stopped, named with the line it was running, and no later case is run."""
    net = Net(sizes, hidden, layout)
    if type(cases) is not int or cases < 1:
        raise ValueError(f"cases must be a positive int, got {cases!r}")
    inputs = make_cases(net, cases, seed)
    rows = {name: Row(name) for name in net.names}
    errors: List[str] = []
    ignored: List[str] = []
    refs, returned = [], []
    for c, case in enumerate(inputs, 1):
        ref = engine_numbers(net, case["x"], case["t"], case["W"], case["b"])
        refs.append(dict(ref, x=case["x"], t=case["t"], W=case["W"]))
        try:
            with time_limit(timeout, "fn"):
                result, problem = _call(fn, case)
        except TimeLimitExceeded as e:    # each later case would wait as long: none is run
            later = len(inputs) - c
            errors.append(f"case {c}: {e} (an endless loop?)"
                          + (f", so the other {later} cases were not run" if later else "")
                          + f"; it was running{_student_frame(e) or ' outside your file'}")
            returned.append({})
            inputs = inputs[:c]
            break
        if problem:
            errors.append(f"case {c}: {problem}")
            returned.append({})
            continue
        keys, extra = _keys(net, result)
        ignored += [k for k in extra if k not in ignored]
        returned.append({name: result[key] for name, key in keys.items()})
        for name, key in keys.items():
            _update(rows[name], key, c, compare(result[key], ref[name], rtol, atol))
    for name, row in rows.items():
        if row.key is not None:
            missing = [c for c, got in enumerate(returned, 1) if name not in got and not
                       _failed_in(errors, c)]
            if missing and row.status == RIGHT:
                row.status, row.case, row.index = WRONG, missing[0], ()
                row.detail = f"not returned in case {missing[0]}"
    report = Report(rows=list(rows.values()), cases=inputs, errors=errors, ignored=ignored[:10],
                    aliases=_aliases(net))
    _diagnose(report, net, refs, returned, rtol, atol)
    return report


def _failed_in(errors: List[str], case: int) -> bool:
    return any(e.startswith(f"case {case}:") for e in errors)


_RANK = {RIGHT: 0, WRONG: 1, SHAPE: 2, BAD: 3}


def _update(row: Row, key: str, case: int, result) -> None:
    status, error, index, detail = result
    first = row.key is None
    row.key = row.key or key
    if first or _RANK[status] > _RANK[row.status] or (
            status == row.status and error is not None and (row.error is None or error > row.error)):
        row.status, row.error, row.case, row.index, row.detail = status, error, case, index, detail


def _diagnose(report: Report, net: Net, refs, returned, rtol: float, atol: float) -> None:
    wrong = [r for r in report.rows if r.status not in (RIGHT, MISSING)]
    if not wrong:
        if report.errors:
            report.hint = (f"fn failed in {len(report.errors)} of {len(report.cases)} cases, "
                           f"first in {report.errors[0]}")
        elif all(r.status == MISSING for r in report.rows):
            report.hint = ("fn returned none of this network's quantities; expected keys: "
                           + ", ".join(net.names))
        return
    first = wrong[0]
    report.first_wrong = first.name
    yours = f" (your {first.key!r})" if first.key != first.name else ""
    before = [r for r in report.rows[:report.rows.index(first)] if r.status == RIGHT]
    inputs = net.inputs_of(first.name)
    said = " and ".join(f"{i} ({'right' if report.row(i).status == RIGHT else 'not returned'})"
                        if i in net.names else i for i in inputs)
    hint = f"{first.name}{yours}: {first.status}"
    if first.detail:
        hint += f" ({first.detail})"
    hint += f". It comes from {said} by {net.formula(first.name)}." if inputs else \
        f": {net.formula(first.name)}."
    if first.name in net.backward_names:
        right_values = [{r.name: conform(to_nested(got[r.name]), ref[r.name])
                         for r in before if r.name in got}
                        for got, ref in zip(returned, refs)]
        found = mistakes.explain(net, first.name, {r.name for r in before}, refs,
                                 right_values, returned,
                                 lambda got, want: compare(got, want, rtol, atol)[0] == RIGHT)
        if found:
            report.mistake = found[0].name
            upstream = (f" in {found[0].at}, which you did not return"
                        if found[0].at != first.name else "")
            hint += f" Your numbers are exactly those of this mistake{upstream}: {found[0].text}"
            if len(found) > 1:
                hint += " (equally: " + "; ".join(m.text for m in found[1:3]) + ")"
        else:
            hint += " None of the common mistakes in the catalog gives your numbers."
    report.hint = hint
