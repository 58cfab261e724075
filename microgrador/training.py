"""Training and evaluation: a per-sample (or minibatch) SGD loop and what it measures.

    train(model, optimizer, (xtrain, ytrain), (xval, yval), epochs=3)

runs, for every sample in a shuffled order: outputs = model(x), loss =
loss_fn(outputs, y), backward, optimizer step. After each epoch it measures the
validation loss and accuracy under no_grad() (no graph is built). A tqdm bar on
stderr shows samples/s, the time left and the running mean of the loss.

Beside the loop: `evaluate`, `accuracy`, `predict` and `confusion_matrix` on a data
set, the `History` of a run and `plot_history`. The `microgrador train` and
`microgrador evaluate` commands that drive this library are in train_cli.py.
"""
from __future__ import annotations

import contextlib
import math
import os
import random
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from .datasets import ImageView, PixelView  # noqa: F401  (imported from here by older code)
from .engine import Value, gc_paused, no_grad
from .losses import cross_entropy
from .ops import sum_of as sum_values
from .optim import Optimizer
from .progress import NoBar, progress_bar

LossFn = Callable[[List[Value], Any], Value]
Data = Tuple[Sequence, Sequence]


# --- evaluation -------------------------------------------------------------------------------
def argmax(outputs: Sequence[Union[Value, float]]) -> int:
    """The index of the largest output (the first one on ties)."""
    values = [o.data if isinstance(o, Value) else o for o in outputs]
    return max(range(len(values)), key=values.__getitem__)


def predict(model: Callable, x: Sequence[float]) -> int:
    """The predicted class of one sample: the argmax of the outputs, without a graph."""
    with no_grad(), evaluation_mode(model):
        return argmax(model(x))


