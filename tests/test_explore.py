"""The explorer page: self-contained, its step data checked against closed forms, its
errors, the `draw --html` command, and (where Chromium is installed) the page driven
in a real headless browser."""
import html
import json
import math
import os
import re
import shutil

import pytest

from microgrador import Value
from microgrador.cli import main
from microgrador.draw import GraphTooLarge, GraphvizNotFound, explore
from microgrador.nn import Neuron
from microgrador.scalar_net import build as build_scalar_net

HAVE_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(
    not HAVE_DOT, reason="Graphviz's `dot` program is not installed (apt-get install graphviz); "
                         "CI installs it, so these run there")

X, W, B = 1.0, -2.0, 0.5
T = math.tanh(X * W + B)
G = 1 - T * T                   # d tanh(z)/dz at z = x*w + b: the grad of x*w and of b


def tanh_neuron():
    """y = tanh(x*w + b) at x = 1, w = -2, b = 0.5, labelled, nothing computed backward."""
    x, w, b = Value(X, "x"), Value(W, "w"), Value(B, "b")
    xw = x * w
    z = xw + b
    return x, w, b, xw, z, z.tanh()


def page_data(page):
    """The numbers embedded in the page, read back as Python objects."""
    m = re.search(r'<script id="explorer-data">var MICROGRADOR_DATA = (.*?);</script>', page, re.S)
    assert m, "the page holds its step data in the explorer-data script"
    return json.loads(m.group(1))


def replay(data):
    """Every Value's grad after the last step, from the steps' own updates."""
    grads = [0.0] * len(data["values"])
    for s in data["steps"]:
        if s["k"] == "b":
            grads[s["n"]] = s["g"]
            for i, g, text in s["u"]:
                assert text == f"{g:.4g}"            # the text the page shows for it
                grads[i] = g
    return grads


def by_name(data, name):
    [i] = [i for i, v in enumerate(data["values"]) if v["name"] == name]
    return i


