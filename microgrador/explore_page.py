"""The explorer's web page: steps through forward and backward on the real graph.

    ex = draw.explore(loss)   # in Jupyter it shows inline; elsewhere:
    ex.save("loss.html")      # one file: inline SVG, the numbers, plain JavaScript

The page plays the forward pass (each node's value appears in topological order) and
the backward pass (one step per node, as `backward_steps` does it), with the arithmetic
of each step written underneath. Nothing is fetched: the page works from file://
offline. This module builds the page around a graph laid out by someone else: it
knows no Graphviz. draw.explore lays the graph out exactly as `draw` does and calls
build_page; microgrador.explore is the public face of both.
"""
from __future__ import annotations

import html
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, List, Union

from .engine import Value, topological_order
from .steps import all_values, backward_steps, describe_step

PAGE_SUFFIXES = (".html", ".htm")
# draw() options that would contradict what the page shows: it writes data and grad
# into every box itself and highlights the current step itself.
_FIXED_OPTIONS = ("show_data", "show_grad", "highlight", "highlight_edges")
_IFRAME_MAX_HEIGHT = 720   # px: taller graphs scroll inside the inline view
# What a too-large graph's error adds for the page (after draw's "draw:" becomes "explore:").
TOO_LARGE_FOR_PAGE = (" The page holds the numbers of every step, so it grows with the graph; "
                      "explore(root, max_nodes=...) and `microgrador draw ... --max-nodes N "
                      "--html FILE` take the same limit.")


class Explorer:
    """The page for one graph: shows inline in Jupyter (`_repr_html_`) and `.save(path)`
    writes it as one .html file. `steps` counts forward plus backward steps, as the
    page's `window.microgradorExplorer.steps` does; `captions` holds each step's text."""

    def __init__(self, page: str, captions: List[str], n_forward: int, n_backward: int,
                 height: int) -> None:
        self.html = page
        self.captions = captions
        self.n_forward = n_forward
        self.n_backward = n_backward
        self.steps = n_forward + n_backward
        self._height = height

    def __repr__(self) -> str:
        return (f"<Explorer: {self.n_forward} forward + {self.n_backward} backward steps, "
                f"{len(self.html.encode('utf-8')):,} bytes; .save('graph.html') to keep it>")

    def _repr_html_(self) -> str:
        # An iframe's srcdoc runs the page's scripts in JupyterLab, classic Notebook and
        # VS Code alike (scripts in plain HTML output run in some of them only), and the
        # sandbox keeps the page away from the notebook itself.
        return (f'<iframe srcdoc="{html.escape(self.html, quote=True)}" '
                f'sandbox="allow-scripts" title="microgrador explorer" '
                f'style="width:100%;height:{self._height}px;border:1px solid #ddd"></iframe>')

    def save(self, path: Union[str, os.PathLike]) -> Path:
        """Write the page to `path` (.html or .htm) in one step: a temporary file in the
        same folder is renamed over it, so a reader never sees half a page."""
        path = check_path(path)
        folder = path.parent
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
                f.write(self.html)
            os.chmod(tmp, 0o644)   # mkstemp makes it private; a page is meant to be shared
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return path


def check_path(path: Union[str, os.PathLike]) -> Path:
    """`path` as a Path if a page can be saved there (an .html name in an existing
    folder), else an error that says what to change; call it before the slow work."""
    path = Path(path)
    if path.suffix.lower() not in PAGE_SUFFIXES:
        raise ValueError(f"explore: save({str(path)!r}) needs a file name ending in .html "
                         f"(the page is HTML), e.g. graph.html")
    folder = path.parent
    if not folder.is_dir():
        raise FileNotFoundError(f"explore: cannot save {str(path)!r}: the folder "
                                f"{str(folder)!r} does not exist; create it first "
                                f"(mkdir -p {folder}) or save elsewhere")
    if path.is_dir():
        raise IsADirectoryError(f"explore: cannot save to {str(path)!r}: it is a folder; "
                                f"give a file name such as {str(path / 'graph.html')!r}")
    return path


