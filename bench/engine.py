"""Engine speed: per-node cost of forward + backward.

    python bench/engine.py [--repeats 7] [--chain 100000]

(a) a chain of `--chain` nodes (alternating + and *), forward and backward;
(b) one training step of an MLP 784 -> 300 (sigmoid) -> 10 with softmax
    cross-entropy, built from Values with the dot helper (one node per neuron),
    against a hand-written pure-Python forward/backward/update of the same network
    on plain float lists, measured in the same run. Prints medians and the ratio.
"""
from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import time
from operator import mul

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import microgrador as mg  # noqa: E402
from microgrador import Value  # noqa: E402
from microgrador.engine import apply  # noqa: E402
from microgrador.ops import Dot  # noqa: E402


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def chain(n: int) -> None:
    x = Value(0.5)
    y = x
    for i in range(n):
        y = y * 1.0000001 if i % 2 else y + 0.001
    y.backward()


def make_network(seed: int = 0):
    rng = random.Random(seed)
    w1 = [[rng.gauss(0, 1 / math.sqrt(784)) for _ in range(784)] for _ in range(300)]
    w2 = [[rng.gauss(0, 1 / math.sqrt(300)) for _ in range(300)] for _ in range(10)]
    x = tuple(rng.random() for _ in range(784))
    return w1, w2, x


def engine_step(w1, w2, x, lr=0.01):
    """Build once, then return a step function: forward, loss, backward, SGD update."""
    layer1 = [tuple(Value(w) for w in row) + (Value(0.0),) for row in w1]
    layer2 = [([Value(w) for w in row], Value(0.0)) for row in w2]
    params = [p for n in layer1 for p in n] + [p for ws, b in layer2 for p in ws + [b]]

    def step():
        op = Dot(784, x, bias=True)                    # shared by the 300 neurons
        h = [apply(op, neuron).sigmoid() for neuron in layer1]
        logits = [mg.dot(ws, h, b) for ws, b in layer2]
        loss = mg.cross_entropy(logits, 3)
        loss.backward()
        for p in params:
            p.data -= lr * p.grad
            p.grad = 0.0
    return step


def hand_step(w1, w2, x, lr=0.01):
    """Pure-Python backprop of the same network on lists of floats."""
    w1 = [list(r) for r in w1]
    w2 = [list(r) for r in w2]
    b1, b2 = [0.0] * 300, [0.0] * 10

    def step():
        h = [1 / (1 + math.exp(-(sum(map(mul, w, x)) + b))) for w, b in zip(w1, b1)]
        o = [sum(map(mul, w, h)) + b for w, b in zip(w2, b2)]
        m = max(o)
        e = [math.exp(v - m) for v in o]
        s = sum(e)
        do = [v / s for v in e]
        do[3] -= 1.0                                   # d loss / d o = y - t
        dw2 = [[g * hj for hj in h] for g in do]
        dh = [sum(do[k] * w2[k][j] for k in range(10)) for j in range(300)]
        dk = [g * hj * (1 - hj) for g, hj in zip(dh, h)]
        dw1 = [[g * xi for xi in x] for g in dk]
        for row, drow in zip(w1, dw1):
            row[:] = [w - lr * d for w, d in zip(row, drow)]
        for row, drow in zip(w2, dw2):
            row[:] = [w - lr * d for w, d in zip(row, drow)]
        b1[:] = [b - lr * d for b, d in zip(b1, dk)]
        b2[:] = [b - lr * d for b, d in zip(b2, do)]
    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--chain", type=int, default=100_000)
    args = parser.parse_args()
    impl = f"{sys.implementation.name} {sys.version.split()[0]}"
    print(f"microgrador engine bench on {impl}, medians of {args.repeats} runs")

    t = median_time(lambda: chain(args.chain), args.repeats)
    print(f"(a) chain of {args.chain:,} nodes, forward + backward: {t * 1e3:.1f} ms, "
          f"{t / args.chain * 1e9:.0f} ns per node")

    w1, w2, x = make_network()
    engine, hand = engine_step(w1, w2, x), hand_step(w1, w2, x)
    engine(); hand()                                   # warm up
    te, th = [], []
    for _ in range(args.repeats):                      # interleaved, so noise hits both
        te.append(median_time(engine, 1))
        th.append(median_time(hand, 1))
    te, th = statistics.median(te), statistics.median(th)
    print(f"(b) MLP 784-300-10 training step (forward, loss, backward, SGD update):")
    print(f"    microgrador      {te * 1e3:8.2f} ms")
    print(f"    hand-written     {th * 1e3:8.2f} ms")
    print(f"    ratio microgrador / hand-written: {te / th:.2f}x")


if __name__ == "__main__":
    main()
