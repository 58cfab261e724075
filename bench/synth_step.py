"""One training step of the 2-3-2 sigmoid network on the synthetic data:

    python bench/synth_step.py [--repeats 7] [--steps 5000] [--lr 0.05]

A step is forward, softmax cross-entropy loss, backward and an SGD update, on one
sample. Timed, in the same run and interleaved so noise hits all alike:

  microgrador    MLP(2, [3, 2], activation="sigmoid") + cross_entropy + SGD
  hand-written   the same network in pure Python on lists of floats, backprop by hand
  micrograd      micrograd 0.1.0 (`pip install micrograd==0.1.0`), if installed; it has
                 no exp, log or sigmoid, so those are added here in micrograd's own
                 style (one node with a _backward closure each), and neurons are built
                 as micrograd's Neuron builds them (a chain of * and + nodes)

Each repeat runs `--steps` steps over the same samples; the figures are medians
over the repeats, in microseconds per step, and the ratios of those medians.
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

from micrograd_ops import micrograd_ops  # noqa: E402  (bench/, the script's folder)
from microgrador.losses import cross_entropy  # noqa: E402
from microgrador.nn import MLP  # noqa: E402
from microgrador.optim import SGD  # noqa: E402
from microgrador.synth import load_synth  # noqa: E402


def initial_weights(seed: int = 0):
    """W1[j][i] (input i -> hidden j), b1, W2[k][j], b2 drawn from N(0, 1)."""
    rng = random.Random(seed)
    W1 = [[rng.gauss(0, 1) for _ in range(2)] for _ in range(3)]
    b1 = [rng.gauss(0, 1) for _ in range(3)]
    W2 = [[rng.gauss(0, 1) for _ in range(3)] for _ in range(2)]
    b2 = [rng.gauss(0, 1) for _ in range(2)]
    return W1, b1, W2, b2


def microgrador_steps(data, lr, seed=0):
    W1, b1, W2, b2 = initial_weights(seed)
    net = MLP(2, [3, 2], activation="sigmoid", weights=[W1, W2], biases=[b1, b2])
    opt = SGD(net.parameters(), lr=lr)

    def run():
        for x, t in data:
            loss = cross_entropy(net(x), t)
            loss.backward()
            opt.step()
            opt.zero_grad()
    return run, lambda: [p.data for p in net.parameters()]


def hand_steps(data, lr, seed=0):
    """Backprop of the same network written out on lists of floats, for any layer
    sizes (as one would write it by hand for a course: no graph, no objects)."""
    W1, b1, W2, b2 = initial_weights(seed)
    exp = math.exp

    def run():
        for x, t in data:
            # forward: k = W1 x + b1, h = sigmoid(k), o = W2 h + b2, y = softmax(o)
            h = [1.0 / (1.0 + exp(-(sum(map(mul, w, x)) + b))) for w, b in zip(W1, b1)]
            o = [sum(map(mul, w, h)) + b for w, b in zip(W2, b2)]
            m = max(o)
            e = [exp(v - m) for v in o]
            s = sum(e)
            do = [v / s for v in e]            # d loss / d o = y - onehot(t)
            do[t] -= 1.0
            # backward: d loss / d h, then through the sigmoid
            dh = [sum(g * w[j] for g, w in zip(do, W2)) for j in range(len(h))]
            dk = [g * hj * (1.0 - hj) for g, hj in zip(dh, h)]
            # SGD update: dW2 = do h^T, db2 = do, dW1 = dk x^T, db1 = dk
            for w, g in zip(W2, do):
                w[:] = [wj - lr * g * hj for wj, hj in zip(w, h)]
            b2[:] = [b - lr * g for b, g in zip(b2, do)]
            for w, g in zip(W1, dk):
                w[:] = [wi - lr * g * xi for wi, xi in zip(w, x)]
            b1[:] = [b - lr * g for b, g in zip(b1, dk)]

    def params():   # in microgrador's order: neuron by neuron, weights then bias
        return [v for ws, b in zip(W1 + W2, b1 + b2) for v in ws + [b]]
    return run, params


def micrograd_steps(data, lr, seed=0):
    ops = micrograd_ops()
    if ops is None:
        return None
    Value, exp, log, sigmoid = ops

    W1, b1, W2, b2 = initial_weights(seed)
    layer1 = [([Value(w) for w in ws], Value(b)) for ws, b in zip(W1, b1)]
    layer2 = [([Value(w) for w in ws], Value(b)) for ws, b in zip(W2, b2)]
    params = [p for layer in (layer1, layer2) for ws, b in layer for p in ws + [b]]

    def run():
        for x, t in data:
            h = [sigmoid(sum((wi * xi for wi, xi in zip(ws, x)), b)) for ws, b in layer1]
            o = [sum((wi * hi for wi, hi in zip(ws, h)), b) for ws, b in layer2]
            m = max(v.data for v in o)                       # stable log-sum-exp
            loss = log(sum(exp(v - m) for v in o)) - (o[t] - m)
            for p in params:
                p.grad = 0.0
            loss.backward()
            for p in params:
                p.data -= lr * p.grad
    return run, lambda: [p.data for p in params]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--lr", type=float, default=0.05)
    args = parser.parse_args()
    (xs, ys), _, _ = load_synth(num_train=args.steps, num_val=0)
    data = list(zip(xs, ys))
    made = {"microgrador": microgrador_steps(data, args.lr),
            "hand-written": hand_steps(data, args.lr)}
    mg = micrograd_steps(data, args.lr)
    if mg is not None:
        made["micrograd 0.1.0"] = mg
    runners = {name: run for name, (run, _) in made.items()}
    times = {name: [] for name in runners}
    for run in runners.values():
        run()                                              # warm up (and JIT, on PyPy)
    for _ in range(args.repeats):
        for name, run in runners.items():
            t = time.perf_counter()
            run()
            times[name].append((time.perf_counter() - t) / args.steps)
    us = {name: statistics.median(ts) * 1e6 for name, ts in times.items()}
    impl = f"{sys.implementation.name} {sys.version.split()[0]}"
    print(f"2-3-2 sigmoid network, one SGD step (forward, loss, backward, update) on {impl}; "
          f"medians of {args.repeats} repeats of {args.steps:,} steps")
    for name, t in us.items():
        print(f"  {name:<16} {t:8.2f} us/step")
    print(f"  microgrador / hand-written: {us['microgrador'] / us['hand-written']:.2f}x")
    # all ran the same steps on the same samples: their weights must agree
    ref = made["hand-written"][1]()
    for name, (_, params) in made.items():
        diff = max(abs(a - b) for a, b in zip(params(), ref))
        if diff > 1e-9:
            print(f"  WARNING: {name}'s weights differ from the hand-written ones by {diff:.3g}")
    if mg is not None:
        print(f"  micrograd / microgrador:    {us['micrograd 0.1.0'] / us['microgrador']:.2f}x")
    else:
        print("  (micrograd not installed: pip install micrograd==0.1.0 to compare)")


if __name__ == "__main__":
    main()