def build_page(root: Value, lay_out: Callable[[Dict[str, Any]], Any], *, play_ms: int = 900,
               **draw_options) -> Explorer:
    """The step-through page of the graph below `root`. `lay_out(options)` draws that
    graph as `draw(root, **options)` does and returns the Drawing (its svg, DOT source
    and Value names make the page); `draw_options` are passed on to it (rankdir,
    show_local, color_by_grad, collapse, max_nodes, digits, caption). `play_ms` is the
    time per step of the play button. The grads of the graph are left as they were."""
    if not isinstance(root, Value):
        raise TypeError(f"explore(root): expected one Value (the output to step back from), "
                        f"got {type(root).__name__}")
    fixed = [k for k in _FIXED_OPTIONS if k in draw_options]
    if fixed:
        raise TypeError(f"explore: {', '.join(fixed)} cannot be set: the page shows data and "
                        f"grad in every box and highlights the current step itself")
    if type(play_ms) is not int or play_ms < 50:
        raise ValueError(f"explore: play_ms must be an int >= 50 (milliseconds per step), "
                         f"got {play_ms!r}")
    digits = draw_options.get("digits", 4)

    values = all_values(root)
    saved = [v.grad for v in values]
    try:
        # Steps of a fresh backward pass (leaves from 0), which also leave the grads the
        # boxes are laid out for; the page then rewrites the numbers step by step.
        for v in values:
            v.grad = 0.0
        records = list(backward_steps(root))
        g = lay_out({**draw_options, "show_data": True, "show_grad": True})
        svg = g.pipe(format="svg", encoding="utf-8")
    finally:
        for v, grad in zip(values, saved):
            v.grad = grad

    index = {v: i for i, v in enumerate(values)}
    assert all(g.names[v] == f"v{i}" for v, i in index.items()), "draw names Values v<index>"
    order = topological_order(root)
    forward = [_forward_caption(n, k, len(order), digits) for k, n in enumerate(order)]
    steps = ([{"k": "f", "n": index[n], "c": c} for n, c in zip(order, forward)]
             + [{"k": "b", "n": index[s.node], "g": s.grad, "gs": _fmt(s.grad, digits),
                 "c": "backward " + describe_step(s),
                 "u": ([[index[u.parent], u.grad, _fmt(u.grad, digits)] for u in s.parents]
                       if not s.skipped else [])}
                for s in records])
    data = {
        "values": [_value_record(v, index, digits) for v in values],
        "steps": steps,
        "nForward": len(order),
        "digits": digits,
        "playMs": play_ms,
        "folded": _folded(g.source),
    }
    page = _page(_inline_svg(svg), data)
    height = min(_IFRAME_MAX_HEIGHT, _svg_height(svg) + 260)
    return Explorer(page, [s["c"] for s in steps], len(order), len(records), height)


# --- what the page knows about each Value ----------------------------------------------------
def _ref(v: Value, digits: int = 4) -> str:
    """How a formula names a Value: its label, a constant's number, else `(op)`."""
    if v.label:
        return str(v.label)
    if v.is_leaf:
        return f"{v.data:.{digits}g}"
    return f"({v.op})"


def local_formula(node: Value, i: int) -> str:
    """d node / d parent i as a formula in the parents' names, e.g. `w` for the x of
    x * w; '' for an op this table does not know (the page then shows the number only)."""
    op, ps = node.op, node._parents
    a = _ref(ps[0])
    b = _ref(ps[1]) if len(ps) > 1 else ""
    two = {"+": ("1", "1"), "-": ("1", "-1"), "*": (b, a), "/": (f"1/{b}", f"-{a}/{b}²"),
           "pow": (f"{b}·{a}^({b} - 1)", f"{a}^{b}·ln {a}")}
    one = {"neg": "-1", "exp": f"e^{a} (the result)", "log": f"1/{a}", "sqrt": f"1/(2·sqrt({a}))",
           "tanh": f"1 - tanh({a})²", "sigmoid": f"σ({a})·(1 - σ({a}))",
           "relu": f"1 if {a} > 0, else 0", "abs": f"sign({a})", "sin": f"cos({a})",
           "cos": f"-sin({a})"}
    if op in two and len(ps) == 2:
        return two[op][i]
    if op in one:
        return one[op]
    if op.startswith("**"):
        n = node._op.n
        return f"{n:g}·{a}^{n - 1:g}"
    if op.startswith("leaky_relu"):
        return f"1 if {a} > 0, else {node._op.slope:g}"
    if op == "sum":
        return "1"
    if op.startswith("logsumexp"):
        return f"softmax of the inputs, entry {i}"
    if op.startswith("softmax["):
        return ("the result y", "-y (the result)")[i]
    if op.startswith("log_softmax["):
        return ("1", "-1")[i]
    if op.startswith("cross_entropy["):
        return f"softmax entry {i} - {1 if i == node._op.target else 0}"
    if op == "dot":
        d = node._op
        if d.bias and i == len(ps) - 1:
            return "1 (the bias)"
        if d.consts is not None:
            return f"x[{i}] (the constant input it multiplies)"
        return _ref(ps[d.n + i]) if i < d.n else _ref(ps[i - d.n])
    return ""


