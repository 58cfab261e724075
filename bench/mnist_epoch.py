"""A full MNIST epoch of the 784-300(sigmoid)-10 network: time and peak memory.

    python bench/mnist_epoch.py --data-dir DIR [--limit N] [--lr 0.05] [--freeze]
    pypy3 bench/mnist_epoch.py --data-dir DIR

Trains with microgrador.training.train (per-sample SGD, the loop `microgrador train
mnist` runs) on all 60,000 training images (or the first --limit), then measures the
test accuracy on the 10,000 test images under no_grad(). Prints the training time,
samples/s, the evaluation time, the accuracy and the peak resident memory of the
process (resource.getrusage(RUSAGE_SELF).ru_maxrss), and on CPython how many garbage
collections of each generation ran during training (few: each step's graph has no
reference cycles and is freed by reference counting, which is why the training loop
does not need gc.freeze(); --freeze does it anyway, to measure that).
"""
from __future__ import annotations

import argparse
import gc
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from microgrador import train_cli, training  # noqa: E402
from microgrador.datasets import load_mnist  # noqa: E402
from microgrador.nn import MLP  # noqa: E402
from microgrador.optim import SGD  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="folder with the MNIST files (default: as load_mnist)")
    parser.add_argument("--subset", action="store_true", help="the bundled subset (a quick try)")
    parser.add_argument("--limit", type=int, help="train on the first N images only")
    parser.add_argument("--val-limit", type=int, help="evaluate on the first N test images only")
    parser.add_argument("--lr", type=float, default=train_cli.MNIST_LR)
    parser.add_argument("--hidden", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--freeze", action="store_true",
                        help="gc.freeze() after building the model (the cyclic GC then skips it)")
    parser.add_argument("--walk-all", action="store_true",
                        help="SGD without touched_only: step() and zero_grad() walk every "
                             "parameter (`microgrador train` uses touched_only=True)")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--report-every", type=int, default=0, metavar="N",
                        help="also print a line (samples, time, samples/s, peak RSS) every N steps")
    args = parser.parse_args()

    t0 = time.perf_counter()
    train_set, test_set, info = load_mnist(data_dir=args.data_dir, subset=args.subset, final=True,
                                           progress=not args.no_progress)
    if info["note"]:
        print(info["note"])
    if args.limit:
        train_set = train_set.split(0, args.limit)
    if args.val_limit:
        test_set = test_set.split(0, args.val_limit)
    load_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = MLP(784, [args.hidden, 10], activation="sigmoid", seed=args.seed)
    optimizer = SGD(model.parameters(), lr=args.lr, touched_only=not args.walk_all)
    build_seconds = time.perf_counter() - t0
    if args.freeze:
        gc.collect()
        gc.freeze()
    cpython = sys.implementation.name == "cpython"    # PyPy's gc.get_stats() is another thing
    gc_before = [s["collections"] for s in gc.get_stats()] if cpython else None

    if args.report_every > 0:
        step, steps, t_start = optimizer.backward_and_step, [0], time.perf_counter()

        def step_and_report(loss, grad=1.0) -> None:   # one extra call per step: ~0.1 us against ~20 ms
            step(loss, grad)
            steps[0] += 1
            if steps[0] % args.report_every == 0:
                seconds = time.perf_counter() - t_start
                print(f"  ... {steps[0]:,} samples in {seconds:.0f} s ({steps[0] / seconds:.1f}/s), "
                      f"peak RSS {training.peak_rss_mb():.0f} MB", flush=True)
        optimizer.backward_and_step = step_and_report   # what train() calls
    history = training.train(model, optimizer, train_set.xy(), None, epochs=1, seed=args.seed,
                             progress=not args.no_progress)
    train_seconds = history.total_seconds
    gc_after = [s["collections"] for s in gc.get_stats()] if gc_before is not None else None
    t0 = time.perf_counter()
    loss, acc = training.evaluate(model, *test_set.xy(), progress=not args.no_progress, desc="test")
    eval_seconds = time.perf_counter() - t0
    rss = training.peak_rss_mb()

    impl = f"{sys.implementation.name} {sys.version.split()[0]}"
    n = history.samples
    print(f"MNIST 784-{args.hidden}(sigmoid)-10, per-sample SGD lr {args.lr:g}, seed {args.seed}, "
          f"on {impl}; {info['summary']}")
    print(f"  optimizer        {optimizer!r}")
    print(f"  load data        {load_seconds:8.1f} s")
    print(f"  build model      {build_seconds:8.1f} s")
    print(f"  train {n:,} samples {train_seconds:8.1f} s  ({n / train_seconds:,.0f} samples/s, "
          f"{1e3 * train_seconds / n:.2f} ms/sample; gc.freeze {'on' if args.freeze else 'off'})")
    print(f"  evaluate {len(test_set):,}  {eval_seconds:8.1f} s  (test loss {loss:.4f}, "
          f"accuracy {100 * acc:.2f}%)")
    if gc_before is not None:
        runs = [after - before for before, after in zip(gc_before, gc_after)]
        print(f"  garbage collections during training, generations 0/1/2: "
              f"{runs[0]:,} / {runs[1]:,} / {runs[2]:,}")
    if rss is not None:
        print(f"  peak RSS         {rss:8.0f} MB")


if __name__ == "__main__":
    main()
