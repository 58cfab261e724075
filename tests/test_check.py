"""check_backprop: a right hand-written backward pass passes, each catalogued mistake
is caught and named, and bad student code is reported, never raised."""
import math

import pytest

from microgrador import cli
from microgrador.check import check_backprop, engine_numbers, make_cases
from microgrador.mistakes import CATALOG, Net, simulate

ACTIVATIONS = ["sigmoid", "tanh", "relu", "leaky_relu"]


# --- a student's backward pass, in plain Python ----------------------------------------------
def f(name, z):
    if name == "sigmoid":
        return 1 / (1 + math.exp(-z))
    if name == "tanh":
        return math.tanh(z)
    if name == "relu":
        return max(z, 0.0)
    return z if z > 0 else 0.01 * z


def f_prime(name, z, a):
    if name == "sigmoid":
        return a * (1 - a)
    if name == "tanh":
        return 1 - a * a
    if name == "relu":
        return 1.0 if z > 0 else 0.0
    return 1.0 if z > 0 else 0.01


def flat(v):
    return [x for e in v for x in flat(e)] if isinstance(v, list) else [v]


def T(m):
    return [list(r) for r in zip(*m)]


def student(hidden="sigmoid", layout="in_out", bugs=(), keys=None):
    """fn(x, t, W, b) as a student writes it, with the named bugs; returns every
    canonical quantity (or only `keys`)."""
    def fn(x, t, W, b):
        if layout == "out_in":
            W = [T(m) for m in W]                 # work with W[i][j]: unit i -> unit j
        L = len(W)
        a, zs, acts = list(x), [], [list(x)]
        for l in range(L):
            z = [sum(a[i] * W[l][i][j] for i in range(len(a))) + b[l][j] for j in range(len(b[l]))]
            zs.append(z)
            if l < L - 1:
                a = [f(hidden, v) for v in z]
                acts.append(a)
        m = max(zs[-1])
        e = [math.exp(v - m) for v in zs[-1]]
        y = [v / sum(e) for v in e]
        out = {"y": y, "loss": -math.log(y[t])}
        for l in range(1, L):
            out[f"z{l}"], out[f"a{l}"] = zs[l - 1], acts[l]
        out[f"z{L}"] = zs[-1]
        dy = [-1 / y[t] if i == t else 0.0 for i in range(len(y))]
        out["dy"] = [yi - (i == t) for i, yi in enumerate(y)] if "dy_is_dz" in bugs else dy
        dz = [yi - (i == t) for i, yi in enumerate(y)]
        if "t_minus_y" in bugs:
            dz = [-v for v in dz]
        if "softmax_as_elementwise" in bugs:
            dz = [d * yi * (1 - yi) for d, yi in zip(dy, y)]
        if "mean_over_outputs" in bugs:
            dz = [v / len(y) for v in dz]
        for l in range(L, 0, -1):
            out[f"dz{l}"] = dz
            prev = acts[l - 1]
            if "pre_activation" in bugs and l == L and L > 1:
                prev = zs[l - 2]
            dW = [[p * d for d in dz] for p in prev]
            if "dW_added" in bugs and l == 1:
                dW = [[p + d for d in dz] for p in prev]
            if "dW_transposed" in bugs and l == L:
                dW = T(dW)
            out[f"dW{l}"] = T(dW) if layout == "out_in" else dW
            out[f"db{l}"] = sum(dz) if "bias_summed" in bugs and l == 1 else list(dz)
            if "bias_before" in bugs and l == 1:
                out["db1"] = out["da1"]
            if "bias_before" in bugs and l == L and L > 2:
                out[f"db{l}"] = dy
            if l == 1:
                break
            Wl = T(W[l - 1]) if "da_transposed" in bugs and l == L else W[l - 1]
            da = [sum(Wl[i][j] * dz[j] for j in range(len(dz))) for i in range(len(Wl))]
            out[f"da{l - 1}"] = da
            z, a = zs[l - 2], acts[l - 1]
            fp = [f_prime(hidden, zi, ai) for zi, ai in zip(z, a)]
            if "tanh_for_sigmoid" in bugs and l == 2:
                fp = [1 - ai * ai for ai in a]
            if "sigmoid_for_tanh" in bugs and l == 2:
                fp = [ai * (1 - ai) for ai in a]
            if "at_z" in bugs and l == 2:
                fp = [zi * (1 - zi) for zi in z]
            if "wrong_layer" in bugs and l == 2:       # a2's derivative used for layer 1
                fp = [ai * (1 - ai) for ai in acts[2]]
            if "twice" in bugs and l == 2:
                fp = [v * v for v in fp]
            if "missing" in bugs and l == 2:
                fp = [1.0] * len(fp)
            if "third" in bugs and l == 2:
                fp = [v / 3 for v in fp]
            if "added" in bugs and l == 2:
                dz = [g + v for g, v in zip(da, fp)]
            else:
                dz = [g * v for g, v in zip(da, fp)]
        return out if keys is None else {k: out[k] for k in keys}
    return fn


