"""One MNIST training step of the LeNet-style CNN of `train mnist --model cnn`, two ways:

    python bench/cnn_step.py [--rounds 7] [--lr 0.05]
    PYTHONPATH=. pypy3 bench/cnn_step.py

The network (microgrador.nn.small_lenet, 5,142 parameters): conv 5x5 1->6, relu,
max-pool 2, conv 5x5 6->16, relu, max-pool 2, linear 256->10; a step is forward,
softmax cross-entropy, backward and an SGD update on one image (the first of the
bundled subset, pixels / 255):

  microgrador    small_lenet() + losses.cross_entropy + optim.SGD, zero_grad every step
  hand-written   the same network on lists of floats with backprop by hand: each
                 convolution as dot products of flat kernels with flat receptive fields
                 (sum(map(mul, ...))), kernel gradients as dot products of the output
                 gradients with the field columns, max-pool remembering its winners

Both start from the same weights (copied from small_lenet(seed=0)); before timing, one
step of each must give the same loss and the same updated weights (to 1e-9), or the
bench stops. The two are timed in interleaved rounds (noise hits both alike), each
round a few steps after warm-up; the figures are medians over the rounds, with the
ratio of the medians and its spread (min..max of the per-round ratios).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from operator import mul

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from step_parts import microgrador_sgd_step, softmax_output_step  # noqa: E402  (bench/)
from microgrador.datasets import load_mnist  # noqa: E402
from microgrador.nn import small_lenet  # noqa: E402

K = 5   # both kernels are 5x5


def microgrador_step(image, t, lr):
    return microgrador_sgd_step(small_lenet(seed=0), image, t, lr)


def fields(channels, size, k=K):
    """For each output position of a valid k x k convolution of a channels x size x size
    input (flattened), the flat indices of its receptive field, in the kernel's order."""
    out = size - k + 1
    return [[(c * size + i + u) * size + j + v for c in range(channels) for u in range(k) for v in range(k)]
            for i in range(out) for j in range(out)]


def pool_windows(channels, size):
    """For each output of a 2x2 max-pool (stride 2) on channels x size x size, the flat
    indices of its window, in row order."""
    half = size // 2
    return [[(c * size + 2 * i + u) * size + 2 * j + v for u in range(2) for v in range(2)]
            for c in range(channels) for i in range(half) for j in range(half)]


def hand_step(image, t, lr):
    net = small_lenet(seed=0)
    conv1, conv2, linear = net[0], net[3], net[7]
    # kernels as flat lists in microgrador's (c, u, v) order, biases, the linear layer
    K1 = [[w.data for w in p[:-1]] for p in conv1.params]
    B1 = [p[-1].data for p in conv1.params]
    K2 = [[w.data for w in p[:-1]] for p in conv2.params]
    B2 = [p[-1].data for p in conv2.params]
    W3 = [[w.data for w in n.params[:-1]] for n in linear.neurons]
    B3 = [n.params[-1].data for n in linear.neurons]
    x = [v for row in image[0] for v in row]
    F1, F2 = fields(1, 28), fields(6, 12)          # 576 fields of 25, 64 fields of 150
    P1, P2 = pool_windows(6, 24), pool_windows(16, 8)
    def conv_relu_pool(inputs, F, kernels, biases, P):
        """Convolution, relu and 2x2 max-pool; returns the fields, the pre-activations
        (flat, channel-major), the pooled outputs and the index of each winner."""
        patches = [[inputs[n] for n in f] for f in F]
        z = [sum(map(mul, w, patch)) + b for w, b in zip(kernels, biases) for patch in patches]
        a = [v if v > 0 else 0.0 for v in z]
        winners = []
        for window in P:
            best = window[0]
            for n in window[1:]:
                if a[n] > a[best]:
                    best = n
            winners.append(best)
        return patches, z, [a[n] for n in winners], winners

    def conv_backward(patches, z, d_pooled, winners, kernels, biases):
        """Kernel and bias updates from the pooled outputs' gradients; returns
        dL/dz per output channel (for the input gradient)."""
        dz = [0.0] * len(z)
        for g, n in zip(d_pooled, winners):
            if z[n] > 0:                     # relu passes the gradient where z > 0
                dz[n] += g
        positions = len(patches)
        dz_by_channel = [dz[o * positions:(o + 1) * positions] for o in range(len(kernels))]
        columns = list(zip(*patches))
        for o, g in enumerate(dz_by_channel):
            kernels[o] = [w - lr * sum(map(mul, g, column)) for w, column in zip(kernels[o], columns)]
            biases[o] -= lr * sum(g)
        return dz_by_channel

    def step():
        # forward
        patches1, z1, p1, win1 = conv_relu_pool(x, F1, K1, B1, P1)
        patches2, z2, p2, win2 = conv_relu_pool(p1, F2, K2, B2, P2)
        # backward, with the updates made once a weight's gradient is known and no
        # longer needed (W3 before conv2's kernels, K2 before conv1's)
        loss, dp2 = softmax_output_step(W3, B3, p2, t, lr)
        K2_old = [list(w) for w in K2]
        dz2 = conv_backward(patches2, z2, dp2, win2, K2, B2)
        # dL/dp1: each field position n of output position q gets sum_o dz2[o][q] K2[o][n]
        dp1 = [0.0] * len(p1)
        kernel_columns = list(zip(*K2_old))
        for q, field in enumerate(F2):
            g = [dz2[o][q] for o in range(len(K2_old))]
            if any(g):
                for n, column in zip(field, kernel_columns):
                    dp1[n] += sum(map(mul, g, column))
        conv_backward(patches1, z1, dp1, win1, K1, B1)
        return loss

    def params():   # in microgrador's order: kernels, then biases, per layer; neuron by neuron
        return ([w for k in K1 for w in k] + B1 + [w for k in K2 for w in k] + B2
                + [v for w, b in zip(W3, B3) for v in w + [b]])
    return step, params


