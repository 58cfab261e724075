"""Which parameters the backward passes since the last zero_grad() reached, so that an
optimizer made with touched_only=True visits those instead of all of them.

On MNIST about 80% of the first layer's weights sit behind black pixels: backward()
passes them nothing, their grads stay 0, and plain SGD leaves them alone, yet a full
step() and zero_grad() still walk all 238,510 parameters. Here the engine tells each
touched-only optimizer which nodes every backward pass walks (engine.watch_backward),
and those nodes are turned into runs of the optimizer's own parameter list:

    unit (view, positions, base):  view[k] is params[base + k] for every k in positions

Walking the units is exact when every non-zero .grad came from a backward pass made
since the last zero_grad(): it visits every such parameter, and none twice. A .grad
set by hand on a parameter no pass reached is not seen (use touched_only=False).
No per-parameter table is built (an MNIST net is already near its memory budget).
Instead each parameter carries its optimizer's tag in the `_index` slot, which a leaf
does not otherwise use, so a node's parameters are picked out of its parents in C;
their run is then found in the list by identity, guessing that it follows the one
found before (a layer's neurons come in parameter order), and cached where the tuple
is a neuron's own. Two touched-only optimizers over one parameter walk everything.
"""
from __future__ import annotations

import itertools
import weakref
from itertools import count, groupby
from operator import attrgetter, is_, itemgetter, sub
from typing import Dict, List, Optional, Sequence, Tuple

from .engine import _NO_GRAD, Value, watch_backward

Unit = Tuple[Sequence[Value], Sequence[int], int]   # (view, positions, base), as above

_MAX_PASSES = 1024       # backward passes kept between zero_grad() calls; past it, walk all
_MAX_CACHED = 1 << 16    # parent tuples whose place in the list is remembered
_first = itemgetter(0)
_positions = itemgetter(3)
_tag_of = attrgetter("_index")
_next_tag = itertools.count(-2, -1).__next__   # -1 is _NO_GRAD, 0 an untagged leaf
_owners: Dict[int, "weakref.ref[ReachedParams]"] = {}


