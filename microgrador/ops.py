"""The rules: each operation's forward rule next to its derivative rule.

An `Op` is two rules:

    forward(*xs)          the result, from plain floats
    derivatives(out, *xs) d(out)/d(xs[i]) for each input, written with ordinary
                          arithmetic and the functions of this module

`derivatives` runs on floats during the forward pass (the local derivatives that
backward() multiplies by) and, unchanged, on Values when `backward(create_graph=True)`
or `microgrador.functional` needs derivatives of derivatives. So each rule is written
exactly once, and the table below is the whole of the calculus the engine knows.

Called on plain numbers an op is a function (`exp(1.0)` is a float); called on a
Value it is recorded into the graph by the engine (`exp(Value(1.0))` is a Value):
this module knows nothing of Values but that they record themselves (`_record`).
To add your own op, subclass `Op` the same way and check it with
`microgrador.testing.gradcheck`.
"""
from __future__ import annotations

import math
from itertools import compress
from operator import mul as _mul
from typing import Dict, List, Optional, Sequence, Tuple, Union

from .floats import as_float, describe, is_number, is_value, type_name

# A Scalar is a float or a Value (engine.py's): the rules never need to know which,
# and this module does not import the engine, which imports it.
Scalar = Union[float, "Value"]  # noqa: F821
_EXP_MAX = math.log(1.7976931348623157e308)   # exp(x) overflows a float above this


class Op:
    """An operation on scalars. Subclass it, set `name`, and write the two rules:

        class Cube(Op):
            name = "cube"
            def forward(self, x): return x ** 3
            def derivatives(self, out, x): return (3 * x ** 2,)   # d x^3/dx = 3x^2

        cube = Cube()
        y = cube(Value(2.0))        # Value(data=8.0, ...); y.backward() gives 12.0

    `derivatives` must use arithmetic operators and the functions of this module
    (exp, log, cos, ...) rather than `math`, so that it also works on Values.
    Raise ValueError in `forward` for inputs outside the op's domain.
    """

    name = "op"
    # Promises an op may make about every node it makes, for backward()'s speed:
    leaf_parents = False   # its parents are all leaves: the graph search need not look
    sparse = None          # (slots, partials): its only non-zero local derivatives
    forward_parents = None  # parents -> (result, local derivatives), read from the Values

    def forward(self, *xs: float) -> float:
        raise NotImplementedError

    def derivatives(self, out, *xs) -> Sequence:
        raise NotImplementedError

    def __call__(self, *args) -> Scalar:
        """On plain numbers, the number; with a Value among the inputs, a new Value."""
        for a in args:
            kind = type(a)
            if kind is not float and kind is not int:
                record = getattr(kind, "_record", None)   # a Value records the op itself
                if record is not None:
                    return record(self, args)
        out = self.forward(*[as_float(a, f"op {self.name!r}") for a in args])
        if not math.isfinite(out):
            raise OverflowError(f"{self.name}: the result is {out} for inputs {describe(args)}")
        return out

    def __repr__(self) -> str:
        return f"<op {self.name}>"


# --- arithmetic -------------------------------------------------------------------------
class Add(Op):
    name = "+"
    def forward(self, a, b): return a + b
    def derivatives(self, out, a, b): return (1.0, 1.0)


class Sub(Op):
    name = "-"
    def forward(self, a, b): return a - b
    def derivatives(self, out, a, b): return (1.0, -1.0)


class Mul(Op):
    name = "*"
    def forward(self, a, b): return a * b
    def derivatives(self, out, a, b): return (b, a)


class Div(Op):
    name = "/"
    def forward(self, a, b):
        if b == 0:
            raise ZeroDivisionError(f"division a / b needs b != 0, got a = {a!r}, b = {b!r}")
        return a / b
    def derivatives(self, out, a, b): return (1 / b, -out / b)   # d(a/b)/db = -a/b^2


class Neg(Op):
    name = "neg"
    def forward(self, x): return -x
    def derivatives(self, out, x): return (-1.0,)


def _float_pow(x: float, n: float, op: Optional[str] = None) -> float:
    """x ** n on floats. Beyond the float range, Python raises a bare OverflowError:
    for a result (`op` given) this says which op and inputs; for a derivative it is
    +-inf (the sign that x ** n has)."""
    try:
        return x ** n
    except OverflowError:
        if op is not None:
            raise OverflowError(f"{op}: the result is too large for a float, for inputs "
                                f"{x!r} and {n!r}") from None
        negative = x < 0 and n == int(n) and int(n) % 2 == 1
        return -math.inf if negative else math.inf


