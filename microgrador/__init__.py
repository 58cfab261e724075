"""microgrador: a pure-Python scalar reverse-mode autodiff engine for teaching.

    >>> from microgrador import Value
    >>> x = Value(3.0); y = x * x; y.backward(); x.grad
    6.0
"""
from .engine import (Value, Computed, no_grad, enable_grad, is_grad_enabled, detect_anomaly, gc_paused,
                     topological_order)
from .ops import (Op, exp, log, sqrt, tanh, sigmoid, relu, leaky_relu, sin, cos,
                  dot, logsumexp, softmax, log_softmax, cross_entropy)
from .ops import sum_of as sum, absolute as abs  # noqa: A004 - like torch.sum / torch.abs; not in __all__

__version__ = "0.1.0"

__all__ = ["Value", "Computed", "Op", "no_grad", "enable_grad", "is_grad_enabled", "detect_anomaly", "gc_paused",
           "topological_order",
           "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "leaky_relu", "sin", "cos",
           "dot", "logsumexp", "softmax", "log_softmax", "cross_entropy"]
