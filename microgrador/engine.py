"""The engine: a scalar `Value` that records how it was computed, and `backward()`.

Every Value remembers its parents and the local derivatives d(self)/d(parent),
computed as plain floats when the Value is made. `backward()` then walks the
graph from the output to the inputs and applies the chain rule:

    parent.grad += node.grad * d(node)/d(parent)

The operations themselves (add, tanh, softmax, ...) are the rules of `ops.py`, each
an `Op` with its forward rule and its derivative rule side by side; this module
records them into the graph (`_record`, `apply`) and runs the chain rule backward
(`topological_order`, `chain_rule`).
"""
from __future__ import annotations

import gc
import itertools
import math
import sys
import weakref
from contextlib import contextmanager
from contextvars import ContextVar
from itertools import compress
from operator import attrgetter
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

from .floats import as_float, describe
from .ops import (Op, absolute, add, cos, div, exp, leaky_relu, log, mul, neg, power, relu,
                  sigmoid, sin, sqrt, sub, tanh)

Number = Union[int, float]

_next_index = itertools.count(1).__next__   # creation order of interior nodes
_interior = attrgetter("_parents")   # truthy for an interior node, () for a leaf
_new_value = object.__new__   # makes a Value without running __init__'s checks
# The modes belong to the running thread (and asyncio task), as in PyTorch: one
# thread evaluating under no_grad() must not switch off another thread's training.
# A new thread starts from the defaults. ContextVar.get() costs about as much as a
# global lookup plus one call, so the check in every op stays cheap.
_grad_mode: ContextVar[bool] = ContextVar("microgrador_grad_enabled", default=True)
_anomaly: ContextVar[bool] = ContextVar("microgrador_detect_anomaly", default=False)
_grad_enabled = _grad_mode.get
_anomaly_mode = _anomaly.get
_NO_GRAD = -1   # the _index of a result made under no_grad(): a leaf with no graph
# Only CPython frees objects by reference counting; on PyPy pausing the collector
# would keep every graph's garbage (an MNIST epoch grew to 3.3 GB).
_REFCOUNTED = sys.implementation.name == "cpython"