def _fmt(x: float, digits: int) -> str:
    # Every number the page shows is formatted here, as draw() formats it: JavaScript's
    # rounding differs from Python's on exact ties such as 0.15625.
    return f"{x:.{digits}g}"


def _value_record(v: Value, index: Dict[Value, int], digits: int) -> dict:
    rec = {"name": str(v.label), "op": v.op, "data": v.data, "ds": _fmt(v.data, digits)}
    if v._parents:
        rec["p"] = [index[p] for p in v._parents]
        rec["l"] = [float(d) for d in v._partials]
        rec["ls"] = [_fmt(d, digits) for d in v._partials]
        rec["f"] = [local_formula(v, i) for i in range(len(v._parents))]
    elif not v.label:
        rec["name"] = f"constant {v.data:.{digits}g}"
    return rec


def _forward_caption(node: Value, k: int, total: int, digits: int) -> str:
    ps = node._parents
    fmt = lambda x: _fmt(x, digits)   # noqa: E731
    op = node.op
    infix = {"+": "+", "-": "-", "*": "×", "/": "/", "pow": "**"}
    if op in infix and len(ps) == 2:
        names = f"{_ref(ps[0])} {infix[op]} {_ref(ps[1])}"
        numbers = f"{fmt(ps[0].data)} {infix[op]} {fmt(ps[1].data)}"
    elif op.startswith("**") and len(ps) == 1:
        names, numbers = f"{_ref(ps[0])}{op}", f"{fmt(ps[0].data)}{op}"
    else:
        shown = ps[:4]
        more = f", ... {len(ps)} inputs" if len(ps) > 4 else ""
        names = f"{op}({', '.join(_ref(p) for p in shown)}{more})"
        numbers = f"{op}({', '.join(fmt(p.data) for p in shown)}{more})"
    who = str(node.label) if node.label else f"the {op} node"
    return (f"forward step {k + 1} of {total}: {who} = {names} = {numbers} = "
            f"{fmt(node.data)}")


def _folded(source: str) -> List[int]:
    """Which nodes draw their leaf parents as one box (`v12_inputs`): their indices."""
    return sorted(int(m) for m in re.findall(r"^\s*v(\d+)_inputs\s*\[", source, re.M))


# --- the page ------------------------------------------------------------------------------------
def _inline_svg(svg: str) -> str:
    # The XML prolog and DOCTYPE (which names a URL) are for standalone files only.
    return svg[svg.index("<svg"):].strip()


def _svg_height(svg: str) -> int:
    m = re.search(r'<svg[^>]*\bheight="([\d.]+)pt"', svg)
    return int(float(m.group(1)) * 4 / 3) if m else 400   # pt -> px


def _json_for_script(data: dict) -> str:
    # NaN and Infinity stay as JavaScript reads them; "<" is escaped so no label can
    # close the script element.
    return json.dumps(data, ensure_ascii=True, separators=(",", ":")).replace("<", "\\u003c")


def _page(svg: str, data: dict) -> str:
    return (_TEMPLATE.replace("/*STYLE*/", _STYLE).replace("<!--SVG-->", svg)
            .replace("/*DATA*/", _json_for_script(data)).replace("/*SCRIPT*/", _SCRIPT))