SIZES = [[2, 3, 2], [4, 5, 3, 3]]


@pytest.mark.parametrize("layout", ["in_out", "out_in"])
@pytest.mark.parametrize("hidden", ACTIVATIONS)
@pytest.mark.parametrize("sizes", SIZES, ids=["2-3-2", "4-5-3-3"])
def test_a_right_backward_pass_passes(sizes, hidden, layout):
    report = check_backprop(student(hidden, layout), sizes=sizes, hidden=hidden, layout=layout)
    assert report.ok, str(report)
    assert report.first_wrong is None and report.mistake is None and not report.errors
    assert all(r.status == "right" for r in report.rows), str(report)
    assert "all right" in str(report)


def test_the_wrong_layout_is_found():
    report = check_backprop(student("sigmoid", "in_out"), sizes=[3, 3, 3], layout="out_in")
    assert not report.ok and report.first_wrong == "z1"
    assert "z1 = W1 @ x + b1" in report.hint
    crashed = check_backprop(student("sigmoid", "in_out"), sizes=[4, 5, 3, 3], layout="out_in")
    assert not crashed.ok and "IndexError" in crashed.hint


def test_the_engine_gives_the_course_numbers():
    """The course's example worked by hand: k = 2 for every hidden unit, both outputs
    equal, so y = [1/2, 1/2], loss = ln 2, dc = [-1/2, 1/2], dV[j] = h_j dc, dW = 0."""
    net = Net([2, 3, 2])
    case = make_cases(net, 1, 0)[0]
    got = engine_numbers(net, case["x"], case["t"], case["W"], case["b"])
    h = 1 / (1 + math.exp(-2))
    assert got["z1"] == [2.0] * 3 and got["a1"] == pytest.approx([h] * 3)
    assert got["y"] == pytest.approx([0.5, 0.5]) and got["loss"] == pytest.approx(math.log(2))
    assert got["dy"] == pytest.approx([-2.0, 0.0])
    assert got["dz2"] == pytest.approx([-0.5, 0.5]) and got["db2"] == pytest.approx([-0.5, 0.5])
    assert flat(got["dW2"]) == pytest.approx([-h / 2, h / 2] * 3)
    assert flat(got["dW1"]) == pytest.approx([0.0] * 6) and got["db1"] == pytest.approx([0.0] * 3)


@pytest.mark.parametrize("hidden", ACTIVATIONS)
def test_the_catalog_rules_without_a_mistake_give_the_engine_numbers(hidden):
    net = Net([3, 4, 4, 2], hidden, "out_in")
    for case in make_cases(net, 3, 1):
        ref = engine_numbers(net, case["x"], case["t"], case["W"], case["b"])
        state = dict(ref, x=case["x"], t=case["t"], W=case["W"])
        for name in net.backward_names:
            assert flat(simulate(net, state, name)) == pytest.approx(flat(ref[name])), name


