"""The `microgrador` command. Each subcommand lives in its own module, which
provides `register(subparsers)`; this file only gathers them."""
from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import List, Optional

from . import check_cli, demo, exercises_cli, scalar_net, train_cli

try:
    from . import draw_cli
except ModuleNotFoundError as e:
    # The one package a command may lack: the graphviz Python package, which pip
    # installs with microgrador but which is absent where the core runs from a
    # source folder, as under PyPy. Training and the rest must still work there,
    # and `draw` says what is missing. Any other failed import is an error.
    if e.name != "graphviz":
        raise
    draw_cli = None
    _missing_graphviz = str(e)

# modules that provide register(subparsers), in the order `--help` lists them. Imported
# above, not looked up by name: a module that fails to import is an error, not a
# command that quietly goes missing.
COMMAND_MODULES = [
    demo,            # microgrador demo
    scalar_net,      # microgrador scalar-net
    train_cli,       # microgrador train {synth,mnist,fashion}, microgrador evaluate
    draw_cli,        # microgrador draw
    check_cli,       # microgrador check
    exercises_cli,   # microgrador exercises {init,check}
]


def _register_draw_without_graphviz(subparsers) -> None:
    """`microgrador draw` where the graphviz Python package is missing: it says so."""
    p = subparsers.add_parser("draw", help="draw a graph (needs the graphviz Python package)",
                              add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)

    def run(args) -> int:
        print(f"microgrador draw: {_missing_graphviz}: drawing needs the graphviz Python "
              f"package; install it with `{sys.executable} -m pip install graphviz` (it comes "
              f"with `pip install microgrador`), and Graphviz's `dot` to render",
              file=sys.stderr)
        return 2
    p.set_defaults(func=run)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="microgrador",
        description="A pure-Python scalar autodiff engine for teaching backpropagation.")
    from . import __version__
    parser.add_argument("--version", action="version", version=f"microgrador {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        if module is None:
            _register_draw_without_graphviz(subparsers)
        else:
            module.register(subparsers)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    previous = _exit_cleanly_on_sigterm()
    try:
        code = args.func(args) or 0
        sys.stdout.flush()          # a closed pipe shows here, while it can still be caught
        return code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `microgrador ... | head` closed its end: stop quietly, as other command-line
        # tools do. Point stdout at devnull so that the flush at exit does not complain.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141                  # 128 + SIGPIPE, what a shell reports for a closed pipe
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _exit_cleanly_on_sigterm():
    """Make SIGTERM (kill, a closing terminal's session manager) raise SystemExit, so
    that `finally` blocks run and no temporary .part or .tmp file is left behind.
    Returns the handler to restore, or None where none was set."""
    import threading
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL):
        return None

    def stop(signum, frame):
        raise SystemExit(128 + signal.SIGTERM)
    return signal.signal(signal.SIGTERM, stop)


if __name__ == "__main__":
    sys.exit(main())