_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>microgrador: forward and backward, step by step</title>
<style>/*STYLE*/</style>
</head>
<body>
<div id="controls">
  <button id="reset" title="back to the first step">reset</button>
  <button id="prev" title="previous step (left arrow)">&#x25c0; prev</button>
  <button id="play" title="play / pause (space)">&#x25b6; play</button>
  <button id="next" title="next step (right arrow)">next &#x25b6;</button>
  <input id="slider" type="range" min="0" max="0" value="0" aria-label="step">
  <span id="counter"></span>
</div>
<pre id="caption"></pre>
<div id="main">
  <div id="graph"><!--SVG--></div>
  <div id="panel" hidden></div>
</div>
<p id="help">Click a node to see its numbers. Keys: &#x2190; &#x2192; step, space plays.
Orange: the node of this step and the edges it uses; grey boxes are not computed yet.</p>
<script id="explorer-data">var MICROGRADOR_DATA = /*DATA*/;</script>
<script>/*SCRIPT*/</script>
</body>
</html>
"""

_STYLE = """
body { font-family: Helvetica, Arial, sans-serif; margin: 8px; color: #222; }
#controls { display: flex; gap: 6px; align-items: center; flex-wrap: wrap; }
#controls button { font-size: 13px; padding: 3px 8px; cursor: pointer; }
#slider { flex: 1; min-width: 120px; }
#counter { font-size: 13px; min-width: 9em; }
#caption { background: #f6f6f6; border-left: 4px solid #e66100; padding: 6px 10px;
           margin: 8px 0; white-space: pre-wrap; font-size: 13px; min-height: 3em; }
#main { display: flex; gap: 10px; align-items: flex-start; }
#graph { overflow: auto; max-height: 80vh; flex: 1; border: 1px solid #eee; }
#panel { width: 320px; max-height: 80vh; overflow: auto; font-size: 13px;
         border: 1px solid #ccc; padding: 8px; background: #fffdf8; }
#panel table { border-collapse: collapse; width: 100%; }
#panel td, #panel th { border-bottom: 1px solid #eee; padding: 2px 4px; text-align: left;
                       vertical-align: top; }
