"""What an optimizer that visits only the parameters backward() reached would save:

    python bench/touched_walks.py [--data-dir DIR] [--rounds 11]
    PYTHONPATH=. pypy3 bench/touched_walks.py ...

On the 784-300(sigmoid)-10 net of bench/mnist_step.py and the first training image,
after each backward(), times in ms (median over the rounds):

  full update    SGD's loop over all 238,510 parameters (skipping grad == 0)
  touched update the same update over the parameters the backward pass reached: for
                 each first-layer dot node, its non-zero slots (as backward() walks
                 them), then every parameter of the other nodes
  full zero      zero_grad over all parameters
  touched zero   zeroing only the touched ones

These are the bare walks, without the bookkeeping that finds the touched parameters:
SGD(..., touched_only=True) does that work too (bench/table.py times the whole step
with it). The default SGD walks every parameter, since only that applies a .grad set
by hand.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from microgrador.datasets import load_mnist  # noqa: E402
from microgrador.engine import topological_order  # noqa: E402
from microgrador.losses import cross_entropy  # noqa: E402
from microgrador.nn import MLP  # noqa: E402
import mnist_step  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="folder with the real MNIST files (else the bundled subset)")
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--lr", type=float, default=0.05)
    args = parser.parse_args()
    if args.data_dir:
        train, _, _ = load_mnist(data_dir=args.data_dir, download=False, progress=False)
    else:
        train, _, _ = load_mnist(subset=True, progress=False)
    x, t = train[0]
    x = tuple(x)
    W1, b1, W2, b2 = mnist_step.initial_weights(0)
    net = MLP(784, [300, 10], activation="sigmoid", weights=[W1, W2], biases=[b1, b2])
    params, lr = net.parameters(), args.lr

    def backward():
        """zero_grad, forward, backward; returns what the touched walks visit."""
        for p in params:
            p.grad = 0.0
        loss = cross_entropy(net(x), t)
        loss.backward()
        order = topological_order(loss)
        sparse = [(n._parents, n._op.sparse[0]) for n in order
                  if n._op.sparse is not None and n.grad]
        rest = [p for n in order if n._op.sparse is None for p in n._parents if not p._parents]
        return sparse, rest

    def full_update(sparse, rest):
        for p in params:
            g = p.grad
            if g:
                p.data -= lr * g

    def touched_update(sparse, rest):
        for parents, slots in sparse:
            for i in slots:
                p = parents[i]
                p.data -= lr * p.grad
        for p in rest:
            g = p.grad
            if g:
                p.data -= lr * g

    def full_zero(sparse, rest):
        for p in params:
            p.grad = 0.0

    def touched_zero(sparse, rest):
        for parents, slots in sparse:
            for i in slots:
                parents[i].grad = 0.0
        for p in rest:
            p.grad = 0.0

    walks = (full_update, touched_update, full_zero, touched_zero)
    times = {f.__name__: [] for f in walks}
    for _ in range(args.rounds):
        for walk in walks:
            visits = backward()
            start = time.perf_counter()
            walk(*visits)
            times[walk.__name__].append((time.perf_counter() - start) * 1e3)
    sparse, rest = backward()
    touched = sum(len(slots) for _, slots in sparse) + len(rest)
    print(f"{sys.implementation.name}: {touched:,} of {len(params):,} parameters touched; "
          f"ms, median [min-max] over {args.rounds} rounds")
    for name, ts in times.items():
        print(f"  {name.replace('_', ' '):<15} {statistics.median(ts):6.2f} [{min(ts):.2f}-{max(ts):.2f}]")


if __name__ == "__main__":
    main()