def check_same_step(image, t, lr) -> float:
    (mg, mg_params), (hand, hand_params) = microgrador_step(image, t, lr), hand_step(image, t, lr)
    loss_mg, loss_hand = mg(), hand()
    a, b = mg_params(), hand_params()
    gap = max([abs(loss_mg - loss_hand)] + [abs(u - v) for u, v in zip(a, b)])
    if len(a) != len(b) or gap > 1e-9:
        sys.exit(f"microgrador and the hand-written step disagree: loss {loss_mg!r} vs {loss_hand!r}, "
                 f"{len(a)} vs {len(b)} parameters, largest weight gap {gap:.3g}")
    return gap


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (default 7)")
    parser.add_argument("--steps", type=int, default=3, help="steps per round and way (default 3)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (default 5; PyPy's JIT)")
    parser.add_argument("--lr", type=float, default=0.05)
    args = parser.parse_args()

    train, _, _ = load_mnist(subset=True, progress=False)
    pixels, t = train[0]
    image = [[tuple(pixels[r * 28:(r + 1) * 28]) for r in range(28)]]
    gap = check_same_step(image, t, args.lr)

    runners = {"microgrador": microgrador_step(image, t, args.lr)[0],
               "hand-written": hand_step(image, t, args.lr)[0]}
    for run in runners.values():
        for _ in range(args.warmup):
            run()
    times = {name: [] for name in runners}
    for _ in range(args.rounds):
        for name, run in runners.items():
            start = time.perf_counter()
            for _ in range(args.steps):
                run()
            times[name].append((time.perf_counter() - start) / args.steps)
    ms = {name: statistics.median(ts) * 1e3 for name, ts in times.items()}
    ratios = [a / b for a, b in zip(times["microgrador"], times["hand-written"])]

    impl = f"{sys.implementation.name} {sys.version.split()[0]}"
    print(f"MNIST LeNet-style CNN (5,142 parameters), one training step (forward, cross-entropy, "
          f"backward, SGD update) on {impl}")
    print(f"medians of {args.rounds} interleaved rounds of {args.steps} steps each after "
          f"{args.warmup} warm-up steps; same loss and updated weights after one step "
          f"(largest gap {gap:.1e})")
    for name, value in ms.items():
        spread = f"{min(times[name]) * 1e3:.1f}..{max(times[name]) * 1e3:.1f}"
        print(f"  {name:<14} {value:9.1f} ms/step  (rounds {spread})")
    print(f"  microgrador / hand-written: {ms['microgrador'] / ms['hand-written']:.2f}x "
          f"(per-round ratios {min(ratios):.2f}..{max(ratios):.2f})")


if __name__ == "__main__":
    main()
