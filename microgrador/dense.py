"""The dense pieces of a network: `Neuron`, `Layer` (neurons that see the same inputs) and
`MLP` (layers in a row), and the activations they apply (`ACTIVATIONS`).

A neuron computes act(w . x + b). Its pre-activation w . x + b is ONE graph node
(a `dot` with the bias as last parent), not a chain of n multiplications and
additions, so a 784-input neuron costs one node, not 1,568. The neuron keeps its
parameters in one tuple (w_1, ..., w_n, b): that tuple is exactly the parents of
the node, so no list is copied per sample.
"""
from __future__ import annotations

from operator import is_ as _is
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from . import ops
from .checkpoint import describe_config
from .engine import Value, apply, apply_unary, as_float
from .floats import type_name
from .init import Init, Seed, as_rng
from .module import Module
from .ops import Dot


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
        rng = as_rng(seed)
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
        return apply_unary(self._act, z) if self._act is not None else z

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
        rng = as_rng(seed)
        init, bias_init = Init.parse(init), Init.parse(bias_init)
        prefix = f"{label}." if label else ""
        self.neurons = [
            Neuron(nin, activation, init, bias_init, rng, fan_out=nout,
                   weights=None if weights is None else weights[j],
                   bias=None if biases is None else biases[j], label=f"{prefix}neurons[{j}]")
            for j in range(nout)]
        self._dot_values = Dot(nin, None, True)
        self._leaf_params: List[tuple] = []   # the params tuples last seen all-leaf

    def __call__(self, x: Sequence[Union[float, Value]]) -> List[Value]:
        consts = _as_constants(x, self.nin, "Layer")
        if consts is None:
            return self._call_values(_as_values(x))
        params = [n.params for n in self.neurons]
        op = Dot(self.nin, consts, True)      # shared by every neuron of the layer
        op.leaf_parents = self._params_are_leaves(params)
        act = self._act
        if act is None:
            return [apply(op, ps) for ps in params]
        return [apply_unary(act, apply(op, ps)) for ps in params]

    def _params_are_leaves(self, params: List[Tuple[Value, ...]]) -> bool:
        """Whether every neuron's parameters are leaves (as Neuron makes them), checked
        once per params tuple, so backward()'s graph search can skip the weights."""
        if len(params) == len(self._leaf_params) and all(map(_is, params, self._leaf_params)):
            return True
        if any(p._parents for ps in params for p in ps):
            return False
        self._leaf_params = params
        return True

    def _call_values(self, x: Tuple[Value, ...]) -> List[Value]:
        """The layer on a tuple of Values (a hidden layer's input)."""
        if len(x) != self.nin:
            raise ValueError(f"Layer expects {self.nin} inputs, got {len(x)}")
        op, act = self._dot_values, self._act
        if act is None:
            return [apply(op, x + n.params) for n in self.neurons]
        return [apply_unary(act, apply(op, x + n.params)) for n in self.neurons]

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
        rng = as_rng(seed)
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
                            f"{type_name(x)}")
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
    if type(x) is tuple and all([isinstance(v, Value) for v in x]):
        return x
    return tuple(v if isinstance(v, Value) else Value(as_float(v, f"input {i}"))
                 for i, v in enumerate(x))