def evaluate(model: Callable, xs: Sequence, ys: Sequence, loss_fn: LossFn = cross_entropy,
             progress: bool = False, desc: str = "evaluating",
             confusion: Optional[List[List[int]]] = None) -> Tuple[float, float]:
    """(mean loss, accuracy in [0, 1]) over a data set, under no_grad().

    If `confusion` is given (a square list of lists of ints, one row per class), each
    sample adds 1 to confusion[label][predicted class]."""
    if len(xs) != len(ys):
        raise ValueError(f"evaluate: {len(xs)} samples but {len(ys)} labels")
    if not len(xs):
        return math.nan, math.nan
    total, correct = 0.0, 0
    bar = _progress(len(xs), desc, progress)
    tick = max(1, min(1000, len(xs) // 100))     # samples between progress updates
    with no_grad(), evaluation_mode(model):
        for i in range(len(xs)):
            outputs = model(xs[i])
            y = ys[i]
            loss = loss_fn(outputs, y)
            total += loss.data if isinstance(loss, Value) else loss
            guess = argmax(outputs)
            correct += guess == y
            if confusion is not None:
                confusion[y][guess] += 1
            if (i + 1) % tick == 0:
                bar.update(tick)
    bar.close()
    return total / len(xs), correct / len(xs)


@contextlib.contextmanager
def evaluation_mode(model: Callable):
    """The model in evaluation mode (model.eval(): BatchNorm1d uses its running
    statistics, Dropout keeps everything) inside the block, as it was after it."""
    training = getattr(model, "training", False)
    if training:
        model.eval()
    try:
        yield model
    finally:
        if training:
            model.train()


def confusion_matrix(model: Callable, xs: Sequence, ys: Sequence, num_classes: int,
                     loss_fn: LossFn = cross_entropy, progress: bool = False
                     ) -> Tuple[List[List[int]], float, float]:
    """(matrix, mean loss, accuracy): matrix[t][p] counts the samples of class t that
    the model puts in class p, so row t sums to the number of samples of class t and
    the diagonal sums to the number classified correctly."""
    matrix = [[0] * num_classes for _ in range(num_classes)]
    loss, acc = evaluate(model, xs, ys, loss_fn, progress, desc="evaluating", confusion=matrix)
    return matrix, loss, acc


def accuracy(model: Callable, xs: Sequence, ys: Sequence) -> float:
    """The fraction of samples whose predicted class is the label."""
    if not len(xs):
        return math.nan
    with no_grad(), evaluation_mode(model):
        return sum(argmax(model(x)) == y for x, y in zip(xs, ys)) / len(xs)


# --- training ------------------------------------------------------------------------------------
def is_count(x: Any) -> bool:
    """Whether x is an int >= 1 (bool is not): a number of epochs, samples or units."""
    return type(x) is int and x >= 1


class History:
    """What a run measured: `epochs` (one dict per epoch: epoch, train_loss, val_loss,
    val_accuracy, seconds), `curve` ((epochs done as a float, mean training loss over
    the last stretch of samples) pairs, for plots), `total_seconds` (validation
    included), `train_seconds` (the training steps only), and whether the run was
    `interrupted` (Ctrl-C) after `samples` training samples in all."""

    def __init__(self) -> None:
        self.epochs: List[Dict[str, float]] = []
        self.curve: List[Tuple[float, float]] = []
        self.total_seconds = 0.0
        self.train_seconds = 0.0
        self.interrupted = False
        self.samples = 0

    def to_dict(self) -> Dict[str, Any]:
        return {"epochs": self.epochs, "total_seconds": self.total_seconds,
                "train_seconds": self.train_seconds,
                "curve": [list(point) for point in self.curve],
                "interrupted": self.interrupted, "samples": self.samples}


def train(model: Callable, optimizer: Optimizer, train_data: Data, val_data: Optional[Data] = None,
          epochs: int = 1, loss_fn: LossFn = cross_entropy, seed: Union[int, random.Random] = 0,
          shuffle: bool = True, progress: bool = True,
          on_epoch: Optional[Callable[[Dict[str, float]], None]] = None,
          curve_points: int = 50, batch_size: int = 1) -> History:
    """Per-sample SGD: for each sample, forward, loss, backward, then step and zero_grad
    (Optimizer.backward_and_step: plain SGD with touched_only=True steps a first-layer
    weight during the backward sweep, with the same floats); the gradients are also
    zeroed once before the first step, and are zero when it returns.

    With batch_size B > 1, minibatch SGD: the gradients of B samples are summed, each
    scaled by 1/B (backward(1/B)), so the step uses their mean, as PyTorch's mean loss
    would. A model with batch-wise layers (a Sequential holding BatchNorm1d) runs each
    minibatch through model.forward_batch() and takes one backward() of the batch's
    summed loss. The order is shuffled every epoch with random.Random(seed) when `shuffle`.
    After every epoch the validation loss and accuracy are measured (when val_data is
    given) and `on_epoch` is called with that epoch's figures.

    Ctrl-C (KeyboardInterrupt) stops the run cleanly: the history is returned with
    `interrupted` set, and the partly done epoch, if any, is recorded with its
    training loss so far and its number of `samples` (no validation)."""
    xs, ys = train_data
    n = len(xs)
    if n != len(ys):
        raise ValueError(f"train: {n} samples but {len(ys)} labels")
    if n == 0:
        raise ValueError("train: the training set is empty")
    for name, count in (("epochs", epochs), ("batch_size", batch_size)):
        if not is_count(count):
            raise ValueError(f"train: {name} must be an int >= 1, got {count!r}")
    rng = seed if isinstance(seed, random.Random) else random.Random(seed)
    history = History()
    tick = max(1, min(1000, n // 100))            # samples between progress updates
    stretch = max(tick, n // max(1, curve_points))  # samples per point of the curve
    step = getattr(optimizer, "step_and_zero_grad", None)   # any object with step, zero_grad will do
    if step is None:
        def step() -> None:
            optimizer.step()
            optimizer.zero_grad()
    backward_and_step = getattr(optimizer, "backward_and_step", None)
    if backward_and_step is None:
        def backward_and_step(loss: Value, scale: float) -> None:
            loss.backward(scale)
            step()
    batchwise = getattr(model, "batchwise", False) and batch_size > 1
    if getattr(model, "training", None) is False:
        model.train()
    # Each step runs with the cyclic garbage collector paused, and its graph is freed
    # (by reference counting: it has no cycles) before the collector runs again;
    # otherwise the collector re-scans the graph while it is built, a quarter of a CNN
    # step (150 CNN steps on the bundled subset: 35 full collections, 49.5 ms per
    # sample against 37.1 with it paused).
    start = time.perf_counter()
    optimizer.zero_grad()         # whatever gradients the parameters held before
    epoch, done, total, t0, bar = 0, 0, 0.0, start, NoBar()
    validating: Optional[Dict[str, float]] = None   # the epoch's figures while it is validated
    try:
        for epoch in range(1, epochs + 1):
            t0 = time.perf_counter()
            order = list(range(n))
            if shuffle:
                rng.shuffle(order)
            bar = _progress(n, f"epoch {epoch}/{epochs}", progress)
            total = stretch_total = 0.0
            done = 0                                   # samples of this epoch fully trained
            shown = point_start = 0                    # samples in the bar; where this curve point began
            for first in range(0, n, batch_size):
                batch = order[first:first + batch_size]
                scale = 1.0 / len(batch)          # 1.0 for per-sample SGD; the last batch may be smaller
                with gc_paused():
                    batch_total = _train_step(model, loss_fn, xs, ys, batch, scale, batchwise, step,
                                              backward_and_step)
                total += batch_total             # counted once the step is taken (Ctrl-C)
                done += len(batch)
                if done - shown >= tick:
                    bar.update(done - shown)
                    shown = done
                    bar.set_postfix_str(f"loss {total / done:.4f}", refresh=False)
                if done - point_start >= stretch:
                    history.curve.append((epoch - 1 + done / n,
                                          (total - stretch_total) / (done - point_start)))
                    point_start, stretch_total = done, total
            bar.close()
            history.samples += done
            history.train_seconds += time.perf_counter() - t0
            done = 0
            figures = {"epoch": epoch, "train_loss": total / n}
            if val_data is not None:
                validating = figures
                val_loss, val_acc = evaluate(model, val_data[0], val_data[1], loss_fn, progress,
                                             desc=f"epoch {epoch}/{epochs} validation")
                validating = None
                figures.update(val_loss=val_loss, val_accuracy=val_acc)
            figures["seconds"] = time.perf_counter() - t0
            history.epochs.append(figures)
            if on_epoch is not None:
                on_epoch(figures)
    except KeyboardInterrupt:
        bar.close()
        history.interrupted = True
        if validating is not None:   # stopped while validating: the epoch's training is whole
            validating.update(interrupted=True, seconds=time.perf_counter() - t0)
            history.epochs.append(validating)
        elif done:                   # stopped inside an epoch: record what it did so far
            history.samples += done
            history.train_seconds += time.perf_counter() - t0
            history.epochs.append({"epoch": epoch, "train_loss": total / done, "samples": done,
                                   "interrupted": True, "seconds": time.perf_counter() - t0})
    history.total_seconds = time.perf_counter() - start
    return history


def _train_step(model, loss_fn, xs, ys, batch, scale, batchwise, step, backward_and_step) -> float:
    """One step on the samples `batch` (the gradients are zero): forward, loss, backward
    (each loss scaled by `scale`), step and zero_grad; the sum of the losses. The graph
    is gone when it returns."""
    if len(batch) == 1 and not batchwise:     # per-sample SGD: Optimizer.backward_and_step
        loss = loss_fn(model(xs[batch[0]]), ys[batch[0]])
        backward_and_step(loss, scale)
        return loss.data
    if batchwise:      # BatchNorm1d: the samples' graphs meet, one backward
        losses = [loss_fn(out, ys[i])
                  for out, i in zip(model.forward_batch([xs[i] for i in batch]), batch)]
        sum_values(losses).backward(scale)
        total = sum(loss.data for loss in losses)
    else:
        total = 0.0
        for i in batch:
            loss = loss_fn(model(xs[i]), ys[i])
            loss.backward(scale)
            total += loss.data
    step()
    return total


def _progress(total: int, desc: str, enabled: bool):
    """A bar counting samples (hidden when stderr is not a terminal), or a stand-in."""
    return progress_bar(total, desc, enabled, unit="sample", unit_scale=True, disable=None,
                        dynamic_ncols=True)


# --- plots ------------------------------------------------------------------------------------------
def require_matplotlib():
    """matplotlib's Figure class, or an error saying how to install it.

    Figures are made with matplotlib.figure.Figure and saved with its own canvas, so
    no pyplot backend is chosen or changed: inline plots in a notebook keep working."""
    try:
        # matplotlib itself first: a missing or blocked matplotlib must be noticed even
        # when matplotlib.figure is already in sys.modules.
        import matplotlib  # noqa: F401
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError('plots need matplotlib, an optional extra: pip install "microgrador[plot]" '
                          '(or pip install matplotlib)') from None
    return Figure


def plot_history(history: History, path: str, title: str = "") -> None:
    """Training loss (running, per stretch of samples) and validation loss per epoch
    on the left, validation accuracy per epoch on the right; saved to `path`."""
    fig = require_matplotlib()(figsize=(10, 4))
    ax_loss, ax_acc = fig.subplots(1, 2)
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


def peak_rss_mb() -> Optional[float]:
    """The peak resident memory of this process so far, in MB (None where the
    `resource` module is missing, e.g. on Windows). Linux reports kilobytes,
    macOS bytes."""
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024


_UNITS = {"B": 1, "kB": 1 << 10, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}


def pypy_nursery_note(implementation: str = sys.implementation.name,
                      environ: Optional[Dict[str, str]] = None,
                      nursery: Optional[str] = None, limit_mb: float = 64.0) -> Optional[str]:
    """On PyPy, when it sized its young generation (the nursery) from a large cache the
    CPU reports, a line saying how to keep memory down; else None. A 240 MB nursery (on
    a machine that reports a 480 MB cache) took an MNIST epoch to 603 MB of memory,
    against 292 MB with PYPY_GC_NURSERY=16MB, at the same speed."""
    environ = os.environ if environ is None else environ
    if implementation != "pypy" or "PYPY_GC_NURSERY" in environ:
        return None
    if nursery is None:
        import gc
        nursery = getattr(gc.get_stats(), "nursery_size", "")   # e.g. '240.0MB'
    number = nursery.rstrip("kKMGB")
    unit = nursery[len(number):]
    try:
        size_mb = float(number) * _UNITS[unit] / (1 << 20)
    except (ValueError, KeyError):
        return None                                    # a format this does not know
    if size_mb <= limit_mb:
        return None
    return (f"PyPy made its nursery {nursery} (half the cache this CPU reports), and memory "
            f"grows with it; start PyPy with PYPY_GC_NURSERY=16MB to need less at about the same "
            f"speed (an MNIST epoch: 292 MB instead of 603 MB with a 240 MB nursery)")


def format_confusion(matrix: List[List[int]]) -> str:
    """The confusion matrix as text: one row per true class, one column per predicted
    class, with each row's total and the share of that class recognised (recall)."""
    k = len(matrix)
    width = max(5, len(str(max((max(row) for row in matrix), default=0))) + 1)
    lines = ["confusion matrix (rows: true class, columns: predicted class)",
             "true" + "".join(f"{c:>{width}}" for c in range(k)) + f"{'total':>{width + 2}}  recall"]
    for t, row in enumerate(matrix):
        total = sum(row)
        recall = f"{100 * row[t] / total:6.2f}%" if total else "     -"
        lines.append(f"{t:>4}" + "".join(f"{v:>{width}}" for v in row) + f"{total:>{width + 2}}  {recall}")
    return "\n".join(lines)
