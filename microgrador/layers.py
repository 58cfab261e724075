"""Layers for images and batches, made of Values: Conv2d, MaxPool2d, AvgPool2d, Flatten,
BatchNorm1d, Dropout, the activations as modules, and Sequential to chain them.

An image is a nested list x[channel][row][column] of numbers or Values. Each output of
a convolution is ONE `dot` node over its receptive field (weights, inputs, bias), so a
kernel weight is one Value shared by every position, and backward sums its
contributions: w.grad = sum over output positions p of dL/dout_p * x_p(w).

    >>> net = Sequential(Conv2d(1, 2, 3), ReLU(), MaxPool2d(2), Flatten(), Layer(8, 10))
    >>> logits = net([[[0.5] * 6 for _ in range(6)]])   # one 6x6 grey image -> 10 Values

BatchNorm1d needs a batch: `net.forward_batch([x1, x2, ...])` runs the samples together,
and in training mode normalises each feature over the batch. `net.eval()` switches it
(and Dropout) to evaluation behaviour, `net.train()` back, as in PyTorch.
These classes are exported from microgrador.nn; import them from there. They build on
Module (module.py) and the dense Layer (dense.py); rebuild.py makes them from a config.
"""
from __future__ import annotations

import math
from functools import partial
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from . import ops
from .engine import Value, apply, apply_unary, as_float
from .dense import ACTIVATIONS, Layer
from .floats import type_name
from .init import Init, Seed, as_rng
from .module import Module
from .ops import Dot

Image = Sequence[Sequence[Sequence[Union[float, Value]]]]   # [channel][row][column]


def _size(x: Any, name: str, where: str, minimum: int = 1) -> int:
    if type(x) is not int or x < minimum:
        raise ValueError(f"{where}: {name} must be an int >= {minimum}, got {x!r}")
    return x


def _image_shape(x: Any, where: str) -> Tuple[int, int, int]:
    """(channels, rows, columns) of a nested-list image, checked to be rectangular."""
    if isinstance(x, (Value, str, bytes, int, float)) or not hasattr(x, "__len__") or not len(x):
        raise TypeError(f"{where} takes an image x[channel][row][column] (nested lists), "
                        f"got {type_name(x)}")
    rows = cols = None
    for c, channel in enumerate(x):
        if isinstance(channel, (Value, str, bytes, int, float)) or not hasattr(channel, "__len__"):
            raise TypeError(f"{where}: channel {c} is {type_name(channel)}, not a list of rows "
                            f"(an image is x[channel][row][column])")
        if rows is None:
            rows = len(channel)
        if len(channel) != rows:
            raise ValueError(f"{where}: channel {c} has {len(channel)} rows, channel 0 has {rows}")
        for r, row in enumerate(channel):
            if isinstance(row, (Value, str, bytes, int, float)) or not hasattr(row, "__len__"):
                raise TypeError(f"{where}: channel {c} row {r} is {type_name(row)}, not a list")
            if cols is None:
                cols = len(row)
            if len(row) != cols:
                raise ValueError(f"{where}: channel {c} row {r} has {len(row)} columns, "
                                 f"row 0 of channel 0 has {cols}")
            _check_pixels(row, where, c, r)
    if not rows or not cols:
        raise ValueError(f"{where}: the image is empty ({len(x)} channels of {rows} x {cols})")
    return len(x), rows, cols


_PIXEL_TYPES = frozenset((float, int, Value))


def _check_pixels(row: Sequence, where: str, c: int, r: int) -> None:
    """A clear error for an entry of an image row that is not a finite number or a Value
    (a Value's data is always finite). The common case is checked in C: the set of the
    row's types, and the sum of a row of plain numbers, which is finite unless an entry
    is nan or inf (or the sum overflows, which the entry-by-entry look then clears)."""
    kinds = set(map(type, row))
    if kinds <= _PIXEL_TYPES:
        if Value in kinds:
            if len(kinds) == 1:
                return
        else:
            try:
                if math.isfinite(sum(row)):
                    return
            except OverflowError:      # an int too large for a float: named below
                pass
    for k, v in enumerate(row):
        if not isinstance(v, Value):
            as_float(v, f"{where}: the input x[{c}][{r}][{k}]")