# (bugs, sizes, hidden, layout, first wrong, mistake, returned keys or None for all)
MISTAKES = [
    ("added", [2, 3, 2], "sigmoid", "in_out", "dz1", "added_not_multiplied", None),
    ("dW_added", [2, 3, 2], "tanh", "out_in", "dW1", "added_not_multiplied", None),
    ("tanh_for_sigmoid", [2, 3, 2], "sigmoid", "in_out", "dz1", "tanh_derivative_for_sigmoid", None),
    ("sigmoid_for_tanh", [2, 3, 2], "tanh", "out_in", "dz1", "sigmoid_derivative_for_tanh", None),
    ("at_z", [2, 3, 2], "sigmoid", "in_out", "dz1", "derivative_at_z", None),
    ("wrong_layer", [2, 3, 3, 2], "sigmoid", "in_out", "dz1", "derivative_of_wrong_layer", None),
    ("twice", [2, 3, 2], "sigmoid", "in_out", "dz1", "derivative_applied_twice", None),
    ("twice", [4, 5, 3, 3], "leaky_relu", "in_out", "dz1", "derivative_applied_twice", None),
    ("missing", [4, 5, 3, 3], "tanh", "out_in", "dz1", "derivative_missing", None),
    ("dW_transposed", [2, 3, 2], "sigmoid", "in_out", "dW2", "transposed", None),
    ("dW_transposed", [4, 5, 3, 3], "relu", "out_in", "dW3", "transposed", None),
    ("da_transposed", [4, 5, 3, 3], "sigmoid", "in_out", "da2", "transposed", None),
    ("da_transposed", [4, 5, 3, 3], "tanh", "out_in", "da2", "transposed", None),
    ("t_minus_y", [2, 3, 2], "sigmoid", "in_out", "dz2", "t_minus_y", None),
    ("t_minus_y", [2, 3, 2], "sigmoid", "in_out", "dW2", "t_minus_y", ["dW2", "db2", "dW1", "db1"]),
    ("mean_over_outputs", [4, 5, 3, 3], "relu", "in_out", "dz3", "extra_1_over_n", None),
    ("third", [2, 3, 2], "sigmoid", "in_out", "dz1", "extra_1_over_n", None),
    ("bias_summed", [2, 3, 2], "sigmoid", "in_out", "db1", "bias_summed_over_units", None),
    ("bias_before", [2, 3, 2], "relu", "out_in", "db1", "bias_before_derivative", None),
    ("bias_before", [4, 5, 3, 3], "tanh", "in_out", "db3", "bias_before_derivative", None),
    ("softmax_as_elementwise", [2, 3, 2], "tanh", "in_out", "dz2", "softmax_as_elementwise", None),
    ("dy_is_dz", [2, 3, 2], "sigmoid", "in_out", "dy", "dy_is_dz", None),
    ("pre_activation", [2, 3, 2], "sigmoid", "in_out", "dW2", "pre_activation_input", None),
]


@pytest.mark.parametrize("bug, sizes, hidden, layout, first, mistake, keys", MISTAKES,
                         ids=[f"{m[0]}-{'-'.join(map(str, m[1]))}-{m[2]}-{m[3]}" + ("-keys" if m[6] else "")
                              for m in MISTAKES])
def test_each_catalogued_mistake_is_found_and_named(bug, sizes, hidden, layout, first, mistake, keys):
    fn = student(hidden, layout, bugs={bug}, keys=keys)
    report = check_backprop(fn, sizes=sizes, hidden=hidden, layout=layout)
    assert not report.ok
    assert report.first_wrong == first, str(report)
    assert report.mistake == mistake, str(report)
    assert "exactly those of this mistake" in report.hint


def test_every_catalogued_mistake_has_a_test():
    assert {m[5] for m in MISTAKES} == set(CATALOG)


def test_the_hint_writes_the_rule_and_the_mistake():
    report = check_backprop(student(bugs={"tanh_for_sigmoid"}), sizes=[2, 3, 2])
    assert "dz1 = da1 * a1 * (1 - a1)" in report.hint
    assert "da1 (right)" in report.hint
    assert "tanh's derivative used for a sigmoid" in report.hint
    row = report.row("dz1")
    assert row.status == "wrong" and row.error > 0.01 and row.case is not None
    table = str(report)
    assert "dz1" in table and "first wrong: dz1" in table


