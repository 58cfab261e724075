"""Neural networks made of Values: `Neuron`, `Layer`, `MLP`, and what they share (`Module`).

A neuron computes act(w . x + b). Its pre-activation w . x + b is ONE graph node
(a `dot` with the bias as last parent), not a chain of n multiplications and
additions, so a 784-input neuron costs one node, not 1,568. The neuron keeps its
parameters in one tuple (w_1, ..., w_n, b): that tuple is exactly the parents of
the node, so no list is copied per sample.

    >>> net = MLP(2, [3, 2], activation="sigmoid", seed=0)
    >>> net.num_parameters()          # 3 x (2 weights + 1 bias) + 2 x (3 weights + 1 bias)
    17
    >>> logits = net([1.0, -1.0])     # two Values

Parameters are saved as JSON (never pickle): `net.save("net.json")`, then
`net.load("net.json")` or `load_model("net.json")`, which rebuilds the network
from the architecture stored in the file (the file format: microgrador/checkpoint.py).

Layers for images and batches (Conv2d, MaxPool2d, AvgPool2d, Flatten, BatchNorm1d,
Dropout, Sequential, ...) are written in microgrador/layers.py and exported here.
"""
from __future__ import annotations

import json
import math
import random
import re
from functools import partial
from operator import is_ as _is
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from . import ops
from .engine import Value, apply, as_float
from .ops import Dot

Seed = Union[int, random.Random]
StateDict = Dict[str, Union[float, List[float]]]


class CheckpointError(ValueError):
    """A checkpoint or state dict that cannot be loaded; the message says why."""


# --- activations ---------------------------------------------------------------------------
# name -> the Op applied to each pre-activation (None: identity, no node at all)
ACTIVATIONS: Dict[str, Optional[ops.Op]] = {
    "sigmoid": ops.sigmoid,
    "tanh": ops.tanh,
    "relu": ops.relu,
    "leaky_relu": ops.LeakyRelu(0.01),   # one shared instance: slope 0.01, as in PyTorch
    "identity": None,
}


