"""A NumPy reference of `microgrador train mnist --final`: the same network, initial
weights, sample order and per-sample SGD, to check microgrador's accuracy against.

    python bench/mnist_numpy.py --data-dir DIR [--lr 0.05] [--epochs 1] [--seeds 0 1 2 3 4]

784-HIDDEN(sigmoid)-10, softmax + cross-entropy, W ~ N(0, 1/sqrt(fan_in)) drawn with
random.Random(seed) neuron by neuron exactly as microgrador.nn.MLP draws them, zero
biases, pixels / 255, the training order shuffled every epoch by a second
random.Random(seed) as microgrador.training.train does. With seed 0 it therefore
follows microgrador's run step by step (up to rounding); other seeds show how much
the accuracy moves with the initialisation and the order (the noise). Prints the test
accuracy after each epoch. Needs numpy (the bench only; microgrador itself does not).
"""
from __future__ import annotations

import argparse
import math
import os
import random
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from microgrador.datasets import load_mnist  # noqa: E402


def as_arrays(images):
    """(N x 784 float64 pixels in [0, 1], N int labels) from an ImageSet."""
    pixels = np.frombuffer(b"".join(images.images), dtype=np.uint8).reshape(len(images), -1)
    return pixels.astype(np.float64) / 255.0, np.frombuffer(images.labels, dtype=np.uint8).astype(int)


def initial_weights(seed: int, hidden: int, nin: int = 784, nout: int = 10):
    rng = random.Random(seed)
    W1 = np.array([[rng.gauss(0.0, 1.0 / math.sqrt(nin)) for _ in range(nin)] for _ in range(hidden)])
    W2 = np.array([[rng.gauss(0.0, 1.0 / math.sqrt(hidden)) for _ in range(hidden)] for _ in range(nout)])
    return W1, np.zeros(hidden), W2, np.zeros(nout)


def accuracy(W1, b1, W2, b2, X, y) -> float:
    H = 1.0 / (1.0 + np.exp(-(X @ W1.T + b1)))
    return float(np.mean(np.argmax(H @ W2.T + b2, axis=1) == y))


def run(X, y, Xt, yt, lr: float, epochs: int, seed: int, hidden: int):
    W1, b1, W2, b2 = initial_weights(seed, hidden)
    order_rng = random.Random(seed)
    accuracies = []
    for _ in range(epochs):
        order = list(range(len(X)))
        order_rng.shuffle(order)
        for i in order:
            x, t = X[i], y[i]
            h = 1.0 / (1.0 + np.exp(-(W1 @ x + b1)))
            o = W2 @ h + b2
            e = np.exp(o - o.max())
            do = e / e.sum()
            do[t] -= 1.0                            # d loss / d o = softmax(o) - onehot(t)
            dk = (W2.T @ do) * h * (1.0 - h)        # through W2 and the sigmoid
            W2 -= lr * np.outer(do, h)
            b2 -= lr * do
            W1 -= lr * np.outer(dk, x)
            b1 -= lr * dk
        accuracies.append(accuracy(W1, b1, W2, b2, Xt, yt))
    return accuracies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir")
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--hidden", type=int, default=300)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args()
    train, test, info = load_mnist(data_dir=args.data_dir, final=True, progress=False)
    X, y = as_arrays(train)
    Xt, yt = as_arrays(test)
    print(f"NumPy reference, 784-{args.hidden}(sigmoid)-10, per-sample SGD lr {args.lr:g}, "
          f"{args.epochs} epoch(s); {info['summary']}")
    finals = []
    for seed in args.seeds:
        t0 = time.perf_counter()
        accs = run(X, y, Xt, yt, args.lr, args.epochs, seed, args.hidden)
        finals.append(accs[-1])
        print(f"  seed {seed}: test accuracy after each epoch "
              f"{', '.join(f'{100 * a:.2f}%' for a in accs)}  ({time.perf_counter() - t0:.0f} s)",
              flush=True)
    if len(finals) > 1:
        mean = sum(finals) / len(finals)
        sd = math.sqrt(sum((a - mean) ** 2 for a in finals) / (len(finals) - 1))
        print(f"  final accuracy over {len(finals)} seeds: mean {100 * mean:.2f}%, "
              f"sd {100 * sd:.2f}, range {100 * min(finals):.2f}-{100 * max(finals):.2f}%")


if __name__ == "__main__":
    main()
