"""`microgrador exercises`: write the derivative-rule exercises, and grade them.

    microgrador exercises init hw              hw/derivatives.py, every d_<op> to write
    microgrador exercises init key --solutions the teacher's key
    microgrador exercises check hw [--json]    one row per op: pass, wrong (and why), todo

`check` exits 0 only when every op passes, 1 otherwise, 2 on a usage error.
"""
from __future__ import annotations

import argparse
import json
import sys

from . import exercises


def init(args: argparse.Namespace) -> int:
    try:
        path = exercises.init_exercises(args.directory, solutions=args.solutions, overwrite=args.force)
    except FileExistsError as e:
        print(f"exercises init: {e}; pass --force to replace it", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"exercises init: cannot write {args.directory}: {e.strerror or e}", file=sys.stderr)
        return 2
    what = "the key to" if args.solutions else "exercises for"
    print(f"wrote {path}: {what} {len(exercises.EXERCISES)} derivative rules\n"
          f"check them with: microgrador exercises check {args.directory}")
    return 0


def check(args: argparse.Namespace) -> int:
    try:
        report = exercises.grade_exercises(args.directory, max_examples=args.max_examples,
                                           seed=args.seed)
    except (FileNotFoundError, ValueError) as e:
        print(f"exercises check: {e}", file=sys.stderr)
        return 2
    print(json.dumps(report.to_json()) if args.json else report)
    return 0 if report.ok else 1


def register(subparsers) -> None:
    """Add `exercises init` and `exercises check`."""
    p = subparsers.add_parser(
        "exercises", help="write the derivative rules of every op yourself, graded op by op",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    p.set_defaults(func=lambda args: p.print_help() or 2)

    q = sub.add_parser("init", help="write DIR/derivatives.py, one d_<op> to fill in per op")
    q.add_argument("directory", metavar="DIR")
    q.add_argument("--solutions", action="store_true", help="write the teacher's key instead")
    q.add_argument("--force", action="store_true", help="replace an existing derivatives.py")
    q.set_defaults(func=init)

    q = sub.add_parser("check", help="grade DIR/derivatives.py op by op")
    q.add_argument("directory", metavar="DIR", help="the directory of derivatives.py, or the file")
    q.add_argument("--json", action="store_true",
                   help='print {"ops": [{"op", "task", "status", ...}], "passed": N, "total": M}')
    q.add_argument("--max-examples", type=int, default=exercises.MAX_EXAMPLES, metavar="N",
                   help=f"points drawn per op and order (default {exercises.MAX_EXAMPLES})")
    q.add_argument("--seed", type=int, default=0, help="seed of the drawn points (default 0)")
    q.set_defaults(func=check)
