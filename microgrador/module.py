"""`Module`: what every network part has (parameters, their gradients, state dicts, saving).

Neuron, Layer and MLP (dense.py) and the image layers (layers.py) are Modules. A
subclass names its parameters and its architecture; state_dict(), load_state_dict(),
save() and load() follow from those. The file they write is checkpoint.py's.
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from .checkpoint import CheckpointError, describe_config, load_into, save_module
from .engine import Value
from .floats import type_name

StateDict = Dict[str, Union[float, List[float]]]


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
                                  f"numbers, got {type_name(state)}")
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
                                      f"numbers, got {type_name(entry)}")
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
        save_module(self, path, meta)

    def load(self, path: str) -> None:
        """Load parameters saved by save(); the file's architecture must be this one."""
        load_into(self, path)

    def _short(self) -> str:
        try:
            return describe_config(self.config())
        except NotImplementedError:
            return type(self).__name__


def _number(x: Any, name: str, source: str) -> float:
    if type(x) not in (float, int):   # bool, None, str, list are all wrong here
        raise CheckpointError(f"{source}: parameter {name} should be a number, got "
                              f"{type_name(x)} {x!r:.40}")
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