class Value:
    """A scalar in a computation graph: `data` is its value, `grad` is d(output)/d(self).

    A Value you make is a leaf; an op's result is a `Computed`, a Value that also
    remembers how it was made.

    >>> x = Value(2.0, label="x"); y = x * x + 1; y.backward(); x.grad
    4.0
    """

    # A leaf holds four fields: 64 bytes on CPython, where a Value with all seven was
    # 96. An MNIST net's 238,510 weights are leaves, and a training step is bound by
    # how many bytes of them it reads (see README's Speed).
    __slots__ = ("data", "grad", "label", "_index")
    _parents: Tuple["Value", ...] = ()   # a leaf was computed from nothing ...
    _partials: Sequence[float] = ()
    _op = None                           # ... by no op

    def __init__(self, data: Number, label: str = "") -> None:
        self.data = as_float(data, "Value(data)")
        self.grad: Union[float, "Value"] = 0.0
        self.label = label
        self._index = 0   # on a parameter, its optimizer's tag (see touched.py)

    @staticmethod
    def _new(op: Op, data: float, parents: Tuple["Value", ...], partials: Sequence) -> "Value":
        """The result of `op`: the one place a Value is made from an op (a leaf is made
        by Value(...)). Under no_grad() it is a plain leaf, so no graph is kept alive."""
        if not math.isfinite(data):
            raise OverflowError(f"{op.name}: the result is {data} for inputs "
                                f"{describe(p.data for p in parents)}")
        if _grad_enabled():
            out = _new_value(Computed)
            out._parents = parents
            out._partials = partials
            out._op = op
            out._index = _next_index()
        else:
            out = _new_value(Value)
            out._index = _NO_GRAD    # so backward() on it can say why nothing happens
        out.data = data
        out.grad = 0.0
        out.label = ""
        return out

    @staticmethod
    def _record(op: Op, args: Sequence) -> "Value":
        """`op` applied to `args` (Values, and plain numbers that become constant leaves):
        how Op.__call__ hands an op on a Value to the engine."""
        if op.forward_parents is None:   # the common cases first, without the list work
            if len(args) == 1:
                return apply_unary(op, args[0])
            if len(args) == 2:
                return _binary(op, args[0], args[1])
        # (an op with forward_parents, e.g. a two-class cross-entropy, gets both rules
        # in one read of its parents: apply)
        return apply(op, tuple([a if isinstance(a, Value) else _constant(a, op.name) for a in args]))

    # --- inspection, for drawings and teaching -------------------------------------
    @property
    def op(self) -> str:
        """Name of the operation that produced this Value ('' for a leaf)."""
        return self._op.name if self._op is not None else ""

    @property
    def parents(self) -> Tuple["Value", ...]:
        """The Values this one was computed from (empty for a leaf)."""
        return self._parents

    @property
    def partials(self) -> Tuple[float, ...]:
        """The local derivatives d(self)/d(parent), one per parent, as floats."""
        return tuple(self._partials)

    @property
    def is_leaf(self) -> bool:
        return not self._parents

    def __repr__(self) -> str:
        grad = _float(self.grad)
        name = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data!r}, grad={grad!r}{name})"

    def item(self) -> float:
        """The plain float, as in PyTorch."""
        return self.data

    def __float__(self):
        # math.exp(x), float(x), ... would quietly take the number out of the graph,
        # and every gradient through it would be lost: refuse, and say what to use.
        raise TypeError("a Value is not converted to float implicitly (math.* on a Value "
                        "would drop it from the graph): use microgrador.exp(x), x.log(), ... "
                        "for math, and x.data or x.item() for the plain number")

    # Values hash by identity so they can live in sets and dicts (the graph walk needs
    # that); comparisons compare data, so `max(values)` and `if x > 0` work.
    __hash__ = object.__hash__

    def __lt__(self, other): return self.data < _data(other)
    def __le__(self, other): return self.data <= _data(other)
    def __gt__(self, other): return self.data > _data(other)
    def __ge__(self, other): return self.data >= _data(other)

    def __bool__(self):
        raise TypeError("the truth value of a Value is ambiguous: compare it (x > 0) "
                        "or use x.data")

    # --- the chain rule ----------------------------------------------------------------
    def backward(self, grad: float = 1.0, create_graph: bool = False) -> None:
        """Fill `.grad` of every Value this one depends on with d(self)/d(that Value).

        Rule (PyTorch's): leaves *accumulate* over calls, so a second backward() adds
        to their grads (call zero_grad() in between); every intermediate node gets the
        gradient of this call only. With create_graph=True the grads are Values
        themselves, so you can call backward() on them for higher derivatives.
        """
        _backward(self, grad, create_graph)

    def zero_grad(self) -> None:
        """Set `.grad` to 0 on this Value and everything it was computed from."""
        self.grad = 0.0
        for node in topological_order(self):
            node.grad = 0.0
            for parent in node._parents:
                parent.grad = 0.0

    # --- operators and math: each is a rule from ops.py, recorded here ------------------
    def __add__(self, other): return _binary(add, self, other)
    def __radd__(self, other): return _binary(add, other, self)
    def __sub__(self, other): return _binary(sub, self, other)
    def __rsub__(self, other): return _binary(sub, other, self)
    def __mul__(self, other): return _binary(mul, self, other)
    def __rmul__(self, other): return _binary(mul, other, self)
    def __truediv__(self, other): return _binary(div, self, other)
    def __rtruediv__(self, other): return _binary(div, other, self)
    def __neg__(self): return apply_unary(neg, self)
    def __pos__(self): return self
    def __pow__(self, other): return power(self, other)
    def __rpow__(self, other): return power(other, self)
    def __abs__(self): return apply_unary(absolute, self)

    def exp(self) -> "Value": return apply_unary(exp, self)
    def log(self) -> "Value": return apply_unary(log, self)
    def sqrt(self) -> "Value": return apply_unary(sqrt, self)
    def tanh(self) -> "Value": return apply_unary(tanh, self)
    def sigmoid(self) -> "Value": return apply_unary(sigmoid, self)
    def relu(self) -> "Value": return apply_unary(relu, self)
    def leaky_relu(self, slope: float = 0.01) -> "Value": return leaky_relu(self, slope)
    def abs(self) -> "Value": return apply_unary(absolute, self)
    def sin(self) -> "Value": return apply_unary(sin, self)
    def cos(self) -> "Value": return apply_unary(cos, self)


class Computed(Value):
    """A Value made by an op: an interior node of the graph. Besides data, grad and
    label it holds the op, its parents and the local derivatives d(self)/d(parent),
    which backward() multiplies by; `_index` says when it was made."""

    __slots__ = ("_parents", "_partials", "_op")


