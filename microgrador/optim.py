"""Optimizers with PyTorch's interface: `opt.zero_grad()`, `loss.backward()`, `opt.step()`.

    opt = SGD(model.parameters(), lr=0.05, momentum=0.9)
    for x, t in data:
        opt.zero_grad()
        cross_entropy(model(x), t).backward()
        opt.step()

The update rules are PyTorch's (torch.optim.SGD and torch.optim.Adam), so numbers
carry over. `lr` is a plain attribute: change it between steps for a schedule.

touched_only=True makes step() and zero_grad() visit only the parameters that the
backward() calls since the last zero_grad() reached (touched.py): on MNIST, where
most pixels are 0, that is about a fifth of the first layer. It gives the same
numbers as visiting all of them as long as every .grad comes from backward():

- plain SGD: a parameter backward() did not reach has grad 0 and does not move.
- momentum, Adam: their buffers keep moving a parameter after its grad went back to 0,
  so step() visits every parameter reached since construction, and all of them once
  that is more than half (a parameter never reached has buffers 0 and does not move).
- weight decay moves every parameter: step() walks all of them.
- the first zero_grad() walks all of them, and so does a step() before it.
- backward_and_step(loss) (what training.train calls) is loss.backward() then
  step_and_zero_grad(); plain SGD steps the first layer's weights during the backward
  sweep itself, with the same floats (SGD.backward_and_step says when).
A .grad you set by hand on a parameter that no backward() reached is not applied, nor
cleared, and backward_and_step does not see one set on a first-layer weight after the
last zero_grad(): keep touched_only=False (the default) for that.
"""
from __future__ import annotations

import math
from typing import Iterable, List, Optional, Sequence, Tuple

from .engine import Value, _backward, _interior, as_float
from .touched import ReachedParams


class Optimizer:
    """Holds the parameters (a list of leaf Values) and clears their gradients."""

    def __init__(self, params: Iterable[Value], lr: float, touched_only: bool = False) -> None:
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        for i, p in enumerate(params):
            if not isinstance(p, Value):
                raise TypeError(f"{type(self).__name__}: parameter {i} is a "
                                f"{type(p).__name__}, not a Value")
        if len(set(map(id, params))) != len(params):
            raise ValueError(f"{type(self).__name__}: a parameter appears twice in the list, "
                             f"so it would be updated twice per step")
        self.params: List[Value] = params
        self.lr = _non_negative(lr, "lr")
        self.steps = 0
        self.touched_only = bool(touched_only)
        # an interior "parameter" gets its grad from backward() without being a leaf
        # parent of any node: only full walks see it
        use = self.touched_only and not any(map(_interior, params))
        self._reached: Optional[ReachedParams] = ReachedParams(params) if use else None
        if self._reached is not None and self._reached.disabled:
            use, self._reached = False, None
        self._ever: Optional[bytearray] = bytearray(len(params)) if use else None
        self._ever_list: List[int] = []   # momentum, Adam: every parameter reached so far

    def zero_grad(self) -> None:
        """Set every parameter's .grad to 0: leaves accumulate across backward() calls.
        (touched_only: only the parameters reached since the last zero_grad.)"""
        units = self._units()
        if units is None:
            for p in self.params:
                p.grad = 0.0
        else:
            for view, positions, _ in units:
                for k in positions:
                    view[k].grad = 0.0
        if self._reached is not None:
            self._reached.cleared()

    def _units(self):
        """touched_only: the parameters reached since the last zero_grad(), as
        touched.py's units; None: walk all of them."""
        return None if self._reached is None else self._reached.units()

    def _stateful_indices(self) -> Optional[List[int]]:
        """For rules with buffers (momentum, Adam): the indices of every parameter reached
        since construction, or None for all of them. Once a step has walked all of them
        with non-zero gradients unknown to us, it is all of them from then on."""
        units = self._units() if self._ever is not None else None
        if units is None:
            self._ever = None
            return None
        ever, seen = self._ever_list, self._ever
        for _, positions, base in units:
            for k in positions:
                if not seen[base + k]:
                    seen[base + k] = 1
                    ever.append(base + k)
        if len(ever) > len(self.params) // 2:
            self._ever = None         # walking all of them is cheaper now
            return None
        return ever

    def step(self) -> None:
        """One update of every parameter from its .grad, a float (backward() without
        create_graph)."""
        try:
            self._update()
        except TypeError:
            self._check_grads()   # the likely cause, said plainly
            raise

    def step_and_zero_grad(self) -> None:
        """step(), then zero_grad(): what a training loop does between two backward
        passes (training.train calls it). Plain SGD does both in one walk, so each
        parameter is fetched from memory once instead of twice; the result is the same
        floats."""
        self.step()
        self.zero_grad()

    def backward_and_step(self, loss: Value, grad: float = 1.0) -> None:
        """loss.backward(grad), then step_and_zero_grad(): a training step after the
        forward pass (training.train calls it for per-sample steps). Plain SGD with
        touched_only=True does it in one sweep where it can; see SGD.backward_and_step."""
        loss.backward(grad)
        self.step_and_zero_grad()

    def _check_grads(self) -> None:
        """Refuse Value gradients (their arithmetic would quietly turn .data into Values)."""
        for i, p in enumerate(self.params):
            if isinstance(p.grad, Value):
                raise TypeError(
                    f"{type(self).__name__}.step(): parameter {i} has a Value as its .grad, as "
                    f"backward(create_graph=True) leaves it; optimizers update from float "
                    f"gradients, so train with backward() (or set p.grad = p.grad.data first)")

    def _update(self) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self._options()
                         + [("touched_only", True)] * self.touched_only)
        return f"{type(self).__name__}({len(self.params):,} parameters, {opts})"

    def _options(self) -> List[Tuple[str, object]]:
        return [("lr", self.lr)]