class PowConst(Op):
    """x ** n for a constant exponent n: d/dx = n x^(n-1)."""
    name = "**"

    def __init__(self, n: float) -> None:
        self.n = n
        self.name = f"**{n:g}"

    def forward(self, x):
        n = self.n
        if x == 0 and n < 0:
            raise ZeroDivisionError(f"x ** {n:g} needs x != 0 (0 to a negative power), got x = {x!r}")
        if x == 0 and 0 < n < 1:
            raise ValueError(f"x ** {n:g} at x = 0: the derivative {n:g} * x ** {n - 1:g} is infinite there")
        if x < 0 and n != int(n):
            raise ValueError(f"x ** {n:g} needs x >= 0 for a non-integer power, got x = {x!r}")
        return _float_pow(x, n, f"x ** {n:g}")

    def derivatives(self, out, x):
        n = self.n
        if n == 0:
            return (0.0,)
        if type(x) is not float:      # a Value (create_graph): the rule itself, on Values
            return (n * x ** (n - 1),)
        # A finite result can have a derivative beyond the float range (1e-300 ** -1 has
        # -1e600): it is then +-inf, as 1 / x gives, and as in PyTorch.
        return (n * _float_pow(x, n - 1),)


class Pow(Op):
    """a ** b with both sides in the graph: d/da = b a^(b-1), d/db = a^b ln a (so a > 0)."""
    name = "pow"

    def forward(self, a, b):
        if a <= 0:
            raise ValueError(f"a ** b with b a Value needs a > 0 (d/db = a**b * log(a)), got a = {a!r}")
        return _float_pow(a, b, "a ** b")

    def derivatives(self, out, a, b): return (b * out / a, out * log(a))


# --- elementwise functions --------------------------------------------------------------
class Exp(Op):
    name = "exp"
    def forward(self, x):
        if x > _EXP_MAX:
            raise OverflowError(f"exp(x) overflows for x > {_EXP_MAX:.2f}, got x = {x!r}")
        return math.exp(x)
    def derivatives(self, out, x): return (out,)                 # d e^x/dx = e^x


class Log(Op):
    name = "log"
    def forward(self, x):
        if x <= 0:
            raise ValueError(f"log(x) needs x > 0, got x = {x!r}")
        return math.log(x)
    def derivatives(self, out, x): return (1 / x,)


class Sqrt(Op):
    name = "sqrt"
    def forward(self, x):
        if x <= 0:
            raise ValueError(f"sqrt(x) needs x > 0 (its derivative 1/(2 sqrt x) is infinite at 0), got x = {x!r}")
        return math.sqrt(x)
    def derivatives(self, out, x): return (0.5 / out,)           # 1 / (2 sqrt x)


class Tanh(Op):
    name = "tanh"
    def forward(self, x): return math.tanh(x)
    def derivatives(self, out, x): return (1 - out * out,)       # 1 - tanh(x)^2


class Sigmoid(Op):
    name = "sigmoid"
    def forward(self, x):
        # two forms, so exp never overflows: for x < 0 use e^x / (1 + e^x)
        if x >= 0:
            return 1.0 / (1.0 + math.exp(-x))
        e = math.exp(x)
        return e / (1.0 + e)
    def derivatives(self, out, x): return (out * (1 - out),)     # s(x) (1 - s(x))


class Relu(Op):
    """max(0, x); the derivative at the kink x = 0 is taken as 0, as in PyTorch."""
    name = "relu"
    def forward(self, x): return x if x > 0 else 0.0
    def derivatives(self, out, x): return (1.0 if x > 0 else 0.0,)


class LeakyRelu(Op):
    """x for x > 0, slope * x otherwise; derivative `slope` at x = 0, as in PyTorch."""
    def __init__(self, slope: float = 0.01) -> None:
        self.slope = slope
        self.name = "leaky_relu" if slope == 0.01 else f"leaky_relu({slope:g})"
    def forward(self, x): return x if x > 0 else self.slope * x
    def derivatives(self, out, x): return (1.0 if x > 0 else self.slope,)


class Abs(Op):
    """|x|; the derivative at x = 0 is taken as 0 (sign(0) = 0, as in PyTorch)."""
    name = "abs"
    def forward(self, x): return abs(x)
    def derivatives(self, out, x): return (1.0 if x > 0 else -1.0 if x < 0 else 0.0,)


class Sin(Op):
    name = "sin"
    def forward(self, x): return math.sin(x)
    def derivatives(self, out, x): return (cos(x),)


class Cos(Op):
    name = "cos"
    def forward(self, x): return math.cos(x)
    def derivatives(self, out, x): return (-sin(x),)