class ReachedParams:
    """The bookkeeping of one touched-only optimizer (see the module docstring)."""

    def __init__(self, params: List[Value]) -> None:
        self.params = params
        self.passes: Optional[List[Sequence[Value]]] = None   # None: not known, walk all
        self.disabled = False      # True: every step walks all parameters, for good
        self._units: Optional[List[Unit]] = None
        self._places: dict = {}    # id(all-leaf tuple) -> (tuple, its blocks in params)
        self._cursor = 0           # where the next tuple is guessed to start in params
        self._scanned = 0          # list entries compared by _find, in this _find_units
        self._foreign: dict = {}          # id(tuple) -> tuple with none of ours, seen lately
        self._foreign_before: dict = {}
        self.tag = _next_tag()
        tags = set(map(_tag_of, params))
        rivals = [_owners[t]() for t in tags if t in _owners]
        rivals = [r for r in rivals if r is not None and not r.disabled]
        if rivals or _NO_GRAD in tags:
            # a parameter another touched-only optimizer holds (its tag would be lost),
            # or a no_grad() result (whose tag says why backward() on it fails)
            for r in rivals:
                r.disable()
            self.disable()
            return
        for p in params:
            p._index = self.tag
        for dead in [t for t, r in _owners.items() if r() is None]:
            del _owners[dead]
        _owners[self.tag] = weakref.ref(self)
        watch_backward(self)

    def disable(self) -> None:
        self.disabled, self.passes, self._units = True, None, None

    def reached(self, nodes: Sequence[Value]) -> None:
        """Called by the engine with the nodes of each backward pass (a leaf: itself)."""
        passes = self.passes
        if passes is None:
            return
        if len(passes) >= _MAX_PASSES:   # backward() called on and on without zero_grad()
            self.passes = None
        else:
            passes.append(nodes)
        self._units = None

    def cleared(self) -> None:
        """zero_grad() just set every grad that may have been non-zero to 0."""
        if not self.disabled:
            self.passes, self._units = [], None
            self._foreign_before, self._foreign = self._foreign, {}

    def units(self) -> Optional[List[Unit]]:
        """The parameters to visit, as units; None when walking all of them is needed
        (nothing known since construction, too many passes) or cheaper."""
        if self.passes is None:
            return None
        if self._units is None:
            self._units = self._find_units()
        return self._units

    def _find_units(self) -> Optional[List[Unit]]:
        units, params = [], self.params
        n = len(params)
        self._scanned = 0
        for nodes in self.passes:
            for node in nodes:
                parents = node._parents
                if not parents:                   # backward() on a leaf: it is reached
                    parents, sparse = (node,), None
                    blocks = self._blocks(parents)
                else:
                    g = node.grad
                    if type(g) is float and g == 0.0:
                        continue                  # it passed nothing to its parents
                    sparse = node._op.sparse
                    blocks = self._blocks_of(node)
                if blocks is None:
                    return None                   # finding the runs costs more than a full walk
                for lo, hi, base in blocks:
                    if sparse is None:
                        positions: Sequence[int] = range(lo, hi)
                    elif lo == 0 and hi == len(parents):
                        positions = sparse[0]     # only the non-zero slots, ascending
                    else:
                        positions = [s for s in sparse[0] if lo <= s < hi]
                    if positions:
                        units.append((base + positions[0], base + positions[-1],
                                      parents, positions, base))
        if sum(map(len, map(_positions, units))) > n // 2:
            return None
        units.sort(key=_first)
        if any(b[0] <= a[1] for a, b in zip(units, units[1:])):
            # a parameter reached twice: minibatches, shared weights. Visit each once.
            return [(params, sorted({base + k for _, _, _, positions, base in units
                                     for k in positions}), 0)]
        return [(view, positions, base) for _, _, view, positions, base in units]

    def _blocks_of(self, node: Value) -> Optional[list]:
        """_blocks of an interior node's parents ([] when none is ours), from the cache
        when they are one of our neurons seen before."""
        parents = node._parents
        leaf_parents = node._op.leaf_parents
        if not leaf_parents and not _holds(parents, self.tag):
            return []        # none of ours (e.g. an activation): no id() of a new tuple
        place = self._places.get(id(parents))
        if place is not None and place[0] is parents:
            blocks = place[1]
            if blocks:
                self._cursor = blocks[-1][1] + blocks[-1][2]
            return blocks
        if leaf_parents and self._foreign_tuple(parents):
            return []
        return self._blocks(parents)

    def fused_plan(self, nodes: Sequence[Value]) -> Optional[Tuple[Dict[int, tuple], List[Unit]]]:
        """For SGD.backward_and_step, before the backward pass over `nodes`, when every
        grad is 0 (just cleared): ({id: parents} of the nodes with leaf parents, all
        of them ours, whose parameters no other node uses; the units of our parameters
        that the other nodes use). None when a parameter is used twice (minibatches,
        shared weights: its update must wait for the sum) or nothing is known."""
        if self.passes != []:
            return None                       # grads may be non-zero: no shortcut
        self._scanned = 0
        owned: Dict[int, tuple] = {}
        rest: List[Unit] = []
        spans = []
        for node in nodes:
            blocks = self._blocks_of(node)
            if blocks is None:
                return None
            parents = node._parents
            whole = node._op.leaf_parents and sum(hi - lo for lo, hi, _ in blocks) == len(parents)
            if whole:
                owned[id(parents)] = parents   # (twice in one graph: its spans overlap, below)
            for lo, hi, base in blocks:
                spans.append((base + lo, base + hi - 1))
                if not whole:
                    rest.append((parents, range(lo, hi), base))
        spans.sort()
        if any(b[0] <= a[1] for a, b in zip(spans, spans[1:])):
            return None
        return owned, rest

    def _foreign_tuple(self, parents: Tuple[Value, ...]) -> bool:
        """Whether none of `parents` is ours, remembered for tuples seen since the last
        zero_grad() or the one before (so another model's neurons cost one look each,
        and a model that is gone is not kept alive)."""
        key = id(parents)
        if self._foreign.get(key) is parents:
            return True
        if self._foreign_before.get(key) is parents or not _holds(parents, self.tag):
            self._foreign[key] = parents
            return True
        return False

    def _blocks(self, parents: Tuple[Value, ...]) -> Optional[list]:
        """[(lo, hi, base)]: parents[lo:hi] is params[base + lo:base + hi], for every
        parent that is one of the parameters (a tuple not seen before). None once
        looking has cost more than a few full walks."""
        tag = self.tag
        mine = [i for i, p in enumerate(parents) if p._index == tag]   # (faster than map on both)
        blocks, params, start = [], self.params, 0
        # runs of side-by-side slots: along a run, slot - (its rank in mine) is constant
        for _, run in groupby(map(sub, mine, count())):
            lo = mine[start]
            start += len(list(run))
            hi = mine[start - 1] + 1
            while lo < hi:
                j = self._find(parents[lo])
                if j is None:      # a tag left by an optimizer this one replaced
                    if self._scanned > 4 * len(params):   # the cost of a few full walks
                        return None
                    lo += 1
                    continue
                k = _matching(parents, lo, hi, params, j)
                blocks.append((lo, lo + k, j - lo))
                self._cursor = j + k
                lo += k
        if len(mine) == len(parents):   # a neuron's own parameters: the same tuple every call
            if len(self._places) >= _MAX_CACHED:
                self._places.clear()
            self._places[id(parents)] = (parents, blocks)
        return blocks

    def _find(self, leaf: Value) -> Optional[int]:
        """The index of `leaf` in params (by identity), or None."""
        params, c = self.params, self._cursor
        if c < len(params) and params[c] is leaf:
            return c
        self._scanned += len(params)
        try:
            return params.index(leaf)    # Values compare by identity here (no __eq__)
        except ValueError:
            return None


def _holds(parents: Tuple[Value, ...], tag: int) -> bool:
    """Whether a parent carries `tag`. (A plain loop: PyPy runs map() chains slowly.)"""
    for p in parents:
        if p._index == tag:
            return True
    return False


def _matching(parents: Sequence[Value], lo: int, hi: int, params: List[Value], j: int) -> int:
    """How many of parents[lo:hi] are params[j:], in order (at least 1)."""
    if all(map(is_, parents[lo:hi], params[j:j + hi - lo])):
        return min(hi - lo, len(params) - j)
    k = 1
    while lo + k < hi and j + k < len(params) and parents[lo + k] is params[j + k]:
        k += 1
    return k