class SGD(Optimizer):
    """Stochastic gradient descent, with PyTorch's momentum, Nesterov and weight decay:

        g = grad + weight_decay * w
        b = g                      (first step)
        b = momentum * b + (1 - dampening) * g   (later steps)
        g = g + momentum * b       if nesterov, else g = b
        w = w - lr * g

    The course form  v <- gamma v + alpha g;  W <- W - v  is SGD(lr=alpha,
    momentum=gamma): its velocity is v = alpha * b at every step (both start from
    v = alpha g), so the weights agree exactly as long as lr stays fixed. (If lr
    changes, PyTorch's form applies the new lr to the whole buffer at once, the
    course form only to new gradients.)
    """

    def __init__(self, params: Iterable[Value], lr: float = 0.01, momentum: float = 0.0,
                 dampening: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0,
                 touched_only: bool = False) -> None:
        super().__init__(params, lr, touched_only)
        self.momentum = _non_negative(momentum, "momentum")
        self.dampening = as_float(dampening, "dampening")
        self.weight_decay = _non_negative(weight_decay, "weight_decay")
        if nesterov and (self.momentum == 0.0 or self.dampening != 0.0):
            raise ValueError("Nesterov momentum needs momentum > 0 and dampening = 0 (as in PyTorch)")
        self.nesterov = bool(nesterov)
        self.buffers: List[float] = []   # one momentum buffer per parameter, after step 1

    def _update(self) -> None:
        lr, params = self.lr, self.params
        if self.momentum == 0.0 and self.weight_decay == 0.0:
            units = self._units()
            if units is None:
                for p in params:      # the hot path: plain SGD (`if g` refuses a Value grad)
                    g = p.grad
                    if g:             # most MNIST pixels are 0, and so are their weights' grads
                        p.data -= lr * g
            else:
                _step_units(units, lr, clear=False)
            self.steps += 1
            return
        self._check_grads()
        if self.momentum == 0.0:      # weight decay only
            self._ever = None         # every parameter moves: buffers or not, walk all
            wd = self.weight_decay
            for p in params:
                p.data -= lr * (p.grad + wd * p.data)
            self.steps += 1
            return
        mu, keep, wd, bufs = self.momentum, 1.0 - self.dampening, self.weight_decay, self.buffers
        if wd:
            self._ever = None
        indices = self._stateful_indices()
        if indices is None:
            indices = range(len(params))
        first = not bufs   # first step: the buffer starts as the gradient itself
        if first:
            bufs.extend([0.0] * len(params))   # (a parameter never reached: grad 0, buffer 0)
        nesterov = self.nesterov
        for i in indices:
            p = params[i]
            g = p.grad + wd * p.data
            bufs[i] = b = g if first else mu * bufs[i] + keep * g
            p.data -= lr * (g + mu * b if nesterov else b)
        self.steps += 1

    def _plain(self) -> bool:
        """Whether the update is w <- w - lr * grad and nothing else."""
        # (a subclass may have its own rule)
        return not (self.momentum or self.weight_decay) and type(self) is SGD

    def step_and_zero_grad(self) -> None:
        if not self._plain():
            return super().step_and_zero_grad()
        self._step_and_clear(self._units())

    def _step_and_clear(self, units) -> None:
        """Plain SGD with each grad cleared once stepped: the parameters of `units`,
        or all of them for None."""
        lr = self.lr
        try:
            if units is None:
                for p in self.params:
                    g = p.grad
                    if g:
                        p.data -= lr * g
                    p.grad = 0.0   # the same Value just read: no second trip to memory
            else:
                _step_units(units, lr)
        except TypeError:
            self._check_grads()
            raise
        self.steps += 1
        if self._reached is not None:
            self._reached.cleared()

    def backward_and_step(self, loss: Value, grad: float = 1.0) -> None:
        """loss.backward(grad), then step_and_zero_grad(), with the same floats, in one
        sweep where it can: with touched_only=True and every .grad 0 before (just
        cleared), a node whose parents are all parameters (a first-layer neuron) and
        are used by no other node would leave each of them the grad c = g * d of this
        one pass, read once by the step and cleared; here the weight takes its step

            w <- w - lr * c

        the moment the node passes c on, and its .grad stays 0. On MNIST that is
        235,500 of the 238,510 weights, visited once after the forward pass instead of
        twice (by backward(), then by the step). The other parameters get their .grad
        from the sweep and are then stepped and cleared. Otherwise (momentum, Adam,
        a parameter two nodes use, anomaly mode, ...) it is the two calls."""
        reached = self._reached
        if reached is None or not self._plain() or not isinstance(loss, Value) or loss.is_leaf:
            return super().backward_and_step(loss, grad)
        lr = self.lr
        plan: list = []      # fused_plan's (owned, rest), once backward() knows the order

        def take(node: Value, g: float) -> bool:
            parents = node._parents
            if plan[0][0].get(id(parents)) is not parents:
                return False
            slots, partials = node._op.sparse or (range(len(parents)), node._partials)
            for i, d in zip(slots, partials):
                c = g * d
                if c:                 # what step() does with a grad of 0.0 + c
                    p = parents[i]
                    p.data -= lr * c
            return True

        def taker(order: List[Value]):
            plan.append(reached.fused_plan(order))
            return None if plan[0] is None else take

        _backward(loss, grad, False, taker)
        if not plan or plan[0] is None:
            self.step_and_zero_grad()   # (a parameter used twice, anomaly mode, ...)
        else:
            self._step_and_clear(plan[0][1])

    def _options(self):
        opts = [("lr", self.lr)]
        if self.momentum:
            opts += [("momentum", self.momentum)]
            if self.dampening:
                opts += [("dampening", self.dampening)]
            if self.nesterov:
                opts += [("nesterov", True)]
        if self.weight_decay:
            opts += [("weight_decay", self.weight_decay)]
        return opts


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) with PyTorch's defaults and update, at step t:

        g = grad + weight_decay * w                       (L2 penalty, as torch.optim.Adam)
        m = beta1 m + (1 - beta1) g
        v = beta2 v + (1 - beta2) g^2
        w = w - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    which is lr * m_hat / (sqrt(v_hat) + eps) with the bias-corrected m_hat, v_hat.
    """

    def __init__(self, params: Iterable[Value], lr: float = 1e-3,
                 betas: Sequence[float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, touched_only: bool = False) -> None:
        super().__init__(params, lr, touched_only)
        if len(betas) != 2:
            raise ValueError(f"Adam betas is a pair (beta1, beta2), got {betas!r}")
        b1, b2 = (as_float(b, "Adam betas") for b in betas)
        if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
            raise ValueError(f"Adam betas must be in [0, 1), got {betas!r}")
        self.betas = (b1, b2)
        self.eps = _non_negative(eps, "eps")
        self.weight_decay = _non_negative(weight_decay, "weight_decay")
        n = len(self.params)
        self.m = [0.0] * n    # first moment (mean of g)
        self.v = [0.0] * n    # second moment (mean of g^2)

    def _update(self) -> None:
        self._check_grads()
        self.steps += 1
        t = self.steps
        b1, b2 = self.betas
        step_size = self.lr / (1.0 - b1 ** t)
        root_correction = math.sqrt(1.0 - b2 ** t)
        eps, wd, m, v, params = self.eps, self.weight_decay, self.m, self.v, self.params
        if wd:
            self._ever = None   # the decay moves every parameter
        indices = self._stateful_indices()
        for i in range(len(params)) if indices is None else indices:
            p = params[i]
            g = p.grad + wd * p.data if wd else p.grad
            m[i] = mi = b1 * m[i] + (1.0 - b1) * g
            v[i] = vi = b2 * v[i] + (1.0 - b2) * g * g
            p.data -= step_size * mi / (math.sqrt(vi) / root_correction + eps)

    def _options(self):
        opts = [("lr", self.lr), ("betas", self.betas), ("eps", self.eps)]
        if self.weight_decay:
            opts += [("weight_decay", self.weight_decay)]
        return opts


def _step_units(units, lr: float, clear: bool = True) -> None:
    """Plain SGD on the parameters of touched.py's units; with `clear`, each grad is
    cleared once stepped (the same Value just read: no second trip to memory)."""
    for view, positions, _ in units:
        for k in positions:
            p = view[k]
            g = p.grad
            if g:
                p.data -= lr * g
            if clear:
                p.grad = 0.0


def _non_negative(x: object, what: str) -> float:
    value = as_float(x, what)
    if value < 0:
        raise ValueError(f"{what} must be >= 0, got {value!r}")
    return value