def test_a_mistake_outside_the_catalog_is_only_located():
    def fn(x, t, W, b):
        out = student()(x, t, W, b)
        out["dz1"] = [v + 0.25 * i for i, v in enumerate(out["dz1"])]
        return out
    report = check_backprop(fn)
    assert report.first_wrong == "dz1" and report.mistake is None
    assert "None of the common mistakes" in report.hint


def test_the_course_names_and_the_canonical_names_give_the_same_report():
    course = ["k", "h", "o", "y", "loss", "do", "dV", "dc", "dh", "dk", "dW", "db"]
    canonical = ["z1", "a1", "z2", "y", "loss", "dz2", "dW2", "db2", "da1", "dz1", "dW1", "db1"]

    def renamed(fn):
        return lambda *a: dict(zip(course, (fn(*a)[k] for k in canonical)))
    report = check_backprop(renamed(student()))
    assert report.ok and report.row("dz1").key == "dk" and report.row("dW2").key == "dV"
    assert report.row("dk") is report.row("dz1")
    bad = check_backprop(renamed(student(bugs={"twice"})))
    assert bad.first_wrong == "dz1" and "(your 'dk')" in bad.hint
    assert bad.mistake == "derivative_applied_twice"


def test_course_names_mean_nothing_for_a_deeper_network():
    fn = student()
    report = check_backprop(lambda *a: dict(fn(*a), dk=[0.0]), sizes=[4, 5, 3, 3])
    assert report.ok and "dk" in report.ignored
    with pytest.raises(KeyError, match="no quantity 'dk'"):
        report.row("dk")


class FakeArray:
    """Just enough of a NumPy array: .tolist(), and nothing else a list has."""
    def __init__(self, data):
        self.data = data

    def tolist(self):
        return self.data


@pytest.mark.parametrize("form", ["row", "column", "flat"])
def test_arrays_with_tolist_and_every_vector_shape_are_accepted(form):
    shape = {"row": lambda v: [v], "column": lambda v: [[e] for e in v], "flat": lambda v: v}[form]

    def fn(x, t, W, b):
        out = student("tanh", "out_in")(x, t, W, b)
        return {k: FakeArray(v if k.startswith("dW") or k == "loss" else shape(v))
                for k, v in out.items()}
    report = check_backprop(fn, sizes=[4, 5, 3, 3], hidden="tanh", layout="out_in")
    assert report.ok, str(report)


def test_a_right_but_partial_answer_is_ok_and_the_rest_not_returned():
    report = check_backprop(student(keys=["dW1", "db1"]))
    assert report.ok
    assert report.row("dz1").status == "not returned" and report.row("dW1").status == "right"


# --- bad student code: reported, naming the key, never raised ---------------------------------
def test_an_exception_is_reported_with_the_students_line():
    def fn(x, t, W, b):
        return {"dz1": 1 / 0}
    report = check_backprop(fn)
    assert not report.ok and report.first_wrong is None
    assert "ZeroDivisionError" in report.hint and "in fn" in report.hint
    assert "1 / 0" in report.hint
    assert len(report.errors) == 5 and "ZeroDivisionError" in str(report)


def test_an_exception_in_some_cases_only():
    calls = []

    def fn(x, t, W, b):
        calls.append(1)
        if len(calls) == 3:
            raise SystemExit("bye")
        return student()(x, t, W, b)
    report = check_backprop(fn)
    assert not report.ok and report.errors == [report.errors[0]]
    assert report.errors[0].startswith("case 3: fn raised SystemExit: bye")