_new = Value._new


# --- recording an op: Value._record above, and these shortcuts for the common cases --------
def _constant(x: object, op_name: str) -> Value:
    """A plain number used in an op, as a leaf Value (so drawings show it)."""
    return Value(x if type(x) is float else as_float(x, f"op {op_name!r}"))


def apply_unary(op: Op, x: Value) -> Value:
    """`op` applied to one Value: what `op(x)` does, without Op.__call__'s type checks
    (a layer's activations call it once per neuron)."""
    d = x.data
    out = op.forward(d)
    return _new(op, out, (x,), op.derivatives(out, d))


def _binary(op: Op, a, b) -> Value:
    """a op b with at least one Value; a plain number on either side is a constant leaf."""
    if not isinstance(a, Value):
        a = _constant(a, op.name)
    elif not isinstance(b, Value):
        b = _constant(b, op.name)
    da, db = a.data, b.data
    out = op.forward(da, db)
    return _new(op, out, (a, b), op.derivatives(out, da, db))


def apply(op: Op, parents: tuple) -> Value:
    """`op` applied to a tuple of Values, with no checks and no copies: the hot path
    of every neuron. A layer makes one Dot(n, inputs, bias=True) and applies it to
    each neuron's parameter tuple (w_1, ..., w_n, b)."""
    forward_parents = op.forward_parents
    if forward_parents is not None:     # Dot: both rules read from the parents at once
        out, partials = forward_parents(parents)
        return _new(op, out, parents, partials)
    xs = [p.data for p in parents]
    out = op.forward(*xs)
    return _new(op, out, parents, op.derivatives(out, *xs))


# take(node, g) -> True when it has used node's gradient itself (see chain_rule)
Take = Callable[[Value, float], bool]


def _backward(root: Value, grad: float, create_graph: bool,
              taker: Optional[Callable[[List[Value]], Optional[Take]]] = None) -> None:
    """root.backward(grad, create_graph). `taker` (SGD.backward_and_step) is shown the
    order once it is known, and may answer with take(node, g): see chain_rule."""
    grad = as_float(grad, "backward(grad)")
    if root._index == _NO_GRAD:
        raise RuntimeError(
            f"backward() on {_name(root)} (data {root.data!r}): it was computed under "
            f"no_grad(), so no graph was recorded and there are no gradients to compute; "
            f"compute it outside no_grad() (or inside enable_grad()) to differentiate it")
    with gc_paused():   # the walk makes no cycles: nothing for the collector to find
        order = topological_order(root)
        for node in order:            # interior nodes: fresh gradients for this call
            node.grad = 0.0
        if create_graph:
            # the grads must be recorded as a graph, even inside no_grad()
            with _mode(_grad_mode, True):
                root.grad = root.grad + Value(grad) if root.is_leaf else Value(grad)
                _run(chain_rule(order, True, _anomaly_mode()))
        else:
            check = _anomaly_mode()
            take = None if taker is None or check else taker(order)   # (anomaly mode checks every term)
            root.grad = root.grad + grad if root.is_leaf else grad
            _run(chain_rule(order, False, check, take=take))
        if root.is_leaf and _watchers:
            _tell_watchers((root,))   # backward() on a leaf reaches the leaf itself


def topological_order(root: Value) -> List[Value]:
    """The interior (non-leaf) nodes below `root`, each after all of its parents.

    A node is always made after its parents, so the order of creation is already a
    topological order: find the nodes (an explicit stack, no recursion, so a graph
    a million nodes deep is fine) and sort them by when they were made. Leaves are
    left out: there is nothing to do for them but receive gradients.

    A node whose op promises leaf parents (a first-layer neuron) is not looked
    into, so the 235,500 first-layer weights of an MNIST net cost no step here.
    """
    if not root._parents:
        return []
    # Found nodes are keyed by their creation index, a plain int: cheaper to hash than
    # the Value itself (on PyPy three times cheaper for a long chain).
    found = {root._index: root}
    stack = [root]
    while stack:
        node = stack.pop()
        if node._op.leaf_parents:
            continue     # e.g. a first-layer neuron: nothing below it but weights
        for parent in node._parents:
            if parent._parents:              # a leaf has none: nothing to visit
                index = parent._index
                if index not in found:
                    found[index] = parent
                    stack.append(parent)
    return [found[index] for index in sorted(found)]