# --- n-ary: one node with n parents -------------------------------------------------------
class Sum(Op):
    name = "sum"
    def forward(self, *xs): return sum(xs)
    def derivatives(self, out, *xs): return (1.0,) * len(xs)


def _shifted_exps(xs: Sequence[float]) -> Tuple[float, List[float]]:
    """(m, [e^(x_j - m)]) with m = max x: each term is at most 1, so none overflows.
    logsumexp, softmax and cross-entropy all start from these."""
    m = max(xs)
    return m, [math.exp(x - m) for x in xs]


def _shifted_lse(xs: Sequence[float]) -> tuple:
    """(m, log sum_j e^(x_j - m)) with m = max x: logsumexp(x) is their sum, but kept
    apart so that x_t - logsumexp(x) can be formed as (x_t - m) - r, where the large
    terms cancel first (at logits of 1e12, m + r would have lost r's digits)."""
    m, es = _shifted_exps(xs)
    return m, math.log(sum(es))


class LogSumExp(Op):
    """log(sum_i e^x_i), computed as m + log(sum_i e^(x_i - m)) with m = max x, so
    no exp overflows; d/dx_i = softmax(x)_i."""
    name = "logsumexp"
    def forward(self, *xs):
        m, r = _shifted_lse(xs)
        return m + r
    def derivatives(self, out, *xs): return _softmax(xs)


class ShiftedLogSumExp(Op):
    """r = log(sum_j e^(x_j - m)) for a constant m (the max of the x_j when the node was
    made): logsumexp(x) - m, a small number even for huge x. softmax and log_softmax
    share one such node, so n outputs cost n + 1 nodes, not n nodes of n parents each;
    d r/dx_j = softmax(x)_j."""
    name = "logsumexp(x - max)"
    def __init__(self, m: float) -> None:
        self.m = m
    def forward(self, *xs):
        m = self.m
        return math.log(sum([math.exp(x - m) for x in xs]))
    def derivatives(self, out, *xs): return _softmax(xs)


class SoftmaxAt(Op):
    """Output i of softmax from x_i and the shared r: y_i = e^((x_i - m) - r);
    d y_i/d x_i = y_i, d y_i/d r = -y_i (r carries the rest of the chain rule)."""
    def __init__(self, i: int, m: float) -> None:
        self.m = m
        self.name = f"softmax[{i}]"
    def forward(self, x, r): return math.exp((x - self.m) - r)
    def derivatives(self, out, x, r): return (out, -out)


class LogSoftmaxAt(Op):
    """Output i of log_softmax from x_i and the shared r: (x_i - m) - r, with the
    large terms cancelled first; d/dx_i = 1, d/dr = -1."""
    def __init__(self, i: int, m: float) -> None:
        self.m = m
        self.name = f"log_softmax[{i}]"
    def forward(self, x, r): return (x - self.m) - r
    def derivatives(self, out, x, r): return (1.0, -1.0)


class CrossEntropy(Op):
    """-log softmax(x)_t = logsumexp(x) - x_t, computed as (m - x_t) + log(sum_j
    e^(x_j - m)) so that large logits cancel first; d/dx_i = softmax(x)_i - [i = t]."""
    def __init__(self, target: int) -> None:
        self.target = target
        self.name = f"cross_entropy[target={target}]"
    def forward(self, *xs):
        m, r = _shifted_lse(xs)
        return (m - xs[self.target]) + r
    def derivatives(self, out, *xs):
        return self._minus_onehot(_softmax(xs))

    def _minus_onehot(self, ys: list) -> list:
        """softmax(x) - onehot(t), in place: the derivative rule given the softmax."""
        ys[self.target] = ys[self.target] - 1.0
        return ys

    def forward_parents(self, parents: tuple) -> Tuple[float, list]:
        """Both rules at once from the logit Values (engine.apply): the e^(x_j - m)
        that the loss sums are the softmax's numerators, so each is taken once."""
        xs = [p.data for p in parents]
        m, es = _shifted_exps(xs)
        total = sum(es)
        return ((m - xs[self.target]) + math.log(total),
                self._minus_onehot([e / total for e in es]))