@pytest.mark.parametrize("value, status, detail", [
    (float("nan"), "bad value", "nan"),
    ("0.5", "bad value", "a str"),
    (None, "bad value", "a NoneType"),
    ({"a": 1}, "bad value", "a dict"),
    (True, "bad value", "a bool"),
    ([[1.0, 2.0], [3.0]], "shape mismatch", "ragged"),
    ([1.0, 2.0], "shape mismatch", "shape (2,), expected (3,)"),
    ([[0.0] * 3] * 3, "shape mismatch", "shape (3, 3), expected (3,)"),
    ([[[[[0.0]]]]], "bad value", "nested more than 3 deep"),
])
def test_bad_values_are_reported_naming_the_key(value, status, detail):
    def fn(x, t, W, b):
        out = student()(x, t, W, b)
        out["dz1"] = value
        return out
    report = check_backprop(fn)
    assert not report.ok and report.first_wrong == "dz1"
    row = report.row("dz1")
    assert row.status == status and detail in row.detail, str(report)
    assert "dz1" in report.hint and status in report.hint


def test_a_tolist_that_raises_is_a_bad_value():
    class Broken:
        def tolist(self):
            raise RuntimeError("no")

    report = check_backprop(lambda *a: dict(student()(*a), dW2=Broken()))
    assert report.row("dW2").status == "bad value" and "RuntimeError" in report.row("dW2").detail


@pytest.mark.parametrize("result, words", [
    ([1, 2], "returned a list, expected a dict"),
    (None, "returned a NoneType"),
    ({}, "none of this network's quantities"),
    ({"dx": 1.0}, "none of this network's quantities"),
])
def test_returning_no_quantities_is_reported(result, words):
    report = check_backprop(lambda x, t, W, b: result)
    assert not report.ok and words in report.hint


def test_a_key_missing_in_one_case_is_wrong():
    calls = []

    def fn(x, t, W, b):
        calls.append(1)
        out = student()(x, t, W, b)
        if len(calls) == 2:
            del out["dW1"]
        return out
    report = check_backprop(fn)
    assert report.first_wrong == "dW1" and "not returned in case 2" in report.row("dW1").detail


def test_the_student_cannot_spoil_the_reference_by_mutating_its_arguments():
    def fn(x, t, W, b):
        out = student()(x, t, W, b)
        W[0][0][0] = 1e6
        x[0] = 5.0
        return out
    assert check_backprop(fn).ok


@pytest.mark.parametrize("kwargs, words", [
    ({"sizes": [2]}, "sizes"), ({"sizes": [2, 3, 1]}, "2 classes"), ({"hidden": "gelu"}, "hidden"),
    ({"layout": "rows"}, "layout"), ({"cases": 0}, "cases"),
])
def test_bad_arguments_to_the_checker_itself_raise(kwargs, words):
    with pytest.raises(ValueError, match=words):
        check_backprop(student(), **kwargs)


# --- the command ------------------------------------------------------------------------------
RIGHT_FILE = '''
import math

def sigmoid(z):
    return 1 / (1 + math.exp(-z))

def backprop(x, t, W, b):
    (W, V), (b, c) = W, b
    k = [sum(x[i] * W[i][j] for i in range(2)) + b[j] for j in range(3)]
    h = [sigmoid(v) for v in k]
    o = [sum(h[i] * V[i][j] for i in range(3)) + c[j] for j in range(2)]
    e = [math.exp(v - max(o)) for v in o]
    y = [v / sum(e) for v in e]
    do = [y[j] - (1.0 if j == t else 0.0) for j in range(2)]
    dV = [[h[i] * do[j] for j in range(2)] for i in range(3)]
    dh = [sum(V[i][j] * do[j] for j in range(2)) for i in range(3)]
    dk = [dh[i] * h[i] * (1 - h[i]) for i in range(3)]
    dW = [[x[i] * dk[j] for j in range(3)] for i in range(2)]
    return {"k": k, "h": h, "o": o, "y": y, "do": do, "dV": dV, "dc": do,
            "dh": dh, "dk": dk, "dW": dW, "db": dk}
'''


