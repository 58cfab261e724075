"""Derivatives as functions, JAX-style: grad, value_and_grad, jvp, vjp, jacobian, hessian.

    >>> from microgrador.functional import grad, hessian
    >>> f = lambda x: x ** 3                 # a plain Python function
    >>> grad(f)(2.0)                         # f'(x) = 3x^2
    12.0
    >>> grad(grad(f))(2.0)                   # f''(x) = 6x; compose to any order
    12.0
    >>> hessian(lambda v: v[0] * v[0] * v[1])([1.0, 2.0])
    [[4.0, 2.0], [2.0, 0.0]]

How it works. A transform calls `f` on fresh input Values, so the engine records
f's graph, then sweeps that graph with the chain rule:

    reverse (vjp):  adjoint(parent)  += adjoint(node) * d node/d parent   outputs -> inputs
    forward (jvp):  tangent(node)     = sum_i d node/d parent_i * tangent(parent_i)

The reverse sweep is the engine's own `chain_rule`, the one backward() runs, with
the adjoints kept in a dict so that no `.grad` is written; the forward sweep is its
mirror image. The local derivatives d node/d parent are the engine's: the floats the forward pass
stored (`.partials`), or, when the result must itself be differentiable, the same
rule `node._op.derivatives(node, *parents)` run again on Values. That second case is
how grad(grad(f)) works: the inner grad returns Values whose graph the outer grad
sweeps. No derivative rule exists twice.

Floats in, floats out: at top level `grad(f)(3.0)` is a float. Inside another
transform, or when you pass Values in, results are Values (differentiable again).

Nesting is safe (no "perturbation confusion"): each call differentiates only with
respect to its own fresh inputs, and a sweep stops at them, so a Value that `f`
closes over (an outer variable) is a constant to the inner transform and a
variable to the outer one. Transforms never write `.grad`; they leave every Value
as they found it. Like torch.func, they record a graph even inside `no_grad()`.

Cost: one reverse sweep gives the gradient of ONE output with respect to ALL
inputs; one forward sweep gives the derivative of ALL outputs along ONE input
direction. So a Jacobian of f: R^n -> R^m takes m sweeps by `jacrev` (= `jacobian`)
and n by `jacfwd`: a loss (m = 1) wants reverse mode.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Sequence, Tuple, Union

from .engine import Value, _run, _times, as_float, chain_rule, enable_grad, topological_order
from .floats import type_name
from .ops import Op

ArgNums = Union[int, Sequence[int]]
Tree = Any     # a number, a Value, or a (nested) list/tuple of them

_depth = 0     # how many transforms are running f right now; > 0 means nested


# --- inputs: fresh variables for each call ----------------------------------------------------
class _Input(Op):
    """The identity, as a node: a fresh variable that still depends on the Value it was
    made from, so an outer transform can differentiate through it."""
    name = "input"
    def forward(self, x): return x
    def derivatives(self, out, x): return (1.0,)


_INPUT = _Input()


def _fresh(x: Any, where: str) -> Value:
    """A new variable for x: a leaf for a number, an input node on top of a Value."""
    if isinstance(x, Value):
        return _INPUT(x)
    return Value(as_float(x, where))


@contextmanager
def _tracing() -> Iterator[None]:
    """Run f one transform deeper: transforms called inside return Values."""
    global _depth
    _depth += 1
    try:
        with enable_grad():   # f's graph is needed, even under no_grad()
            yield
    finally:
        _depth -= 1


# --- nested lists ("pytrees") -----------------------------------------------------------------
def _flatten(tree: Tree, leaves: list):
    """Append tree's numbers/Values to `leaves`; return its shape (None for a leaf)."""
    if isinstance(tree, (list, tuple)):
        return (type(tree), [_flatten(t, leaves) for t in tree])
    leaves.append(tree)
    return None


def _unflatten(shape, leaves: Iterator) -> Tree:
    if shape is None:
        return next(leaves)
    kind, children = shape
    return kind([_unflatten(child, leaves) for child in children])


def _has_value(trees) -> bool:
    found: list = []
    for tree in trees:
        _flatten(tree, found)
    return any(isinstance(x, Value) for x in found)


def _finish(x: Any, as_values: bool):
    """A result in the caller's currency: a Value (nested / Values passed in) or a float."""
    if as_values:
        return x if isinstance(x, Value) else Value(x)
    return x.data if isinstance(x, Value) else float(x)


