"""One MNIST training step of a 784-300(sigmoid)-10 network, three ways, in one run:

    python bench/mnist_step.py [--repeats 15] [--lr 0.05] [--micrograd | --no-micrograd]
                               [--micrograd-repeats 3]

A step is forward, softmax cross-entropy loss, backward and an SGD update on one image
(the first of the bundled subset, pixels / 255):

  microgrador    MLP(784, [300, 10], activation="sigmoid") + losses.cross_entropy +
                 optim.SGD, with opt.zero_grad() every step
  hand-written   the same network in pure Python on lists of floats, backprop by hand:
                 what a competent student writes (sum(map(mul, ...)), list comprehensions);
                 the issue's baseline
  hand, sparse   the same, but the first layer skips the zero pixels in its forward sum
                 and its weight update, as microgrador does (a zero input's weight gets a
                 zero gradient): the fairer baseline, since that is where microgrador's
                 speed comes from
  micrograd      micrograd 0.1.0 (`pip install micrograd==0.1.0`), its MLP built as its
                 README does, MLP(784, [300, 10]) (relu hidden units: it has no sigmoid),
                 with exp and log added in its own style for the loss. It needs a high
                 recursion limit, about 9 s and 600 MB for ONE step, so it runs one
                 warm-up step and --micrograd-repeats timed steps (by default when
                 installed; --micrograd insists, --no-micrograd skips)

microgrador and the hand-written steps are timed interleaved (noise hits both alike); the figures
are medians of --repeats. Before timing, one step of each from the same initial weights
must give the same loss and the same updated weights (to 1e-9), or the bench stops.
"""
from __future__ import annotations

import argparse
import gc
import math
import os
import random
import statistics
import sys
import time
from operator import mul

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from microgrador.datasets import load_mnist  # noqa: E402
from step_parts import microgrador_sgd_steps, microgrador_train_steps, softmax_output_step  # noqa: E402  (bench/, the script's folder)
from micrograd_ops import micrograd_ops  # noqa: E402
from microgrador.nn import MLP  # noqa: E402

SIZES = (784, 300, 10)


def initial_weights(seed: int = 0):
    """W1[j][i] (pixel i -> hidden j) ~ N(0, 1/sqrt(784)), W2[k][j] ~ N(0, 1/sqrt(300)),
    biases 0: the reference network's initialisation."""
    rng = random.Random(seed)
    n0, n1, n2 = SIZES
    W1 = [[rng.gauss(0.0, 1.0 / math.sqrt(n0)) for _ in range(n0)] for _ in range(n1)]
    W2 = [[rng.gauss(0.0, 1.0 / math.sqrt(n1)) for _ in range(n1)] for _ in range(n2)]
    return W1, [0.0] * n1, W2, [0.0] * n2


def microgrador_step(x, t, lr, seed=0, touched_only=False):
    return microgrador_steps([(x, t)], lr, seed, touched_only)


def microgrador_steps(samples, lr, seed=0, touched_only=False, as_train=False):
    """(step, params): step() takes one SGD step on each (x, t) of samples in turn;
    as_train: the step training.train takes (step_parts.microgrador_train_steps)."""
    W1, b1, W2, b2 = initial_weights(seed)
    net = MLP(784, [300, 10], activation="sigmoid", weights=[W1, W2], biases=[b1, b2])
    # parameters neuron by neuron, weights then bias
    samples = [(tuple(x), t) for x, t in samples]
    if as_train:
        return microgrador_train_steps(net, samples, lr)
    return microgrador_sgd_steps(net, samples, lr, touched_only)


def hand_step(x, t, lr, seed=0, skip_zero_pixels=False):
    return hand_steps([(x, t)], lr, seed, skip_zero_pixels)


def hand_steps(samples, lr, seed=0, skip_zero_pixels=False):
    """Backprop of the 784-300-10 network written out on lists of floats, one step on
    each (x, t) of samples in turn. With skip_zero_pixels the first layer leaves out
    the pixels that are 0 (most of them), in its forward sum and in the W1 update, as
    microgrador does: a fairer baseline. (It finds them at every step, as microgrador does.)"""
    W1, b1, W2, b2 = initial_weights(seed)
    exp = math.exp

    def one_step(x, t):
        # forward: h = sigmoid(W1 x + b1), o = W2 h + b2, loss = logsumexp(o) - o[t]
        if skip_zero_pixels:
            nz = [i for i, v in enumerate(x) if v]          # the non-zero pixels
            xnz = [x[i] for i in nz]
            h = [1.0 / (1.0 + exp(-(sum(map(mul, [w[i] for i in nz], xnz)) + b)))
                 for w, b in zip(W1, b1)]
        else:
            h = [1.0 / (1.0 + exp(-(sum(map(mul, w, x)) + b))) for w, b in zip(W1, b1)]
        # output layer, its backward and its update: loss, d loss/d h = W2^T (softmax(o) - onehot(t));
        # through the sigmoid: dk = dh * h * (1 - h)
        loss, dh = softmax_output_step(W2, b2, h, t, lr)
        dk = [g * hj * (1.0 - hj) for g, hj in zip(dh, h)]
        # SGD update of the first layer: W1 -= lr dk x^T, b1 -= lr dk
        for j, g in enumerate(dk):
            c = lr * g
            if skip_zero_pixels:
                w = W1[j]
                for i, xi in zip(nz, xnz):
                    w[i] -= c * xi
            else:
                W1[j] = [w - c * xi for w, xi in zip(W1[j], x)]
            b1[j] -= c
        return loss

    def step():
        for x, t in samples:
            loss = one_step(x, t)
        return loss

    def params():   # in microgrador's order
        return [v for ws, b in zip(W1 + W2, b1 + b2) for v in ws + [b]]
    return step, params