class Dot(Op):
    """sum_i a_i b_i (+ bias) as one node. With b constant (e.g. input pixels) only
    the a_i are parents and d/da_i = b_i; with both in the graph d/da_i = b_i and
    d/db_i = a_i. A bias, if any, is the last parent, with derivative 1.

    One Dot with constants serves a whole layer: every neuron of the layer sees the
    same inputs, so the constants and the partials tuple are shared, not copied."""
    name = "dot"

    def __init__(self, n: int, consts: Optional[tuple] = None, bias: bool = False) -> None:
        self.n, self.consts, self.bias = n, consts, bias
        if consts is None:
            self.forward_parents = self._forward_values
            return
        self.forward_parents = self._forward_nonzero
        # A zero input adds nothing to the sum: forward_parents skips its weight. Most MNIST
        # pixels are 0, so this is most of a layer's forward work. (A layer makes one Dot
        # per call, so they are picked out in C: compress and filter keep the c != 0.)
        self._nonzero = nonzero = list(compress(range(n), consts))
        self._nonzero_consts = nonzero_consts = list(filter(None, consts))
        # backward() passes gradients only through these (a black pixel's weight gets 0)
        if bias:
            self._const_partials = consts + (1.0,)
            self.sparse = (nonzero + [n], nonzero_consts + [1.0])
        else:
            self._const_partials = consts
            self.sparse = (nonzero, nonzero_consts)

    def _forward_nonzero(self, parents: tuple) -> Tuple[float, tuple]:
        """Both rules read straight from the parent Values, so only the weights of
        non-zero inputs are looked at (a first-layer neuron's hot path, engine.apply)."""
        return (self._weighted([parents[i].data for i in self._nonzero],
                               parents[-1].data if self.bias else 0.0), self._const_partials)

    def _forward_values(self, parents: tuple) -> Tuple[float, list]:
        """Both rules at once on (a_1..a_n, b_1..b_n[, bias]) Values: the data is read
        once, with no *args copies."""
        n = self.n
        # The a_i (a layer's inputs: results of ops) and the b_i (its weights: leaves)
        # are read in two loops, so that each loop reads one kind of Value: CPython's
        # attribute cache is made for one type per place in the code.
        a = [p.data for p in parents[:n]]
        b = [p.data for p in parents[n:2 * n]]
        return self._sum_of_products(a, b, parents[-1].data), self._value_partials(a, b)

    def _sum_of_products(self, a: list, b: list, bias: float) -> float:
        """sum_i a_i b_i (+ bias): the rule without constants."""
        s = sum(map(_mul, a, b))
        return s + bias if self.bias else s

    def _value_partials(self, a: list, b: list) -> list:
        """d/da_i = b_i, d/db_i = a_i (, d/dbias = 1): the derivative rule without
        constants, built in `b` (a fresh slice, extended in place: no third list)."""
        b += a
        if self.bias:
            b.append(1.0)
        return b

    def _weighted(self, ws: list, bias: float) -> float:
        """sum_i w_i c_i + bias over the non-zero constants c_i: the rule with constants."""
        s = sum(map(_mul, ws, self._nonzero_consts))
        return s + bias if self.bias else s

    def forward(self, *xs):
        if self.consts is not None:
            return self._weighted([xs[i] for i in self._nonzero], xs[-1] if self.bias else 0.0)
        n = self.n
        return self._sum_of_products(xs[:n], xs[n:2 * n], xs[-1])

    def derivatives(self, out, *xs):
        if self.consts is not None:
            return self._const_partials
        n = self.n
        return tuple(self._value_partials(list(xs[:n]), list(xs[n:2 * n])))


# One shared instance per parameter-free op; the functions below are these instances.
add, sub, mul, div, neg = Add(), Sub(), Mul(), Div(), Neg()
exp, log, sqrt, tanh, sigmoid = Exp(), Log(), Sqrt(), Tanh(), Sigmoid()
relu, absolute, sin, cos = Relu(), Abs(), Sin(), Cos()
_pow, _sum, _logsumexp = Pow(), Sum(), LogSumExp()


def leaky_relu(x: Scalar, slope: float = 0.01) -> Scalar:
    """x if x > 0 else slope * x."""
    return LeakyRelu(slope)(x)


def power(x: Scalar, n: Scalar) -> Scalar:
    """x ** n: a constant exponent gives one parent, a Value exponent two (then x > 0)."""
    if not is_number(n):
        return _pow(x, n)
    return PowConst(as_float(n, "x ** n (the exponent)"))(x)


# --- functions of a list: one node, or n + 1 nodes for n outputs ------------------------------
def check_list(xs: Sequence, what: str, items: str = "numbers or Values") -> None:
    """A TypeError unless `xs` is a non-empty list (or tuple, ...) of `items`."""
    if isinstance(xs, (str, bytes)) or not hasattr(xs, "__len__") or is_value(xs):
        raise TypeError(f"{what} takes a list of {items}, got {type_name(xs)}")
    if len(xs) == 0:
        raise ValueError(f"{what} of an empty list is undefined")


