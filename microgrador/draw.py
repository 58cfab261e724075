"""Drawings of computation graphs with Graphviz: `draw`, `draw_step`, `save`, `save_steps`,
and `explore`, the step-through web page of a graph.

    g = draw(loss)                 # a graphviz.Digraph; in Jupyter it shows inline
    save(g, "loss.svg")            # svg, png, pdf (need the `dot` program) or .dot/.gv
    draw_step(loss, 3)             # backward stopped after its 4th node, edges in use lit
    save_steps(loss, "frames/")    # step_000.svg, step_001.svg, ...

Each Value is a box (label, data, grad); each operation a small ellipse between its
inputs and its result, so an edge parent -> op -> result is one use of the chain rule
    parent.grad += result.grad * d(result)/d(parent)
and `show_local=True` writes the factor d(result)/d(parent) on the parent's edge.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple, Union

import graphviz

from .engine import Value, _float
from .explore_page import TOO_LARGE_FOR_PAGE, Explorer, build_page
from .steps import Roots, Step, all_values, backward_steps, count_steps, describe_step, value_name

RANKDIRS = ("LR", "RL", "TB", "BT")
RENDER_FORMATS = ("svg", "png", "pdf")
SOURCE_FORMATS = ("dot", "gv")

INSTALL_HELP = ("Install Graphviz with one of:\n"
                "    apt-get install graphviz     (Debian, Ubuntu)\n"
                "    brew install graphviz        (macOS)\n"
                "    conda install graphviz       (conda environments)\n"
                "The DOT source needs no program: use drawing.source, or save to a .dot file.")

_HIGHLIGHT = "#e66100"      # orange: the node and edges of the current step
_CONSTANT = "#888888"       # grey: unlabelled leaves, usually constants like the 2 in x * 2
_POSITIVE = (33, 102, 172)  # blue fill for grad > 0
_NEGATIVE = (178, 24, 43)   # red fill for grad < 0


class GraphvizNotFound(graphviz.ExecutableNotFound):
    """Rendering needs the Graphviz program `dot`, and it is not on PATH."""

    def __init__(self, what: str = "rendering") -> None:
        RuntimeError.__init__(self, f"{what} needs the Graphviz program `dot`, which is not "
                                    f"on PATH.\n{INSTALL_HELP}")


class GraphTooLarge(ValueError):
    """The drawing would have more nodes than `max_nodes`."""


@contextlib.contextmanager
def _needs_dot(what: str) -> Iterator[None]:
    """Inside the block, graphviz's ExecutableNotFound becomes a GraphvizNotFound that
    says what needed `dot` and how to install it (one already raised passes as it is)."""
    try:
        yield
    except GraphvizNotFound:
        raise
    except graphviz.ExecutableNotFound:
        raise GraphvizNotFound(what) from None


class Drawing(graphviz.Digraph):
    """A graphviz.Digraph whose rendering methods explain how to install Graphviz
    when `dot` is missing. Jupyter displays it inline (`_repr_mimebundle_`)."""

    def pipe(self, *args, **kwargs):
        with _needs_dot("rendering a drawing"):
            return super().pipe(*args, **kwargs)

    def render(self, *args, **kwargs):
        with _needs_dot("rendering a drawing"):
            return super().render(*args, **kwargs)

    def _repr_mimebundle_(self, *args, **kwargs):
        with _needs_dot("showing a drawing in Jupyter"):
            return super()._repr_mimebundle_(*args, **kwargs)


# --- labels ----------------------------------------------------------------------------
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def escape(text: object) -> str:
    r"""`text` as the inside of a quoted DOT label that shows it literally.

    Backslashes are doubled (DOT reads \n, \l, \N ... as escapes), quotes get a
    backslash, & becomes &amp; (dot decodes &lt; and such in every label), a newline
    becomes DOT's line break `\n`, and other control characters, which would make
    `dot` fail, are shown as \xNN.
    """
    # lone surrogates cannot be encoded as UTF-8 for `dot`: show them as \udxxx
    s = str(text).encode("utf-8", "backslashreplace").decode("utf-8")
    s = s.replace("\\", "\\\\").replace('"', '\\"')
    s = s.replace("&", "&amp;")   # dot reads &lt; &#65; ... as characters in any label
    s = s.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")
    return _CONTROL.sub(lambda m: f"\\\\x{ord(m.group()):02x}", s)


def _label(lines: Sequence[str]) -> str:
    # nohtml: a label such as "<x>" must stay text, not turn into an HTML label
    return graphviz.nohtml("\\n".join(escape(line) for line in lines))


def _fmt(x: float, digits: int) -> str:
    return f"{x:.{digits}g}"


def _grad(v: Value) -> float:
    return _float(v.grad)


def _fill(g: float, largest: float) -> str:
    """White for 0, towards blue (g > 0) or red (g < 0) as |g| / largest grows."""
    if g == 0.0 or largest == 0.0:
        return "#ffffff"
    strength = 0.85 * min(1.0, abs(g) / largest) ** 0.5   # sqrt: small grads stay visible
    r, gr, b = _POSITIVE if g > 0 else _NEGATIVE
    mix = lambda c: round(255 + (c - 255) * strength)  # noqa: E731
    return f"#{mix(r):02x}{mix(gr):02x}{mix(b):02x}"


def _font(fill: str) -> str:
    r, g, b = (int(fill[i:i + 2], 16) for i in (1, 3, 5))
    return "white" if 0.299 * r + 0.587 * g + 0.114 * b < 128 else "black"


# --- the drawing -----------------------------------------------------------------------
def draw(root: Roots, *, rankdir: str = "LR", show_data: bool = True, show_grad: bool = True,
         show_local: bool = False, color_by_grad: bool = False,
         highlight: Iterable[Value] = (),
         highlight_edges: Iterable[Tuple[Value, Value]] = (),
         collapse: Optional[int] = 16, max_nodes: int = 500, digits: int = 4,
         caption: str = "") -> Drawing:
    """Draw the graph below `root` (a Value, or several) as a graphviz.Digraph.

    rankdir        "LR" (inputs left), "RL", "TB" or "BT"
    show_data/grad put data / grad in each Value's box
    show_local     write d(result)/d(parent) on each edge: the chain rule's factor
    color_by_grad  fill boxes blue (grad > 0) or red (grad < 0), darker when larger
    highlight      Values to outline in orange; highlight_edges: (parent, result)
                   pairs whose edges parent -> op -> result are drawn orange
    collapse       a node with more parents than this draws its leaf parents that
                   nothing else uses as one "N inputs" box (None: never)
    max_nodes      refuse, with GraphTooLarge, to draw more nodes than this
    caption        text shown above the graph
    """
    if rankdir not in RANKDIRS:
        raise ValueError(f"draw: rankdir must be one of {', '.join(RANKDIRS)}, got {rankdir!r}")
    values = all_values(root)

    # Which leaves fold into one box: those of a wide node that no other node uses.
    consumers: Dict[Value, int] = {}
    for v in values:
        for p in set(v._parents):
            consumers[p] = consumers.get(p, 0) + 1
    groups: Dict[Value, List[int]] = {}     # node -> positions of its folded parents
    folded: Set[Value] = set()
    if collapse is not None:
        for v in values:
            if len(v._parents) > collapse:
                slots = [i for i, p in enumerate(v._parents)
                         if p.is_leaf and consumers[p] == 1]
                if len(slots) >= 2:
                    groups[v] = slots
                    folded.update(v._parents[i] for i in slots)

    count = len(values) - len(folded) + sum(1 for v in values if v._parents) + len(groups)
    if count > max_nodes:
        raise GraphTooLarge(
            f"draw: the graph has {count} nodes to draw ({len(values)} Values), more than "
            f"max_nodes={max_nodes}. Draw a smaller part (one neuron's output, say), lower "
            f"collapse= to fold wide nodes' inputs, or pass max_nodes={count} to draw it "
            f"anyway (dot gets slow past a few thousand nodes).")

    lit = set(highlight)
    lit_edges = set((id(p), id(r)) for p, r in highlight_edges)
    lit_results = set(r for _, r in lit_edges)
    shown = [v for v in values if v not in folded]
    largest = max((abs(_grad(v)) for v in shown), default=0.0)

    g = Drawing(graph_attr={"rankdir": rankdir}, node_attr={"fontname": "Helvetica"},
                edge_attr={"fontname": "Helvetica", "fontsize": "10"})
    # names in the order of `values`, so the same graph gives the same DOT source;
    # g.names lets a caller find (and style) the node of any Value
    g.names = names = {v: f"v{i}" for i, v in enumerate(values)}
    notes = [caption] if caption else []
    if color_by_grad:
        notes.append("fill: blue grad > 0, red grad < 0, darker = larger |grad|")
    if notes:
        text = "\n".join(notes)
        g.attr(label=graphviz.nohtml("".join(escape(line) + "\\l" for line in text.split("\n"))),
               labelloc="t", labeljust="l", fontname="Helvetica", fontsize="12")

    for v in shown:
        name = names[v]
        lines = [str(v.label)] if v.label else []
        if show_data:
            lines.append(f"data {_fmt(v.data, digits)}")
        if show_grad:
            lines.append(f"grad {_fmt(_grad(v), digits)}")
        attrs = {"shape": "box", "style": "rounded"}
        if v.is_leaf and not v.label:    # a constant: smaller and grey
            attrs.update(fontsize="9", color=_CONSTANT, fontcolor=_CONSTANT)
            lines = lines or [_fmt(v.data, digits)]
        if color_by_grad:
            fill = _fill(_grad(v), largest)
            attrs.update(style="rounded,filled", fillcolor=fill, fontcolor=_font(fill))
        if v in lit:
            attrs.update(color=_HIGHLIGHT, penwidth="3")
        g.node(name, _label(lines or [" "]), **attrs)
        if not v._parents:
            continue
        op_name = f"{name}_op"
        op_attrs = {"shape": "ellipse", "fontsize": "10", "height": "0.3"}
        if v in lit:
            op_attrs.update(color=_HIGHLIGHT, penwidth="3", fontcolor=_HIGHLIGHT)
        g.node(op_name, _label([v.op]), **op_attrs)
        g.edge(op_name, name, **_edge_style(id(v) in lit_results))
        slots = set(groups.get(v, ()))
        for i, (p, d) in enumerate(zip(v._parents, v._partials)):
            if i in slots:
                continue
            attrs = _edge_style((id(p), id(v)) in lit_edges)
            if show_local:
                attrs["label"] = _label([f"\u00d7{_fmt(d, digits)}"])   # x d(result)/d(parent)
            g.edge(names[p], op_name, **attrs)
        if slots:
            _draw_group(g, v, name, sorted(slots), lit_edges, show_data, show_grad, show_local,
                        digits)
    return g


def _edge_style(lit: bool) -> Dict[str, str]:
    return {"color": _HIGHLIGHT, "penwidth": "2.5"} if lit else {}


def _draw_group(g: Drawing, v: Value, name: str, slots: List[int], lit_edges, show_data: bool,
                show_grad: bool, show_local: bool, digits: int) -> None:
    """The folded leaf parents of `v` as one box: how many, and the range of their
    data, grads and local derivatives."""
    parents = [v._parents[i] for i in slots]
    lines = [f"{len(parents)} inputs"]
    if show_data:
        lines.append(_range("data", [p.data for p in parents], digits))
    if show_grad:
        lines.append(_range("grad", [_grad(p) for p in parents], digits))
    g.node(f"{name}_inputs", _label(lines), shape="box3d", fontsize="10")
    attrs = _edge_style(any((id(p), id(v)) in lit_edges for p in parents))
    attrs["penwidth"] = attrs.get("penwidth", "2")
    if show_local:
        attrs["label"] = _label([_range("\u00d7", [v._partials[i] for i in slots], digits)])
    g.edge(f"{name}_inputs", f"{name}_op", **attrs)


def _range(what: str, xs: List[float], digits: int) -> str:
    low, high = min(xs), max(xs)
    if low == high:
        return f"{what} {_fmt(low, digits)}"
    return f"{what} {_fmt(low, digits)} .. {_fmt(high, digits)}"


# --- saving ----------------------------------------------------------------------------
def save(drawing: graphviz.Digraph, path: Union[str, os.PathLike],
         format: Optional[str] = None) -> Path:
    """Write `drawing` to `path` as svg, png or pdf (needs the `dot` program), or as
    DOT source (.dot, .gv; needs nothing). The format comes from the file extension
    unless given. Returns the path written."""
    path = Path(path)
    fmt = (format or path.suffix.lstrip(".")).lower()
    if fmt not in RENDER_FORMATS + SOURCE_FORMATS:
        raise ValueError(f"save: cannot tell the format of {str(path)!r}; use a file ending in "
                         f"{', '.join('.' + f for f in RENDER_FORMATS + SOURCE_FORMATS)} or "
                         f"pass format=")
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True)
    if fmt in SOURCE_FORMATS:
        path.write_text(drawing.source, encoding="utf-8")
        return path
    with _needs_dot(f"saving {path.name}"):
        data = drawing.pipe(format=fmt)
    path.write_bytes(data)
    return path


# --- backward, step by step --------------------------------------------------------------
def _step_frames(root: Value, from_zero: bool, options: dict) -> Iterator[Tuple[Step, Drawing]]:
    """(step, drawing) for every step of backward_steps(root), the drawing showing the
    grads at that moment. Every grad is put back as it was when the frames end."""
    values = all_values(root)
    saved = [v.grad for v in values]
    try:
        if from_zero:
            for v in values:
                v.grad = 0.0
        for step in backward_steps(root):
            drawing = draw(root, **_step_options(step, options))
            yield step, drawing
    finally:
        for v, grad in zip(values, saved):
            v.grad = grad


def _step_options(step: Step, options: dict) -> dict:
    opts = {"show_local": True}
    opts.update(options)
    opts["highlight"] = list(options.get("highlight", ())) + [step.node]
    opts["highlight_edges"] = ([(u.parent, step.node) for u in step.parents]
                               + list(options.get("highlight_edges", ())))
    caption = describe_step(step)
    if options.get("caption"):
        caption = options["caption"] + "\n" + caption
    opts["caption"] = caption
    return opts


def draw_step(root: Value, k: int, *, from_zero: bool = True, **options) -> Drawing:
    """The graph as backward() leaves it after its step `k` (0 = the root's step): the
    node of step k and the edges it passes gradient along in orange, the arithmetic
    above. The grads of the graph are left as they were. `from_zero` starts the leaves
    at 0 (a fresh first backward) rather than accumulating onto their current grads.
    Other keywords go to `draw` (show_local is on by default). For a notebook slider:

        ipywidgets.interact(lambda k: draw_step(loss, k), k=(0, count_steps(loss) - 1))
    """
    total = count_steps(root)
    if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k < total:
        raise IndexError(f"draw_step: this graph has {total} steps, so k must be an int in "
                         f"0..{total - 1}; got {k!r}")
    frames = _step_frames(root, from_zero, options)
    try:
        for step, drawing in frames:
            if step.index == k:
                return drawing
    finally:
        frames.close()   # puts the grads back
    raise AssertionError("unreachable: backward_steps yielded fewer steps than count_steps")


def save_steps(root: Value, directory: Union[str, os.PathLike], format: str = "svg", *,
               from_zero: bool = True, **options) -> List[Path]:
    """Write one drawing per backward step to `directory` as step_000.svg, step_001.svg,
    ... (format svg, png, pdf or dot). Options as for draw_step. Returns the paths."""
    if format not in RENDER_FORMATS + SOURCE_FORMATS:
        raise ValueError(f"save_steps: format must be one of "
                         f"{', '.join(RENDER_FORMATS + SOURCE_FORMATS)}, got {format!r}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    width = max(3, len(str(count_steps(root) - 1)))
    paths = []
    for step, drawing in _step_frames(root, from_zero, options):
        paths.append(save(drawing, directory / f"step_{step.index:0{width}d}.{format}", format))
    return paths


def save_gif(root: Value, path: Union[str, os.PathLike], *, duration_ms: int = 1200,
             from_zero: bool = True, **options) -> Path:
    """Write the backward steps as an animated GIF (needs Pillow and Graphviz); each
    frame shows for `duration_ms` milliseconds. Options as for draw_step."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("save_gif needs Pillow to write GIFs: pip install pillow "
                          "(or write SVG frames with save_steps, which needs only Graphviz)"
                          ) from None
    images = []
    for _, drawing in _step_frames(root, from_zero, options):
        png = drawing.pipe(format="png")
        images.append(Image.open(io.BytesIO(png)).convert("RGB"))
    # the boxes' numbers change width from frame to frame: pad all frames to one size
    width = max(im.width for im in images)
    height = max(im.height for im in images)
    frames = []
    for im in images:
        canvas = Image.new("RGB", (width, height), "white")
        canvas.paste(im, (0, 0))
        frames.append(canvas)
    path = Path(path)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True)
    frames[0].save(path, format="GIF", save_all=True, append_images=frames[1:],
                   duration=duration_ms, loop=0)
    return path


def explore(root: Value, *, play_ms: int = 900, **options) -> Explorer:
    """A page that steps through forward and backward on this graph: shows inline in
    Jupyter, `.save("g.html")` writes one self-contained file. Keywords go to `draw`
    (rankdir, show_local, color_by_grad, collapse, max_nodes, digits, caption); `play_ms`
    is the time per step of the play button. The grads of the graph are left as they were.

    The graph is laid out here, as draw() lays it out; explore_page.py builds the page."""
    def lay_out(draw_options: dict) -> Drawing:
        try:
            return draw(root, **draw_options)
        except GraphTooLarge as e:
            raise GraphTooLarge(str(e).replace("draw:", "explore:", 1) + TOO_LARGE_FOR_PAGE) from None

    return build_page(root, lay_out, play_ms=play_ms, **options)


__all__ = ["draw", "draw_step", "save", "save_steps", "save_gif", "escape", "Drawing",
           "GraphvizNotFound", "GraphTooLarge", "INSTALL_HELP", "value_name", "explore"]
