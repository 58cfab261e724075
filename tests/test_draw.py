"""Drawings: the DOT structure (no Graphviz needed), rendering with `dot`, hostile
labels, the step frames, the missing-Graphviz error and the `draw` command."""
import html
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import graphviz
import pytest
from hypothesis import given, settings, strategies as st

from microgrador import Value, dot, no_grad, sum as total
from microgrador.cli import main
from microgrador.draw import (Drawing, GraphTooLarge, GraphvizNotFound, draw, draw_step, save,
                              save_gif, save_steps)
from microgrador.ops import Op
from microgrador.steps import count_steps

HAVE_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(
    not HAVE_DOT, reason="Graphviz's `dot` program is not installed (apt-get install graphviz); "
                         "CI installs it, so these run there")


# --- a small reader for the DOT text, written independently of draw.py -------------------------
ATTR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|[^\s\]]+)')


def attrs(text):
    out = {}
    for key, value in ATTR.findall(text or ""):
        out[key] = _unescape(value[1:-1]) if value.startswith('"') else value
    return out


def _unescape(s):
    # DOT escString: \n is a line break, \l a left-justified one, \" and \\ literal;
    # then dot decodes character entities such as &amp; in every label
    s = re.sub(r"\\(.)", lambda m: {"n": "\n", "l": "\n"}.get(m.group(1), m.group(1)), s)
    return html.unescape(s)


def parse(source):
    nodes, edges = {}, []
    for line in source.splitlines():
        line = line.strip()
        m = re.match(r"^(\w+) -> (\w+)(?: \[(.*)\])?$", line)
        if m:
            edges.append((m.group(1), m.group(2), attrs(m.group(3))))
            continue
        m = re.match(r"^(v\w+) \[(.*)\]$", line)
        if m:
            nodes[m.group(1)] = attrs(m.group(2))
    return nodes, edges


_names = {}   # the node names of the latest drawing made by draw() / draw_step() below


def name(v):
    return _names[v]


def _remember(make):
    def wrapped(*args, **kwargs):
        g = make(*args, **kwargs)
        _names.clear()
        _names.update(g.names)
        return g
    return wrapped


draw, draw_step = _remember(draw), _remember(draw_step)


def neuron():
    """y = x*w + b at x = 3, w = -2, b = 1, after backward: dy/dx = w, dy/dw = x, dy/db = 1."""
    x, w, b = Value(3.0, "x"), Value(-2.0, "w"), Value(1.0, "b")
    xw = x * w
    y = xw + b
    y.backward()
    return x, w, b, xw, y


# --- structure ------------------------------------------------------------------------------------
def test_one_box_per_value_one_node_per_op_and_the_edges():
    x, w, b, xw, y = neuron()
    nodes, edges = parse(draw(y).source)
    values = [x, w, b, xw, y]
    assert set(nodes) == {name(v) for v in values} | {name(xw) + "_op", name(y) + "_op"}
    assert sorted((a, c) for a, c, _ in edges) == sorted([
        (name(x), name(xw) + "_op"), (name(w), name(xw) + "_op"), (name(xw) + "_op", name(xw)),
        (name(xw), name(y) + "_op"), (name(b), name(y) + "_op"), (name(y) + "_op", name(y))])
    assert nodes[name(xw) + "_op"]["label"] == "*"
    assert nodes[name(y) + "_op"]["label"] == "+"
    assert nodes[name(x)]["label"] == "x\ndata 3\ngrad -2"      # dy/dx = w
    assert nodes[name(w)]["label"] == "w\ndata -2\ngrad 3"      # dy/dw = x
    assert nodes[name(b)]["label"] == "b\ndata 1\ngrad 1"
    assert nodes[name(xw)]["label"] == "data -6\ngrad 1"


def test_returns_a_digraph_that_jupyter_displays_inline():
    g = draw(neuron()[-1])
    assert isinstance(g, graphviz.Digraph) and isinstance(g, Drawing)
    assert callable(getattr(g, "_repr_mimebundle_", None))   # what Jupyter calls, no extra call


def test_hiding_data_and_grad():
    x, w, b, xw, y = neuron()
    nodes, _ = parse(draw(y, show_data=False).source)
    assert nodes[name(x)]["label"] == "x\ngrad -2"
    nodes, _ = parse(draw(y, show_grad=False).source)
    assert nodes[name(x)]["label"] == "x\ndata 3"
    nodes, _ = parse(draw(y, show_data=False, show_grad=False).source)
    assert nodes[name(x)]["label"] == "x"


