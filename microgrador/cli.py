"""The `microgrador` command. Each subcommand lives in its own module, which
provides `register(subparsers)`; this file only gathers them."""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import List, Optional

# module that provides register(subparsers), in the order `--help` lists them
COMMAND_MODULES = [
    "microgrador.demo",          # microgrador demo
    "microgrador.scalar_net",    # microgrador scalar-net
    "microgrador.training",      # microgrador train {synth,mnist}, microgrador evaluate
    "microgrador.draw_cli",      # microgrador draw
    "microgrador.exercises_cli", # microgrador exercises {init,check}
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="microgrador",
        description="A pure-Python scalar autodiff engine for teaching backpropagation.")
    from . import __version__
    parser.add_argument("--version", action="version", version=f"microgrador {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:   # a real missing dependency, not a command still to come
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args) or 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
