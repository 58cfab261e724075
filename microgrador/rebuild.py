"""Building a module from its architecture: every module type by name (`MODULE_TYPES`),
`module_from_config`, and `load_model`, which rebuilds a saved network from its file.

    net = load_model("net.json")      # the architecture is in the file; no class to name

It stands above all the network pieces (it has to know every one of them), so the
pieces themselves never import it: a Module saves and loads its own parameters
through checkpoint.py, the file format, which knows no class.
"""
from __future__ import annotations

from typing import Any, Dict, Type

from .checkpoint import CheckpointError, check_sizes, describe_config, read_checkpoint
from .dense import MLP, Layer, Neuron
from .layers import (AvgPool2d, BatchNorm1d, Conv2d, Dropout, Flatten, MaxPool2d, ReLU, Sequential,
                     Sigmoid, Tanh)
from .module import Module

MODULE_TYPES: Dict[str, Type[Module]] = {cls.__name__: cls for cls in (
    MLP, Layer, Neuron,
    Conv2d, MaxPool2d, AvgPool2d, Flatten, ReLU, Tanh, Sigmoid, BatchNorm1d, Dropout, Sequential)}
# Built with init="zeros": their weights are about to be overwritten by the file's.
_PARAMETERISED = ("MLP", "Layer", "Neuron", "Conv2d")


def module_from_config(cfg: Any) -> Module:
    """An empty module (zero weights) of the architecture `cfg` (a module's config())."""
    if not isinstance(cfg, dict):
        raise ValueError(f"a module's architecture is an object, got {type(cfg).__name__}")
    args = dict(cfg)
    kind = args.pop("type", None)
    if kind == "Sequential":
        return _sequential_from_config(cfg)
    if kind not in MODULE_TYPES:
        raise ValueError(f"unknown model type {kind!r}; known: {', '.join(MODULE_TYPES)}")
    if kind in _PARAMETERISED:
        return MODULE_TYPES[kind](**args, init="zeros")
    return MODULE_TYPES[kind](**args)


def _sequential_from_config(cfg: Dict[str, Any]) -> Sequential:
    layers = cfg.get("layers")
    if set(cfg) != {"type", "layers"} or not isinstance(layers, list):
        raise ValueError("a Sequential is {\"type\": \"Sequential\", \"layers\": [...]}")
    built = []
    for i, layer in enumerate(layers):
        try:
            built.append(module_from_config(layer))
        except (TypeError, ValueError) as e:
            raise ValueError(f"layers[{i}]: {e}") from None
    return Sequential(*built)


def load_model(path: str) -> Module:
    """Rebuild the module saved in `path` (its architecture is in the file) with the
    saved parameters."""
    return model_from_checkpoint(read_checkpoint(path), path)


def model_from_checkpoint(doc: Dict[str, Any], path: str) -> Module:
    """The module of a checkpoint already read by read_checkpoint(path), with its
    parameters (for callers that also want the checkpoint's meta data)."""
    check_sizes(doc, path)   # before building: a tiny file must not ask for a huge network
    try:
        model = module_from_config(doc["model"])
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: cannot build the model {describe_config(doc['model'])}: {e}") from None
    model.load_state_dict(doc["state_dict"], source=str(path))
    return model
