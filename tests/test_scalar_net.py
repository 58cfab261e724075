"""The course's scalar network: its numbers against a forward and backward pass written
out by hand in this file (plain floats and math, not the engine), the graph that
build() exposes, and the `microgrador scalar-net` command."""
import json
import math
import random
import re

import pytest

from microgrador.cli import main
from microgrador.scalar_net import build, run

COURSE = dict(x=[1.0, -1.0], target=0, W=[[1, 1, 1], [-1, -1, -1]], b=[0, 0, 0],
              V=[[1, 1], [-1, -1], [-1, -1]], c=[0, 0])


def by_hand(x, target, W, b, V, c):
    """Forward and backward of the network with the chain rule applied by hand."""
    n, m, p = len(x), len(b), len(c)
    k = [sum(x[i] * W[i][j] for i in range(n)) + b[j] for j in range(m)]
    h = [1 / (1 + math.exp(-kj)) for kj in k]
    o = [sum(h[j] * V[j][q] for j in range(m)) + c[q] for q in range(p)]
    e = [math.exp(oq - max(o)) for oq in o]
    y = [eq / sum(e) for eq in e]
    loss = -math.log(y[target])
    do = [y[q] - (q == target) for q in range(p)]              # d loss / d o
    dV = [[h[j] * do[q] for q in range(p)] for j in range(m)]
    dh = [sum(V[j][q] * do[q] for q in range(p)) for j in range(m)]
    dk = [dh[j] * h[j] * (1 - h[j]) for j in range(m)]           # sigmoid' = h (1 - h)
    dW = [[x[i] * dk[j] for j in range(m)] for i in range(n)]
    return dict(k=k, h=h, o=o, y=y, loss=loss, dW=dW, db=dk, dV=dV, dc=do)


def test_the_course_numbers():
    r = run(**COURSE)
    assert r["loss"] == math.log(2) == 0.6931471805599453
    assert r["dV"] == [[-0.44039853898894116, 0.44039853898894116]] * 3
    assert r["dc"] == [-0.5, 0.5]
    assert r["dW"] == [[0.0] * 3] * 2 and r["db"] == [0.0] * 3
    h = 1 / (1 + math.exp(-2))          # k = 1*1 + (-1)*(-1) = 2 for every hidden unit
    assert r["k"] == [2.0] * 3 and r["h"] == [h] * 3
    assert r["o"] == [-h, -h] and r["y"] == [0.5, 0.5]
    assert run() == r                   # the defaults are the course's numbers


def _close(a, b):
    if isinstance(a, list):
        assert len(a) == len(b)
        for u, v in zip(a, b):
            _close(u, v)
    else:
        assert a == pytest.approx(b, rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("seed", range(6))
def test_other_weights_and_shapes_match_the_hand_computation(seed):
    rng = random.Random(seed)
    n, m, p = rng.randint(1, 4), rng.randint(1, 4), rng.randint(2, 4)
    args = dict(x=[rng.uniform(-2, 2) for _ in range(n)], target=rng.randrange(p),
                W=[[rng.gauss(0, 1) for _ in range(m)] for _ in range(n)],
                b=[rng.gauss(0, 1) for _ in range(m)],
                V=[[rng.gauss(0, 1) for _ in range(p)] for _ in range(m)],
                c=[rng.gauss(0, 1) for _ in range(p)])
    got, expected = run(**args), by_hand(**args)
    for key in expected:
        _close(got[key], expected[key])


def test_build_exposes_the_graph_before_backward():
    net = build()
    assert net.loss.label == "loss" and net.loss.grad == 0.0
    assert net.params["W"][0][1].label == "W[0][1]" and net.params["V"][2][0].label == "V[2][0]"
    assert [v.label for v in net.k] == ["k[0]", "k[1]", "k[2]"]
    assert [v.label for v in net.h + net.o + net.y] == ["h[0]", "h[1]", "h[2]", "o[0]", "o[1]",
                                                         "y[0]", "y[1]"]
    assert all(w.grad == 0.0 for row in net.params["W"] for w in row)
    # k[0] = (b[0] + x[0]*W[0][0]) + x[1]*W[1][0]: every product its own node
    k0 = net.k[0]
    assert k0.op == "+"
    left, prod = k0.parents
    assert prod.op == "*" and [q.label for q in prod.parents] == ["x[1]", "W[1][0]"]
    assert left.op == "+" and left.parents[0].label == "b[0]"
    assert net.h[0].op == "sigmoid" and net.h[0].parents == (k0,)
    net.loss.backward()
    assert net.params["V"][0][0].grad == -0.44039853898894116
    assert net.numbers()["loss"] == math.log(2)


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match="W must be a list of 2 rows"):
        run(W=[[1, 1, 1]])
    with pytest.raises(ValueError, match="rows of V must all have the same length"):
        run(V=[[1, 1], [1], [1, 1]])
    with pytest.raises(TypeError, match=r"W\[1\]\[0\]: expected a real number"):
        run(W=[[1, 1, 1], ["a", 1, 1]])
    with pytest.raises(ValueError, match="c must be a list of 2 numbers"):
        run(c=[0, 0, 0])
    with pytest.raises(ValueError, match="target must be an output class in 0..1"):
        run(target=2)


def test_command_prints_the_numbers_at_full_precision(capsys):
    assert main(["scalar-net"]) == 0
    out = capsys.readouterr().out
    assert "loss = -log y[0] = 0.6931471805599453" in out
    assert out.count("[-0.44039853898894116, 0.44039853898894116]") == 3
    assert "dc = [-0.5, 0.5]" in out
    for name in ("k =", "h =", "o =", "y =", "dW[i][j]", "db =", "dV[j][k]"):
        assert name in out


def test_command_json_and_options(tmp_path, capsys):
    assert main(["scalar-net", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["loss"] == 0.6931471805599453 and r["dc"] == [-0.5, 0.5]
    weights = tmp_path / "w.json"
    weights.write_text(json.dumps({"W": [[0.5, -1, 2], [1, 0, -0.5]], "c": [0.1, -0.2]}))
    assert main(["scalar-net", "--json", "--x", "0.3", "-2", "--target", "1",
                 "--weights", str(weights)]) == 0
    r = json.loads(capsys.readouterr().out)
    expected = by_hand([0.3, -2.0], 1, [[0.5, -1, 2], [1, 0, -0.5]], COURSE["b"], COURSE["V"],
                       [0.1, -0.2])
    for key in expected:
        _close(r[key], expected[key])


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ('{"Q": [1]}', "unexpected: Q"),
    ('[1, 2]', "JSON object"),
    ('{"W": [[1, 1], [1, 1]]}', r"b must be a list of 2 numbers \(one per hidden unit: W has 2 columns\)"),
    ('{"W": [[1, 1], [1]]}', r"rows of W must all have the same length"),
])
def test_command_reports_bad_weight_files(tmp_path, capsys, content, message):
    path = tmp_path / "w.json"
    path.write_text(content)
    assert main(["scalar-net", "--weights", str(path)]) == 2
    assert re.search(message, capsys.readouterr().err)