def _out_size(n: int, kernel: int, stride: int, padding: int, where: str, axis: str) -> int:
    """floor((n + 2 padding - kernel) / stride) + 1, as in PyTorch; an error if < 1."""
    if n + 2 * padding < kernel:
        raise ValueError(f"{where}: the input has {n} {axis}"
                         + (f" (+ {2 * padding} padding)" if padding else "")
                         + f", fewer than the kernel's {kernel}")
    return (n + 2 * padding - kernel) // stride + 1


def _as_value(v: Any, where: str) -> Value:
    return v if isinstance(v, Value) else Value(as_float(v, where))


def _map(fn, x: Any) -> Any:
    """fn applied to every number or Value of a nested list, keeping its shape."""
    if isinstance(x, (Value, int, float)):
        return fn(x)
    return [_map(fn, v) for v in x]


def _activate(op, x: Any) -> Any:
    """The activation `op` on every entry of a nested list, keeping its shape: each
    innermost list (an image's row) in one comprehension, a Value recorded directly."""
    if isinstance(x, (Value, int, float)):
        return op(x)
    if x and isinstance(x[0], (Value, int, float)):
        return [apply_unary(op, v) if isinstance(v, Value) else op(v) for v in x]
    return [_activate(op, v) for v in x]


def _flat(x: Any, where: str = "Flatten", at: str = "x") -> List[Any]:
    """The numbers and Values of a nested list, in order; a clear error, naming the
    entry, for anything else (a string, None, nan)."""
    if isinstance(x, Value):
        return [x]
    if isinstance(x, (int, float)):
        as_float(x, f"{where}: the input {at}")
        return [x]
    if isinstance(x, (str, bytes)) or not hasattr(x, "__iter__"):
        raise TypeError(f"{where}: the input {at} is {type_name(x)} {x!r:.40}, not a "
                        f"number, a Value or a list of them")
    out: List[Any] = []
    for i, v in enumerate(x):
        out.extend(_flat(v, where, f"{at}[{i}]"))
    return out


class _Stateless(Module):
    """A module without parameters: its config is its arguments."""

    __slots__ = ()

    def config(self) -> Dict[str, Any]:
        names = [k for cls in type(self).__mro__ for k in getattr(cls, "__slots__", ())]
        return {"type": type(self).__name__, **{k: getattr(self, k) for k in names}}