def test_local_derivatives_on_the_edges():
    x, w, b, xw, y = neuron()
    _, edges = parse(draw(y, show_local=True).source)
    label = {(a, c): e.get("label") for a, c, e in edges}
    # d(x*w)/dx = w = -2, d(x*w)/dw = x = 3, d(xw + b)/d either = 1
    assert label[(name(x), name(xw) + "_op")] == "\u00d7-2"
    assert label[(name(w), name(xw) + "_op")] == "\u00d73"
    assert label[(name(b), name(y) + "_op")] == "\u00d71"
    assert label[(name(y) + "_op", name(y))] is None
    _, edges = parse(draw(y).source)
    assert all("label" not in e for _, _, e in edges)


def test_direction():
    y = neuron()[-1]
    assert "rankdir=TB" in draw(y, rankdir="TB").source
    assert "rankdir=LR" in draw(y).source
    with pytest.raises(ValueError, match="rankdir"):
        draw(y, rankdir="up")


def _rgb(color):
    return tuple(int(color[i:i + 2], 16) for i in (1, 3, 5))


def test_colour_by_gradient_sign_and_size():
    x, y = Value(1.0, "x"), Value(1.0, "y")
    z, u = Value(1.0, "z"), Value(1.0, "u")
    out = x * -3.0 + y * 0.5 + z * 0.0 + u * 0.01
    out.backward()                              # grads: x -3, y 0.5, z 0, u 0.01
    nodes, _ = parse(draw(out, color_by_grad=True).source)
    rx, gx, bx = _rgb(nodes[name(x)]["fillcolor"])
    ry, gy, by = _rgb(nodes[name(y)]["fillcolor"])
    ru, gu, bu = _rgb(nodes[name(u)]["fillcolor"])
    assert rx > bx                              # negative: red
    assert by > ry and bu > ru                  # positive: blue
    assert nodes[name(z)]["fillcolor"] == "#ffffff"                 # zero: white
    assert sum((ry, gy, by)) < sum((ru, gu, bu))  # larger |grad|: darker
    assert "filled" in nodes[name(x)]["style"]


def test_highlight_nodes_and_edges():
    x, w, b, xw, y = neuron()
    nodes, edges = parse(draw(y, highlight=[xw], highlight_edges=[(b, y)]).source)
    assert nodes[name(xw)].get("penwidth") and nodes[name(xw)]["color"] == nodes[name(xw) + "_op"]["color"]
    assert "penwidth" not in nodes[name(x)]
    lit = {(a, c) for a, c, e in edges if "penwidth" in e}
    assert lit == {(name(b), name(y) + "_op"), (name(y) + "_op", name(y))}


def test_constants_are_small_and_grey():
    x = Value(2.0, "x")
    y = x * 5.0
    nodes, _ = parse(draw(y).source)
    (const,) = [v for v in y.parents if not v.label]
    assert float(nodes[name(const)]["fontsize"]) < float(nodes[name(x)].get("fontsize", 14))
    assert nodes[name(const)]["color"] == nodes[name(const)]["fontcolor"] != "black"


def test_a_784_input_dot_product_is_one_box():
    weights = [Value(0.001 * i) for i in range(784)]
    pixels = [((i * 37) % 256) / 255 for i in range(784)]      # plain numbers: constants
    bias = Value(0.1, "bias")
    z = dot(weights, pixels) + bias
    nodes, edges = parse(draw(z, max_nodes=50).source)
    labels = [n["label"] for n in nodes.values()]
    (box,) = [text for text in labels if "inputs" in text]
    assert box.splitlines()[0] == "784 inputs"
    assert len(nodes) == 1 + 2 + 1 + 2                          # box, dot op+result, bias, + op+result
    assert not any(n == name(weights[0]) for n in nodes)