def sum_of(values: Sequence[Scalar]) -> Scalar:
    """The sum of many Values as ONE node (not a chain of n - 1 additions)."""
    check_list(values, "sum")
    return _sum(*values)


def logsumexp(xs: Sequence[Scalar]) -> Scalar:
    """log(sum_i e^x_i), stable for large |x_i|."""
    check_list(xs, "logsumexp")
    return _logsumexp(*xs)


def _value_of(x) -> float:
    return x if type(x) is float else x.data


def _all_numbers(xs: Sequence) -> bool:
    return all(map(is_number, xs))


def softmax(xs: Sequence[Scalar]) -> List[Scalar]:
    """e^x_i / sum_j e^x_j for each i, stable for large |x_i| (the max is subtracted)."""
    check_list(xs, "softmax")
    if _all_numbers(xs):
        xs = [as_float(x, "softmax") for x in xs]
    return _softmax(xs)


def _softmax(xs: Sequence[Scalar]) -> List[Scalar]:
    """softmax without the checks, for the derivative rules: floats or Values."""
    if _all_numbers(xs):
        _, es = _shifted_exps(xs)
        total = sum(es)
        return [e / total for e in es]
    m, r = _shared_lse(xs)
    return [SoftmaxAt(i, m)(x, r) for i, x in enumerate(xs)]


def _shared_lse(xs: Sequence[Scalar]) -> tuple:
    """(m, the node r = log sum_j e^(x_j - m)) that every output of softmax or log_softmax uses."""
    m = max(map(_value_of, xs))
    return m, ShiftedLogSumExp(m)(*xs)


def log_softmax(xs: Sequence[Scalar]) -> List[Scalar]:
    """x_i - logsumexp(x) for each i: the log-probabilities, stable and exact at large
    logits ((x_i - m) - log sum_j e^(x_j - m), m = max x)."""
    check_list(xs, "log_softmax")
    if _all_numbers(xs):
        m, r = _shifted_lse([as_float(x, "log_softmax") for x in xs])
        return [(x - m) - r for x in xs]
    m, r = _shared_lse(xs)
    return [LogSoftmaxAt(i, m)(x, r) for i, x in enumerate(xs)]


_CROSS_ENTROPY: Dict[int, CrossEntropy] = {}   # one op per target class, made once


def cross_entropy(logits: Sequence[Scalar], target: int) -> Scalar:
    """-log softmax(logits)[target] as one node; d/d logit_i = softmax_i - [i = target]."""
    op = _CROSS_ENTROPY.get(target) if type(target) is int else None
    if op is None or type(logits) not in (list, tuple) or not target < len(logits):
        check_list(logits, "cross_entropy")     # checks everything, names what is wrong
        target = class_index(target, len(logits), "cross_entropy")
        op = _CROSS_ENTROPY.get(target) or _CROSS_ENTROPY.setdefault(target, CrossEntropy(target))
    return op(*logits)


def class_index(target: object, n: int, what: str) -> int:
    """`target` if it is an int in 0..n-1; else a ValueError saying which it is not."""
    if type(target) is not int:
        # 1.0 or a NumPy integer: a class is counted, not measured (as torch wants a long)
        raise ValueError(f"{what}: target must be an int, a class index in 0..{n - 1}, got "
                         f"{type_name(target)} {target!r}; write int(target)")
    if not 0 <= target < n:
        raise ValueError(f"{what}: target must be a class index in 0..{n - 1}, got {target!r}")
    return target


def dot(a: Sequence[Scalar], b: Sequence[Scalar], bias: Optional[Scalar] = None) -> Scalar:
    """sum_i a_i * b_i (+ bias) as ONE node. Plain numbers in `b` (inputs, pixels)
    are constants, not graph nodes: only the Values are parents."""
    check_list(a, "dot")
    if not hasattr(b, "__len__") or len(a) != len(b):
        raise ValueError(f"dot: the two lists must have the same length, got {len(a)} "
                         f"and {len(b) if hasattr(b, '__len__') else type_name(b)}")
    extra = () if bias is None else (bias,)
    if _all_numbers(b) and not any(map(is_number, a)):     # Values . constants
        return Dot(len(a), tuple([as_float(x, "dot") for x in b]), bias is not None)(*a, *extra)
    if _all_numbers(a) and not any(map(is_number, b)):     # constants . Values
        return Dot(len(a), tuple([as_float(x, "dot") for x in a]), bias is not None)(*b, *extra)
    # Values on both sides (numbers among them become constant leaves), or numbers only
    return Dot(len(a), None, bias is not None)(*a, *b, *extra)
