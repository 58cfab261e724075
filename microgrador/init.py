"""How initial weights are drawn (`Init`), and the seeds that make the draws repeatable.

    weights = Init.parse("uniform(-0.5, 0.5)").draw(3, fan_in=2, fan_out=1, rng=as_rng(0))

Every network piece (Neuron, Layer, MLP, Conv2d, ...) takes `init` and `seed` and
draws through these, so one seed reproduces a whole network.
"""
from __future__ import annotations

import math
import random
import re
from typing import List, Optional, Union

from .engine import as_float
from .floats import type_name

Seed = Union[int, random.Random]


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
                            f"got {type_name(spec)} {spec!r}")
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


def as_rng(seed: Seed) -> random.Random:
    """The generator a seed stands for: a random.Random is used as it is (so the pieces
    of one network draw from one stream), an int seeds a new one."""
    if isinstance(seed, random.Random):
        return seed
    if type(seed) is not int:
        raise TypeError(f"seed must be an int or a random.Random, got {type_name(seed)} {seed!r}")
    return random.Random(seed)

