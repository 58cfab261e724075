"""Loss functions of one sample: a network's outputs (a list of Values) and a target in,
one Value out, ready for backward().

    cross_entropy(logits, t)   -log softmax(logits)[t], stable, one node
    nll(log_probs, t)          -log_probs[t]   (after log_softmax)
    mse(outputs, targets)      (1/n) sum_i (o_i - t_i)^2
    hinge(scores, t, margin)   sum_{j != t} max(0, s_j - s_t + margin)   (multiclass SVM)
    binary_cross_entropy(p, t)              -(t log p + (1 - t) log(1 - p)), p in (0, 1)
    binary_cross_entropy_with_logits(z, t)  the same with p = sigmoid(z), stable

The name of each is in LOSSES, for command-line options.
"""
from __future__ import annotations

from typing import Callable, Dict, Sequence, Union

from . import ops
from .engine import Value, as_float
from .ops import Scalar, class_index as _class_index, cross_entropy  # noqa: F401 - one of the losses


def _check(outputs: Sequence, what: str) -> None:
    ops.check_list(outputs, what, "Values (the network's outputs)")


def nll(log_probs: Sequence[Scalar], target: int) -> Scalar:
    """Negative log-likelihood -log_probs[target], for outputs that are already log
    probabilities (log_softmax); nll(log_softmax(z), t) equals cross_entropy(z, t)."""
    _check(log_probs, "nll")
    return -log_probs[_class_index(target, len(log_probs), "nll")]


def mse(outputs: Sequence[Scalar], targets: Union[Sequence[float], float]) -> Scalar:
    """Mean squared error (1/n) sum_i (o_i - t_i)^2; a single number target is
    compared with a single output."""
    _check(outputs, "mse")
    if not hasattr(targets, "__len__"):
        targets = [targets]
    if len(targets) != len(outputs):
        raise ValueError(f"mse: {len(outputs)} outputs but {len(targets)} targets")
    diffs = [o - as_float(t, f"mse target {i}") for i, (o, t) in enumerate(zip(outputs, targets))]
    return ops.dot(diffs, diffs) * (1.0 / len(diffs)) if any(isinstance(d, Value) for d in diffs) \
        else sum(d * d for d in diffs) / len(diffs)


def hinge(scores: Sequence[Scalar], target: int, margin: float = 1.0) -> Scalar:
    """Multiclass max-margin (SVM) loss sum_{j != t} max(0, s_j - s_t + margin): zero
    once the target's score beats every other score by `margin`."""
    _check(scores, "hinge")
    t = _class_index(target, len(scores), "hinge")
    if len(scores) == 1:
        raise ValueError("hinge needs at least two scores (one per class)")
    st = scores[t]
    return ops.sum_of([ops.relu(s - st + margin) for j, s in enumerate(scores) if j != t])


def _probability_target(target: object, what: str) -> float:
    t = as_float(target, f"{what} target")
    if not 0.0 <= t <= 1.0:
        raise ValueError(f"{what}: the target must be in [0, 1] (a class 0 or 1, or a "
                         f"probability), got {target!r}")
    return t


def binary_cross_entropy(p: Scalar, target: Union[int, float]) -> Scalar:
    """-(t log p + (1 - t) log(1 - p)) for a probability p in (0, 1) (e.g. a sigmoid
    output) and a target t in [0, 1]. For logits use binary_cross_entropy_with_logits,
    which cannot hit log(0)."""
    if isinstance(p, (list, tuple)):
        if len(p) != 1:
            raise ValueError(f"binary_cross_entropy takes one probability, got {len(p)} outputs")
        p = p[0]
    t = _probability_target(target, "binary_cross_entropy")
    pd = p.data if isinstance(p, Value) else as_float(p, "binary_cross_entropy(p)")
    if not 0.0 < pd < 1.0:
        raise ValueError(f"binary_cross_entropy needs 0 < p < 1 (log p and log(1 - p)), got "
                         f"p = {pd!r}; with a sigmoid output, use "
                         f"binary_cross_entropy_with_logits on the logit instead")
    terms = []
    if t > 0.0:
        terms.append(t * ops.log(p))
    if t < 1.0:
        terms.append((1.0 - t) * ops.log(1.0 - p))
    return -ops.sum_of(terms)


def binary_cross_entropy_with_logits(z: Scalar, target: Union[int, float]) -> Scalar:
    """binary_cross_entropy(sigmoid(z), t) = log(1 + e^z) - t z, computed as
    logsumexp([0, z]) - t z, so it is finite for any logit z."""
    if isinstance(z, (list, tuple)):
        if len(z) != 1:
            raise ValueError(f"binary_cross_entropy_with_logits takes one logit, got {len(z)} outputs")
        z = z[0]
    t = _probability_target(target, "binary_cross_entropy_with_logits")
    return ops.logsumexp([0.0, z]) - t * z


LOSSES: Dict[str, Callable] = {
    "cross_entropy": cross_entropy,
    "nll": nll,
    "mse": mse,
    "hinge": hinge,
    "binary_cross_entropy": binary_cross_entropy,
    "binary_cross_entropy_with_logits": binary_cross_entropy_with_logits,
}
