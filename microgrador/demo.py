"""`microgrador demo`: the engine at work in under half a minute, offline.

1. the chain rule on y = tanh(x*w + b), checked by hand and by finite differences;
2. the course's 2-3-2 scalar network: loss ln 2, dV, dc, and dW = db = 0;
3. that network trained by per-sample SGD on the synthetic two-class data;
4. a 784-32-10 network trained on the MNIST subset bundled with the package.

Each part prints what it computed next to what it should be.
"""
from __future__ import annotations

import argparse
import math
import time

from .engine import Value, topological_order
from .testing import gradcheck


def chain_rule_example() -> bool:
    x, w, b = Value(1.0, "x"), Value(-2.0, "w"), Value(0.5, "b")
    xw = x * w
    xw.label = "x*w"
    z = xw + b
    z.label = "z"
    y = z.tanh()
    y.label = "y"
    y.backward()
    print("1. y = tanh(x*w + b) at x = 1, w = -2, b = 0.5, after y.backward(). Each node after "
          "its inputs;\n   backward multiplies a node's grad by its local derivatives and adds "
          "the products to its inputs' grads:")
    print(f"   {'node':>5}  {'op':<5} {'data':>10} {'grad':>10}   local derivatives d node / d input")
    for node in _with_leaves(topological_order(y)):
        local = ", ".join(f"d{_name(node)}/d{_name(p)} = {d:.6f}"
                          for p, d in zip(node.parents, node.partials))
        print(f"   {node.label:>5}  {node.op or 'leaf':<5} {node.data:>10.6f} {node.grad:>10.6f}   "
              f"{local}".rstrip())
    expected = (1 - math.tanh(-1.5) ** 2) * x.data
    print(f"   dy/dw by hand: (1 - tanh(-1.5)^2) * x = {expected:.6f}  "
          f"(engine: {w.grad:.6f})")
    ok = gradcheck(lambda x, w, b: (x * w + b).tanh(), [1.0, -2.0, 0.5])
    print(f"   gradcheck against central differences: {'passed' if ok else 'FAILED'}")
    return ok and math.isclose(w.grad, expected, rel_tol=1e-12)


def _name(node: Value) -> str:
    return node.label if node.label.isalnum() else f"({node.label})"


def _with_leaves(interior: list) -> list:
    """The interior nodes in topological order, each leaf inserted before its first use."""
    seen, out = set(), []
    for node in interior:
        for parent in node.parents:
            if not parent.parents and id(parent) not in seen:
                seen.add(id(parent))
                out.append(parent)
        out.append(node)
    return out


def scalar_net_example() -> bool:
    from .scalar_net import run
    r = run()
    # By hand: k = x W = [2, 2, 2], h = sigmoid(2), o = h V = [-h, -h] (the three rows of V
    # add to -1 per output), so y = [1/2, 1/2] and loss = ln 2. d loss/d o = y - t =
    # [-1/2, 1/2], dV[j] = h_j (y - t), dc = y - t. Each row of V has equal entries, so
    # d loss/d h_j = V[j] . (y - t) = 0, and with it dW = db = 0.
    h = 1 / (1 + math.exp(-2))
    by_hand = {"loss": [math.log(2)], "dV": [-h / 2, h / 2] * 3, "dc": [-0.5, 0.5],
               "dW": [0.0] * 6, "db": [0.0] * 3}
    print("\n2. The course's 2-3-2 scalar network (x = [1, -1], target 0), one backward pass "
          "(all the numbers: microgrador scalar-net):")
    print(f"   loss = {r['loss']!r}   (by hand: ln 2 = {math.log(2)!r})")
    print(f"   dV = {r['dV']}   (by hand: each row [-h/2, h/2], h = sigmoid(2) = {h:.6f})")
    print(f"   dc = {r['dc']}   dW = {r['dW']}   db = {r['db']}")
    ok = True
    for name, expected in by_hand.items():
        got = _flat(r[name])
        ok = ok and len(got) == len(expected) and all(
            math.isclose(g, e, rel_tol=1e-12, abs_tol=1e-15) for g, e in zip(got, expected))
    print(f"   all equal to the hand computation: {'yes' if ok else 'NO'}")
    return ok


def _flat(x) -> list:
    """A number, a vector or a matrix as one flat list."""
    if not isinstance(x, list):
        return [x]
    return [v for item in x for v in _flat(item)]


def _report_epoch(figures) -> None:
    print(f"   epoch {figures['epoch']}: train loss {figures['train_loss']:.4f}, "
          f"validation loss {figures['val_loss']:.4f}, "
          f"validation accuracy {100 * figures['val_accuracy']:.2f}%")


def synth_example(num_train: int, epochs: int) -> None:
    from .nn import MLP
    from .optim import SGD
    from .synth import load_synth
    from .training import train
    train_data, val_data, _ = load_synth(num_train, 2000, seed=0)
    print(f"\n3. The 2-3-2 network trained on {num_train:,} synthetic points "
          f"(label 1 where x1^2 + 0.95 x1 x2 + 0.4 x2^2 > 0.6), per-sample SGD, lr 0.05:")
    net = MLP(2, [3, 2], activation="sigmoid", init="normal(1)", seed=0)
    history = train(net, SGD(net.parameters(), lr=0.05), train_data, val_data, epochs=epochs,
                    on_epoch=_report_epoch)
    print(f"   {history.total_seconds:.1f} s; the full run: microgrador train synth "
          f"(60,000 points, 3 epochs, >= 97%)")


def mnist_example(limit: int, epochs: int, hidden: int = 32) -> None:
    from .datasets import load_mnist
    from .nn import MLP
    from .optim import SGD
    from .training import train
    train_set, val_set, info = load_mnist(subset=True, progress=False)
    train_set = train_set.split(0, min(limit, len(train_set)))
    print(f"\n4. MNIST in pure Python: MLP 784 -> {hidden} -> 10 (sigmoid), per-sample SGD, "
          f"lr 0.05, on {len(train_set):,} images of the bundled subset, validated on "
          f"{len(val_set):,} others:")
    net = MLP(784, [hidden, 10], activation="sigmoid", init="lecun", seed=0)
    history = train(net, SGD(net.parameters(), lr=0.05), train_set.xy(), val_set.xy(),
                    epochs=epochs, on_epoch=_report_epoch)
    rate = history.samples / history.train_seconds if history.train_seconds else math.inf
    commonest = max(val_set.labels.count(d) for d in range(10)) / len(val_set)
    print(f"   {history.total_seconds:.1f} s ({rate:,.0f} training samples/s); always answering "
          f"the commonest digit would score {100 * commonest:.1f}%")
    print("   the full run (784-300-10 on all 60,000 images, about 96% after one epoch):\n"
          "   microgrador train mnist --final --data-dir DIR   (downloads MNIST into DIR)")


def run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    ok = chain_rule_example()
    ok = scalar_net_example() and ok
    if args.quick:
        synth_example(2000, 1)
        mnist_example(300, 1)
    else:
        synth_example(20000, 3)
        mnist_example(1500, 2)
    print(f"\nDone in {time.perf_counter() - start:.0f} s. Next: microgrador draw scalar-net -o net.svg "
          f"(needs Graphviz's dot), the notebooks in notebooks/, microgrador --help.")
    if not ok:
        print("demo: a derivative differs from its hand computation (see above)")
        return 1
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("demo", help="a half-minute tour: chain rule, scalar net, training (offline)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny training runs (a few seconds)")
    p.set_defaults(func=run)