#panel .close { float: right; cursor: pointer; }
#help { font-size: 12px; color: #666; }
g.node { cursor: pointer; }
g.pending { opacity: 0.3; }
g.lit > path, g.lit > polygon, g.lit > ellipse, g.lit > polyline { stroke: #e66100; stroke-width: 3px; }
g.edge.lit > path { stroke: #e66100; stroke-width: 3px; }
g.edge.lit > polygon { stroke: #e66100; fill: #e66100; }
g.recv > path, g.recv > polygon, g.recv > polyline { stroke: #1a7f37; stroke-width: 2.5px; }
g.chosen > path, g.chosen > polygon, g.chosen > ellipse { stroke-dasharray: 4 2; }
"""

_SCRIPT = r"""
(function () {
  "use strict";
  var D = MICROGRADOR_DATA, V = D.values, S = D.steps, F = D.nForward;
  var svg = document.querySelector("#graph svg");
  var nodes = {}, edges = {};
  Array.prototype.forEach.call(svg.querySelectorAll("g.node"), function (g) {
    nodes[g.querySelector("title").textContent] = g;
  });
  Array.prototype.forEach.call(svg.querySelectorAll("g.edge"), function (g) {
    edges[g.querySelector("title").textContent] = g;
  });
  var foldedOf = {};   // index of a folded leaf -> index of the node whose box holds it
  D.folded.forEach(function (i) {
    V[i].p.forEach(function (p) { if (!nodes["v" + p]) foldedOf[p] = i; });
  });
  var forwardAt = {};  // interior node -> its forward step
  S.forEach(function (s, k) { if (s.k === "f") forwardAt[s.n] = k; });

  function range(is, g) {   // as draw() writes the grads of a folded box: "lo .. hi"
    var lo = is[0], hi = is[0];
    is.forEach(function (i) { if (g.num[i] < g.num[lo]) lo = i; if (g.num[i] > g.num[hi]) hi = i; });
    return g.num[lo] === g.num[hi] ? g.str[lo] : g.str[lo] + " .. " + g.str[hi];
  }
  function lines(g) { return g ? g.querySelectorAll("text") : []; }
  function setLast(g, back, text) {   // the box's lines end with data, then grad
    var t = lines(g);
    if (t.length >= back) t[t.length - back].textContent = text;
  }
  function name(i) { return V[i].name || ("the " + V[i].op + " node"); }

  var cur = 0, timer = null, chosen = null, grads = null;

  function gradsAt(k) {   // every grad after step k (numbers and text); null during forward
    if (k < F) return null;
    var g = {num: new Array(V.length).fill(0), str: new Array(V.length).fill("0")};
    for (var j = F; j <= k; j++) {
      var s = S[j];
      g.num[s.n] = s.g; g.str[s.n] = s.gs;
      s.u.forEach(function (u) { g.num[u[0]] = u[1]; g.str[u[0]] = u[2]; });
    }
    return g;
  }
  function computed(i, k) {
    return !V[i].p || k >= F || forwardAt[i] <= k;
  }
  function mark(g, cls, on) { if (g) g.classList.toggle(cls, on); }

  function render() {
    var k = cur, s = S[k];
    grads = gradsAt(k);
    Array.prototype.forEach.call(svg.querySelectorAll(".lit, .recv, .pending"), function (g) {
      g.classList.remove("lit", "recv", "pending");
    });
    V.forEach(function (v, i) {
      var box = nodes["v" + i];
      if (!box) return;
      var done = computed(i, k);
      mark(box, "pending", !done);
      mark(nodes["v" + i + "_op"], "pending", !done);
      setLast(box, 2, "data " + (done ? v.ds : "?"));
      setLast(box, 1, "grad " + (grads ? grads.str[i] : "?"));
    });
    D.folded.forEach(function (i) {
      var box = nodes["v" + i + "_inputs"], members = V[i].p.filter(function (p) { return p in foldedOf; });
      setLast(box, 1, "grad " + (grads ? range(members, grads) : "?"));
    });
    var n = s.n;
    mark(nodes["v" + n], "lit", true);
    mark(nodes["v" + n + "_op"], "lit", true);
    mark(edges["v" + n + "_op->v" + n], "lit", true);
    (V[n].p || []).forEach(function (p) {
      var from = (p in foldedOf) ? "v" + n + "_inputs" : "v" + p;
      mark(edges[from + "->v" + n + "_op"], "lit", true);
      if (s.k === "b" && s.u.length) mark(nodes[from], "recv", true);
    });
    reveal(nodes["v" + n]);
    document.getElementById("caption").textContent = s.c;
    document.getElementById("slider").value = k;
    document.getElementById("counter").textContent =
      (s.k === "f" ? "forward " : "backward ") + (k + 1) + " / " + S.length;
    if (chosen !== null) showPanel(chosen);
    api.step = cur;
  }

  function reveal(g) {   // scroll the graph (only it: not the notebook around it) to g
    if (!g) return;
    var box = document.getElementById("graph"), r = g.getBoundingClientRect(),
        c = box.getBoundingClientRect(), pad = 30;
    if (r.left < c.left + pad || r.right > c.right - pad)
      box.scrollLeft += (r.left + r.right) / 2 - (c.left + c.right) / 2;
    if (r.top < c.top + pad || r.bottom > c.bottom - pad)
      box.scrollTop += (r.top + r.bottom) / 2 - (c.top + c.bottom) / 2;
  }
  function cell(tr, text, tag) {
    var td = document.createElement(tag || "td");
    td.textContent = text;
    tr.appendChild(td);
  }
  function showPanel(which) {   // which: a value index, or "g<index>" for a folded box
    chosen = which;
    Array.prototype.forEach.call(svg.querySelectorAll(".chosen"), function (g) { g.classList.remove("chosen"); });
    var panel = document.getElementById("panel");
    panel.textContent = "";
    panel.hidden = false;
    var close = document.createElement("span");
    close.className = "close"; close.textContent = "\u2715"; close.title = "close";
    close.onclick = function () { panel.hidden = true; chosen = null; };
    panel.appendChild(close);
    var h = document.createElement("h3");
    var dl = document.createElement("table");
    panel.appendChild(h); panel.appendChild(dl);
    function row(k, v) { var tr = document.createElement("tr"); cell(tr, k, "th"); cell(tr, v); dl.appendChild(tr); }
    var grad = function (i) { return grads ? grads.str[i] : "? (backward has not started)"; };
    var rows, i;
    if (typeof which === "string") {   // the folded box: its leaves are the rows
      i = Number(which.slice(1));
      rows = V[i].p.map(function (p, j) { return j; }).filter(function (j) { return V[i].p[j] in foldedOf; });
      mark(nodes["v" + i + "_inputs"], "chosen", true);
      h.textContent = rows.length + " inputs of " + name(i);
      row("op", "leaves (folded into one box)");
    } else {
      i = which;
      var v = V[i];
      mark(nodes["v" + i], "chosen", true);
      h.textContent = name(i);
      row("label", v.name);
      row("op", v.op || "leaf");
      row("data", computed(i, cur) ? v.ds : "? (not computed yet)");
      row("grad", grad(i));
      if (!v.p) return;
      rows = v.p.map(function (p, j) { return j; });
    }
    var sub = document.createElement("p");
    sub.textContent = "d " + name(i) + " / d parent: the local derivative, and its formula";
    panel.appendChild(sub);
    var t = document.createElement("table"), tr = document.createElement("tr");
    ["parent", "data", "grad", "local", "formula"].forEach(function (x) { cell(tr, x, "th"); });
    t.appendChild(tr);
    var limit = 60;
    rows.slice(0, limit).forEach(function (j) {
      var p = V[i].p[j], r = document.createElement("tr");
      cell(r, name(p)); cell(r, V[p].ds); cell(r, grads ? grads.str[p] : "?");
      cell(r, V[i].ls[j]); cell(r, V[i].f[j] || "(the op's derivative rule)");
      t.appendChild(r);
    });
    panel.appendChild(t);
    if (rows.length > limit) {
      var more = document.createElement("p");
      more.textContent = "... and " + (rows.length - limit) + " more parents";
      panel.appendChild(more);
    }
  }
  Object.keys(nodes).forEach(function (title) {
    var m = /^v(\d+)(_op|_inputs)?$/.exec(title);
    if (!m) return;
    nodes[title].addEventListener("click", function () {
      showPanel(m[2] === "_inputs" ? "g" + m[1] : Number(m[1]));
    });
  });

  function goto(k) {
    k = Math.max(0, Math.min(S.length - 1, Math.floor(Number(k)) || 0));
    cur = k;
    render();
    return cur;
  }
  function next() { return goto(cur + 1); }
  function prev() { return goto(cur - 1); }
  function pause() {
    if (timer !== null) clearInterval(timer);
    timer = null;
    document.getElementById("play").textContent = "\u25b6 play";
  }
  function play() {
    if (timer !== null) return pause();
    if (cur >= S.length - 1) goto(0);
    document.getElementById("play").textContent = "\u23f8 pause";
    timer = setInterval(function () { if (cur >= S.length - 1) pause(); else next(); }, D.playMs);
  }
  function reset() { pause(); goto(0); }

  var api = { steps: S.length, step: 0, next: next, prev: prev, goto: goto, play: play,
              pause: pause, reset: reset,
              playing: function () { return timer !== null; } };
  window.microgradorExplorer = api;

  var slider = document.getElementById("slider");
  slider.max = S.length - 1;
  slider.addEventListener("input", function () { pause(); goto(slider.value); });
  [["prev", function () { pause(); prev(); }], ["next", function () { pause(); next(); }],
   ["play", play], ["reset", reset]].forEach(function (b) {
    var el = document.getElementById(b[0]);
    el.addEventListener("click", function () { b[1](); el.blur(); });   // keys go to the page again
  });
  document.addEventListener("keydown", function (e) {
    if (e.target === slider || e.altKey || e.ctrlKey || e.metaKey) return;
    if (e.key === "ArrowRight") { pause(); next(); e.preventDefault(); }
    else if (e.key === "ArrowLeft") { pause(); prev(); e.preventDefault(); }
    else if (e.key === " " || e.key === "Spacebar") { play(); e.preventDefault(); }
  });
  render();
})();
"""