def test_collapse_keeps_parents_used_elsewhere_and_can_be_turned_off():
    xs = [Value(float(i), f"p{i}") for i in range(20)]
    out = total(xs) * xs[3]                                     # p3 is also used by the product
    nodes, _ = parse(draw(out).source)
    assert name(xs[3]) in nodes and name(xs[0]) not in nodes
    assert any(n["label"].startswith("19 inputs") for n in nodes.values())
    nodes, _ = parse(draw(out, collapse=None).source)
    assert all(name(v) in nodes for v in xs)
    nodes, _ = parse(draw(out, collapse=30).source)             # 20 parents: not wide enough
    assert all(name(v) in nodes for v in xs)


def test_node_limit_with_a_clear_message():
    y = Value(1.0, "x")
    for _ in range(30):
        y = y + 1.0        # each step: a constant leaf, an op node and a result
    with pytest.raises(GraphTooLarge) as info:
        draw(y, max_nodes=50)
    message = str(info.value)
    assert "91 nodes" in message and "max_nodes=50" in message and "max_nodes=91" in message
    assert len(parse(draw(y, max_nodes=91).source)[0]) == 91


def test_several_roots_and_higher_order_grads():
    x = Value(0.5, "x")
    a, b = x * x, x.sin()
    nodes, _ = parse(draw([a, b]).source)
    assert {name(x), name(a), name(b)} <= set(nodes)
    y = x ** 3
    y.backward(create_graph=True)               # x.grad is a Value: 3 x^2 = 0.75
    nodes, _ = parse(draw(y).source)
    assert nodes[name(x)]["label"].endswith("grad 0.75")


def test_leaf_root_and_no_grad_values():
    x = Value(2.0, "x")
    nodes, edges = parse(draw(x).source)
    assert list(nodes) == [name(x)] and edges == []
    with no_grad():
        y = x * 3
    assert len(parse(draw(y).source)[0]) == 1


# --- hostile labels -----------------------------------------------------------------------------
HOSTILE = ['say "hi"', "<b>bold</b>", "<x>", "{a|b}", "a|b", "back\\slash", "ends\\",
           "\\n not a newline", "\\\"", "\\", '"', "two\nlines", "<<table>>", "[label=x]",
           "a;b}->c", "node", "graph", "tab\there", "\u00fcn\u00efc\u00f8d\u00e9 \u2200x",
           "ctrl\x01char", "surrogate\ud800", "&amp; &lt;", "]]>", "% \\l \\N \\G"]

# what each label looks like in the picture: the text itself, line by line; characters
# that cannot be shown are shown as Python escapes
SHOWN = {"ctrl\x01char": ["ctrl\\x01char"], "surrogate\ud800": ["surrogate\\ud800"],
         "two\nlines": ["two", "lines"]}


def hostile_graph():
    leaves = [Value(float(i), label) for i, label in enumerate(HOSTILE)]

    class Weird(Op):
        name = 'op "<|>"{\\}'

        def forward(self, *xs):
            return sum(xs)

        def derivatives(self, out, *xs):
            return (1.0,) * len(xs)
    return leaves, Weird()(*leaves)


def test_hostile_labels_survive_the_dot_source():
    leaves, out = hostile_graph()
    nodes, _ = parse(draw(out, show_data=False, show_grad=False, collapse=None).source)
    for v in leaves:
        expected = "\n".join(SHOWN.get(v.label, [v.label]))
        assert nodes[name(v)]["label"] == expected
    assert nodes[name(out) + "_op"]["label"] == 'op "<|>"{\\}'


@needs_dot
def test_hostile_labels_render_with_dot():
    leaves, out = hostile_graph()
    source = draw(out, show_local=True, collapse=None, caption='cap "tion" <x> \\ {|}').source
    run = subprocess.run(["dot", "-Tsvg"], input=source.encode("utf-8"), capture_output=True)
    assert run.returncode == 0, run.stderr.decode()
    assert b"syntax error" not in run.stderr
    svg = ET.fromstring(run.stdout)
    texts = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    for v in leaves:
        for line in SHOWN.get(v.label, [v.label]):
            assert line in texts
    assert 'op "<|>"{\\}' in texts
    assert 'cap "tion" <x> \\ {|}' in texts


@needs_dot
@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=4))
def test_any_label_text_gives_valid_dot(labels):
    leaves = [Value(1.0, label) for label in labels]
    out = leaves[0]
    for v in leaves[1:]:
        out = out + v
    source = draw(out, caption=labels[0], show_local=True).source
    run = subprocess.run(["dot", "-Tsvg"], input=source.encode("utf-8"), capture_output=True)
    assert run.returncode == 0 and run.stderr == b"", (labels, run.stderr)
    ET.fromstring(run.stdout)


