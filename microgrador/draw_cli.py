"""`microgrador draw`: draw a graph after one backward pass, from a formula or the
course's 2-3-2 scalar network.

    microgrador draw "tanh(x*w + b)" x=1 w=-2 b=0.5 -o g.svg --steps frames/
    microgrador draw scalar-net -o net.svg
    microgrador draw scalar-net --html net.html     (step through it in a browser)
"""
from __future__ import annotations

import argparse
import sys
from typing import Dict, List

from . import draw as drawing
from .draw import RANKDIRS, RENDER_FORMATS
from .explore_page import check_path

SCALAR_NET = "scalar-net"
STEP_FORMATS = RENDER_FORMATS + ("dot",)   # a step frame is a drawing, or its DOT source

EPILOG = """\
examples:
  microgrador draw "tanh(x*w + b)" x=1 w=-2 b=0.5 -o g.svg
  microgrador draw "tanh(x*w + b)" x=1 w=-2 b=0.5 --local --steps frames/
  microgrador draw scalar-net -o net.svg --color
  microgrador draw "tanh(x*w + b)" x=1 w=-2 b=0.5 --html g.html
  microgrador draw -- "-x*y" x=2 y=3        (use -- before a formula that starts with -)

The formula may use numbers, the variables given as NAME=VALUE, + - * / ** and
exp log sqrt tanh sigmoid relu leaky_relu abs sin cos sum logsumexp.
Without -o the DOT source is printed; .svg/.png/.pdf need Graphviz's `dot`.
"""


def register(subparsers) -> None:
    """Add the `draw` subcommand."""
    p = subparsers.add_parser(
        "draw", help="draw a computation graph after one backward pass (Graphviz)",
        description="Draw a computation graph after one backward pass: each Value with\n"
                    "its data and grad, each op between its inputs and its result.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("target", metavar="FORMULA|scalar-net",
                   help=f'a formula such as "tanh(x*w + b)", or {SCALAR_NET} for the course '
                        f"assignment's 2-3-2 network")
    p.add_argument("assignments", nargs="*", metavar="NAME=VALUE",
                   help="the value of each variable of the formula, e.g. x=1 w=-2")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write the drawing to FILE (.svg, .png, .pdf, or .dot/.gv for DOT "
                        "source); without it the DOT source goes to stdout")
    p.add_argument("--steps", metavar="DIR",
                   help="also write one frame per backward step to DIR (step_000.svg, ...)")
    p.add_argument("--steps-format", choices=STEP_FORMATS, default="svg",
                   help="format of the step frames (default svg)")
    p.add_argument("--gif", metavar="FILE",
                   help="also write the backward steps as an animated GIF (needs Pillow)")
    p.add_argument("--html", metavar="FILE",
                   help="also write a page to open in a browser that steps through forward "
                        "and backward, node by node (one self-contained .html file)")
    p.add_argument("--tape", action="store_true",
                   help="print the tape: every node in topological order with its grad")
    p.add_argument("--rankdir", choices=RANKDIRS, default="LR",
                   help="direction of the drawing, inputs first (default LR)")
    p.add_argument("--local", action="store_true",
                   help="write d(result)/d(parent) on every edge: the chain rule's factor")
    p.add_argument("--color", action="store_true",
                   help="fill each box by its grad: blue > 0, red < 0, darker = larger")
    p.add_argument("--no-data", action="store_true", help="leave data out of the boxes")
    p.add_argument("--no-grad", action="store_true", help="leave grads out of the boxes")
    p.add_argument("--collapse", type=int, default=16, metavar="N",
                   help="fold the leaf inputs of nodes with more than N parents (default 16)")
    p.add_argument("--max-nodes", type=int, default=500, metavar="N",
                   help="refuse to draw more than N nodes (default 500)")
    p.set_defaults(func=run)


def parse_assignments(items: List[str]) -> Dict[str, float]:
    """["x=1", "w=-2"] -> {"x": 1.0, "w": -2.0}, with errors that name the bad item."""
    values: Dict[str, float] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name, text = name.strip(), text.strip()
        if not sep or not name:
            raise ValueError(f"expected NAME=VALUE, got {item!r}")
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"the value of {name} must be a number, got {text!r} in {item!r}") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"the value of {name} must be finite, got {text!r}")
        if name in values:
            raise ValueError(f"{name} is given twice")
        values[name] = value
    return values


def _build_graph(args):
    """The root to draw, after one backward pass."""
    if args.target == SCALAR_NET:
        if args.assignments:
            raise ValueError(f"{SCALAR_NET} takes no NAME=VALUE arguments, got "
                             f"{' '.join(args.assignments)}")
        try:
            from .scalar_net import build
        except ImportError as e:
            raise RuntimeError(f"{SCALAR_NET} needs microgrador.scalar_net, which could not "
                               f"be imported: {e}") from None
        root = build().loss
    else:
        from .expr import build_expression
        root, _ = build_expression(args.target, parse_assignments(args.assignments))
    root.backward()
    return root


def run(args: argparse.Namespace) -> int:
    from .steps import tape

    options = dict(rankdir=args.rankdir, show_data=not args.no_data, show_grad=not args.no_grad,
                   show_local=args.local, color_by_grad=args.color, collapse=args.collapse,
                   max_nodes=args.max_nodes)
    try:
        if args.html:   # a bad page name is found before any drawing is made
            check_path(args.html)
        root = _build_graph(args)
    except OSError as e:
        print(f"microgrador draw: {e}", file=sys.stderr)
        return 1
    except ValueError as e:   # a bad formula or NAME=VALUE: the command line's fault
        print(f"microgrador draw: {e}", file=sys.stderr)
        return 2
    except (RuntimeError, ArithmeticError) as e:
        print(f"microgrador draw: {e}", file=sys.stderr)
        return 1
    try:
        g = drawing.draw(root, **options)
        if args.tape:
            print(tape(root))
        if args.output:
            print(f"wrote {drawing.save(g, args.output)}")
        elif not args.tape and not args.steps and not args.gif and not args.html:
            print(g.source, end="")
        step_options = dict(options, show_local=True)
        if args.steps:
            paths = drawing.save_steps(root, args.steps, args.steps_format, **step_options)
            print(f"wrote {len(paths)} step frames to {args.steps}")
        if args.gif:
            print(f"wrote {drawing.save_gif(root, args.gif, **step_options)}")
        if args.html:   # the page writes data and grad in every box itself
            page_options = {k: v for k, v in options.items() if k not in ("show_data", "show_grad")}
            print(f"wrote {drawing.explore(root, **page_options).save(args.html)}")
    except drawing.GraphvizNotFound as e:
        # The library's advice names Python (drawing.source); on the command line the
        # DOT text is a file ending or no -o at all.
        install = "\n".join(line for line in str(e).splitlines() if "drawing.source" not in line)
        print(f"microgrador draw: {install}\nWithout Graphviz, write a .dot file instead "
              f"(-o graph.dot), or leave out -o to print the DOT text.", file=sys.stderr)
        return 1
    except (drawing.GraphTooLarge, ImportError, ValueError, OSError) as e:
        print(f"microgrador draw: {e}", file=sys.stderr)
        return 1
    return 0