# --- the page, without a browser ---------------------------------------------------------------
@needs_dot
def test_the_page_is_self_contained():
    page = explore(tanh_neuron()[-1]).html
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"""\b(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert "<link" not in page.lower() and "@import" not in page and "url(" not in page
    scripts = re.findall(r"<script\b([^>]*)>", page, re.I)
    assert len(scripts) == 2 and all("src" not in attrs for attrs in scripts)
    assert "<!DOCTYPE svg" not in page and "<?xml" not in page   # the SVG is inline
    assert page.count("<svg") == 1 and 'id="caption"' in page


@needs_dot
def test_step_data_matches_the_chain_rule_by_hand():
    x, w, b, xw, z, y = tanh_neuron()
    ex = explore(y)
    data = page_data(ex.html)
    # forward: one step per interior node, in topological order; then one per node back
    assert (ex.n_forward, ex.n_backward, ex.steps) == (3, 3, 6)
    assert [s["k"] for s in data["steps"]] == ["f"] * 3 + ["b"] * 3
    values = data["values"]
    assert [values[s["n"]]["data"] for s in data["steps"][:3]] == [X * W, X * W + B, T]
    grads = replay(data)
    assert grads[by_name(data, "x")] == pytest.approx(G * W, rel=1e-12)
    assert grads[by_name(data, "w")] == pytest.approx(G * X, rel=1e-12)
    assert grads[by_name(data, "b")] == pytest.approx(G, rel=1e-12)
    # the * node: local derivatives d(x*w)/dx = w, d(x*w)/dw = x, with their formulas
    [mul] = [v for v in values if v["op"] == "*"]
    assert mul["l"] == [W, X] and mul["f"] == ["w", "x"]
    [th] = [v for v in values if v["op"] == "tanh"]
    assert th["l"] == [pytest.approx(G)] and "tanh" in th["f"][0]
    # the captions write that arithmetic out, as the example does
    assert f"to w: {G:.4g} × 1 (local) = {G:.4g}, its grad now {G:.4g}" in ex.captions[-1]
    assert ex.captions[0].startswith("forward step 1 of 3") and "1 × -2 = -2" in ex.captions[0]


@needs_dot
def test_a_value_used_twice_collects_both_contributions():
    x = Value(3.0, "x")
    y = x * x + x                                     # dy/dx = 2x + 1 = 7
    grads = replay(page_data(explore(y).html))
    assert grads[0] == 7.0


@needs_dot
def test_explore_leaves_the_grads_as_they_were():
    x, w, b, xw, z, y = tanh_neuron()
    y.backward()
    y.backward()                                      # leaves hold twice the grad
    before = [v.grad for v in (x, w, b, xw, z, y)]
    data = page_data(explore(y).html)
    assert [v.grad for v in (x, w, b, xw, z, y)] == before
    # the page shows one fresh backward pass, not the accumulated grads
    assert replay(data)[by_name(data, "w")] == pytest.approx(G * X)


@needs_dot
def test_a_leaf_has_one_backward_step():
    ex = explore(Value(2.0, "x"))
    assert (ex.n_forward, ex.n_backward) == (0, 1)
    assert replay(page_data(ex.html)) == [1.0]


def test_explore_takes_one_value():
    with pytest.raises(TypeError, match="one Value"):
        explore([Value(1.0), Value(2.0)])
    with pytest.raises(TypeError, match="show_data"):
        explore(Value(1.0) * 2, show_data=False)


@needs_dot
def test_repr_html_is_an_iframe_holding_the_page():
    ex = explore(tanh_neuron()[-1])
    out = ex._repr_html_()
    assert out.startswith("<iframe ") and out.endswith("</iframe>")
    m = re.search(r'srcdoc="([^"]*)"', out)
    assert m and html.unescape(m.group(1)) == ex.html
    assert 'sandbox="allow-scripts"' in out


@needs_dot
def test_the_scalar_net_and_a_784_input_neuron_fit_in_small_pages():
    net = explore(build_scalar_net().loss)
    assert net.steps == 2 * 31                         # 31 interior nodes, forward and back
    assert len(net.html.encode("utf-8")) < 150_000
    data = page_data(net.html)
    grads = replay(data)
    # the module's worked example: y = [1/2, 1/2], target 0, so dc = y - onehot
    assert grads[by_name(data, "c[0]")] == pytest.approx(-0.5)
    assert grads[by_name(data, "c[1]")] == pytest.approx(0.5)

    xs = [(i % 5) / 4 for i in range(784)]
    neuron = Neuron(784, activation="tanh", seed=1)
    y = neuron(xs)
    page = explore(y).html
    assert len(page.encode("utf-8")) < 200_000
    data = page_data(page)
    assert data["folded"] and "785 inputs" in page     # fan-in collapsed as draw does
    grads = replay(data)
    dz = 1 - y.data ** 2
    ws = neuron.params[:784]
    for i in (0, 1, 4, 783):                           # d tanh(w.x + b)/dw_i = (1 - y^2) x_i
        assert grads[data["values"].index(next(v for v in data["values"]
                                                if v["name"] == ws[i].label))] == \
            pytest.approx(dz * xs[i], abs=1e-15)


@needs_dot
def test_over_max_nodes_says_what_to_do():
    with pytest.raises(GraphTooLarge, match=r"explore: .*max_nodes=") as info:
        explore(build_scalar_net().loss, max_nodes=20)
    assert "smaller part" in str(info.value)


def test_missing_graphviz_says_how_to_install(no_graphviz):
    with pytest.raises(GraphvizNotFound) as info:
        explore(tanh_neuron()[-1])
    assert "apt-get install graphviz" in str(info.value)


@needs_dot
def test_save_writes_one_file_and_checks_the_path(tmp_path):
    ex = explore(tanh_neuron()[-1])
    path = ex.save(tmp_path / "g.html")
    assert path.read_text(encoding="utf-8") == ex.html
    ex.save(tmp_path / "g.html")                       # over an old page
    assert os.listdir(tmp_path) == ["g.html"]          # no temporary file left behind
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ex.save(tmp_path / "missing" / "g.html")
    with pytest.raises(ValueError, match=r"\.html"):
        ex.save(tmp_path / "g.svg")
    (tmp_path / "dir.html").mkdir()
    with pytest.raises(IsADirectoryError, match="folder"):
        ex.save(tmp_path / "dir.html")
    assert sorted(os.listdir(tmp_path)) == ["dir.html", "g.html"]


@needs_dot
def test_cli_writes_the_page(tmp_path, capsys):
    out = tmp_path / "g.html"
    assert main(["draw", "tanh(x*w + b)", "x=1", "w=-2", "b=0.5", "--html", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "digraph" not in printed and str(out) in printed
    data = page_data(out.read_text(encoding="utf-8"))
    assert replay(data)[by_name(data, "w")] == pytest.approx(G * X)
    net = tmp_path / "net.html"
    assert main(["draw", "scalar-net", "--html", str(net)]) == 0
    assert "microgradorExplorer" in net.read_text(encoding="utf-8")


def test_cli_checks_the_page_name_first(tmp_path, capsys):
    # no dot needed: the name is refused before anything is drawn
    assert main(["draw", "x*2", "x=1", "--html", str(tmp_path / "no" / "g.html")]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["draw", "x*2", "x=1", "--html", str(tmp_path / "g.svg")]) == 2
    assert ".html" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []


# --- the page in a real browser -------------------------------------------------------------------
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not HAVE_DOT:
        pytest.skip("Graphviz's `dot` is not installed (apt-get install graphviz)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("the browser tests need selenium: pip install selenium")
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.skip("the browser tests need Debian's Chromium and its driver: "
                    "apt install chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1200,900",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def neuron_page(tmp_path_factory):
    if not HAVE_DOT:
        pytest.skip("Graphviz's `dot` is not installed (apt-get install graphviz)")
    ex = explore(tanh_neuron()[-1])
    return ex, ex.save(tmp_path_factory.mktemp("pages") / "g.html")


def open_page(browser, path):
    browser.get(path.resolve().as_uri())
    return browser.execute_script("return window.microgradorExplorer.steps")


def js(browser, code):
    return browser.execute_script("var E = window.microgradorExplorer; " + code)


def caption(browser):
    return browser.find_element("id", "caption").text


def node_text(browser, first_line):
    """The first line of text of the drawn node that starts with `first_line`."""
    return browser.execute_script(
        "return Array.prototype.find.call(document.querySelectorAll('#graph g.node'), "
        "function (g) { return g.querySelector('text').textContent === arguments[0]; })"
        ".querySelector('text');".replace("arguments[0]", json.dumps(first_line)))


BOXES = """return Array.prototype.map.call(document.querySelectorAll('#graph g.node'), function (g) {
  return [g.querySelector('title').textContent, g.classList.contains('lit'),
          Array.prototype.map.call(g.querySelectorAll('text'), function (t) { return t.textContent; })];
});"""


def test_browser_steps_forward_and_back(browser, neuron_page):
    ex, path = neuron_page
    assert open_page(browser, path) == ex.steps == 6
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    assert js(browser, "return E.step") == 0
    assert caption(browser).startswith("forward step 1 of 3")
    assert js(browser, "E.next(); E.next(); return E.step") == 2
    assert js(browser, "E.prev(); return E.step") == 1
    assert js(browser, "E.goto(0); E.prev(); return E.step") == 0      # stays at the start

    # the last backward step is the * node's: x gets g * w, w gets g * x
    assert js(browser, "E.goto(5); return E.step") == 5
    text = caption(browser)
    assert f"to w: {G:.4g} × 1 (local) = {G:.4g}, its grad now {G:.4g}" in text
    assert f"to x: {G:.4g} × -2 (local) = {G * W:.4g}, its grad now {G * W:.4g}" in text
    boxes = browser.execute_script(BOXES)
    lit = [lines for title, on, lines in boxes if on and not title.endswith("_op")]
    assert lit == [["data -2", f"grad {G:.4g}"]]                       # the x*w box
    # after the last step every box shows the grad of one backward pass
    shown = {lines[0]: lines[-1] for title, on, lines in boxes if len(lines) == 3}
    assert shown == {"x": f"grad {G * W:.4g}", "w": f"grad {G * X:.4g}", "b": f"grad {G:.4g}"}
    assert {lines[-1] for title, on, lines in boxes if "data -0.9051" in lines} == {"grad 1"}

    # the keyboard: the right arrow steps on, the left arrow back
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
    js(browser, "E.goto(2)")
    ActionChains(browser).send_keys(Keys.ARROW_RIGHT).perform()
    assert js(browser, "return E.step") == 3
    assert caption(browser).startswith("backward step 1 of 3")
    ActionChains(browser).send_keys(Keys.ARROW_LEFT).perform()
    assert js(browser, "return E.step") == 2


def test_browser_clicking_a_node_opens_its_panel(browser, neuron_page):
    ex, path = neuron_page
    open_page(browser, path)
    js(browser, "E.goto(E.steps - 1)")
    panel = browser.find_element("id", "panel")
    assert not panel.is_displayed()
    node_text(browser, "w").click()
    assert panel.is_displayed()
    text = panel.text
    assert "w" in text and "data -2" in text and f"grad {G * X:.4g}" in text

    node_text(browser, "*").click()                   # the op's ellipse: its result's panel
    rows = [r.text for r in panel.find_elements("tag name", "tr")]
    # parent, data, grad, local, formula: d(x*w)/dx = w = -2, d(x*w)/dw = x = 1
    assert f"x 1 {G * W:.4g} -2 w" in rows and f"w -2 {G * X:.4g} 1 x" in rows


def test_browser_the_wide_neuron_page_and_a_screenshot(browser, tmp_path):
    Image = pytest.importorskip("PIL.Image", reason="the screenshot check needs Pillow "
                                                    "(pip install pillow; matplotlib brings it)")
    import io
    xs = [(i % 5) / 4 for i in range(784)]
    y = Neuron(784, activation="tanh", seed=1)(xs)
    ex = explore(y)
    assert open_page(browser, ex.save(tmp_path / "n.html")) == ex.steps == 4
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
    js(browser, "E.goto(E.steps - 1)")
    dz = 1 - y.data ** 2
    grads = [dz * x for x in xs] + [dz]               # the weights', then the bias's
    boxes = browser.execute_script(BOXES)
    [folded] = [lines for title, on, lines in boxes if title.endswith("_inputs")]
    assert folded[0] == "785 inputs" and folded[-1] == f"grad {min(grads):.4g} .. {max(grads):.4g}"
    assert "785 more" not in caption(browser) and "more parents" in caption(browser)
    image = Image.open(io.BytesIO(browser.get_screenshot_as_png())).convert("RGB")
    colors = image.getcolors(maxcolors=1 << 20)
    assert colors is not None and len(colors) > 20    # text, boxes, the orange step: not blank


def test_browser_every_caption_space_plays_and_ties_round_as_python(browser, tmp_path):
    x = Value(1.0, "x")
    y = x * 0.15625                                   # dy/dx = 0.15625, an exact tie at 4 digits
    ex = explore(y)
    assert open_page(browser, ex.save(tmp_path / "tie.html")) == ex.steps == 2
    for k in range(ex.steps):
        js(browser, f"E.goto({k})")
        assert caption(browser) == ex.captions[k]
    boxes = browser.execute_script(BOXES)
    # Python's format rounds the tie to even, as draw() writes it; JavaScript would say 0.1563
    assert [lines[-1] for title, on, lines in boxes if lines[0] == "x"] == ["grad 0.1562"]
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
    js(browser, "E.goto(0)")
    ActionChains(browser).send_keys(Keys.SPACE).perform()
    assert js(browser, "return E.playing()") is True
    ActionChains(browser).send_keys(Keys.SPACE).perform()
    assert js(browser, "return E.playing()") is False


def test_browser_the_inline_iframe_runs_the_page(browser, neuron_page, tmp_path):
    ex, _ = neuron_page
    host = tmp_path / "notebook.html"                # what a notebook puts in its output
    host.write_text(f"<!DOCTYPE html><html><body>{ex._repr_html_()}</body></html>",
                    encoding="utf-8")
    browser.get(host.resolve().as_uri())
    browser.switch_to.frame(browser.find_element("tag name", "iframe"))
    try:
        assert js(browser, "return E.steps") == ex.steps
        js(browser, "E.goto(E.steps - 1)")
        assert f"to w: {G:.4g} × 1 (local)" in caption(browser)
    finally:
        browser.switch_to.default_content()
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