def _write(tmp_path, text, name="student.py"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_cli_right_file_exits_0(tmp_path, capsys):
    assert cli.main(["check", _write(tmp_path, RIGHT_FILE), "--sizes", "2,3,2"]) == 0
    out = capsys.readouterr().out
    assert "backprop(x, t, W, b)" in out and "all right" in out and "dk" in out


def test_cli_wrong_file_exits_1_and_names_the_mistake(tmp_path, capsys):
    buggy = RIGHT_FILE.replace("dh[i] * h[i] * (1 - h[i])", "dh[i] * (1 - h[i] ** 2)")
    path = _write(tmp_path, buggy)
    assert cli.main(["check", path, "--cases", "3", "--seed", "4"]) == 1
    out = " ".join(capsys.readouterr().out.split())      # the hint is wrapped
    assert "first wrong: dz1" in out and "tanh's derivative used for a sigmoid" in out
    assert "3 cases" in out


def test_cli_function_layout_and_hidden(tmp_path, capsys):
    text = ("from microgrador_test_student import fn as _fn\n"
            "def other(a):\n    return a\n"
            "def mine(x, t, W, b):\n    return _fn(x, t, W, b)\n")
    _write(tmp_path, "from test_check import student\nfn = student('relu', 'out_in')\n",
           "microgrador_test_student.py")
    path = _write(tmp_path, text)
    args = ["check", path, "--sizes", "4,5,3,3", "--hidden", "relu", "--layout", "out_in"]
    assert cli.main(args + ["--function", "mine"]) == 0
    assert cli.main(args) == 0           # the only function of four arguments
    assert "mine(x, t, W, b)" in capsys.readouterr().out


@pytest.mark.parametrize("args, words", [
    (["--sizes", "2,x,2"], "--sizes"),
    (["--sizes", "2"], "--sizes"),
    (["--function", "nope"], "no function 'nope'"),
    (["--cases", "0"], "--cases"),
])
def test_cli_usage_errors_exit_2(tmp_path, capsys, args, words):
    assert cli.main(["check", _write(tmp_path, RIGHT_FILE)] + args) == 2
    assert words in capsys.readouterr().err


def test_cli_missing_file_exits_2(tmp_path, capsys):
    assert cli.main(["check", str(tmp_path / "nope.py")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_cli_file_without_a_clear_function_exits_2(tmp_path, capsys):
    path = _write(tmp_path, "def a(x):\n    pass\ndef b(x, t, W, c):\n    pass\n"
                            "def d(x, t, W, c):\n    pass\n")
    assert cli.main(["check", path]) == 2
    assert "--function NAME" in capsys.readouterr().err


def test_cli_file_that_fails_to_import_exits_1(tmp_path, capsys):
    assert cli.main(["check", _write(tmp_path, "def backprop(:\n")]) == 1
    assert "SyntaxError" in capsys.readouterr().err


def test_the_report_in_the_readme_is_what_its_example_prints():
    import contextlib
    import io
    import pathlib
    import re
    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Checking a student's backprop", 1)[1]
    code, shown = re.search(r"```python\n(.*?)```\s*prints\s*```text\n(.*?)```", section, re.S).groups()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    assert out.getvalue() == shown
    assert "first wrong: dz1" in shown and "derivative_at_z" in shown


def test_an_error_inside_microgrador_points_at_the_students_line():
    import microgrador as mg

    def fn(x, t, W, b):
        return {"loss": mg.log(-1.0)}
    report = check_backprop(fn, cases=1)
    assert "ValueError" in report.hint and "mg.log(-1.0)" in report.hint


def test_the_tolerances_pass_float32_rounding_and_catch_a_small_error():
    def rounded(digits, bump=0.0):
        def fn(x, t, W, b):
            out = student("tanh")(x, t, W, b)
            out["dW1"] = [[float(f"{v:.{digits}g}") + bump for v in row] for row in out["dW1"]]
            return out
        return fn
    assert check_backprop(rounded(7), hidden="tanh").ok           # float32 keeps ~7 digits
    assert check_backprop(rounded(3), hidden="tanh").first_wrong == "dW1"
    assert check_backprop(rounded(3), hidden="tanh", rtol=1e-2, atol=1e-3).ok
    assert check_backprop(rounded(17, 1e-6), hidden="tanh").first_wrong == "dW1"


def test_junk_under_every_key_is_reported_never_raised():
    from hypothesis import given, settings, strategies as st
    junk = st.recursive(
        st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=3)
        | st.complex_numbers(allow_nan=False, allow_infinity=False),
        lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=2), inner, max_size=2),
        max_leaves=12)
    names = Net([2, 3, 2]).names + ["k", "dV", "x", 3]

    @settings(max_examples=60, derandomize=True, database=None, deadline=None)
    @given(st.dictionaries(st.sampled_from(names), junk, max_size=6))
    def check(result):
        report = check_backprop(lambda x, t, W, b: result, cases=2)
        str(report)
        assert not report.ok
        if any(isinstance(k, str) and k in Net([2, 3, 2]).names for k in result):
            assert report.first_wrong is not None and report.first_wrong in report.hint
    check()