def hand_step_sparse(x, t, lr, seed=0):
    return hand_step(x, t, lr, seed, skip_zero_pixels=True)


def micrograd_step(x, t, lr, seed=0):
    """micrograd 0.1.0's MLP(784, [300, 10]) and one SGD step, or None if not installed."""
    ops = micrograd_ops()
    if ops is None:
        return None
    from micrograd.nn import MLP as MicrogradMLP
    _, exp, log, _ = ops

    random.seed(seed)                              # micrograd draws its weights from `random`
    model = MicrogradMLP(784, [300, 10])
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20000))   # its recursive topological sort

    def step():
        o = model(x)
        m = max(v.data for v in o)                 # stable log-sum-exp
        loss = log(sum(exp(v - m) for v in o)) - (o[t] - m)
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= lr * p.grad
        return loss.data
    return step, None


def check_same_step(x, t, lr) -> float:
    """One step of microgrador and of each hand-written step from the same weights:
    the losses and every updated weight must agree to 1e-9 (microgrador's two steps:
    SGD and SGD(touched_only=True), after two steps, exactly). Returns the largest gap."""
    mg_step, mg_params = microgrador_step(x, t, lr)
    touched_step, touched_params = microgrador_step(x, t, lr, touched_only=True)
    for _ in range(2):
        mg_step(), touched_step()
    if mg_params() != touched_params():
        sys.exit("microgrador's SGD and SGD(touched_only=True) disagree after two steps")
    mg_step, mg_params = microgrador_step(x, t, lr)
    loss_mg, largest = mg_step(), 0.0
    for make in (hand_step, hand_step_sparse):
        hand, hand_params = make(x, t, lr)
        loss_hand = hand()
        gap = max([abs(loss_mg - loss_hand)] + [abs(a - b) for a, b in zip(mg_params(), hand_params())])
        if len(mg_params()) != len(hand_params()) or gap > 1e-9:
            sys.exit(f"microgrador and {make.__name__} disagree: loss {loss_mg!r} vs "
                     f"{loss_hand!r}, largest weight gap {gap:.3g}")
        largest = max(largest, gap)
    return largest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--micrograd-repeats", type=int, default=3,
                        help="micrograd steps to time after its warm-up step (each takes seconds; default 3)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--micrograd", action="store_true", help="time micrograd 0.1.0 (must be installed)")
    which.add_argument("--no-micrograd", action="store_true", help="do not time micrograd")
    args = parser.parse_args()

    train, _, _ = load_mnist(subset=True, progress=False)
    x, t = train[0]
    gap = check_same_step(x, t, args.lr)

    runners = {"microgrador": microgrador_step(x, t, args.lr)[0],
               "hand-written": hand_step(x, t, args.lr)[0],
               "hand, sparse": hand_step_sparse(x, t, args.lr)[0]}
    for run in runners.values():
        run()                                      # warm up (and JIT, on PyPy)
    times = {name: [] for name in runners}
    for _ in range(args.repeats):
        for name, run in runners.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    ms = {name: statistics.median(ts) * 1e3 for name, ts in times.items()}

    micrograd_ms = micrograd_ratio = None
    if not args.no_micrograd:
        made = micrograd_step(x, t, args.lr)
        if made is None and args.micrograd:
            sys.exit("micrograd is not installed: pip install micrograd==0.1.0")
        if made is not None:
            # A micrograd step takes seconds, so it is timed in a block of consecutive
            # steps, as in a training loop: its graphs are reference cycles, which only
            # the cyclic garbage collector frees, and in a loop each step pays for
            # collecting its predecessors' garbage. (The warm-up step's garbage is
            # collected during the timed block, the last one's after it: they balance.)
            # microgrador is timed again just after, on a clean heap, for the ratio.
            gc.collect()
            made[0]()                              # warm-up
            start = time.perf_counter()
            for _ in range(args.micrograd_repeats):
                made[0]()
            micrograd_ms = (time.perf_counter() - start) / args.micrograd_repeats * 1e3
            gc.collect()
            local = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                runners["microgrador"]()
                local.append(time.perf_counter() - start)
            micrograd_ratio = micrograd_ms / (statistics.median(local) * 1e3)

    impl = f"{sys.implementation.name} {sys.version.split()[0]}"
    print(f"MNIST 784-300(sigmoid)-10, one training step (forward, cross-entropy, backward, "
          f"SGD update) on {impl}")
    print(f"microgrador and the hand-written steps: medians of {args.repeats} interleaved repeats; "
          f"same loss and updated weights after one step (largest gap {gap:.1e})")
    for name, value in ms.items():
        print(f"  {name:<16} {value:10.2f} ms/step")
    if micrograd_ms is not None:
        print(f"  {'micrograd 0.1.0':<16} {micrograd_ms:10.2f} ms/step (mean of "
              f"{args.micrograd_repeats} steps in a row after a warm-up; relu hidden units)")
    print(f"  microgrador / hand-written: {ms['microgrador'] / ms['hand-written']:.2f}x")
    print(f"  microgrador / hand, sparse: {ms['microgrador'] / ms['hand, sparse']:.2f}x "
          f"(both skip the {sum(1 for v in x if not v)} zero pixels of {len(x)})")
    if micrograd_ms is not None:
        print(f"  micrograd / microgrador:    {micrograd_ratio:.0f}x (against microgrador's median "
              f"timed again just after micrograd)")
    elif not args.no_micrograd:
        print("  (micrograd not installed: pip install micrograd==0.1.0 to compare)")


if __name__ == "__main__":
    main()