_MANY = 8   # above this many parents, a zero partial is filtered out in C


def chain_rule(order: List[Value], create_graph: bool = False, check: bool = False, *,
               pause: bool = False, adjoint: Optional[Dict[Value, object]] = None,
               within: Optional[set] = None,
               partials: Optional[Callable[[Value], Sequence]] = None,
               take: Optional[Take] = None) -> Iterator[Value]:
    """The backward pass, one node at a time from the output: for each node of `order`
    (reversed), pass its grad to its parents by

        parent.grad += node.grad * d(node)/d(parent)

    With pause=True it yields each node just before passing its grad on, so that
    backward_steps can watch each node; otherwise it runs to the end at the first
    next() (backward() runs it so). A node whose grad is 0 passes nothing on,
    nor does a zero local derivative: skipping them is exact (so 0 * inf counts as 0,
    where PyTorch would give NaN, and a -0.0 grad is not turned into 0.0).

    create_graph: the local derivatives are re-derived from the op's rule on Values,
    so the grads become Values that remember how they depend on the inputs (every
    term is built, zeros included, so every grad below the root is a Value).
    check (anomaly mode): stop at the first non-finite contribution, naming the node.

    For the functional transforms, which must not write .grad: with `adjoint` the
    grads live in that dict instead (absent = 0, and multiplications by a constant
    0 or 1 are not built), only parents in `within` receive them, and `partials(node)`
    gives the local derivatives.

    take(node, g), for the plain sweep on floats only: asked about each node whose op
    promises leaf parents (a first-layer neuron) before it passes g on; when it answers
    True it has used the node's gradient itself (SGD.backward_and_step updates the
    weights with it) and the parents' .grad are left as they were.
    """
    if take is not None and (pause or create_graph or check or adjoint is not None):
        raise ValueError("chain_rule: take is for the plain sweep on floats only")
    if adjoint is not None:
        yield from _chain_rule_into(order, pause, adjoint, within, partials)
        return
    if _watchers:
        _tell_watchers(order)
    if not (pause or create_graph or check):
        _pass_grads(reversed(order), take)   # the plain rule on floats: backward()'s hot loop
        return
    for node in reversed(order):
        if pause:
            yield node
        if not (create_graph or check):
            _pass_grads((node,))
            continue
        g = node.grad
        if create_graph:
            local = node._op.derivatives(node, *node._parents)
        elif g == 0.0:
            continue                  # nothing to pass on
        else:
            local = node._partials
        for i, (parent, d) in enumerate(zip(node._parents, local)):
            if check:
                _check_finite(node, i, parent, g, d)
            if create_graph:
                parent.grad = parent.grad + g * d
            elif d:
                parent.grad += g * d


def _pass_grads(nodes: Iterable[Value], take: Optional[Take] = None) -> None:
    """parent.grad += node.grad * d(node)/d(parent) for each node in turn, on floats,
    skipping the terms that are exactly 0 (a zero grad, a zero local derivative);
    unless take(node, g) claims a node with leaf parents (see chain_rule)."""
    for node in nodes:
        g = node.grad
        if g == 0.0:
            continue                  # nothing to pass on
        op = node._op
        if take is not None and op.leaf_parents and take(node, g):
            continue
        sparse = op.sparse
        if sparse is not None:       # only the non-zero local derivatives, by slot
            parents = node._parents
            for i, d in zip(*sparse):
                parents[i].grad += g * d
            continue
        local = node._partials
        if len(local) > _MANY:
            # A black pixel's weight has local derivative 0: on a wide node,
            # compress/filter pick the non-zero terms in C, in the same order.
            for parent, d in zip(compress(node._parents, local), filter(None, local)):
                parent.grad += g * d
            continue
        for parent, d in zip(node._parents, local):
            if d:
                parent.grad += g * d


# --- who is told what a backward pass reached ----------------------------------------
# Weak references to the touched-only optimizers (touched.ReachedParams), of every
# thread: a list, since appending to it and copying it are atomic under the GIL.
_watchers: List[weakref.ref] = []


def watch_backward(watcher) -> None:
    """From now on, call `watcher.reached(nodes)` with the nodes of every backward pass
    (any thread), so that an optimizer can visit only the parameters they reached."""
    global _watchers
    _watchers = [w for w in _watchers if w() is not None] + [weakref.ref(watcher)]