# --- time limits: a student's endless loop ------------------------------------------------------
def test_an_endless_loop_is_stopped_named_by_its_line_and_no_later_case_runs():
    calls = []

    def fn(x, t, W, b):
        calls.append(1)
        while True:   # the student's endless loop
            pass
    report = check_backprop(fn, timeout=0.2)
    assert calls == [1]                              # cases 2-5 were not started
    [error] = report.errors
    assert error.startswith("case 1: fn did not return within 0.2 s")
    assert "the other 4 cases were not run" in error
    assert "while True:   # the student's endless loop" in error
    assert not report.ok and "1 case: not right" in str(report)


def test_a_slow_case_after_good_ones_keeps_their_rows():
    calls = []

    def fn(x, t, W, b):
        calls.append(1)
        if len(calls) == 2:
            while True:
                pass
        return student()(x, t, W, b)
    report = check_backprop(fn, timeout=0.2)
    assert calls == [1, 1]
    assert report.errors[0].startswith("case 2: fn did not return")
    assert report.row("dW1").status == "right" and report.row("dW1").key == "dW1"


def test_time_limit_restores_the_previous_alarm_handler():
    import signal
    from microgrador.time_limit import TimeLimitExceeded, time_limit

    def mine(signum, frame):
        pass
    old = signal.signal(signal.SIGALRM, mine)
    try:
        with pytest.raises(TimeLimitExceeded, match="the loop did not return within 0.1 s"):
            with time_limit(0.1, "the loop"):
                while True:
                    pass
        assert signal.getsignal(signal.SIGALRM) is mine
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)   # no alarm left armed
        with time_limit(5.0):
            value = sum(range(10))                   # a block that ends in time is untouched
        assert value == 45
    finally:
        signal.signal(signal.SIGALRM, old)


ENDLESS_FILE = "def backprop(x, t, W, b):\n    while True:\n        pass\n"
ENDLESS_IMPORT = "while True:\n    pass\n"
SWALLOWING_FILE = ("def backprop(x, t, W, b):\n    while True:\n        try:\n"
                   "            sum(range(1000))\n        except:\n            pass\n")


def test_cli_stops_an_endless_function_and_an_endless_import(tmp_path, capsys):
    path = _write(tmp_path, ENDLESS_FILE)
    assert cli.main(["check", path, "--timeout", "0.2"]) == 1
    out = capsys.readouterr().out
    assert "fn did not return within 0.2 s" in out and f"{path}:2 in backprop" in out
    path = _write(tmp_path, ENDLESS_IMPORT, name="toplevel.py")
    assert cli.main(["check", path, "--timeout", "0.2"]) == 1
    err = capsys.readouterr().err
    assert f"importing {path} did not return within 0.2 s" in err and "top level" in err


def test_cli_refuses_a_negative_or_nan_timeout(tmp_path, capsys):
    path = _write(tmp_path, RIGHT_FILE)
    for bad in ("-1", "nan"):
        assert cli.main(["check", path, "--timeout", bad]) == 2
        assert "--timeout must be a number of seconds >= 0" in capsys.readouterr().err