# --- the two sweeps over a recorded graph -----------------------------------------------------
class _Sweeps:
    """The part of f's graph that lies between `inputs` and `outputs`, ready to be
    swept backward (vjp) or forward (jvp) as many times as needed.

    With higher=True every local derivative is recomputed on Values by the op's own
    rule (and cached), so the sweeps give Values: differentiable again."""

    def __init__(self, inputs: List[Value], outputs: List[Any], higher: bool) -> None:
        self.inputs, self.outputs, self.higher = inputs, outputs, higher
        # Only nodes that depend on an input matter. Everything else (closed-over
        # Values, constants, outer variables) is a constant here, and the walk must
        # not go through it: that is what keeps nested transforms apart.
        self.reachable = set(inputs)
        self.nodes: List[Value] = []        # reachable interior nodes, parents first
        for node in _topological_order(outputs):
            if node in self.reachable:        # an input made by _INPUT: stop there
                continue
            for parent in node._parents:
                if parent in self.reachable:
                    self.reachable.add(node)
                    self.nodes.append(node)
                    break
        self._partials: Dict[Value, Sequence] = {}

    def partials(self, node: Value) -> Sequence:
        """d node/d parent for each parent: stored floats, or Values from the op's rule."""
        if not self.higher:
            return node._partials
        found = self._partials.get(node)
        if found is None:
            found = self._partials[node] = tuple(node._op.derivatives(node, *node._parents))
        return found

    def backward(self, cotangents: Sequence) -> list:
        """sum_k cotangent_k * d output_k/d input_i for each input i: one reverse sweep,
        the engine's chain_rule, with the adjoints kept here instead of in .grad."""
        adjoint: Dict[Value, Any] = {}
        for out, ct in zip(self.outputs, cotangents):
            if isinstance(out, Value) and out in self.reachable:
                adjoint[out] = adjoint[out] + ct if out in adjoint else ct
        with enable_grad():   # f's graph is needed, even under no_grad()
            _run(chain_rule(self.nodes, adjoint=adjoint, within=self.reachable,
                            partials=self.partials))
        return [adjoint.get(x, 0.0) for x in self.inputs]

    def forward(self, tangents: Sequence) -> list:
        """sum_i d output_k/d input_i * tangent_i for each output k (one forward sweep)."""
        tangent: Dict[Value, Any] = {}
        for x, t in zip(self.inputs, tangents):
            if isinstance(t, Value) or t != 0.0:
                tangent[x] = t
        with enable_grad():   # f's graph is needed, even under no_grad()
            for node in self.nodes:
                total = None
                for parent, d in zip(node._parents, self.partials(node)):
                    t = tangent.get(parent)
                    if t is None:
                        continue
                    c = _times(d, t)
                    if c is not None:
                        total = c if total is None else total + c
                if total is not None:
                    tangent[node] = total
        return [tangent.get(out, 0.0) if isinstance(out, Value) else 0.0 for out in self.outputs]


class _Outputs(Op):
    """A throwaway node whose parents are all of f's outputs: the root of one walk."""
    name = "outputs"
    def forward(self, *xs): return 0.0
    def derivatives(self, out, *xs): return (0.0,) * len(xs)


_OUTPUTS = _Outputs()


def _topological_order(outputs: Sequence) -> List[Value]:
    """The engine's topological_order for several outputs at once: one walk from a
    throwaway root (several walks would repeat the graph the outputs share)."""
    values = tuple(out for out in outputs if isinstance(out, Value))
    if not values:
        return []
    with enable_grad():   # f's graph is needed, even under no_grad()
        root = _OUTPUTS(*values)
    return [node for node in topological_order(root) if node is not root]


# --- calling f on fresh inputs ---------------------------------------------------------------
def _argnums(argnums: ArgNums, nargs: int, who: str) -> Tuple[Tuple[int, ...], bool]:
    single = type(argnums) is int
    try:
        nums = (argnums,) if single else tuple(argnums)
    except TypeError:
        nums = (argnums,)              # not a tuple of ints: reported just below
    for i in nums:
        if type(i) is not int or not -nargs <= i < nargs:
            raise ValueError(f"{who}: argnums={argnums!r} must be an int or a tuple of ints "
                             f"in range for the {nargs} positional argument(s) f was called with")
    return tuple(i % nargs for i in nums), single


