"""The network a backprop assignment asks for, its backward rules written out, and a
catalog of the mistakes students make in them.

`check.check_backprop` takes the right numbers from the engine. This module says
what a *wrong* backward pass would give: `simulate` runs the backward rules in
backprop's order from the right forward values, with one rule replaced by a
mistake, so that `explain` can find the mistake that reproduces a student's
numbers exactly. With no mistake, `simulate` gives the engine's numbers (a test
checks that), but it is never the reference.

The catalog (`CATALOG`, name -> what it is):
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Set, Tuple

from . import ops

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu")
LAYOUTS = ("in_out", "out_in")
LEAKY_SLOPE = 0.01       # microgrador's and PyTorch's default

CATALOG = {
    "added_not_multiplied": "the local derivative added instead of multiplied "
                            "(dz = da + f'(z), or dW[i][j] = a[i] + dz[j])",
    "tanh_derivative_for_sigmoid": "tanh's derivative 1 - a**2 used for a sigmoid",
    "sigmoid_derivative_for_tanh": "the sigmoid's derivative a * (1 - a) used for tanh",
    "derivative_at_z": "the derivative written in the output but evaluated at the input "
                       "(z * (1 - z) for a sigmoid, 1 - z**2 for tanh)",
    "derivative_of_wrong_layer": "the activation derivative of another layer of the same size",
    "derivative_applied_twice": "the activation derivative applied twice (da * f'(z)**2)",
    "derivative_missing": "the activation's derivative left out (dz = da)",
    "softmax_as_elementwise": "the softmax differentiated as if it acted on each output "
                              "alone: dz = dy * y * (1 - y), its full Jacobian ignored",
    "transposed": "a missing or extra transpose",
    "t_minus_y": "t - y instead of y - t: the sign of the output error flipped",
    "dy_is_dz": "dy given as y - onehot(t), which is dL/dz of the last layer, not dL/dy",
    "extra_1_over_n": "an extra factor 1/n",
    "pre_activation_input": "the weight gradient built from the previous layer's z instead of "
                            "its activation a",
    "bias_summed_over_units": "the bias gradient summed over the units (db = sum(dz)); for one "
                              "sample there is nothing to sum: db = dz. (In batch code the sum "
                              "runs over the samples, axis 0, never over the units; NumPy's "
                              "dz.sum(axis=0) on one sample's vector gives this mistake.)",
    "bias_before_derivative": "the bias gradient taken before the activation's derivative: "
                              "db = da (db = dy for the output layer) instead of dz",
}
if __doc__:      # None under python -OO
    __doc__ += "\n".join(f"    {name}: {text}" for name, text in CATALOG.items())


class Net:
    """`sizes[0]` inputs, `len(sizes) - 1` fully connected layers, `hidden` on every
    hidden layer, softmax and -log y[t] on top; names and rules of its quantities."""

    def __init__(self, sizes: Sequence[int], hidden: str = "sigmoid", layout: str = "in_out") -> None:
        sizes = list(sizes)
        if len(sizes) < 2 or any(type(n) is not int or n < 1 for n in sizes):
            raise ValueError(f"sizes must be at least two positive ints (inputs, ..., outputs), "
                             f"got {sizes!r}")
        if sizes[-1] < 2:
            raise ValueError(f"the softmax output needs at least 2 classes, got sizes {sizes!r}")
        if hidden not in ACTIVATIONS:
            raise ValueError(f"hidden must be one of {', '.join(ACTIVATIONS)}, got {hidden!r}")
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
        self.sizes, self.hidden, self.layout = sizes, hidden, layout
        self.L = L = len(sizes) - 1
        forward = [n for l in range(1, L) for n in (f"z{l}", f"a{l}")] + [f"z{L}", "y", "loss"]
        backward = ["dy"]
        for l in range(L, 0, -1):
            if l < L:
                backward += [f"da{l}"]
            backward += [f"dz{l}", f"dW{l}", f"db{l}"]
        self.forward_names, self.backward_names = forward, backward
        self.names = forward + backward

    # -- the activation ----------------------------------------------------------------------
    def activate(self, z):
        """hidden(z) for a float or a Value."""
        if self.hidden == "leaky_relu":
            return ops.leaky_relu(z, LEAKY_SLOPE)
        return getattr(ops, self.hidden)(z)

    def slope(self, z: float, a: float) -> float:
        """f'(z) given z and a = f(z); at relu's kink 0, leaky relu's `slope`, as the engine."""
        h = self.hidden
        if h == "sigmoid":
            return a * (1 - a)
        if h == "tanh":
            return 1 - a * a
        return 1.0 if z > 0 else (0.0 if h == "relu" else LEAKY_SLOPE)

    def from_in_out(self, m: List[List[float]]) -> List[List[float]]:
        """A weight matrix W[i][j] (unit i -> unit j) in this network's layout."""
        return m if self.layout == "in_out" else transpose(m)

    # -- what the hint says ------------------------------------------------------------------
    def inputs_of(self, name: str) -> List[str]:
        """The quantities `name` is computed from (a0 is x)."""
        kind, l = split(name)
        prev = "x" if l == 1 else f"a{l - 1}"
        return {"z": [prev, f"W{l}", f"b{l}"], "a": [f"z{l}"], "y": [f"z{self.L}"], "loss": ["y", "t"],
                "dy": ["y", "t"], "dW": [f"dz{l}", prev], "db": [f"dz{l}"],
                "da": [f"dz{l + 1}", f"W{l + 1}"],
                "dz": ["dy", "y"] if l == self.L else [f"da{l}", f"a{l}" if self.hidden in
                                                       ("sigmoid", "tanh") else f"z{l}"]}[kind]

    def formula(self, name: str) -> str:
        """The rule that computes `name`, as a formula."""
        kind, l = split(name)
        prev = "x" if l == 1 else f"a{l - 1}"
        io = self.layout == "in_out"
        if kind == "z":
            return f"z{l} = {prev} @ W{l} + b{l}" if io else f"z{l} = W{l} @ {prev} + b{l}"
        if kind == "a":
            return f"a{l} = {self.hidden}(z{l})"
        if kind == "y":
            return f"y = softmax(z{self.L})"
        if kind == "loss":
            return "loss = -log(y[t])"
        if kind == "dy":
            return "dy[i] = -1 / y[t] for i = t and 0 otherwise (the derivative of -log y[t])"
        if kind == "dz" and l == self.L:
            return (f"dz{l} = y * (dy - sum(y * dy)) (the softmax's Jacobian), which is "
                    f"y - onehot(t)")
        if kind == "dz":
            return {"sigmoid": f"dz{l} = da{l} * a{l} * (1 - a{l})",
                    "tanh": f"dz{l} = da{l} * (1 - a{l}**2)",
                    "relu": f"dz{l} = da{l} * (z{l} > 0)",
                    "leaky_relu": f"dz{l} = da{l} * (1 if z{l} > 0 else {LEAKY_SLOPE})"}[self.hidden]
        if kind == "dW":
            return (f"dW{l}[i][j] = {prev}[i] * dz{l}[j], the outer product of {prev} and dz{l}" if io
                    else f"dW{l}[j][i] = dz{l}[j] * {prev}[i], the outer product of dz{l} and {prev}")
        if kind == "db":
            return f"db{l} = dz{l}"
        return (f"da{l} = W{l + 1} @ dz{l + 1}, i.e. da{l}[i] = sum_j W{l + 1}[i][j] * dz{l + 1}[j]"
                if io else
                f"da{l} = W{l + 1}.T @ dz{l + 1}, i.e. da{l}[i] = sum_j W{l + 1}[j][i] * dz{l + 1}[j]")

    # -- the backward rules on plain numbers --------------------------------------------------
    def rule(self, name: str, s: Dict[str, Any]) -> Any:
        """The right value of backward quantity `name` from the values in `s`."""
        kind, l = split(name)
        if kind == "dy":
            return [-1 / y if i == s["t"] else 0.0 for i, y in enumerate(s["y"])]
        if kind == "dz" and l == self.L:
            dy, y = s["dy"], s["y"]
            inner = sum(a * b for a, b in zip(y, dy))
            return [yi * (di - inner) for yi, di in zip(y, dy)]
        if kind == "dz":
            return [d * self.slope(z, a) for d, z, a in zip(s[f"da{l}"], s[f"z{l}"], s[f"a{l}"])]
        if kind == "dW":
            return self.outer(s[f"a{l - 1}"], s[f"dz{l}"])
        if kind == "db":
            return list(s[f"dz{l}"])
        W, dz = s["W"][l + 1], s[f"dz{l + 1}"]
        if self.layout == "out_in":
            W = transpose(W)
        return [sum(w * d for w, d in zip(row, dz)) for row in W]

    def outer(self, a: Sequence[float], dz: Sequence[float]) -> List[List[float]]:
        """dW for input a and error dz, in this network's layout."""
        m = [[ai * dj for dj in dz] for ai in a]
        return self.from_in_out(m)