def _tell_watchers(nodes: Sequence[Value]) -> None:
    for ref in _watchers[:]:
        watcher = ref()
        if watcher is not None:
            watcher.reached(nodes)


def _run(sweep: Iterator) -> None:
    """Run a sweep to its end."""
    for _ in sweep:
        pass


def _chain_rule_into(order: List[Value], pause: bool, adjoint: Dict[Value, object],
                     within: Optional[set],
                     partials: Optional[Callable[[Value], Sequence]]) -> Iterator[Value]:
    """chain_rule with the grads in `adjoint` (see there)."""
    for node in reversed(order):
        if pause:
            yield node
        g = adjoint.get(node)
        if g is None:
            continue
        local = node._partials if partials is None else partials(node)
        for parent, d in zip(node._parents, local):
            if within is not None and parent not in within:
                continue
            c = _times(g, d)
            if c is not None:
                adjoint[parent] = adjoint[parent] + c if parent in adjoint else c


def _times(a, b):
    """a * b, skipping the multiplications by a constant 0 or 1 (exact, and they would
    only grow the graph). Returns None for an exact zero."""
    if not isinstance(a, Value):
        if a == 0.0:
            return None
        if a == 1.0:
            return b
    if not isinstance(b, Value):
        if b == 0.0:
            return None
        if b == 1.0:
            return a
    return a * b


def _check_finite(node: Value, i: int, parent: Value, g, d) -> None:
    """Anomaly mode: the contribution of `node` to its parent #i must be finite."""
    contribution = _float(g) * _float(d) if _float(g) and _float(d) else 0.0
    if not math.isfinite(contribution):
        raise FloatingPointError(
            f"anomaly: non-finite gradient {contribution} flowing from node "
            f"{_name(node)} (op {node.op}, data {node.data!r}, grad {_float(g)!r}) "
            f"to its parent #{i} {_name(parent)} (data {parent.data!r}); local "
            f"derivative d {node.op}/d parent = {_float(d)!r}")


def _float(x) -> float:
    """A grad or local derivative as a float (after create_graph=True it is a Value)."""
    return x.data if isinstance(x, Value) else x


# --- modes -------------------------------------------------------------------------------
@contextmanager
def no_grad() -> Iterator[None]:
    """Inside `with no_grad():` operations give plain leaf Values and record no graph
    (for evaluation: it saves the memory and time of the graph). It applies to the
    current thread (and asyncio task) only."""
    with _mode(_grad_mode, False):
        yield


@contextmanager
def enable_grad() -> Iterator[None]:
    """Record graphs again inside a `no_grad()` block (as torch.enable_grad); the
    functional transforms use it, since they need f's graph wherever they are called."""
    with _mode(_grad_mode, True):
        yield


def is_grad_enabled() -> bool:
    """Whether operations in this thread record a graph (False inside no_grad())."""
    return _grad_mode.get()


@contextmanager
def detect_anomaly() -> Iterator[None]:
    """Inside `with detect_anomaly():` backward() (also with create_graph=True) stops at
    the first inf or NaN gradient and names the node and op that produced it."""
    with _mode(_anomaly, True):
        yield


class gc_paused:
    """Inside `with gc_paused():` Python's cyclic garbage collector does not run.

    A graph has no reference cycles (reference counting frees it when its last Value
    goes), but while one is built the collector keeps re-scanning every node of it for
    cycles it cannot find: about a quarter of a CNN training step, and why a
    million-node chain costs more per node than a short one. backward() and
    training.train() pause it; wrap your own loop or a huge graph's construction in
    it too. Like gc.disable() it is process-wide: the collector runs again when the
    outermost block ends, and one that was off before stays off. On PyPy, which has
    no reference counting (its collector is what frees a graph), it does nothing."""

    __slots__ = ("_was_on",)

    def __enter__(self) -> "gc_paused":
        self._was_on = _REFCOUNTED and gc.isenabled()
        if self._was_on:
            gc.disable()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._was_on:
            gc.enable()


@contextmanager
def _mode(var: ContextVar, value: bool) -> Iterator[None]:
    token = var.set(value)
    try:
        yield
    finally:
        var.reset(token)


# --- names and numbers -------------------------------------------------------------------
def _data(x: object) -> float:
    return x.data if isinstance(x, Value) else as_float(x, "comparison")


def _name(node: Value) -> str:
    return repr(node.label) if node.label else f"<{node.op or 'leaf'} node>"