# --- rendering and saving -----------------------------------------------------------------------
@needs_dot
def test_jupyter_bundle_is_svg():
    bundle = draw(neuron()[-1])._repr_mimebundle_()
    assert "<svg" in bundle["image/svg+xml"]


@needs_dot
@pytest.mark.parametrize("fmt, magic", [("svg", b"<?xml"), ("png", b"\x89PNG"), ("pdf", b"%PDF")])
def test_save_formats(tmp_path, fmt, magic):
    path = save(draw(neuron()[-1]), tmp_path / f"g.{fmt}")
    assert path.read_bytes().startswith(magic)
    assert list(tmp_path.iterdir()) == [path]        # no stray .gv file next to it


def test_save_dot_source_and_bad_extension(tmp_path):
    g = draw(neuron()[-1])
    path = save(g, tmp_path / "sub" / "g.dot")
    assert path.read_text(encoding="utf-8") == g.source
    with pytest.raises(ValueError, match="format"):
        save(g, tmp_path / "g.txt")


def test_missing_graphviz_says_how_to_install(no_graphviz, tmp_path):
    g = draw(neuron()[-1])
    assert "digraph" in g.source                    # the source needs no binary
    for attempt in (lambda: save(g, tmp_path / "g.svg"), lambda: g.pipe(format="svg"),
                    lambda: g._repr_mimebundle_(), lambda: g.render(tmp_path / "r")):
        with pytest.raises(GraphvizNotFound) as info:
            attempt()
        message = str(info.value)
        for way in ("apt-get install graphviz", "brew install graphviz", "conda install graphviz"):
            assert way in message
        assert isinstance(info.value, RuntimeError)
        assert isinstance(info.value, graphviz.ExecutableNotFound)
    save(g, tmp_path / "still.gv")                  # DOT source files need no binary


# --- step frames ------------------------------------------------------------------------------------
def test_draw_step_highlights_the_node_and_its_edges_and_restores_grads():
    x, w, b, xw, y = neuron()
    before = [v.grad for v in (x, w, b, xw, y)]
    g = draw_step(y, 1)                              # step 0: y (the +), step 1: x*w
    nodes, edges = parse(g.source)
    assert [v.grad for v in (x, w, b, xw, y)] == before
    assert nodes[name(xw)].get("penwidth") and "penwidth" not in nodes[name(y)]
    lit = {(a, c) for a, c, e in edges if "penwidth" in e}
    assert lit == {(name(x), name(xw) + "_op"), (name(w), name(xw) + "_op"),
                   (name(xw) + "_op", name(xw))}
    # after the last step, from zero: the grads of one backward pass, shown in the boxes
    assert nodes[name(x)]["label"].endswith("grad -2")
    assert "step 2 of 2" in g.source
    first, _ = parse(draw_step(y, 0).source)         # x has received nothing yet
    assert first[name(x)]["label"].endswith("grad 0")
    assert first[name(b)]["label"].endswith("grad 1")


def test_draw_step_range():
    y = neuron()[-1]
    assert count_steps(y) == 2
    for k in (-1, 2, 1.0, True):
        with pytest.raises(IndexError, match="0..1"):
            draw_step(y, k)


def test_save_steps_as_dot_needs_no_binary(tmp_path):
    y = neuron()[-1]
    paths = save_steps(y, tmp_path / "frames", format="dot")
    assert [p.name for p in paths] == ["step_000.dot", "step_001.dot"]
    assert all("digraph" in p.read_text(encoding="utf-8") for p in paths)


@needs_dot
def test_save_steps_as_svg(tmp_path):
    x, w, b, xw, y = neuron()
    paths = save_steps(y, tmp_path)
    assert len(paths) == 2
    for p in paths:
        ET.fromstring(p.read_bytes())                 # well-formed SVG
    assert x.grad == -2.0                              # the grads are as backward left them


@needs_dot
def test_gif_of_the_steps(tmp_path):
    Image = pytest.importorskip("PIL.Image", reason="Pillow is optional (pip install pillow)")
    x = Value(0.3, "x")
    y = (x * x).tanh() + x
    path = save_gif(y, tmp_path / "steps.gif", duration_ms=100)
    with Image.open(path) as im:
        assert im.n_frames == count_steps(y) == 3


