"""Training and evaluation: a per-sample SGD loop, and the `microgrador train` command.

    train(model, optimizer, (xtrain, ytrain), (xval, yval), epochs=3)

runs, for every sample in a shuffled order: outputs = model(x), loss =
loss_fn(outputs, y), backward, optimizer step. After each epoch it measures the
validation loss and accuracy under no_grad() (no graph is built). A tqdm bar on
stderr shows samples/s, the time left and the running mean of the loss.

`microgrador train synth` trains the course's 2-3-2 sigmoid network on the
synthetic data; other data sets plug in the same way (see `register`): a
subcommand builds its data and model, then calls `run_training`.
"""
from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from .engine import Value, no_grad
from .losses import cross_entropy
from .nn import MLP, Init, Module
from .optim import SGD, Optimizer

LossFn = Callable[[List[Value], Any], Value]
Data = Tuple[Sequence, Sequence]


# --- evaluation -------------------------------------------------------------------------------
def argmax(outputs: Sequence[Union[Value, float]]) -> int:
    """The index of the largest output (the first one on ties)."""
    values = [o.data if isinstance(o, Value) else o for o in outputs]
    return max(range(len(values)), key=values.__getitem__)


def predict(model: Callable, x: Sequence[float]) -> int:
    """The predicted class of one sample: the argmax of the outputs, without a graph."""
    with no_grad():
        return argmax(model(x))


def evaluate(model: Callable, xs: Sequence, ys: Sequence, loss_fn: LossFn = cross_entropy,
             progress: bool = False, desc: str = "evaluating") -> Tuple[float, float]:
    """(mean loss, accuracy in [0, 1]) over a data set, under no_grad()."""
    if len(xs) != len(ys):
        raise ValueError(f"evaluate: {len(xs)} samples but {len(ys)} labels")
    if not xs:
        return math.nan, math.nan
    total, correct = 0.0, 0
    bar = _progress(len(xs), desc, progress)
    with no_grad():
        for i, (x, y) in enumerate(zip(xs, ys), 1):
            outputs = model(x)
            loss = loss_fn(outputs, y)
            total += loss.data if isinstance(loss, Value) else loss
            correct += argmax(outputs) == y
            if i % 1000 == 0:
                bar.update(1000)
    bar.close()
    return total / len(xs), correct / len(xs)


def accuracy(model: Callable, xs: Sequence, ys: Sequence) -> float:
    """The fraction of samples whose predicted class is the label."""
    if not xs:
        return math.nan
    with no_grad():
        return sum(argmax(model(x)) == y for x, y in zip(xs, ys)) / len(xs)


# --- training ------------------------------------------------------------------------------------
class History:
    """What a run measured: `epochs` (one dict per epoch: epoch, train_loss, val_loss,
    val_accuracy, seconds), `curve` ((epochs done as a float, mean training loss over
    the last stretch of samples) pairs, for plots) and `total_seconds`."""

    def __init__(self) -> None:
        self.epochs: List[Dict[str, float]] = []
        self.curve: List[Tuple[float, float]] = []
        self.total_seconds = 0.0

    def to_dict(self) -> Dict[str, Any]:
        return {"epochs": self.epochs, "total_seconds": self.total_seconds,
                "curve": [list(point) for point in self.curve]}