# --- convolution -------------------------------------------------------------------------------
class Conv2d(Module):
    """out[o][i][j] = b_o + sum_{c, u, v} w_o[c][u][v] * x[c][i*stride + u - padding][j*stride + v - padding]

    as one dot node per output. Zero padding adds no terms (a padded position would
    multiply 0), so a border output has fewer parents. The weights of output channel o
    are `weight[o]`, a flat tuple in the order (c, u, v), then the bias; they are
    drawn from `init` (lecun: N(0, 1/sqrt(in_channels * kernel_size^2)))."""

    __slots__ = ("in_channels", "out_channels", "kernel_size", "stride", "padding",
                 "params", "_plans", "_dots")

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, init: Union[str, Init] = "lecun",
                 bias_init: Union[str, Init] = "zeros", seed: Seed = 0) -> None:
        self.in_channels = _size(in_channels, "in_channels", "Conv2d")
        self.out_channels = _size(out_channels, "out_channels", "Conv2d")
        self.kernel_size = _size(kernel_size, "kernel_size", "Conv2d")
        self.stride = _size(stride, "stride", "Conv2d")
        self.padding = _size(padding, "padding", "Conv2d", minimum=0)
        rng = as_rng(seed)
        init, bias_init = Init.parse(init), Init.parse(bias_init)
        k2 = kernel_size * kernel_size
        fan_in, fan_out = in_channels * k2, out_channels * k2
        self.params: List[Tuple[Value, ...]] = []
        for o in range(out_channels):
            ws = init.draw(fan_in, fan_in, fan_out, rng)
            b = bias_init.draw(1, fan_in, fan_out, rng)[0]
            self.params.append(tuple([Value(w, f"weight[{o}][{i}]") for i, w in enumerate(ws)]
                                     + [Value(b, f"bias[{o}]")]))
        self._plans: Dict[Tuple[int, int], Any] = {}   # (rows, cols) -> receptive fields
        self._dots: Dict[int, Dot] = {}                # field size -> Dot over Value inputs

    def weight(self, o: int, c: int, u: int, v: int) -> Value:
        """The kernel weight w_o[c][u][v] (one Value, shared by every position)."""
        k = self.kernel_size
        return self.params[o][(c * k + u) * k + v]

    def _plan(self, rows: int, cols: int):
        """For each output position (i, j): the flat input indices of its receptive
        field and the matching kernel indices (None when the field is whole)."""
        key = (rows, cols)
        if key not in self._plans:
            k, s, p = self.kernel_size, self.stride, self.padding
            out_r = _out_size(rows, k, s, p, "Conv2d", "rows")
            out_c = _out_size(cols, k, s, p, "Conv2d", "columns")
            plan = []
            for i in range(out_r):
                for j in range(out_c):
                    inputs, kernel = [], []
                    for c in range(self.in_channels):
                        for u in range(k):
                            r = i * s + u - p
                            if not 0 <= r < rows:
                                continue
                            for v in range(k):
                                col = j * s + v - p
                                if 0 <= col < cols:
                                    inputs.append((c * rows + r) * cols + col)
                                    kernel.append((c * k + u) * k + v)
                    whole = len(kernel) == self.in_channels * k * k
                    plan.append((inputs, None if whole else kernel))
            self._plans[key] = (out_r, out_c, plan)
        return self._plans[key]

    def __call__(self, x: Image) -> List[List[List[Value]]]:
        channels, rows, cols = _image_shape(x, "Conv2d")
        if channels != self.in_channels:
            raise ValueError(f"Conv2d expects {self.in_channels} input channels, got {channels}")
        out_r, out_c, plan = self._plan(rows, cols)
        flat = [v for channel in x for row in channel for v in row]
        constants = set(map(type, flat)) <= {float, int}
        if not constants:
            flat = [_as_value(v, f"Conv2d input {i}") for i, v in enumerate(flat)]
        out = [[[None] * out_c for _ in range(out_r)] for _ in range(self.out_channels)]
        for pos, (inputs, kernel) in enumerate(plan):
            i, j = divmod(pos, out_c)
            field = tuple([flat[n] for n in inputs])
            if constants:   # pixels: constants of one Dot shared by every output channel
                dot = partial(apply, Dot(len(field), tuple(map(float, field)), True))
                for o, params in enumerate(self.params):
                    ps = params if kernel is None else tuple([params[n] for n in kernel]) + params[-1:]
                    out[o][i][j] = dot(ps)
            else:
                n = len(field)
                op = self._dots.get(n) or self._dots.setdefault(n, Dot(n, None, True))
                for o, params in enumerate(self.params):
                    ws = params if kernel is None else tuple([params[m] for m in kernel]) + params[-1:]
                    out[o][i][j] = apply(op, field + ws)
        return out

    def _parameter_groups(self):
        return ([(f"weight[{o}]", p[:-1]) for o, p in enumerate(self.params)]
                + [("bias", [p[-1] for p in self.params])])

    def num_parameters(self) -> int:
        return self.out_channels * (self.in_channels * self.kernel_size ** 2 + 1)

    def config(self) -> Dict[str, Any]:
        return {"type": "Conv2d", "in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": self.kernel_size, "stride": self.stride, "padding": self.padding}

    def __repr__(self) -> str:
        return (f"Conv2d({self.in_channels} -> {self.out_channels}, {self.kernel_size}x"
                f"{self.kernel_size}, stride {self.stride}, padding {self.padding}): "
                f"{self.num_parameters():,} parameters")


# --- pooling ------------------------------------------------------------------------------------
class _Pool2d(_Stateless):
    __slots__ = ("kernel_size", "stride")

    def __init__(self, kernel_size: int, stride: Optional[int] = None) -> None:
        where = type(self).__name__
        self.kernel_size = _size(kernel_size, "kernel_size", where)
        self.stride = kernel_size if stride is None else _size(stride, "stride", where)

    def _windows(self, x: Image):
        """The output shape and, per output, its window of inputs."""
        where = type(self).__name__
        channels, rows, cols = _image_shape(x, where)
        k, s = self.kernel_size, self.stride
        out_r = _out_size(rows, k, s, 0, where, "rows")
        out_c = _out_size(cols, k, s, 0, where, "columns")
        return [[[[x[c][i * s + u][j * s + v] for u in range(k) for v in range(k)]
                  for j in range(out_c)] for i in range(out_r)] for c in range(channels)]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.kernel_size}, stride {self.stride})"


