"""The course's synthetic data set: two-dimensional points, two classes, a curved boundary.

x ~ N(0, I_2), and the label is 1 exactly when the quadratic form

    x^T Q x = x1^2 + 0.95 x1 x2 + 0.4 x2^2 > 0.6,      Q = [[1, -0.05], [1, 0.4]]

(only Q's symmetric part matters: the x1 x2 coefficient is -0.05 + 1 = 0.95).
The boundary is an ellipse, so a linear classifier cannot separate the classes
but the 2-3-2 sigmoid network can, to about 98%.
"""
from __future__ import annotations

import random
from typing import List, Tuple

Point = Tuple[float, float]
Q = ((1.0, -0.05), (1.0, 0.4))
THRESHOLD = 0.6


def quadratic_form(x1: float, x2: float) -> float:
    """x^T Q x."""
    return Q[0][0] * x1 * x1 + (Q[0][1] + Q[1][0]) * x1 * x2 + Q[1][1] * x2 * x2


def label(x1: float, x2: float) -> int:
    """1 if x^T Q x > 0.6, else 0."""
    return 1 if quadratic_form(x1, x2) > THRESHOLD else 0


def sample(n: int, rng: random.Random) -> Tuple[List[Point], List[int]]:
    """n points x ~ N(0, I_2) (x1 drawn before x2) and their labels."""
    xs = [(rng.gauss(0.0, 1.0), rng.gauss(0.0, 1.0)) for _ in range(n)]
    return xs, [label(x1, x2) for x1, x2 in xs]


def load_synth(num_train: int = 60000, num_val: int = 10000, seed: int = 0):
    """(xtrain, ytrain), (xval, yval), num_classes = 2.

    Points are tuples of two floats (ready for a network's first layer), labels are
    ints 0 or 1. The training and validation sets come from separate random streams
    named after `seed`, so the validation set does not depend on num_train."""
    for name, n in (("num_train", num_train), ("num_val", num_val)):
        if type(n) is not int or n < 0:
            raise ValueError(f"load_synth: {name} must be an int >= 0, got {n!r}")
    if type(seed) is not int:
        raise TypeError(f"load_synth: seed must be an int, got {type(seed).__name__} {seed!r}")
    train = sample(num_train, random.Random(f"microgrador-synth-train-{seed}"))
    val = sample(num_val, random.Random(f"microgrador-synth-val-{seed}"))
    return train, val, 2