def train(model: Callable, optimizer: Optimizer, train_data: Data, val_data: Optional[Data] = None,
          epochs: int = 1, loss_fn: LossFn = cross_entropy, seed: Union[int, random.Random] = 0,
          shuffle: bool = True, progress: bool = True,
          on_epoch: Optional[Callable[[Dict[str, float]], None]] = None,
          curve_points: int = 50) -> History:
    """Per-sample SGD: for each sample, zero_grad, forward, loss, backward, step.

    The order is shuffled every epoch with random.Random(seed) when `shuffle`.
    After every epoch the validation loss and accuracy are measured (when val_data
    is given) and `on_epoch` is called with that epoch's figures."""
    xs, ys = train_data
    n = len(xs)
    if n != len(ys):
        raise ValueError(f"train: {n} samples but {len(ys)} labels")
    if n == 0:
        raise ValueError("train: the training set is empty")
    if type(epochs) is not int or epochs < 1:
        raise ValueError(f"train: epochs must be an int >= 1, got {epochs!r}")
    rng = seed if isinstance(seed, random.Random) else random.Random(seed)
    history = History()
    tick = max(1, min(1000, n // 100))            # samples between progress updates
    stretch = max(tick, n // max(1, curve_points))  # samples per point of the curve
    zero_grad, step = optimizer.zero_grad, optimizer.step
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        order = list(range(n))
        if shuffle:
            rng.shuffle(order)
        bar = _progress(n, f"epoch {epoch}/{epochs}", progress)
        total = stretch_total = 0.0
        for count, i in enumerate(order, 1):
            zero_grad()
            loss = loss_fn(model(xs[i]), ys[i])
            loss.backward()
            step()
            total += loss.data
            if count % tick == 0:
                bar.update(tick)
                bar.set_postfix_str(f"loss {total / count:.4f}", refresh=False)
            if count % stretch == 0:
                history.curve.append((epoch - 1 + count / n, (total - stretch_total) / stretch))
                stretch_total = total
        bar.close()
        figures = {"epoch": epoch, "train_loss": total / n}
        if val_data is not None:
            val_loss, val_acc = evaluate(model, val_data[0], val_data[1], loss_fn, progress,
                                         desc=f"epoch {epoch}/{epochs} validation")
            figures.update(val_loss=val_loss, val_accuracy=val_acc)
        figures["seconds"] = time.perf_counter() - t0
        history.epochs.append(figures)
        if on_epoch is not None:
            on_epoch(figures)
    history.total_seconds = time.perf_counter() - start
    return history


class _NoBar:
    """Stands in for a tqdm bar when there is none."""
    def update(self, n): pass
    def set_postfix_str(self, s, refresh=True): pass
    def close(self): pass


def _progress(total: int, desc: str, enabled: bool):
    """A tqdm bar on stderr (hidden when stderr is not a terminal), or a stand-in."""
    if not enabled:
        return _NoBar()
    try:
        from tqdm import tqdm
    except ImportError:   # a declared dependency, but the loop must not need it
        return _NoBar()
    return tqdm(total=total, desc=desc, unit="sample", unit_scale=True, leave=False,
                file=sys.stderr, disable=None, dynamic_ncols=True)


# --- plots ------------------------------------------------------------------------------------------
def require_matplotlib():
    """matplotlib.pyplot with a file-only backend, or an error saying how to install it."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError('plots need matplotlib, an optional extra: pip install "microgrador[plot]" '
                          '(or pip install matplotlib)') from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_history(history: History, path: str, title: str = "") -> None:
    """Training loss (running, per stretch of samples) and validation loss per epoch
    on the left, validation accuracy per epoch on the right; saved to `path`."""
    plt = require_matplotlib()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    if history.curve:
        ax_loss.plot(*zip(*history.curve), label="training loss (running mean)")
    epochs = [e["epoch"] for e in history.epochs]
    if history.epochs and "val_loss" in history.epochs[0]:
        ax_loss.plot(epochs, [e["val_loss"] for e in history.epochs], "s-", label="validation loss")
        ax_acc.plot(epochs, [100 * e["val_accuracy"] for e in history.epochs], "s-")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("cross-entropy loss")
    ax_loss.legend()
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("validation accuracy (%)")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.set_xlim(left=0)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --- command line -----------------------------------------------------------------------------------
def add_training_arguments(p: argparse.ArgumentParser, epochs: int, lr: float) -> None:
    """The options every `train DATASET` subcommand shares."""
    p.add_argument("--epochs", type=int, default=epochs, help=f"passes over the training set (default {epochs})")
    p.add_argument("--lr", type=float, default=lr, help=f"SGD learning rate (default {lr})")
    p.add_argument("--momentum", type=float, default=0.0, help="SGD momentum (default 0)")
    p.add_argument("--seed", type=int, default=0,
                   help="seeds the initial weights and the sample order (default 0)")
    p.add_argument("--plot", metavar="FILE.png", help="save loss and accuracy curves (needs matplotlib)")
    p.add_argument("--save", metavar="FILE.json", help="save the trained model as a JSON checkpoint")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object with the per-epoch figures instead of text")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run_training(args: argparse.Namespace, model: Module, train_data: Data, val_data: Data,
                 dataset: str, loss_fn: LossFn = cross_entropy,
                 settings: Optional[Dict[str, Any]] = None) -> int:
    """Train `model` as the shared options in `args` say, report, plot and save.
    `settings` (JSON-safe) are reported with the run, e.g. the data set's options."""
    if args.plot:
        try:
            require_matplotlib()      # fail now, not after the training
        except ImportError as e:
            print(f"train {dataset}: {e}", file=sys.stderr)
            return 2
    if args.epochs < 1:
        print(f"train {dataset}: --epochs must be >= 1, got {args.epochs}", file=sys.stderr)
        return 2
    try:
        optimizer = SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    except ValueError as e:
        print(f"train {dataset}: {e}", file=sys.stderr)
        return 2
    report: Dict[str, Any] = {
        "dataset": dataset, "model": model.config(), "num_parameters": model.num_parameters(),
        "optimizer": repr(optimizer), "lr": args.lr, "momentum": args.momentum,
        "epochs_requested": args.epochs, "seed": args.seed,
        "num_train": len(train_data[0]), "num_val": len(val_data[0]), **(settings or {})}
    if not args.json:
        print(f"training {model!r}")
        print(f"on {dataset}: {len(train_data[0]):,} training and {len(val_data[0]):,} validation "
              f"samples; {optimizer!r}, {args.epochs} epoch{'s' if args.epochs != 1 else ''}, "
              f"seed {args.seed}")

    def show(e: Dict[str, float]) -> None:
        if not args.json:
            print(f"epoch {e['epoch']}/{args.epochs}  train loss {e['train_loss']:.4f}  "
                  f"val loss {e['val_loss']:.4f}  val accuracy {100 * e['val_accuracy']:.2f}%  "
                  f"({e['seconds']:.1f} s)", flush=True)

    history = train(model, optimizer, train_data, val_data, args.epochs, loss_fn, args.seed,
                    progress=not args.no_progress, on_epoch=show)
    report.update(epochs=history.epochs, total_seconds=history.total_seconds,
                  final_val_accuracy=history.epochs[-1]["val_accuracy"])
    if args.plot:
        cfg = model.config()
        shape = "-".join(str(n) for n in [cfg["nin"], *cfg["sizes"]]) if "sizes" in cfg else ""
        plot_history(history, args.plot, title=f"{dataset}: {cfg.get('type', '')} {shape}, "
                                                f"SGD lr={args.lr:g}")
        report["plot"] = args.plot
    if args.save:
        model.save(args.save, meta={k: v for k, v in report.items() if k != "model"})
        report["checkpoint"] = args.save
    if args.json:
        report["curve"] = [list(p) for p in history.curve]
        print(json.dumps(report))
    else:
        print(f"total time {history.total_seconds:.1f} s")
        for key, what in (("plot", "plot"), ("checkpoint", "model")):
            if key in report:
                print(f"{what} saved to {report[key]}")
    return 0


# --- train synth ------------------------------------------------------------------------------------
# Per-sample SGD at a fixed lr ends each epoch somewhere in a noisy band. Tried with
# N(0, 1) weights and zero biases, seeds 0..4, 3 epochs: 0.015 stays above 97%
# validation accuracy with the widest margin (97.4-98.2%); 0.01 and 0.02 pass with
# less, 0.025 and above dip below 97%.
SYNTH_LR = 0.015


def train_synth(args: argparse.Namespace) -> int:
    from .synth import load_synth
    try:
        init, bias_init = Init.parse(args.init), Init.parse(args.bias_init)
    except (ValueError, TypeError) as e:
        print(f"train synth: {e}", file=sys.stderr)
        return 2
    for name in ("hidden", "num_train", "num_val"):
        if getattr(args, name) < 1:
            print(f"train synth: --{name.replace('_', '-')} must be >= 1", file=sys.stderr)
            return 2
    train_data, val_data, num_classes = load_synth(args.num_train, args.num_val, args.data_seed)
    model = MLP(2, [args.hidden, num_classes], activation="sigmoid", init=init,
                bias_init=bias_init, seed=args.seed)
    return run_training(args, model, train_data, val_data, "synth",
                        settings={"init": repr(init), "bias_init": repr(bias_init),
                                  "data_seed": args.data_seed})


def register_synth(datasets) -> None:
    p = datasets.add_parser(
        "synth", help="the 2-3-2 sigmoid network on the synthetic two-class data",
        description="Per-sample SGD of MLP(2, [HIDDEN, 2], sigmoid) with cross-entropy on "
                    "load_synth(): x ~ N(0, I_2), label 1 iff x1^2 + 0.95 x1 x2 + 0.4 x2^2 > 0.6.")
    add_training_arguments(p, epochs=3, lr=SYNTH_LR)
    p.add_argument("--hidden", type=int, default=3, help="hidden units (default 3)")
    p.add_argument("--init", default="normal(1)",
                   help="weight initialisation: lecun, normal(STD), xavier_normal, "
                        "xavier_uniform, he, uniform(A, B), zeros (default normal(1): N(0, 1))")
    p.add_argument("--bias-init", default="zeros", help="bias initialisation, as --init (default zeros)")
    p.add_argument("--num-train", type=int, default=60000, help="training samples (default 60000)")
    p.add_argument("--num-val", type=int, default=10000, help="validation samples (default 10000)")
    p.add_argument("--data-seed", type=int, default=0, help="seed of the data set (default 0)")
    p.set_defaults(func=train_synth)


# Each entry adds one `microgrador train DATASET` subcommand: it builds its data and
# model, then hands over to run_training (see train_synth).
DATASET_COMMANDS = [register_synth]


def register(subparsers) -> None:
    p = subparsers.add_parser("train", help="train a network (per-sample SGD) on a data set",
                              description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    datasets = p.add_subparsers(dest="dataset", metavar="DATASET")
    for add in DATASET_COMMANDS:
        add(datasets)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])
    # `microgrador evaluate CHECKPOINT` belongs here too: nn.load_model + evaluate().