def _data(v: Union[float, Value]) -> float:
    return v.data if isinstance(v, Value) else v


class MaxPool2d(_Pool2d):
    """The largest input of each kernel_size x kernel_size window (stride = kernel_size
    unless given). The output IS that input, the same Value, not a new node: its
    gradient flows to the winner only, which is max's derivative (the first on ties)."""

    __slots__ = ()

    def __call__(self, x: Image) -> List[List[List[Union[float, Value]]]]:
        return [[[max(window, key=_data) for window in row] for row in channel]
                for channel in self._windows(x)]


def _mean(window: Sequence[float], n: int) -> float:
    """The mean of n plain numbers; divided first where the sum would overflow (1e308s)."""
    try:
        return math.fsum(window) / n
    except OverflowError:
        return math.fsum(v / n for v in window)


class AvgPool2d(_Pool2d):
    """The mean of each kernel_size x kernel_size window: one dot node with constant
    weights 1/kernel_size^2."""

    __slots__ = ()

    def __call__(self, x: Image) -> List[List[List[Union[float, Value]]]]:
        n = self.kernel_size ** 2
        op = Dot(n, (1.0 / n,) * n, False)
        out = []
        for channel in self._windows(x):
            out_channel = []
            for row in channel:
                out_row = []
                for window in row:
                    if all(type(v) in (float, int) for v in window):
                        out_row.append(_mean(window, n))
                    else:
                        out_row.append(apply(op, tuple(_as_value(v, "AvgPool2d input") for v in window)))
                out_channel.append(out_row)
            out.append(out_channel)
        return out


class Flatten(_Stateless):
    """x[c][i][j] (or any nesting) -> one flat list, in row-major order (c, then i, then j),
    as torch.flatten of a (C, H, W) tensor."""

    __slots__ = ()

    def __call__(self, x: Any) -> List[Union[float, Value]]:
        return _flat(x)

    def __repr__(self) -> str:
        return "Flatten()"


# --- activations as modules ----------------------------------------------------------------------
class _Activation(_Stateless):
    """An activation applied to every entry of a nested list (one node each)."""

    __slots__ = ()
    op_name = "identity"

    def __call__(self, x: Any) -> Any:
        return _activate(ACTIVATIONS[self.op_name], x)

    def config(self) -> Dict[str, Any]:
        return {"type": type(self).__name__}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class ReLU(_Activation):
    __slots__ = ()
    op_name = "relu"


class Tanh(_Activation):
    __slots__ = ()
    op_name = "tanh"


class Sigmoid(_Activation):
    __slots__ = ()
    op_name = "sigmoid"