def _activation(name: str, where: str) -> Optional[ops.Op]:
    if name not in ACTIVATIONS:
        raise ValueError(f"{where}: unknown activation {name!r}; choose one of "
                         f"{', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


# --- initialisation ------------------------------------------------------------------------
class Init:
    """How initial weights are drawn, as a function of the neuron's fan-in and fan-out.

        lecun             N(0, std = 1/sqrt(fan_in))            (the default)
        normal(std)       N(0, std), std = 1 unless given, e.g. "normal(0.1)"
        xavier_normal     N(0, std = sqrt(2 / (fan_in + fan_out)))      Glorot & Bengio 2010
        xavier_uniform    U(-a, a), a = sqrt(6 / (fan_in + fan_out))
        he                N(0, std = sqrt(2 / fan_in))          He et al. 2015, for relu
        uniform(a, b)     U(a, b), (-1, 1) unless given, e.g. "uniform(-0.5, 0.5)"
        zeros             0

    `Init.parse("uniform(-0.5, 0.5)")` reads these names ("glorot_normal",
    "glorot_uniform", "kaiming" and "he_normal" are accepted as aliases). Every draw
    comes from the `random.Random` passed in, so a seed reproduces the weights.
    """

    __slots__ = ("kind", "a", "b")
    KINDS = ("lecun", "normal", "xavier_normal", "xavier_uniform", "he", "uniform", "zeros")
    ALIASES = {"glorot_normal": "xavier_normal", "glorot_uniform": "xavier_uniform",
               "kaiming": "he", "he_normal": "he", "lecun_normal": "lecun", "zero": "zeros"}

    def __init__(self, kind: str, a: Optional[float] = None, b: Optional[float] = None) -> None:
        kind = self.ALIASES.get(kind, kind)
        if kind not in self.KINDS:
            raise ValueError(f"unknown initialisation {kind!r}; choose one of "
                             f"{', '.join(self.KINDS)} (normal and uniform take arguments: "
                             f"'normal(0.1)', 'uniform(-0.5, 0.5)')")
        if kind == "normal":
            a = 1.0 if a is None else as_float(a, "normal(std)")
            if a < 0 or b is not None:
                raise ValueError(f"normal(std) takes one standard deviation >= 0, got {a!r}"
                                 + (f", {b!r}" if b is not None else ""))
        elif kind == "uniform":
            a = -1.0 if a is None else as_float(a, "uniform(a, b)")
            b = -a if b is None else as_float(b, "uniform(a, b)")
            if not a <= b:
                raise ValueError(f"uniform(a, b) needs a <= b, got a = {a!r}, b = {b!r}")
        elif a is not None or b is not None:
            raise ValueError(f"initialisation {kind!r} takes no arguments")
        self.kind, self.a, self.b = kind, a, b

    @classmethod
    def parse(cls, spec: Union[str, "Init"]) -> "Init":
        """An Init from a name like "he", "normal(0.1)" or "uniform(-0.5, 0.5)"."""
        if isinstance(spec, Init):
            return spec
        if not isinstance(spec, str):
            raise TypeError(f"an initialisation is a name such as 'lecun' or an Init, "
                            f"got {type(spec).__name__} {spec!r}")
        m = re.fullmatch(r"\s*(\w+)\s*(?:\((.*)\))?\s*", spec)
        if m is None:
            raise ValueError(f"cannot read initialisation {spec!r}: write a name such as "
                             f"'he', 'normal(0.1)' or 'uniform(-0.5, 0.5)'")
        args: List[float] = []
        if m.group(2) is not None and m.group(2).strip():
            try:
                args = [float(s) for s in m.group(2).split(",")]
            except ValueError:
                raise ValueError(f"cannot read the arguments of initialisation {spec!r}: "
                                 f"expected numbers, as in 'uniform(-0.5, 0.5)'") from None
        if len(args) > 2:
            raise ValueError(f"initialisation {spec!r}: at most two arguments")
        return cls(m.group(1), *args)

    def std(self, fan_in: int, fan_out: int) -> float:
        """The standard deviation of the normal schemes (for checking statistics)."""
        k = self.kind
        if k == "lecun":
            return 1.0 / math.sqrt(fan_in)
        if k == "normal":
            return self.a
        if k == "xavier_normal":
            return math.sqrt(2.0 / (fan_in + fan_out))
        if k == "he":
            return math.sqrt(2.0 / fan_in)
        if k == "xavier_uniform":   # U(-a, a) has variance a^2 / 3
            return math.sqrt(6.0 / (fan_in + fan_out)) / math.sqrt(3.0)
        if k == "uniform":
            return (self.b - self.a) / math.sqrt(12.0)
        return 0.0

    def draw(self, count: int, fan_in: int, fan_out: int, rng: random.Random) -> List[float]:
        """`count` weights for a neuron with this fan-in and fan-out."""
        k = self.kind
        if k == "zeros":
            return [0.0] * count
        if k in ("xavier_uniform", "uniform"):
            if k == "uniform":
                low, high = self.a, self.b
            else:
                high = math.sqrt(6.0 / (fan_in + fan_out))
                low = -high
            return [rng.uniform(low, high) for _ in range(count)]
        std = self.std(fan_in, fan_out)
        return [rng.gauss(0.0, std) for _ in range(count)]

    def __repr__(self) -> str:
        if self.kind == "normal":
            return f"normal({self.a:g})"
        if self.kind == "uniform":
            return f"uniform({self.a:g}, {self.b:g})"
        return self.kind


def _rng(seed: Seed) -> random.Random:
    if isinstance(seed, random.Random):
        return seed
    if type(seed) is not int:
        raise TypeError(f"seed must be an int or a random.Random, got {type(seed).__name__} {seed!r}")
    return random.Random(seed)


# --- Module ----------------------------------------------------------------------------------
class Module:
    """What every network part has: its parameters, their gradients, and saving.

    A subclass lists its parameters in `_parameter_groups()`, as (name, Value) or
    (name, list of Values) pairs, and its architecture in `config()`; everything
    else (named_parameters, state_dict, save, load, ...) follows from those two.
    """

    __slots__ = ()

    def _parameter_groups(self) -> List[Tuple[str, Union[Value, Sequence[Value]]]]:
        return []

    def config(self) -> Dict[str, Any]:
        """The architecture as JSON-safe data, enough to rebuild the module empty."""
        raise NotImplementedError(f"{type(self).__name__} does not describe its architecture")

    def _state_groups(self) -> List[Tuple[str, Union[Value, Sequence[Value]]]]:
        """What state_dict() saves: the parameters, and statistics such as BatchNorm1d's."""
        return self._parameter_groups()

    def modules(self) -> List["Module"]:
        """This module and the modules inside it (a Sequential's layers)."""
        return [self]

    def train(self, mode: bool = True) -> "Module":
        """Training mode (the default) or, train(False), evaluation mode, for this module
        and those inside it. BatchNorm1d and Dropout behave differently in the two;
        modules without a `training` flag ignore it. Returns self, as in PyTorch."""
        if type(mode) is not bool:
            raise TypeError(f"train(mode): mode must be True or False, got {mode!r}")
        for m in self.modules():
            if hasattr(m, "training"):
                m.training = mode
        return self

    def eval(self) -> "Module":
        """Evaluation mode: train(False)."""
        return self.train(False)

    def named_parameters(self) -> List[Tuple[str, Value]]:
        """(name, Value) for every parameter, e.g. ("layers[0].neurons[2].w[1]", w)."""
        out: List[Tuple[str, Value]] = []
        for name, group in self._parameter_groups():
            if isinstance(group, Value):
                out.append((name, group))
            else:
                out.extend((f"{name}[{i}]", p) for i, p in enumerate(group))
        return out

    def parameters(self) -> List[Value]:
        """Every parameter, in the order of named_parameters()."""
        return [p for _, p in self.named_parameters()]

    def num_parameters(self) -> int:
        return len(self.parameters())

    def zero_grad(self) -> None:
        """Set every parameter's .grad to 0 (leaves accumulate across backward calls)."""
        for p in self.parameters():
            p.grad = 0.0

    # --- state: parameter values as JSON-safe data ------------------------------------------
    def state_dict(self) -> StateDict:
        """{name: number or list of numbers}, e.g. {"layers[0].neurons[0].w": [..], ...}.
        Plain floats and lists, so json.dumps takes it as it is."""
        return {name: (g.data if isinstance(g, Value) else [p.data for p in g])
                for name, g in self._state_groups()}

    def load_state_dict(self, state: Any, source: str = "state dict") -> None:
        """Copy the numbers of `state` (as made by state_dict()) into the parameters.

        Everything is checked before anything is copied, so a bad state leaves the
        module as it was. `source` names the origin in error messages."""
        if not isinstance(state, dict):
            raise CheckpointError(f"{source}: expected a mapping of parameter names to "
                                  f"numbers, got {type(state).__name__}")
        groups = self._state_groups()
        names = [name for name, _ in groups]
        known = set(names)
        missing = [n for n in names if n not in state]
        unexpected = [n for n in state if n not in known]
        if missing or unexpected:
            parts = []
            if missing:
                parts.append(f"missing {_few(missing)}")
            if unexpected:
                parts.append(f"unexpected {_few(unexpected)}")
            raise CheckpointError(f"{source} does not fit this {self._short()}: "
                                  + "; ".join(parts))
        plan = []
        for name, group in groups:
            entry = state[name]
            if isinstance(group, Value):
                plan.append(([group], [_number(entry, name, source)]))
                continue
            if not isinstance(entry, list):
                raise CheckpointError(f"{source}: {name} should be a list of {len(group)} "
                                      f"numbers, got {type(entry).__name__}")
            if len(entry) != len(group):
                raise CheckpointError(f"{source}: {name} has {len(entry)} numbers, this "
                                      f"{self._short()} needs {len(group)}")
            plan.append((group, [_number(x, f"{name}[{i}]", source) for i, x in enumerate(entry)]))
        for group, numbers in plan:
            for p, x in zip(group, numbers):
                p.data = x

    def save(self, path: str, meta: Optional[Dict[str, Any]] = None) -> None:
        """Write architecture and parameters to `path` as JSON (checkpoint.save_module).
        `meta` (JSON-safe) is stored alongside, e.g. training figures."""
        # imported here: checkpoint.py builds on this module and on layers.py
        from .checkpoint import save_module
        save_module(self, path, meta)

    def load(self, path: str) -> None:
        """Load parameters saved by save(); the file's architecture must be this one."""
        from .checkpoint import load_into
        load_into(self, path)

    def _short(self) -> str:
        try:
            return describe_config(self.config())
        except NotImplementedError:
            return type(self).__name__


def _number(x: Any, name: str, source: str) -> float:
    if type(x) not in (float, int):   # bool, None, str, list are all wrong here
        raise CheckpointError(f"{source}: parameter {name} should be a number, got "
                              f"{type(x).__name__} {x!r:.40}")
    try:
        value = float(x)
    except OverflowError:             # an int beyond the float range, e.g. 10**400
        value = math.inf
    if not math.isfinite(value):
        raise CheckpointError(f"{source}: parameter {name} is {value}, not a finite number")
    return value


def _few(names: List[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def describe_config(cfg: Any) -> str:
    """A module's architecture (its config()) in one line, e.g. MLP(2 -> 3 -> 2, ...)."""
    if not isinstance(cfg, dict):
        return repr(cfg)
    t = cfg.get("type")
    try:
        if t == "MLP":
            sizes = " -> ".join(str(n) for n in [cfg["nin"], *cfg["sizes"]])
            return (f"MLP({sizes}, activation={cfg['activation']}, "
                    f"output_activation={cfg['output_activation']})")
        if t == "Layer":
            return f"Layer({cfg['nin']} -> {cfg['nout']}, {cfg['activation']})"
        if t == "Neuron":
            return f"Neuron({cfg['nin']} inputs, {cfg['activation']})"
        if t == "Sequential":   # the image layers by their type: their options make a long line
            return "Sequential(" + ", ".join(
                describe_config(layer) if layer.get("type") in MODULE_TYPES else str(layer.get("type"))
                for layer in cfg["layers"]) + ")"
    except (KeyError, TypeError, AttributeError):   # a malformed config from a file
        pass
    return json.dumps(cfg)


# --- the building blocks ------------------------------------------------------------------------
class Neuron(Module):
    """act(w . x + b): one `dot` node (bias included) followed by one activation node.

    `params` is the tuple (w_1, ..., w_n, b); `w` and `b` are views of it. Weights
    come from `init` (see `Init`), the bias from `bias_init` (zeros by default), or
    explicitly from `weights` and `bias`."""

    __slots__ = ("nin", "activation", "params", "_act", "_dot_values")

    def __init__(self, nin: int, activation: str = "identity", init: Union[str, Init] = "lecun",
                 bias_init: Union[str, Init] = "zeros", seed: Seed = 0, fan_out: int = 1,
                 weights: Optional[Sequence[float]] = None, bias: Optional[float] = None,
                 label: str = "") -> None:
        if type(nin) is not int or nin < 1:
            raise ValueError(f"a neuron needs nin >= 1 inputs, got {nin!r}")
        self.nin = nin
        self.activation = activation
        self._act = _activation(activation, "Neuron")
        rng = _rng(seed)
        if weights is None:
            ws = Init.parse(init).draw(nin, nin, fan_out, rng)
        else:
            if not hasattr(weights, "__len__") or len(weights) != nin:
                raise ValueError(f"{label or 'Neuron'}: {nin} weights needed, got "
                                 f"{len(weights) if hasattr(weights, '__len__') else weights!r}")
            ws = [as_float(w, f"{label or 'Neuron'} weight {i}") for i, w in enumerate(weights)]
        if bias is None:
            b = Init.parse(bias_init).draw(1, nin, fan_out, rng)[0]
        else:
            b = as_float(bias, f"{label or 'Neuron'} bias")
        prefix = f"{label}." if label else ""
        self.params: Tuple[Value, ...] = tuple(
            [Value(w, f"{prefix}w[{i}]") for i, w in enumerate(ws)] + [Value(b, f"{prefix}b")])
        self._dot_values = None   # the Dot for Value inputs, made on first use

    @property
    def w(self) -> Tuple[Value, ...]:
        return self.params[:-1]

    @property
    def b(self) -> Value:
        return self.params[-1]

    def __call__(self, x: Sequence[Union[float, Value]]) -> Value:
        consts = _as_constants(x, self.nin, "Neuron")
        if consts is not None:
            z = apply(Dot(self.nin, consts, True), self.params)
        else:
            if self._dot_values is None:
                self._dot_values = Dot(self.nin, None, True)
            z = apply(self._dot_values, _as_values(x) + self.params)
        return self._act(z) if self._act is not None else z

    def _parameter_groups(self):
        return [("w", self.params[:-1]), ("b", self.params[-1])]

    def parameters(self) -> List[Value]:
        return list(self.params)

    def config(self) -> Dict[str, Any]:
        return {"type": "Neuron", "nin": self.nin, "activation": self.activation}

    def __repr__(self) -> str:
        return f"Neuron({self.nin} inputs, {self.activation}): {self.nin + 1:,} parameters"


class Layer(Module):
    """`nout` neurons that all see the same inputs.

    With plain-number inputs (pixels, the first layer) ONE Dot op holding the
    inputs as constants is made per call and shared by every neuron; with Value
    inputs one Dot op made at construction serves every call, and each neuron's
    node has parents (x_1..x_n, w_1..w_n, b). Either way: one node per neuron."""

    __slots__ = ("nin", "nout", "activation", "neurons", "_act", "_dot_values", "_leaf_params")

    def __init__(self, nin: int, nout: int, activation: str = "identity",
                 init: Union[str, Init] = "lecun", bias_init: Union[str, Init] = "zeros",
                 seed: Seed = 0, weights: Optional[Sequence[Sequence[float]]] = None,
                 biases: Optional[Sequence[float]] = None, label: str = "") -> None:
        if type(nout) is not int or nout < 1:
            raise ValueError(f"a layer needs nout >= 1 neurons, got {nout!r}")
        name = label or "Layer"
        for what, given in (("weights", weights), ("biases", biases)):
            if given is not None and (not hasattr(given, "__len__") or len(given) != nout):
                raise ValueError(f"{name}: {what} must have one entry per neuron ({nout}), got "
                                 f"{len(given) if hasattr(given, '__len__') else given!r}"
                                 + (" (weights[j][i] is input i -> neuron j)" if what == "weights" else ""))
        self.nin, self.nout, self.activation = nin, nout, activation
        self._act = _activation(activation, name)
        rng = _rng(seed)
        init, bias_init = Init.parse(init), Init.parse(bias_init)
        prefix = f"{label}." if label else ""
        self.neurons = [
            Neuron(nin, activation, init, bias_init, rng, fan_out=nout,
                   weights=None if weights is None else weights[j],
                   bias=None if biases is None else biases[j], label=f"{prefix}neurons[{j}]")
            for j in range(nout)]
        self._dot_values = Dot(nin, None, True)
        self._leaf_params: Tuple[tuple, ...] = ()   # the params tuples last seen all-leaf

    def __call__(self, x: Sequence[Union[float, Value]]) -> List[Value]:
        consts = _as_constants(x, self.nin, "Layer")
        if consts is None:
            return self._call_values(_as_values(x))
        op = Dot(self.nin, consts, True)      # shared by every neuron of the layer
        op.leaf_parents = self._params_are_leaves()
        act, dot = self._act, partial(apply, op)
        if act is None:
            return [dot(n.params) for n in self.neurons]
        return [act(dot(n.params)) for n in self.neurons]

    def _params_are_leaves(self) -> bool:
        """Whether every neuron's parameters are leaves (as Neuron makes them), checked
        once per params tuple, so backward()'s graph search can skip the weights."""
        current = tuple(n.params for n in self.neurons)
        if len(current) == len(self._leaf_params) and all(map(_is, current, self._leaf_params)):
            return True
        if any(p._parents for ps in current for p in ps):
            return False
        self._leaf_params = current
        return True

    def _call_values(self, x: Tuple[Value, ...]) -> List[Value]:
        """The layer on a tuple of Values (a hidden layer's input)."""
        if len(x) != self.nin:
            raise ValueError(f"Layer expects {self.nin} inputs, got {len(x)}")
        op, act = self._dot_values, self._act
        if act is None:
            return [apply(op, x + n.params) for n in self.neurons]
        return [act(apply(op, x + n.params)) for n in self.neurons]

    def _parameter_groups(self):
        return [(f"neurons[{j}].{name}", g) for j, n in enumerate(self.neurons)
                for name, g in n._parameter_groups()]

    def parameters(self) -> List[Value]:
        return [p for n in self.neurons for p in n.params]

    def num_parameters(self) -> int:
        return self.nout * (self.nin + 1)

    def config(self) -> Dict[str, Any]:
        return {"type": "Layer", "nin": self.nin, "nout": self.nout, "activation": self.activation}

    def __repr__(self) -> str:
        return (f"Layer({self.nin} -> {self.nout}, {self.activation}): {self.nout} x "
                f"({self.nin} weights + 1 bias) = {self.num_parameters():,} parameters")


class MLP(Module):
    """A multi-layer perceptron: MLP(784, [64, 10]) is 784 inputs -> 64 -> 10 outputs.

    Hidden layers use `activation`, the last layer `output_activation` (identity by
    default: the outputs are logits for cross_entropy). Weights are drawn layer by
    layer, neuron by neuron, weights then bias, from one random.Random(seed).
    `weights[l][j][i]` (input i -> neuron j of layer l) and `biases[l][j]` set them
    explicitly instead."""

    __slots__ = ("nin", "sizes", "activation", "output_activation", "layers")

    def __init__(self, nin: int, sizes: Sequence[int], activation: str = "relu",
                 output_activation: str = "identity", init: Union[str, Init] = "lecun",
                 bias_init: Union[str, Init] = "zeros", seed: Seed = 0,
                 weights: Optional[Sequence] = None, biases: Optional[Sequence] = None) -> None:
        if type(nin) is not int or nin < 1:
            raise ValueError(f"MLP needs nin >= 1 inputs, got {nin!r}")
        if isinstance(sizes, int) or not sizes or any(type(n) is not int or n < 1 for n in sizes):
            raise ValueError(f"MLP sizes must be a non-empty list of layer widths >= 1, got {sizes!r}")
        for what, given in (("weights", weights), ("biases", biases)):
            if given is not None and len(given) != len(sizes):
                raise ValueError(f"MLP: {what} must have one entry per layer ({len(sizes)}), "
                                 f"got {len(given)}")
        _activation(activation, "MLP activation")
        _activation(output_activation, "MLP output_activation")
        self.nin, self.sizes = nin, list(sizes)
        self.activation, self.output_activation = activation, output_activation
        rng = _rng(seed)
        widths = [nin] + self.sizes
        last = len(self.sizes) - 1
        self.layers = [
            Layer(widths[i], widths[i + 1], output_activation if i == last else activation,
                  init, bias_init, rng, weights=None if weights is None else weights[i],
                  biases=None if biases is None else biases[i], label=f"layers[{i}]")
            for i in range(len(self.sizes))]

    def __call__(self, x: Sequence[Union[float, Value]]) -> List[Value]:
        layers = self.layers
        out = layers[0](x)
        for layer in layers[1:]:
            out = layer._call_values(tuple(out))
        return out

    def _parameter_groups(self):
        return [(f"layers[{i}].{name}", g) for i, layer in enumerate(self.layers)
                for name, g in layer._parameter_groups()]

    def parameters(self) -> List[Value]:
        return [p for layer in self.layers for n in layer.neurons for p in n.params]

    def num_parameters(self) -> int:
        return sum(layer.num_parameters() for layer in self.layers)

    def config(self) -> Dict[str, Any]:
        return {"type": "MLP", "nin": self.nin, "sizes": list(self.sizes),
                "activation": self.activation, "output_activation": self.output_activation}

    def __repr__(self) -> str:
        lines = [f"{describe_config(self.config())}: {self.num_parameters():,} parameters"]
        lines += [f"  layers[{i}]: {layer!r}" for i, layer in enumerate(self.layers)]
        return "\n".join(lines)


# --- helpers for the hot path ----------------------------------------------------------------------
def _as_constants(x: Any, nin: int, where: str) -> Optional[tuple]:
    """`x` as a tuple of floats if it holds plain numbers only (then its entries are
    constants of the Dot op, not graph nodes), else None."""
    if type(x) is not tuple:
        if isinstance(x, (Value, str, bytes)) or not hasattr(x, "__len__"):
            raise TypeError(f"{where} takes a list of {nin} numbers or Values, got "
                            f"{type(x).__name__}")
        x = tuple(x)
    if len(x) != nin:
        raise ValueError(f"{where} expects {nin} inputs, got {len(x)}")
    types = set(map(type, x))
    if types == {float}:
        return x
    if types <= {float, int}:
        return tuple(map(float, x))
    return None


def _as_values(x: Sequence) -> Tuple[Value, ...]:
    """Inputs with at least one Value: plain numbers among them become constant leaves."""
    if type(x) is tuple and all(type(v) is Value for v in x):
        return x
    return tuple(v if isinstance(v, Value) else Value(as_float(v, f"input {i}"))
                 for i, v in enumerate(x))


MODULE_TYPES = {"MLP": MLP, "Layer": Layer, "Neuron": Neuron}


# The image and batch layers (layers.py) and the checkpoint files (checkpoint.py) build
# on this module; their public names are also found here, looked up on first use, so
# importing nn imports neither and there is no import cycle.
_CHECKPOINT_NAMES = ("CHECKPOINT_FORMAT", "CHECKPOINT_VERSION", "read_checkpoint", "load_model",
                     "model_from_checkpoint")


def __getattr__(name: str) -> Any:
    if name in _CHECKPOINT_NAMES:
        from . import checkpoint
        return getattr(checkpoint, name)
    from . import layers
    if name in layers.__all__:
        return getattr(layers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
