"""`microgrador exercises`: the file init writes, and grading flags exactly the wrong rules.

Expected derivatives below are closed forms worked out here (d tanh = 1 - tanh^2, ...),
not numbers taken from the grader."""
import ast
import json
import math
import pathlib
import re
import subprocess
import sys

import pytest

from microgrador.cli import main
from microgrador.exercises import grade_exercises, init_exercises

# every op of the engine, in the order a course teaches them
OPS = {"arithmetic": ["add", "sub", "mul", "div", "neg", "pow_const", "pow"],
       "elementwise": ["exp", "log", "sqrt", "tanh", "sigmoid", "relu", "leaky_relu", "abs",
                       "sin", "cos"],
       "n-ary": ["sum", "dot", "logsumexp", "softmax", "log_softmax", "cross_entropy"]}
ALL_OPS = [op for ops in OPS.values() for op in ops]
FEW = 25     # points per op and order where the default's thoroughness is not the point


def statuses(report):
    return {r.op: r.status for r in report.ops}


def row(report, op):
    return next(r for r in report.ops if r.op == op)


def key_with(tmp_path, *replacements, imports=""):
    """The teacher's key with some rules replaced by wrong ones."""
    path = init_exercises(tmp_path, solutions=True)
    text = path.read_text()
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    path.write_text(imports + text)
    return path


def student_file(tmp_path, text):
    """A derivatives.py holding only `text`: the ops it leaves out are todo."""
    path = tmp_path / "derivatives.py"
    path.write_text("import microgrador as mg\n" + text)
    return path