class _Call:
    """f called on fresh variables for the arguments `nums`; its graph, ready to sweep."""

    def __init__(self, f: Callable, args: Sequence, nums: Sequence[int], who: str,
                 extra: Sequence = ()) -> None:
        if not callable(f):
            raise TypeError(f"{who}: f must be a function, got {type_name(f)}")
        # Values out if nested, or if the caller passed Values in (they want a graph)
        self.as_values = _depth > 0 or _has_value(args) or _has_value(extra)
        args = list(args)
        self.arg_shapes, self.arg_sizes, self.inputs = [], [], []
        with _tracing():
            for i in nums:
                leaves: list = []
                self.arg_shapes.append(_flatten(args[i], leaves))
                fresh = [_fresh(x, f"{who}: argument {i}") for x in leaves]
                self.arg_sizes.append(len(fresh))
                self.inputs.extend(fresh)
                args[i] = _unflatten(self.arg_shapes[-1], iter(fresh))
            self.out = f(*args)
        outs: list = []
        self.out_shape = _flatten(self.out, outs)
        for k, o in enumerate(outs):
            if not isinstance(o, Value):
                as_float(o, f"{who}: f's result" + (f" #{k}" if self.out_shape else ""))
        self.outs = outs
        self.sweeps = _Sweeps(self.inputs, outs, higher=self.as_values)

    def split(self, per_input: Sequence, as_values: bool) -> list:
        """Per-input results, back in the shape of each differentiated argument."""
        results, start = [], 0
        for shape, size in zip(self.arg_shapes, self.arg_sizes):
            chunk = [_finish(x, as_values) for x in per_input[start:start + size]]
            results.append(_unflatten(shape, iter(chunk)))
            start += size
        return results

    def value(self) -> Tree:
        return _unflatten(self.out_shape, iter([_finish(o, self.as_values) for o in self.outs]))


def _pick(results: list, single: bool):
    return results[0] if single else tuple(results)


# --- the transforms ---------------------------------------------------------------------------
def value_and_grad(f: Callable, argnums: ArgNums = 0) -> Callable:
    """A function returning (f(*args), df/d args[argnums]) with one forward and one
    reverse sweep. f must return a scalar; the gradient has the argument's shape."""
    def value_and_grad_f(*args):
        nums, single = _argnums(argnums, len(args), "grad")
        call = _Call(f, args, nums, "grad")
        if call.out_shape is not None:
            raise TypeError(f"grad: f must return a scalar (a Value or a number), got a "
                            f"{type_name(call.out)} of {len(call.outs)}; use jacobian "
                            f"for functions with several outputs")
        grads = call.sweeps.backward([1.0])
        return call.value(), _pick(call.split(grads, call.as_values), single)
    value_and_grad_f.__name__ = f"value_and_grad({getattr(f, '__name__', 'f')})"
    return value_and_grad_f


def grad(f: Callable, argnums: ArgNums = 0) -> Callable:
    """The gradient of scalar f as a function: grad(f)(x) = df/dx, with x's shape.

    argnums picks the argument (an int) or arguments (a tuple: a tuple of gradients).
    Composes: grad(grad(f))(x) is f''(x)."""
    value_and_grad_f = value_and_grad(f, argnums)

    def grad_f(*args):
        return value_and_grad_f(*args)[1]
    grad_f.__name__ = f"grad({getattr(f, '__name__', 'f')})"
    return grad_f


def jvp(f: Callable, primals: Sequence, tangents: Sequence) -> Tuple[Tree, Tree]:
    """Forward mode: (f(*primals), J v) where v = tangents, one forward sweep.

    primals and tangents are tuples of arguments of the same shapes; the tangent
    out has the shape of f's result: the directional derivative of every output."""
    primals, tangents = _tuple(primals, "jvp(primals)"), _tuple(tangents, "jvp(tangents)")
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    call = _Call(f, primals, range(len(primals)), "jvp", extra=tangents)
    flat: list = []
    for i, (p, t) in enumerate(zip(primals, tangents)):
        leaves: list = []
        if (_flatten(t, leaves) is None) != (_flatten(p, []) is None) or \
                len(leaves) != call.arg_sizes[i]:
            raise ValueError(f"jvp: tangent {i} must have the shape of primal {i}")
        flat.extend(x if isinstance(x, Value) else as_float(x, "jvp(tangents)") for x in leaves)
    out_tangents = call.sweeps.forward(flat)
    shaped = [_finish(t, call.as_values) for t in out_tangents]
    return call.value(), _unflatten(call.out_shape, iter(shaped))