# --- layers that behave differently in training and evaluation ---------------------------------------
class BatchNorm1d(Module):
    """Per feature k over a batch of B samples (training mode):

        mean_k = (1/B) sum_s x_sk    var_k = (1/B) sum_s (x_sk - mean_k)^2   (biased)
        y_sk = gamma_k (x_sk - mean_k) / sqrt(var_k + eps) + beta_k

    and the running statistics move towards the batch's, PyTorch's way:
    running = (1 - momentum) running + momentum batch, with the unbiased variance
    (B / (B - 1)) var_k for running_var. In evaluation mode (eval()) the running
    statistics are used instead, so one sample at a time works. Training mode needs
    forward_batch() with B >= 2: the statistics of one sample are meaningless."""

    __slots__ = ("num_features", "eps", "momentum", "weight", "bias", "running_mean",
                 "running_var", "training")

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 init: Any = None) -> None:
        self.num_features = _size(num_features, "num_features", "BatchNorm1d")
        self.eps = as_float(eps, "BatchNorm1d eps")
        self.momentum = as_float(momentum, "BatchNorm1d momentum")
        if not self.eps > 0 or not 0 <= self.momentum <= 1:
            raise ValueError(f"BatchNorm1d needs eps > 0 and 0 <= momentum <= 1, got eps = {eps!r}, "
                             f"momentum = {momentum!r}")
        self.weight = [Value(1.0, f"weight[{k}]") for k in range(num_features)]   # gamma
        self.bias = [Value(0.0, f"bias[{k}]") for k in range(num_features)]       # beta
        # statistics, not parameters: Values only so that the checkpoint code loads them
        self.running_mean = [Value(0.0) for _ in range(num_features)]
        self.running_var = [Value(1.0) for _ in range(num_features)]
        self.training = True

    def _check(self, x: Any, where: str) -> None:
        if isinstance(x, (Value, str, bytes)) or not hasattr(x, "__len__") or len(x) != self.num_features:
            raise ValueError(f"{where}: expected {self.num_features} features, got "
                             f"{len(x) if hasattr(x, '__len__') else type_name(x)}")

    def __call__(self, x: Sequence[Union[float, Value]]) -> List[Union[float, Value]]:
        """One sample, in evaluation mode: gamma (x - running_mean) / sqrt(running_var + eps) + beta."""
        if self.training:
            raise ValueError("BatchNorm1d in training mode normalises over a batch: call "
                             "forward_batch() with >= 2 samples (train with --batch-size >= 2), "
                             "or switch to evaluation mode with eval()")
        self._check(x, "BatchNorm1d")
        out = []
        for k, v in enumerate(x):
            scale = 1.0 / math.sqrt(self.running_var[k].data + self.eps)
            centred = v - self.running_mean[k].data
            out.append(centred * scale * self.weight[k] + self.bias[k])
        return out

    def forward_batch(self, xs: Sequence[Sequence[Union[float, Value]]]) -> List[List[Any]]:
        if not self.training:
            return [self(x) for x in xs]
        B = len(xs)
        if B < 2:
            raise ValueError(f"BatchNorm1d in training mode needs a batch of >= 2 samples, got {B} "
                             f"(train with --batch-size >= 2, or use eval())")
        for s, x in enumerate(xs):
            self._check(x, f"BatchNorm1d sample {s}")
        out: List[List[Any]] = [[None] * self.num_features for _ in range(B)]
        m = self.momentum
        for k in range(self.num_features):
            column = [_as_value(x[k], f"BatchNorm1d sample {s} feature {k}") for s, x in enumerate(xs)]
            mean = ops.sum_of(column) * (1.0 / B)
            centred = [v - mean for v in column]
            var = ops.dot(centred, centred) * (1.0 / B)
            inv_std = (var + self.eps) ** -0.5
            scale = inv_std * self.weight[k]
            for s in range(B):
                out[s][k] = centred[s] * scale + self.bias[k]
            rm, rv = self.running_mean[k], self.running_var[k]
            rm.data = (1 - m) * rm.data + m * mean.data
            rv.data = (1 - m) * rv.data + m * var.data * B / (B - 1)
        return out

    def _parameter_groups(self):
        return [("weight", self.weight), ("bias", self.bias)]

    def _state_groups(self):
        return self._parameter_groups() + [("running_mean", self.running_mean),
                                           ("running_var", self.running_var)]

    def config(self) -> Dict[str, Any]:
        return {"type": "BatchNorm1d", "num_features": self.num_features, "eps": self.eps,
                "momentum": self.momentum}

    def __repr__(self) -> str:
        return (f"BatchNorm1d({self.num_features}, eps {self.eps:g}, momentum {self.momentum:g}): "
                f"{2 * self.num_features:,} parameters")


class Dropout(Module):
    """In training mode each input is zeroed with probability p and the others are
    scaled by 1/(1 - p), so the expected output is the input; in evaluation mode it
    is the identity. The draws come from random.Random(seed), so a seed repeats them."""

    __slots__ = ("p", "seed", "rng", "training")

    def __init__(self, p: float = 0.5, seed: Seed = 0) -> None:
        self.p = as_float(p, "Dropout p")
        if not 0 <= self.p <= 1:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p!r}")
        self.seed = seed if type(seed) is int else None
        self.rng = as_rng(seed)
        self.training = True

    def __call__(self, x: Any) -> Any:
        if not self.training or self.p == 0:
            return x
        p, draw = self.p, self.rng.random
        if p == 1:
            return _map(lambda v: 0.0, x)
        scale = 1.0 / (1.0 - p)
        return _map(lambda v: 0.0 if draw() < p else v * scale, x)

    def config(self) -> Dict[str, Any]:
        return {"type": "Dropout", "p": self.p, "seed": self.seed}

    def __repr__(self) -> str:
        return f"Dropout(p={self.p:g})"


