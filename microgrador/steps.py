"""Backward, one node at a time: `backward_steps(root)` and the `tape(root)` table.

backward() applies the chain rule to every node in reverse topological order:

    parent.grad += node.grad * d(node)/d(parent)

`backward_steps` does exactly the same arithmetic in the same order, but stops
after each node and reports what it did, so you can watch the gradients arrive.
Consuming all of its steps leaves the same `.grad` values as one backward() call.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterable, Iterator, List, Tuple, Union

from .engine import Value, _float, _tell_watchers, as_float, chain_rule, topological_order

Roots = Union[Value, Iterable[Value]]


@dataclass(frozen=True)
class ParentUpdate:
    """What one step passes to one parent: `contribution = local * upstream grad`."""
    parent: Value
    local: float          # d node / d parent: the factor the chain rule multiplies by
    contribution: float   # local * the node's grad, added to parent.grad
    grad: float           # the parent's gradient so far (after this contribution)


@dataclass(frozen=True)
class Step:
    """One node of the backward pass: its (now complete) gradient, and for each
    parent what the chain rule added to that parent's gradient."""
    index: int            # 0 for the root, then reverse topological order
    total: int            # number of steps in the whole pass
    node: Value
    grad: float           # d root / d node: complete once every consumer has passed
    parents: Tuple[ParentUpdate, ...]
    skipped: bool         # grad is 0.0: backward() passes nothing on (every term is 0)

    def __str__(self) -> str:
        return describe_step(self)


def backward_steps(root: Value, grad: float = 1.0) -> Iterator[Step]:
    """Run `root.backward(grad)` one node at a time, yielding a `Step` after each node.

    Same rules as backward(): interior nodes start from 0, leaves accumulate over
    calls, the root is seeded with `grad`, and a node whose grad is 0.0 passes
    nothing on. Gradients are floats (no create_graph). The grads are updated as the
    steps are consumed: stop early and they are partial.
    """
    if not isinstance(root, Value):
        raise TypeError(f"backward_steps(root): expected a Value, got {type(root).__name__}")
    grad = as_float(grad, "backward_steps(grad)")
    order = topological_order(root)
    if not order:   # a leaf: backward() only adds the seed to its grad
        root.grad = root.grad + grad
        _tell_watchers((root,))
        yield Step(0, 1, root, _float(root.grad), (), False)
        return
    for node in order:
        node.grad = 0.0
    root.grad = grad
    total = len(order)
    sweep = chain_rule(order, pause=True)     # backward()'s own sweep, paused at each node
    node = next(sweep)
    for index in range(total):
        g = node.grad
        before = {parent: parent.grad for parent in node._parents}
        following = next(sweep, None)      # this passes node's grad to its parents
        yield Step(index, total, node, g, _updates(node, g, before), g == 0.0)
        node = following


def _updates(node: Value, g: float, before: Dict[Value, float]) -> Tuple[ParentUpdate, ...]:
    """What chain_rule just added to each parent, with each parent's grad after its term.
    The running sums repeat the sweep's additions in its order (a parent met twice, as
    in x * x, gets two terms), skipping the terms it skips, so they are its numbers."""
    running = dict(before)
    updates = []
    for parent, d in zip(node._parents, node._partials):
        contribution = g * d
        if g != 0.0 and d:
            running[parent] = running[parent] + contribution
        updates.append(ParentUpdate(parent, d, contribution, _float(running[parent])))
    return tuple(updates)


def count_steps(root: Value) -> int:
    """How many steps backward_steps(root) yields: one per interior node (1 for a leaf)."""
    if not isinstance(root, Value):
        raise TypeError(f"expected a Value, got {type(root).__name__}")
    return len(topological_order(root)) or 1


def describe_step(step: Step, max_parents: int = 8) -> str:
    """The step in words and numbers, e.g. `to x: 0.5 × 0.42 (local) = 0.21, its grad now 0.21`."""
    node = step.node
    what = f"{node.op}, " if node.label else ""     # unlabelled, the name says the op
    lines = [f"step {step.index + 1} of {step.total}: {value_name(node)} "
             f"({what}data {node.data:.4g}) has grad {step.grad:.4g}"]
    if step.skipped and step.parents:
        lines.append("  its grad is 0, so it passes nothing to its parents")
        return "\n".join(lines)
    for update in step.parents[:max_parents]:
        lines.append(f"  to {value_name(update.parent)}: {step.grad:.4g} × {update.local:.4g} "
                     f"(local) = {update.contribution:.4g}, its grad now {update.grad:.4g}")
    if len(step.parents) > max_parents:
        lines.append(f"  ... and {len(step.parents) - max_parents} more parents")
    return "\n".join(lines)


def value_name(v: Value) -> str:
    """A short human name: the label, else `constant 2` or `the tanh node`."""
    if v.label:
        return str(v.label)
    if v.is_leaf:
        return f"constant {v.data:g}"
    return f"the {v.op} node"


# --- the whole graph ------------------------------------------------------------------------
def all_values(roots: Roots) -> List[Value]:
    """Every Value below `roots` (one Value or several), leaves included, each after
    its parents; leaves appear just before their first consumer."""
    if isinstance(roots, Value):
        roots = [roots]
    out: List[Value] = []
    seen = set()
    for root in roots:
        if not isinstance(root, Value):
            raise TypeError(f"expected Values to draw or list, got {type(root).__name__}")
        if root.is_leaf:
            if root not in seen:
                seen.add(root)
                out.append(root)
            continue
        for node in topological_order(root):
            if node in seen:
                continue
            for parent in node._parents:
                if parent not in seen:   # interior parents were placed already
                    seen.add(parent)
                    out.append(parent)
            seen.add(node)
            out.append(node)
    return out


def tape(root: Roots, digits: int = 6, max_inputs: int = 6) -> str:
    """A text table of the graph in topological order (leaves first as met): one row
    per Value with its op, inputs (by label, or #row), data and grad.

        #  name  op    inputs  data  grad
        0  x     leaf          3     6
        1        *     x, x    9     1
    """
    values = all_values(root)
    row: Dict[Value, int] = {v: i for i, v in enumerate(values)}

    def ref(v: Value) -> str:
        return str(v.label) if v.label else f"#{row[v]}"

    rows = [("#", "name", "op", "inputs", "data", "grad")]
    for i, v in enumerate(values):
        parents = v._parents
        inputs = ", ".join(ref(p) for p in parents[:max_inputs])
        if len(parents) > max_inputs:
            inputs += f", ... ({len(parents)} inputs)"
        rows.append((str(i), _one_line(str(v.label)), _one_line(v.op) or "leaf", _one_line(inputs),
                     f"{v.data:.{digits}g}", f"{_float(v.grad):.{digits}g}"))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [r[0].rjust(widths[0])] + [cell.ljust(w) for cell, w in zip(r[1:], widths[1:])]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _one_line(text: str) -> str:
    # a label with a newline would break the table's rows
    return text.replace("\r", "\\r").replace("\n", "\\n")