def _check_swallowing_file(tmp_path, *options):
    """`microgrador check` on SWALLOWING_FILE in a fresh process (the watchdog ends it),
    with a 0.2 s limit per call and 0.5 s of margin: 0.9 s in all for one case."""
    import subprocess
    import sys
    path = _write(tmp_path, SWALLOWING_FILE)
    argv = ["check", path, *options, "--timeout", "0.2", "--cases", "1"]
    code = ("import microgrador.check_cli as c; c.WATCHDOG_MARGIN = 0.5; from microgrador import cli; "
            f"raise SystemExit(cli.main({argv!r}))")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_cli_ends_code_that_swallows_every_interrupt(tmp_path):
    done = _check_swallowing_file(tmp_path)
    assert done.returncode == 1
    assert "was still running after 0.9 s" in done.stderr and "bare except" in done.stderr


# --- --json: one JSON object on stdout, for autograders --------------------------------------------
def _json_out(capsys):
    import json
    captured = capsys.readouterr()
    return json.loads(captured.out), captured.err


def test_cli_json_right_and_wrong_files(tmp_path, capsys):
    assert cli.main(["check", _write(tmp_path, RIGHT_FILE), "--json"]) == 0
    doc, _ = _json_out(capsys)
    assert doc["ok"] is True and doc["function"] == "backprop" and doc["cases"] == 5
    assert {r["status"] for r in doc["rows"]} <= {"right", "not returned"}
    assert {"dz1", "dW2"} <= {r["quantity"] for r in doc["rows"]}
    assert next(r for r in doc["rows"] if r["quantity"] == "dz1")["key"] == "dk"
    buggy = RIGHT_FILE.replace("dh[i] * h[i] * (1 - h[i])", "dh[i] * (1 - h[i] ** 2)")
    assert cli.main(["check", _write(tmp_path, buggy), "--json", "--seed", "4"]) == 1
    doc, _ = _json_out(capsys)
    assert doc["ok"] is False and doc["first_wrong"] == "dz1"
    assert doc["mistake"] in CATALOG and "tanh" in doc["hint"]
    dz1 = next(r for r in doc["rows"] if r["quantity"] == "dz1")
    assert dz1["status"] == "wrong" and dz1["largest_error"] > 0 and dz1["case"] >= 1


def test_cli_json_keeps_the_students_prints_off_stdout(tmp_path, capsys):
    chatty = "print('loading my file')\n" + RIGHT_FILE.replace(
        "def backprop(x, t, W, b):", "def backprop(x, t, W, b):\n    print('debug', x)")
    assert "print('debug'" in chatty
    assert cli.main(["check", _write(tmp_path, chatty), "--json", "--cases", "2"]) == 0
    doc, err = _json_out(capsys)          # json.loads fails if a print reached stdout
    assert doc["ok"] is True and "loading my file" in err and "debug" in err


def test_cli_json_says_why_a_file_cannot_be_checked(tmp_path, capsys):
    assert cli.main(["check", _write(tmp_path, "def backprop(:\n"), "--json"]) == 1
    doc, err = _json_out(capsys)
    assert doc["ok"] is False and "SyntaxError" in doc["error"] and "SyntaxError" in err
    path = _write(tmp_path, ENDLESS_FILE)
    assert cli.main(["check", path, "--json", "--timeout", "0.2", "--cases", "1"]) == 1
    doc, _ = _json_out(capsys)
    assert doc["ok"] is False and any("did not return within 0.2 s" in e for e in doc["errors"])


def test_cli_json_from_the_watchdog(tmp_path):
    import json
    done = _check_swallowing_file(tmp_path, "--json")
    assert done.returncode == 1
    doc = json.loads(done.stdout)
    assert doc["ok"] is False and "still running after 0.9 s" in doc["error"]


def test_report_json_has_no_bare_infinity():
    import json
    from microgrador.check import Report, Row
    report = Report(rows=[Row("dz1", "dk", "wrong", float("inf"), 1, (0,))], cases=[{}])
    text = json.dumps(report.to_json(), allow_nan=False)
    assert json.loads(text)["rows"][0]["largest_error"] == "inf"