def split(name: str) -> Tuple[str, int]:
    """"dz12" -> ("dz", 12); "y" -> ("y", 0)."""
    kind = name.rstrip("0123456789")
    return kind, int(name[len(kind):] or 0)


def transpose(m: List[List[float]]) -> List[List[float]]:
    return [list(col) for col in zip(*m)]


def scale(v: Any, k: float) -> Any:
    return [scale(e, k) for e in v] if isinstance(v, list) else v * k


# --- the catalog ----------------------------------------------------------------------------
@dataclass
class Mistake:
    """One way to get quantity `at` wrong: `name` in CATALOG, `text` what it is here,
    `rule(s)` the wrong values (or a tuple of the forms they may take)."""
    name: str
    at: str
    text: str
    rule: Callable[[Dict[str, Any]], Any]


def candidates(net: Net, name: str) -> Iterator[Mistake]:
    """The catalog's mistakes that can be made computing backward quantity `name`."""
    kind, l = split(name)
    L, h = net.L, net.hidden
    prev = "x" if l == 1 else f"a{l - 1}"
    if kind == "dy":
        yield Mistake("dy_is_dz", name, CATALOG["dy_is_dz"],
                      lambda s: [y - (i == s["t"]) for i, y in enumerate(s["y"])])
        return
    if kind == "dz" and l == L:
        yield Mistake("t_minus_y", name, f"dz{L} = onehot(t) - y instead of y - onehot(t)",
                      lambda s: [(i == s["t"]) - y for i, y in enumerate(s["y"])])
        yield Mistake("softmax_as_elementwise", name, f"dz{L} = dy * y * (1 - y): "
                      + CATALOG["softmax_as_elementwise"].split(": ")[0],
                      lambda s: [d * y * (1 - y) for d, y in zip(s["dy"], s["y"])])
        yield Mistake("derivative_missing", name, f"dz{L} = dy: the softmax's derivative left out",
                      lambda s: list(s["dy"]))
        n = net.sizes[L]
        yield Mistake("extra_1_over_n", name, f"dz{L} = (y - onehot(t)) / {n}: an extra factor "
                      f"1/{n} (1 / the number of outputs)", lambda s: scale(net.rule(name, s), 1 / n))
        return
    if kind == "dz":
        da, a, z = f"da{l}", f"a{l}", f"z{l}"
        d = lambda s: zip(s[da], s[z], s[a])  # noqa: E731
        yield Mistake("added_not_multiplied", name,
                      f"dz{l} = da{l} + {net.formula(name).split(' * ', 1)[1]}: the local "
                      f"derivative added to da{l} instead of multiplied",
                      lambda s: [g + net.slope(zz, aa) for g, zz, aa in d(s)])
        if h == "sigmoid":
            yield Mistake("tanh_derivative_for_sigmoid", name,
                          f"dz{l} = da{l} * (1 - a{l}**2): tanh's derivative used for a sigmoid",
                          lambda s: [g * (1 - aa * aa) for g, zz, aa in d(s)])
        if h == "tanh":
            yield Mistake("sigmoid_derivative_for_tanh", name,
                          f"dz{l} = da{l} * a{l} * (1 - a{l}): the sigmoid's derivative used for tanh",
                          lambda s: [g * aa * (1 - aa) for g, zz, aa in d(s)])
        if h in ("sigmoid", "tanh"):
            at_z = {"sigmoid": f"z{l} * (1 - z{l})", "tanh": f"1 - z{l}**2"}[h]
            yield Mistake("derivative_at_z", name, f"dz{l} = da{l} * {at_z}: the derivative "
                          f"{net.formula(name).split(' * ', 1)[1]} written with z{l} in place "
                          f"of a{l}",
                          lambda s: [g * net.slope(zz, zz) for g, zz, aa in d(s)])
        for m in range(0, L + 1):        # another layer of the same width; 0 is x, L is y
            if m == l or net.sizes[m] != net.sizes[l]:
                continue
            other = "x" if m == 0 else "y" if m == L else f"a{m}"

            def wrong_layer(s, m=m):
                av = s["x"] if m == 0 else s["y"] if m == L else s[f"a{m}"]
                zv = s["x"] if m == 0 else s[f"z{m}"]
                return [g * net.slope(zz, aa) for g, zz, aa in zip(s[da], zv, av)]
            yield Mistake("derivative_of_wrong_layer", name,
                          f"dz{l} = da{l} * f'({other}): the activation derivative of "
                          f"{other} used for layer {l}", wrong_layer)
        yield Mistake("derivative_applied_twice", name, f"dz{l} = da{l} * f'(z{l})**2: the "
                      f"activation derivative applied twice",
                      lambda s: [g * net.slope(zz, aa) ** 2 for g, zz, aa in d(s)])
        yield Mistake("derivative_missing", name, f"dz{l} = da{l}: the activation's derivative "
                      f"left out", lambda s: list(s[da]))
    if kind == "dW":
        yield Mistake("transposed", name, f"dW{l} is the transpose of the right matrix: a missing "
                      f"or extra transpose (the outer product taken in the wrong order)",
                      lambda s: transpose(net.rule(name, s)))
        yield Mistake("added_not_multiplied", name, f"dW{l} built from {prev}[i] + dz{l}[j] "
                      f"instead of {prev}[i] * dz{l}[j]: the local derivative added instead "
                      f"of multiplied",
                      lambda s: net.from_in_out([[ai + dj for dj in s[f"dz{l}"]]
                                                 for ai in s[f"a{l - 1}"]]))
        if l > 1:
            yield Mistake("pre_activation_input", name, f"dW{l} from z{l - 1} instead of "
                          f"a{l - 1}: the outer product of z{l - 1} and dz{l}",
                          lambda s: net.outer(s[f"z{l - 1}"], s[f"dz{l}"]))
    if kind == "db":
        def summed(s):
            total = sum(s[f"dz{l}"])
            return (total, [total] * net.sizes[l])
        yield Mistake("bias_summed_over_units", name, f"db{l} = sum(dz{l}), one number: "
                      + CATALOG["bias_summed_over_units"].split("; ", 1)[1], summed)
        before = "dy" if l == L else f"da{l}"
        yield Mistake("bias_before_derivative", name, f"db{l} = {before} instead of dz{l}: the "
                      f"bias gradient taken before the activation's derivative",
                      lambda s: list(s[before]))
    if kind == "da":
        n = net.sizes[l]
        if net.sizes[l + 1] == n:   # only a square W fits both ways round
            right = "W{0} @ dz{0}".format(l + 1) if net.layout == "in_out" else \
                "W{0}.T @ dz{0}".format(l + 1)
            wrong = "W{0}.T @ dz{0}".format(l + 1) if net.layout == "in_out" else \
                "W{0} @ dz{0}".format(l + 1)
            yield Mistake("transposed", name, f"da{l} = {wrong} instead of {right}: a missing "
                          f"or extra transpose",
                          lambda s: [sum(w * g for w, g in zip(col, s[f"dz{l + 1}"]))
                                     for col in (transpose(s["W"][l + 1]) if net.layout == "in_out"
                                                 else s["W"][l + 1])])
    for n in sorted(set(net.sizes) - {1}):     # the layer sizes a mean may divide by
        yield Mistake("extra_1_over_n", name, f"{name} divided by {n}: an extra factor 1/{n}",
                          lambda s, n=n: scale(net.rule(name, s), 1 / n))