# --- chaining -------------------------------------------------------------------------------------
class Sequential(Module):
    """Modules applied in order: Sequential(a, b, c)(x) is c(b(a(x))). forward_batch()
    runs a batch, giving batch-wise modules (BatchNorm1d) the whole batch and every
    other module one sample at a time. Parameters are named layers[i].NAME."""

    __slots__ = ("layers", "training")

    def __init__(self, *layers: Module) -> None:
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: layer {i} is {type(layer).__name__}, not a Module")
        self.layers = list(layers)
        self.training = True

    def __call__(self, x: Any) -> Any:
        for layer in self.layers:
            x = layer(x)
        return x

    @property
    def batchwise(self) -> bool:
        """Whether a layer needs the whole batch at once (BatchNorm1d): then training
        goes through forward_batch() instead of one sample at a time."""
        return any(hasattr(m, "forward_batch") for m in self.modules() if m is not self)

    def forward_batch(self, xs: Sequence[Any]) -> List[Any]:
        """The outputs of a batch of samples, one per sample."""
        xs = list(xs)
        for layer in self.layers:
            batched = getattr(layer, "forward_batch", None)
            xs = batched(xs) if batched is not None else [layer(x) for x in xs]
        return xs

    def modules(self) -> List[Module]:
        return [self] + [m for layer in self.layers for m in layer.modules()]

    def __getitem__(self, i: int) -> Module:
        return self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)

    def _parameter_groups(self):
        return [(f"layers[{i}].{name}", g) for i, layer in enumerate(self.layers)
                for name, g in layer._parameter_groups()]

    def _state_groups(self):
        return [(f"layers[{i}].{name}", g) for i, layer in enumerate(self.layers)
                for name, g in layer._state_groups()]

    def config(self) -> Dict[str, Any]:
        return {"type": "Sequential", "layers": [layer.config() for layer in self.layers]}

    def __repr__(self) -> str:
        lines = [f"Sequential: {self.num_parameters():,} parameters"]
        lines += [f"  layers[{i}]: {layer!r}".replace("\n", "\n    ") for i, layer in enumerate(self.layers)]
        return "\n".join(lines)


def small_lenet(num_classes: int = 10, batch_norm: bool = False, init: Union[str, Init] = "lecun",
                seed: Seed = 0) -> Sequential:
    """The LeNet-style CNN of `microgrador train mnist --model cnn`, for 1 x 28 x 28 images:

        Conv2d(1, 6, 5)  ReLU  MaxPool2d(2)      1x28x28 -> 6x24x24 -> 6x12x12      156 parameters
        Conv2d(6, 16, 5) ReLU  MaxPool2d(2)              -> 16x8x8 -> 16x4x4     2,416 parameters
        Flatten  [BatchNorm1d(256)]  Layer(256 -> 10)             256 -> 10   [512 +] 2,570 parameters

    5,142 parameters (5,654 with batch_norm), against the 784-300-10 MLP's 238,510; one
    sample is 3,456 + 1,024 + 10 dot nodes."""
    rng = as_rng(seed)
    layers: List[Module] = [
        Conv2d(1, 6, 5, init=init, seed=rng), ReLU(), MaxPool2d(2),
        Conv2d(6, 16, 5, init=init, seed=rng), ReLU(), MaxPool2d(2), Flatten()]
    if batch_norm:
        layers.append(BatchNorm1d(256))
    layers.append(Layer(256, num_classes, init=init, seed=rng))
    return Sequential(*layers)


__all__ = ["Conv2d", "MaxPool2d", "AvgPool2d", "Flatten", "ReLU", "Tanh", "Sigmoid",
           "BatchNorm1d", "Dropout", "Sequential", "small_lenet"]