def test_gif_without_pillow_says_how_to_install(monkeypatch, tmp_path):
    import builtins
    real_import = builtins.__import__

    def no_pil(mod, *args, **kwargs):
        if mod == "PIL" or mod.startswith("PIL."):
            raise ImportError("no Pillow here")
        return real_import(mod, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_pil)
    with pytest.raises(ImportError, match="pip install pillow"):
        save_gif(neuron()[-1], tmp_path / "x.gif")


# --- the command ------------------------------------------------------------------------------
def test_cli_prints_dot_source(capsys):
    assert main(["draw", "tanh(x*w + b)", "x=1", "w=-2", "b=0.5"]) == 0
    out = capsys.readouterr().out
    nodes, edges = parse(out)
    labels = [n["label"] for n in nodes.values()]
    assert any(text.startswith("x\ndata 1\ngrad") for text in labels)
    assert any(n["label"] == "tanh" for n in nodes.values())
    assert len(nodes) == 3 + 3 * 2 and len(edges) == 2 + 2 + 1 + 3   # x w b, 3 ops + results


def test_cli_writes_files_and_steps(tmp_path, capsys):
    out = tmp_path / "g.dot"
    frames = tmp_path / "frames"
    assert main(["draw", "tanh(x*w + b)", "x=1", "w=-2", "b=0.5", "-o", str(out),
                 "--steps", str(frames), "--steps-format", "dot", "--tape"]) == 0
    assert "digraph" in out.read_text(encoding="utf-8")
    assert sorted(p.name for p in frames.iterdir()) == ["step_000.dot", "step_001.dot",
                                                        "step_002.dot"]
    printed = capsys.readouterr().out
    assert "name" in printed and "tanh" in printed and "wrote 3 step frames" in printed


@needs_dot
def test_cli_svg(tmp_path):
    out = tmp_path / "g.svg"
    assert main(["draw", "x * y", "x=2", "y=3", "-o", str(out), "--color", "--local"]) == 0
    ET.fromstring(out.read_bytes())


def test_cli_refuses_code_with_column(capsys):
    assert main(["draw", "__import__('os').system('id')", "x=1"]) == 2
    err = capsys.readouterr().err
    assert "__import__" in err and "column 1" in err


@pytest.mark.parametrize("argv, words", [
    (["draw", "x + y", "x=1"], "unknown name 'y'"),
    (["draw", "x", "x=one"], "must be a number"),
    (["draw", "x", "x"], "NAME=VALUE"),
    (["draw", "x", "x=1", "x=2"], "given twice"),
    (["draw", "exp(x)", "exp=1"], "taken by the function"),
])
def test_cli_usage_errors(argv, words, capsys):
    assert main(argv) == 2
    assert words in capsys.readouterr().err


def test_cli_choices_match_the_library():
    from microgrador import draw as drawing, draw_cli
    assert draw_cli.RANKDIRS == drawing.RANKDIRS
    assert draw_cli.STEP_FORMATS == drawing.RENDER_FORMATS + drawing.SOURCE_FORMATS[:1]


def test_cli_graphviz_missing(no_graphviz, tmp_path, capsys):
    assert main(["draw", "x*2", "x=1", "-o", str(tmp_path / "g.svg")]) == 1
    assert "apt-get install graphviz" in capsys.readouterr().err


def test_cli_scalar_net(tmp_path):
    out = tmp_path / "net.dot"
    assert main(["draw", "scalar-net", "-o", str(out)]) == 0
    nodes, _ = parse(out.read_text(encoding="utf-8"))
    labels = {n["label"].split("\n")[0]: n["label"] for n in nodes.values()}
    # the assignment's numbers: y = [1/2, 1/2], so dloss/dc = y - onehot(0) = [-1/2, 1/2]
    assert labels["c[0]"].endswith("grad -0.5")
    assert labels["c[1]"].endswith("grad 0.5")
    assert any(text.endswith("grad 1") and "0.6931" in text for text in labels.values())  # ln 2


def test_the_same_graph_gives_the_same_dot_source():
    def build():
        x = Value(1.5, "x")
        y = (x * x + 2).tanh() * x
        y.backward()
        return draw(y, show_local=True).source
    assert build() == build()