def simulate(net: Net, state: Dict[str, Any], upto: str, mistake: Optional[Mistake] = None,
             known: Optional[Dict[str, Any]] = None) -> Any:
    """Run the backward rules in order up to quantity `upto` and return its value, with
    `mistake.rule` in place of the right rule at `mistake.at`. Before the mistake,
    `known` values (the student's right ones) are used where given."""
    s = dict(state)
    s["W"] = [None] + list(state["W"])          # s["W"][l] is W_l
    s["a0"] = state["x"]
    wrong = False
    for name in net.backward_names:
        if mistake is not None and name == mistake.at:
            value, wrong = mistake.rule(s), True
        elif not wrong and known and name in known:
            value = known[name]
        else:
            value = net.rule(name, s)
        if name == upto:
            return value
        s[name] = value
    raise KeyError(upto)


def explain(net: Net, wrong: str, right: Set[str], refs: List[Dict[str, Any]],
            known: List[Dict[str, Any]], returned: List[Dict[str, Any]],
            matches: Callable[[Any, Any], bool]) -> List[Mistake]:
    """The catalog mistakes that give the student's value of `wrong` in every case.
    A mistake may sit at `wrong` itself or at a quantity between the last right one
    the student returned and `wrong` (one they did not return), and then spread.
    `refs[c]` holds case c's forward values, W, x, t; `known[c]` the student's right
    values; `returned[c]` their raw values."""
    order = net.backward_names
    end = order.index(wrong)
    start = end
    while start > 0 and order[start - 1] not in right:
        start -= 1
    found = []
    for at in order[start:end + 1]:
        for mistake in candidates(net, at):
            ok, used = True, False
            for ref, good, got in zip(refs, known, returned):
                if wrong not in got:
                    continue
                forms = simulate(net, ref, wrong, mistake, good)
                forms = forms if isinstance(forms, tuple) else (forms,)
                used = True
                if not any(matches(got[wrong], f) for f in forms):
                    ok = False
                    break
            if ok and used:
                found.append(mistake)
    return found