def test_init_writes_one_rule_per_op_every_one_todo(tmp_path, capsys):
    path = init_exercises(tmp_path / "hw")
    assert path == tmp_path / "hw" / "derivatives.py"
    tree = ast.parse(path.read_text())
    functions = [f for f in tree.body if isinstance(f, ast.FunctionDef)]
    assert [f.name for f in functions] == [f"d_{op}" for op in ALL_OPS]
    for f in functions:
        assert f.args.args[0].arg == "out"
        assert "out =" in ast.get_docstring(f) and "Return" in ast.get_docstring(f)
        body = f.body[-1]
        assert isinstance(body, ast.Raise) and body.exc.id == "NotImplementedError"
    report = grade_exercises(tmp_path / "hw")
    assert statuses(report) == {op: "todo" for op in ALL_OPS}
    assert (report.passed, report.total, report.ok) == (0, 23, False)
    assert main(["exercises", "check", str(tmp_path / "hw"), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert [r["status"] for r in doc["ops"]] == ["todo"] * 23
    assert (doc["passed"], doc["total"]) == (0, 23)


def test_init_keeps_an_existing_file(tmp_path, capsys):
    (tmp_path / "derivatives.py").write_text("# my work\n")
    with pytest.raises(FileExistsError, match="derivatives.py exists"):
        init_exercises(tmp_path)
    assert main(["exercises", "init", str(tmp_path)]) == 2
    assert "--force" in capsys.readouterr().err
    assert (tmp_path / "derivatives.py").read_text() == "# my work\n"
    assert main(["exercises", "init", str(tmp_path), "--force"]) == 0
    assert "def d_tanh(out, x):" in (tmp_path / "derivatives.py").read_text()
    assert main(["exercises", "init", str(tmp_path / "derivatives.py")]) == 2   # a file, not a directory
    assert "is a file, not a directory" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["derivatives.py"]   # no temporary left


def test_solutions_pass_every_op(tmp_path, capsys):
    assert main(["exercises", "init", str(tmp_path), "--solutions"]) == 0
    capsys.readouterr()
    assert main(["exercises", "check", str(tmp_path), "--json"]) == 0    # default thoroughness
    doc = json.loads(capsys.readouterr().out)
    assert [(r["op"], r["task"], r["status"]) for r in doc["ops"]] == \
        [(op, task, "pass") for task, ops in OPS.items() for op in ops]
    assert (doc["passed"], doc["total"]) == (23, 23)


def test_the_key_agrees_with_closed_forms(tmp_path):
    import importlib.util
    path = init_exercises(tmp_path, solutions=True)
    spec = importlib.util.spec_from_file_location("key", path)
    key = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(key)
    assert key.d_div(1.5, 3.0, 2.0) == pytest.approx((0.5, -0.75))            # 1/b, -a/b^2
    assert key.d_pow(8.0, 2.0, 3.0) == pytest.approx((12.0, 8 * math.log(2)))  # b a^(b-1), a^b ln a
    assert key.d_pow_const(8.0, 2.0, n=3.0) == pytest.approx((12.0,))
    t = math.tanh(0.3)
    assert key.d_tanh(t, 0.3) == pytest.approx((1 - t * t,))
    assert key.d_leaky_relu(-0.02, -2.0, slope=0.01) == (0.01,)
    assert key.d_dot(0.0, 1.0, 2.0, 3.0, 4.0, 5.0, n=2, bias=True) == (3.0, 4.0, 1.0, 2.0, 1.0)
    # logits [0, ln 2]: softmax = [1/3, 2/3]
    xs = (0.0, math.log(2))
    assert key.d_softmax(2 / 3, *xs, i=1) == pytest.approx((-2 / 9, 2 / 9))   # y1 (delta - y_j)
    assert key.d_log_softmax(math.log(2 / 3), *xs, i=1) == pytest.approx((-1 / 3, 1 / 3))
    assert key.d_cross_entropy(math.log(3), *xs, target=0) == pytest.approx((-2 / 3, 2 / 3))
    assert key.d_logsumexp(math.log(3), *xs) == pytest.approx((1 / 3, 2 / 3))


def test_exactly_the_wrong_rules_are_flagged_with_a_counterexample(tmp_path, capsys):
    path = key_with(tmp_path,
                    ("return (1 - out * out,)", "return (1 + out ** 2,)"),   # d_tanh
                    ("return (b, a)", "return (a, b)"),                      # d_mul swapped
                    ("return (1 / x,)", "return (x,)"))                      # d_log
    report = grade_exercises(path, max_examples=FEW)
    assert {op for op, s in statuses(report).items() if s != "pass"} == {"tanh", "mul", "log"}
    assert set(statuses(report).values()) == {"pass", "wrong"}
    assert report.passed == 20 and not report.ok

    ce = row(report, "tanh").counterexample
    x = ce.inputs["x"]
    assert ce.order == 1
    assert ce.expected[0] == pytest.approx(1 - math.tanh(x) ** 2, rel=1e-6)
    assert ce.got[0] == pytest.approx(1 + math.tanh(x) ** 2, rel=1e-12)

    ce = row(report, "mul").counterexample
    a, b = ce.inputs["a"], ce.inputs["b"]
    assert a != b and ce.order == 1
    assert ce.expected == pytest.approx([b, a], abs=1e-6) and ce.got == [a, b]

    ce = row(report, "log").counterexample
    x = ce.inputs["x"]
    assert ce.expected[0] == pytest.approx(1 / x, rel=1e-6) and ce.got == [x]
    assert abs(x - 1 / x) > 1e-3                 # a point where the two differ
    assert f"x = {x!r}" in row(report, "log").message

    assert main(["exercises", "check", str(tmp_path), "--max-examples", str(FEW)]) == 1
    table = capsys.readouterr().out
    assert "20 of 23 ops pass, 3 wrong, 0 todo" in table
    assert [line.split()[1] for line in table.splitlines() if line.split()[-1:] == ["wrong"]] == \
        ["mul", "log", "tanh"]


def test_math_cos_passes_order_1_and_fails_order_2_with_the_engines_message(tmp_path):
    path = student_file(tmp_path, "import math\n\n"
                                  "def d_sin(out, x):\n"
                                  "    return (math.cos(x),)\n")
    r = row(grade_exercises(path, max_examples=FEW), "sin")
    assert r.status == "wrong" and r.counterexample.order == 2
    assert r.counterexample.got is None
    x = r.counterexample.inputs["x"]
    assert r.counterexample.expected[0][0] == pytest.approx(-math.sin(x), abs=1e-6)
    assert "TypeError" in r.message and "math.* on a Value" in r.message
    assert "use microgrador.exp(x)" in r.message
    assert "line 5 of derivatives.py" in r.message


def test_a_rule_that_drops_out_of_the_graph_fails_order_2(tmp_path):
    # right on floats, but on Values it differentiates a constant: d/dx e^x becomes 0
    path = student_file(tmp_path, "def d_exp(out, x):\n"
                                  "    return (mg.exp(x.data if isinstance(x, mg.Value) else x),)\n")
    ce = row(grade_exercises(path, max_examples=FEW), "exp").counterexample
    assert ce.order == 2
    x = ce.inputs["x"]
    assert ce.expected[0][0] == pytest.approx(math.exp(x), rel=1e-5)   # d^2 e^x/dx^2 = e^x
    assert ce.got == [[0.0]]


def test_a_student_error_is_a_wrong_row_with_its_message(tmp_path):
    path = student_file(tmp_path, "def d_exp(out, x):\n"
                                  "    raise ValueError('not yet')\n"
                                  "def d_mul(out, a):\n"
                                  "    return (a,)\n"
                                  "def d_neg(out, x):\n"
                                  "    return -1.0\n"
                                  "def d_add(out, a, b):\n"
                                  "    return (1.0, 'one')\n"
                                  "def d_sum(out, *xs):\n"
                                  "    return (True,) * len(xs)\n"
                                  "d_abs = 3\n")
    report = grade_exercises(path, max_examples=FEW)
    wrong = {r.op: r.message for r in report.ops if r.status == "wrong"}
    assert set(wrong) == {"exp", "mul", "neg", "add", "sum", "abs"}
    assert "ValueError: not yet (line 3 of derivatives.py)" in wrong["exp"]
    assert "TypeError" in wrong["mul"] and "positional argument" in wrong["mul"]
    assert "must return a tuple of 1 derivative" in wrong["neg"] and "float" in wrong["neg"]
    assert "str 'one' in position 1" in wrong["add"]
    assert "bool True" in wrong["sum"]
    assert "not a function" in wrong["abs"]
    assert row(report, "exp").counterexample.got is None
    assert "no function d_cos" in row(report, "cos").message and row(report, "cos").status == "todo"


@pytest.mark.parametrize("text, error", [
    ("def d_add(out, a, b)\n    return (1.0, 1.0)\n", "SyntaxError at line 2"),
    ("x = 1\nraise RuntimeError('boom')\n", "RuntimeError while importing it (line 3 of derivatives.py): boom"),
])
def test_a_file_that_does_not_load_is_reported_cleanly(tmp_path, capsys, text, error):
    student_file(tmp_path, text)
    report = grade_exercises(tmp_path)
    assert error in report.error
    assert statuses(report) == {op: "wrong" for op in ALL_OPS} and not report.ok
    assert main(["exercises", "check", str(tmp_path), "--json"]) == 1
    captured = capsys.readouterr()
    assert error in json.loads(captured.out)["error"]
    assert "Traceback" not in captured.out + captured.err


def test_check_without_a_file_is_a_usage_error(tmp_path, capsys):
    assert main(["exercises", "check", str(tmp_path / "nowhere")]) == 2
    assert "exercises init" in capsys.readouterr().err


def test_grading_is_deterministic(tmp_path):
    path = student_file(tmp_path, "def d_mul(out, a, b):\n    return (a, b)\n")
    first, second = (row(grade_exercises(path, max_examples=FEW), "mul") for _ in range(2))
    assert first.counterexample == second.counterexample and first.message == second.message


def test_the_engine_does_not_import_hypothesis():
    code = ("import sys, microgrador, microgrador.exercises, microgrador.cli; "
            "microgrador.cli.build_parser(); print('hypothesis' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_readme_shows_a_real_check_of_a_partly_solved_file(tmp_path, monkeypatch, capsys):
    # the file README describes: tasks 1 and 2 written, d_tanh and d_sin wrong, task 3 to do
    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    excerpt = readme.split("## Exercises: write the derivative rules", 1)[1].split("```text\n")[1]
    excerpt = excerpt.split("```")[0]
    monkeypatch.chdir(tmp_path)
    path = key_with(pathlib.Path("hw"), ("return (1 - out * out,)", "return (1 + out * out,)"),
                    ("return (mg.cos(x),)", "return (math.cos(x),)"), imports="import math\n")
    head, task3 = path.read_text().split("# ==== Task 3")
    task3 = re.sub(r'(    """\n)(?:    .*\n)+', r'\1    raise NotImplementedError\n', task3)
    path.write_text(head + "# ==== Task 3" + task3)
    assert main(["exercises", "check", "hw"]) == 1
    out = capsys.readouterr().out.splitlines()
    shown = [line for line in excerpt.splitlines() if line.strip() != "..."]
    assert all(line in out for line in shown), [line for line in shown if line not in out]


def softmax(xs):
    es = [math.exp(x) for x in xs]
    return [e / sum(es) for e in es]


def test_wrong_n_ary_rules_are_caught(tmp_path):
    path = student_file(tmp_path,
                        "def d_softmax(out, *xs, i):\n"          # log_softmax's rule
                        "    ys = mg.softmax(list(xs))\n"
                        "    return tuple((1.0 if j == i else 0.0) - y for j, y in enumerate(ys))\n"
                        "def d_cross_entropy(out, *xs, target):\n"   # t - y instead of y - t
                        "    ys = mg.softmax(list(xs))\n"
                        "    return tuple((1.0 if j == target else 0.0) - y for j, y in enumerate(ys))\n"
                        "def d_pow(out, a, b):\n"                 # d/db without log(a)
                        "    return (b * a ** (b - 1), a ** b)\n")
    report = grade_exercises(path, max_examples=FEW)
    assert {r.op for r in report.ops if r.status == "wrong"} == {"softmax", "cross_entropy", "pow"}

    ce = row(report, "softmax").counterexample
    xs, i = list(ce.inputs.values()), ce.constants["i"]
    y = softmax(xs)
    assert ce.order == 1 and ce.expected == pytest.approx(
        [y[i] * ((j == i) - y[j]) for j in range(len(xs))], abs=1e-6)
    ce = row(report, "cross_entropy").counterexample
    xs, t = list(ce.inputs.values()), ce.constants["target"]
    y = softmax(xs)
    assert ce.expected == pytest.approx([y[j] - (j == t) for j in range(len(xs))], abs=1e-6)
    assert ce.got == pytest.approx([(j == t) - y[j] for j in range(len(xs))], abs=1e-12)
    ce = row(report, "pow").counterexample
    a, b = ce.inputs["a"], ce.inputs["b"]
    assert ce.expected[1] == pytest.approx(a ** b * math.log(a), abs=1e-6)
    assert ce.got[1] == pytest.approx(a ** b)
    assert abs(math.log(a) - 1) > 1e-3            # away from a = e, where the two agree
