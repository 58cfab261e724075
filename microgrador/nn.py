"""Neural networks made of Values: `Neuron`, `Layer`, `MLP`, the image layers, and saving.

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
from the architecture stored in the file.

This module is the face: import from here. The code lives one concept per module,
each importing only those below it:

    init.py        Init, the weight initialisation schemes, and seeds
    checkpoint.py  the checkpoint file format (JSON), and CheckpointError
    module.py      Module, what every network part shares: parameters, state, save/load
    dense.py       Neuron, Layer, MLP and the ACTIVATIONS they apply
    layers.py      Conv2d, MaxPool2d, AvgPool2d, Flatten, BatchNorm1d, Dropout, Sequential, ...
    rebuild.py     any module from its config, and load_model from a checkpoint file
"""
from __future__ import annotations

from .checkpoint import (CHECKPOINT_FORMAT, CHECKPOINT_VERSION, CheckpointError, describe_config,
                         read_checkpoint)
from .dense import ACTIVATIONS, MLP, Layer, Neuron
from .init import Init, Seed
from .layers import (AvgPool2d, BatchNorm1d, Conv2d, Dropout, Flatten, MaxPool2d, ReLU, Sequential,
                     Sigmoid, Tanh, small_lenet)
from .module import Module, StateDict
from .rebuild import MODULE_TYPES, load_model, model_from_checkpoint, module_from_config

__all__ = ["Module", "Neuron", "Layer", "MLP", "ACTIVATIONS", "Init", "Seed", "StateDict",
           "Conv2d", "MaxPool2d", "AvgPool2d", "Flatten", "ReLU", "Tanh", "Sigmoid",
           "BatchNorm1d", "Dropout", "Sequential", "small_lenet",
           "CheckpointError", "CHECKPOINT_FORMAT", "CHECKPOINT_VERSION", "read_checkpoint",
           "load_model", "model_from_checkpoint", "module_from_config", "describe_config",
           "MODULE_TYPES"]