def vjp(f: Callable, *primals) -> Tuple[Tree, Callable]:
    """Reverse mode: (f(*primals), vjp_fn) with vjp_fn(u) = u^T J, a tuple with one
    entry per primal. f's graph is recorded once; each vjp_fn call is one reverse sweep."""
    call = _Call(f, primals, range(len(primals)), "vjp")
    out_leaves = len(call.outs)

    def vjp_fn(cotangent):
        leaves: list = []
        if (_flatten(cotangent, leaves) is None) != (call.out_shape is None) or \
                len(leaves) != out_leaves:
            raise ValueError("vjp_fn: the cotangent must have the shape of f's result")
        leaves = [x if isinstance(x, Value) else as_float(x, "vjp_fn(cotangent)") for x in leaves]
        as_values = call.as_values or _depth > 0 or any(isinstance(x, Value) for x in leaves)
        return tuple(call.split(call.sweeps.backward(leaves), as_values))
    return call.value(), vjp_fn


def _one_hot(n: int, k: int) -> List[float]:
    """[0, ..., 0, 1, 0, ..., 0]: n entries, the 1 at k (a seed for one sweep)."""
    seed = [0.0] * n
    seed[k] = 1.0
    return seed


def jacrev(f: Callable, argnums: ArgNums = 0) -> Callable:
    """The Jacobian by reverse mode: one reverse sweep per output of f.

    jacobian(f)(x) has f's result shape on the outside and x's shape inside: for
    f: list of n -> list of m it is m rows of n floats, J[i][j] = d f_i/d x_j."""
    def jacrev_f(*args):
        nums, single = _argnums(argnums, len(args), "jacobian")
        call = _Call(f, args, nums, "jacobian")
        m = len(call.outs)
        rows = []
        for k in range(m):
            rows.append(_pick(call.split(call.sweeps.backward(_one_hot(m, k)), call.as_values),
                              single))
        return _unflatten(call.out_shape, iter(rows))
    jacrev_f.__name__ = f"jacrev({getattr(f, '__name__', 'f')})"
    return jacrev_f


jacobian = jacrev


def jacfwd(f: Callable, argnums: ArgNums = 0) -> Callable:
    """The Jacobian by forward mode: one forward sweep per input of f. Same result
    and shape as jacrev; cheaper when f has fewer inputs than outputs."""
    def jacfwd_f(*args):
        nums, single = _argnums(argnums, len(args), "jacfwd")
        call = _Call(f, args, nums, "jacfwd")
        n = len(call.inputs)
        columns = []
        for j in range(n):
            columns.append(call.sweeps.forward(_one_hot(n, j)))
        rows = [_pick(call.split([column[k] for column in columns], call.as_values), single)
                for k in range(len(call.outs))]
        return _unflatten(call.out_shape, iter(rows))
    jacfwd_f.__name__ = f"jacfwd({getattr(f, '__name__', 'f')})"
    return jacfwd_f


def hessian(f: Callable, argnums: ArgNums = 0) -> Callable:
    """The matrix of second derivatives H[i][j] = d^2 f/dx_i dx_j of scalar f, as
    jacfwd(jacrev(f)) (forward over reverse, as in JAX): one reverse sweep that
    records the gradient's graph, then one forward sweep per input."""
    h = jacfwd(jacrev(f, argnums), argnums)
    h.__name__ = f"hessian({getattr(f, '__name__', 'f')})"
    return h


def hvp(f: Callable, primals: Sequence, tangents: Sequence) -> Tree:
    """The Hessian-vector product H v of scalar f without forming H:
    jvp(grad(f), primals, tangents)[1], one reverse and one forward sweep.
    The result has the shape of the first primal (grad differentiates argument 0)."""
    return jvp(grad(f), primals, tangents)[1]


def _tuple(xs: Sequence, where: str) -> tuple:
    if not isinstance(xs, (list, tuple)):
        raise TypeError(f"{where}: expected a tuple of arguments, e.g. (x,), got "
                        f"{type_name(xs)}")
    return tuple(xs)


__all__ = ["grad", "value_and_grad", "jvp", "vjp", "jacobian", "jacrev", "jacfwd",
           "hessian", "hvp"]
