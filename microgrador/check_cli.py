"""`microgrador check FILE.py`: grade a student's hand-written backward pass.

    microgrador check student.py --sizes 2,3,2 --hidden sigmoid --layout in_out

Exit status 0 when every quantity is right, 1 when one is wrong (or the file does
not run), 2 on a usage error. With --json, stdout is one JSON object (the report, or
{"ok": false, "error": ...} when the file cannot be checked), and whatever the
student's file prints goes to stderr, so it cannot spoil the JSON.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import inspect
import json
import os
import sys
from typing import Callable, List, Tuple

from .mistakes import ACTIVATIONS, LAYOUTS
from .time_limit import REPEAT, TimeLimitExceeded, time_limit, watchdog

DEFAULT_TIMEOUT = 10.0   # seconds: a 2-3-2 backprop by hand takes microseconds
WATCHDOG_MARGIN = 5.0    # seconds beyond the per-call limits before the check is ended

DEFAULT_FUNCTION = "backprop"

EPILOG = """\
The file defines fn(x, t, W, b) -> dict, e.g. {"z1": ..., "a1": ..., "dz1": ..., "dW1": ...}
(layers numbered from 1; for one hidden layer the course's k, h, o, y, dk, dh, do, dW,
db, dV, dc work too). Without --function, the function named backprop is used, or the
file's only function of four arguments.
"""


def register(subparsers) -> None:
    """Add the `check` subcommand."""
    p = subparsers.add_parser(
        "check", help="check a hand-written backward pass against the engine",
        description="Import FILE.py, call its fn(x, t, W, b) on a few networks and compare\n"
                    "every quantity it returns with microgrador's graph of the same network.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", metavar="FILE.py", help="the student's Python file")
    p.add_argument("--sizes", default="2,3,2", metavar="N,N,...",
                   help="layer sizes, inputs first (default 2,3,2)")
    p.add_argument("--hidden", choices=ACTIVATIONS, default="sigmoid",
                   help="activation of the hidden layers (default sigmoid)")
    p.add_argument("--layout", choices=LAYOUTS, default="in_out",
                   help="in_out: W[i][j] from unit i to unit j, z = x @ W + b; "
                        "out_in: W[j][i], z = W @ x + b (default in_out)")
    p.add_argument("--function", metavar="NAME", help="the function to check")
    p.add_argument("--cases", type=int, default=5, metavar="N",
                   help="how many networks to try (default 5)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random networks (default 0)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                   help=f"stop a call of the function, or the file's import, that runs longer "
                        f"(default {DEFAULT_TIMEOUT:g}; 0: no limit)")
    p.add_argument("--json", action="store_true",
                   help="print the report as one JSON object (for autograders)")
    p.set_defaults(func=run)


class UsageError(Exception):
    """Bad arguments: exit status 2."""


def parse_sizes(text: str) -> List[int]:
    """"2,3,2" -> [2, 3, 2]."""
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise UsageError(f"--sizes: expected numbers separated by commas such as 2,3,2, "
                         f"got {text!r}") from None
    if len(sizes) < 2 or min(sizes) < 1 or sizes[-1] < 2:
        raise UsageError(f"--sizes: need at least inputs and outputs, all positive, at least 2 "
                         f"outputs; got {text!r}")
    return sizes


def load_function(path: str, name: str = None) -> Tuple[Callable, str]:
    """The student's function from FILE.py. A missing file or function is a UsageError;
    a file that fails to import raises what it raised."""
    if not os.path.isfile(path):
        raise UsageError(f"no such file: {path}")
    spec = importlib.util.spec_from_file_location("_microgrador_student", path)
    if spec is None or spec.loader is None:
        raise UsageError(f"{path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    folder = os.path.dirname(os.path.abspath(path))
    sys.path.insert(0, folder)          # so the file can import its neighbours
    try:
        spec.loader.exec_module(module)
    finally:
        if folder in sys.path:
            sys.path.remove(folder)
    functions = {n: f for n, f in vars(module).items()
                 if inspect.isfunction(f) and f.__module__ == module.__name__}
    if name is not None:
        if not callable(getattr(module, name, None)):
            raise UsageError(f"{path} defines no function {name!r}; it defines: "
                             f"{', '.join(functions) or 'no functions'}")
        return getattr(module, name), name
    if DEFAULT_FUNCTION in functions:
        return functions[DEFAULT_FUNCTION], DEFAULT_FUNCTION
    four = [n for n, f in functions.items() if _takes_four(f)]
    if len(four) == 1:
        return functions[four[0]], four[0]
    raise UsageError(f"{path}: say which function to check with --function NAME; "
                     f"functions defined: {', '.join(functions) or 'none'}")


def _takes_four(f: Callable) -> bool:
    try:
        inspect.signature(f).bind(1, 2, 3, 4)
    except (TypeError, ValueError):
        return False
    return True


def run(args: argparse.Namespace) -> int:
    from .check import check_backprop
    about = {"file": args.file, "sizes": args.sizes, "hidden": args.hidden, "layout": args.layout}

    def failure_json(message: str) -> str:
        return json.dumps({**about, "ok": False, "error": message})

    def cannot_check(message: str) -> int:
        """The file could not be checked (exit 1): said on stderr, and as JSON with --json."""
        print(f"microgrador check: {message}", file=sys.stderr)
        if args.json:
            print(failure_json(message))
        return 1

    # With --json, stdout carries the JSON alone: the student's prints go to stderr.
    quiet = contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext()
    try:
        sizes = parse_sizes(args.sizes)
        if args.cases < 1:
            raise UsageError(f"--cases must be at least 1, got {args.cases}")
        if not args.timeout >= 0:       # also refuses nan
            raise UsageError(f"--timeout must be a number of seconds >= 0, got {args.timeout}")
        with quiet, time_limit(args.timeout, f"importing {args.file}"):
            fn, name = load_function(args.file, args.function)
    except UsageError as e:
        print(f"microgrador check: {e}", file=sys.stderr)
        return 2
    except TimeLimitExceeded as e:          # top-level code of the file that never ends
        return cannot_check(f"{e} (an endless loop at the top level of the file?)")
    except (Exception, SystemExit) as e:     # the student's file does not run
        return cannot_check(f"importing {args.file} raised {type(e).__name__}: {e}")
    # Behind the per-call limits: code that swallows their alarms (a bare `except:` in a
    # loop) is stopped here, with the whole check's time.
    budget = args.timeout * (args.cases + 1) + WATCHDOG_MARGIN
    message = (f"{args.file} was still running after {budget:g} s, although it was interrupted "
               f"when its {args.timeout:g} s were up and every {REPEAT:g} s since (does it catch "
               f"every exception, with a bare except:?); stopped")
    guard = watchdog(budget, f"microgrador check: {message}", status=1,
                     stdout=failure_json(message) if args.json else None) if args.timeout else None
    try:
        with quiet:
            report = check_backprop(fn, sizes=sizes, hidden=args.hidden, layout=args.layout,
                                    cases=args.cases, seed=args.seed, timeout=args.timeout)
    finally:
        if guard is not None:
            guard.cancel()
    if args.json:
        print(json.dumps({**about, "function": name, **report.to_json()}))
    else:
        print(f"{args.file}: {name}(x, t, W, b), sizes {','.join(map(str, sizes))}, "
              f"hidden {args.hidden}, layout {args.layout}")
        print(report)
    return 0 if report.ok else 1
