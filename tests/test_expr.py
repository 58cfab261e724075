"""The formula parser: the graphs it builds (against math and closed forms) and the
code it refuses (with the construct and its column named)."""
import ast
import builtins
import math

import pytest

from microgrador import Value
from microgrador.expr import (FUNCTIONS, MAX_LENGTH, ExpressionError, build_expression,
                              check_variable_names, parse_expression)


def value_and_grads(text, **values):
    out, inputs = build_expression(text, values)
    out.backward()
    return out.data, {name: v.grad for name, v in inputs.items()}


def test_neuron_value_and_grads_by_hand():
    data, grads = value_and_grads("tanh(x*w + b)", x=1, w=-2, b=0.5)
    t = math.tanh(1 * -2 + 0.5)
    assert data == pytest.approx(t, rel=1e-15)
    d = 1 - t * t                           # tanh' = 1 - tanh^2
    assert grads["x"] == pytest.approx(d * -2, rel=1e-12)
    assert grads["w"] == pytest.approx(d * 1, rel=1e-12)
    assert grads["b"] == pytest.approx(d, rel=1e-12)


def test_inputs_are_labelled_leaves_and_shared():
    out, inputs = build_expression("x * x + 3", {"x": 2.5})
    assert set(inputs) == {"x"} and inputs["x"].label == "x" and inputs["x"].is_leaf
    product = out.parents[0]
    assert product.parents == (inputs["x"], inputs["x"])     # one node, used twice
    out.backward()
    assert inputs["x"].grad == 2 * 2.5


@pytest.mark.parametrize("text, expected", [
    ("-x**2", -(1.5 ** 2)),            # ** binds tighter than unary minus
    ("2**x", 2 ** 1.5),
    ("x/y - y", 1.5 / -0.5 + 0.5),
    ("+x * -y", 1.5 * 0.5),
    ("(x + y) * 2", 2.0),
    ("1e-3 * x", 1.5e-3),
])
def test_operators_follow_python_precedence(text, expected):
    out, _ = build_expression(text, {"x": 1.5, "y": -0.5})
    assert out.data == pytest.approx(expected, rel=1e-15)


# each function against math, and its derivative against central differences of math
MATH = {
    "exp": (math.exp, 0.7), "log": (math.log, 0.7), "sqrt": (math.sqrt, 0.7),
    "tanh": (math.tanh, 0.7), "sigmoid": (lambda x: 1 / (1 + math.exp(-x)), 0.7),
    "relu": (lambda x: max(0.0, x), 0.7), "abs": (abs, -0.7),
    "leaky_relu": (lambda x: x if x > 0 else 0.01 * x, -0.7),
    "sin": (math.sin, 0.7), "cos": (math.cos, 0.7),
}


@pytest.mark.parametrize("name", sorted(MATH))
def test_each_function_against_math(name):
    f, x = MATH[name]
    data, grads = value_and_grads(f"{name}(x)", x=x)
    assert data == pytest.approx(f(x), rel=1e-12)
    h = 1e-6
    assert grads["x"] == pytest.approx((f(x + h) - f(x - h)) / (2 * h), rel=1e-6)


def test_n_ary_and_two_argument_functions():
    data, grads = value_and_grads("sum(x, y, x)", x=2.0, y=3.0)
    assert data == 7.0 and grads == {"x": 2.0, "y": 1.0}
    out, _ = build_expression("sum(x, y, x)", {"x": 2.0, "y": 3.0})
    assert len(out.parents) == 3                    # one n-ary node, not a chain
    data, grads = value_and_grads("logsumexp(x, y)", x=0.3, y=-1.2)
    assert data == pytest.approx(math.log(math.exp(0.3) + math.exp(-1.2)), rel=1e-14)
    assert grads["x"] == pytest.approx(math.exp(0.3) / (math.exp(0.3) + math.exp(-1.2)))
    data, grads = value_and_grads("leaky_relu(x, 0.2)", x=-2.0)
    assert data == pytest.approx(-0.4) and grads["x"] == pytest.approx(0.2)
    assert set(FUNCTIONS) >= {"exp", "log", "sqrt", "tanh", "sigmoid", "relu", "leaky_relu",
                              "abs", "sin", "cos"}


def test_numbers_only_give_a_leaf():
    out, inputs = build_expression("2 * 3 + 1", {})
    assert inputs == {} and out.is_leaf and out.data == 7.0


def test_never_calls_eval_or_exec(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("eval/exec must not be used")
    real_compile = builtins.compile

    def parse_only(source, filename, mode, flags=0, *args, **kwargs):
        # ast.parse is compile(..., PyCF_ONLY_AST): a syntax tree, never bytecode
        if not flags & ast.PyCF_ONLY_AST:
            raise AssertionError("compile to bytecode must not be used")
        return real_compile(source, filename, mode, flags, *args, **kwargs)
    monkeypatch.setattr(builtins, "eval", refuse)
    monkeypatch.setattr(builtins, "exec", refuse)
    monkeypatch.setattr(builtins, "compile", parse_only)
    out, _ = build_expression("sigmoid(x) * exp(-x**2)", {"x": 0.5})
    assert out.data == pytest.approx(1 / (1 + math.exp(-0.5)) * math.exp(-0.25))


def test_long_chain_is_evaluated_without_recursion():
    out, inputs = build_expression("+".join(["x"] * 2000), {"x": 1.0})
    out.backward()
    assert out.data == 2000.0 and inputs["x"].grad == 2000.0
    out, _ = build_expression("-" * 1001 + "x", {"x": 1.0})
    assert out.data == -1.0


# --- what it refuses ----------------------------------------------------------------------------
def refused(text, names=("x", "w", "b")):
    with pytest.raises(ExpressionError) as info:
        parse_expression(text, names)
    return info.value


def test_code_injection_is_refused_and_named():
    e = refused("__import__('os').system('id')")
    assert "'__import__' is not a known function" in str(e)
    assert e.column == 1 and "column 1" in str(e)


@pytest.mark.parametrize("text, words, column", [
    ("x.__class__", "attribute access '.__class__'", 1),
    ("x + w.real", "attribute access '.real'", 5),
    ("().__class__.__bases__[0].__subclasses__()", "a tuple", 1),
    ("open('/etc/passwd')", "'open' is not a known function", 1),
    ("eval('1')", "'eval' is not a known function", 1),
    ("exec('x')", "'exec' is not a known function", 1),
    ("lambda: x", "a lambda", 1),
    ("x + [1, 2]", "a list", 5),
    ("x[0]", "indexing", 1),
    ("x * 'a'", "the string 'a'", 5),
    ("b'x' + x", "the bytes", 1),
    ("x + True", "the boolean True", 5),
    ("x + None", "the constant None", 5),
    ("x * 1j", "the complex number", 5),
    ("x if w else b", "an if-else expression", 1),
    ("x < w", "a comparison", 1),
    ("x and w", "and/or", 1),
    ("x // 2", "the operator '//'", 3),
    ("x % 2", "the operator '%'", 3),
    ("x @ w", "the operator '@'", 3),
    ("w + (x ^ b)", "the operator '^'", 8),
    ("not x", "the operator 'not'", 1),
    ("~x", "the operator '~'", 1),
    ("(y := 2)", "an assignment (:=)", 2),
    ("f'{x}'", "an f-string", 1),
    ("[x for x in w]", "a comprehension", 1),
    ("tanh(*w)", "a starred argument", 6),
    ("leaky_relu(x, slope=0.1)", "keyword argument 'slope='", 15),
    ("tanh(x, w)", "tanh() takes 1 argument, got 2", 1),
    ("leaky_relu(x, w, b)", "leaky_relu() takes 1 or 2 arguments, got 3", 1),
    ("x + y", "unknown name 'y'", 5),
    ("x*w + ñ", "unknown name 'ñ'", 7),
    ("exp + x", "'exp' is a function", 1),
    ("x(2)", "'x' is a variable, not a function", 1),
    ("x +", "not a valid expression", None),
    ("", "empty", 1),
])
def test_refused_constructs_name_the_part_and_column(text, words, column):
    e = refused(text)
    assert words in str(e)
    if column is not None:
        assert e.column == column and f"column {column}" in str(e)
        # the caret under the source line points at the same column
        source, caret = str(e).splitlines()[1:3]
        assert caret.index("^") - 4 == column - 1 and source.strip() == text.strip()


def test_leftmost_problem_is_reported():
    e = refused("x + foo(1) + w.y")
    assert "'foo'" in str(e) and e.column == 5


def test_columns_count_characters_and_leading_spaces():
    e = refused("   x + zz")
    assert e.column == 8


def test_multiline_positions():
    e = refused("(x +\n  w.y)")
    assert e.line == 2 and e.column == 3 and "line 2, column 3" in str(e)


def test_too_long_and_too_deep_are_refused_cleanly():
    with pytest.raises(ExpressionError, match="characters long"):
        parse_expression("x+" * MAX_LENGTH + "x", ["x"])
    with pytest.raises(ExpressionError):
        parse_expression("(" * 500 + "x" + ")" * 500, ["x"])
    with pytest.raises(ExpressionError, match="NUL"):
        parse_expression("x +\x00 1", ["x"])


def test_evaluation_errors_point_at_the_part():
    with pytest.raises(ExpressionError) as info:
        build_expression("x + log(x - 1)", {"x": 1.0})
    assert "log(x - 1)" in str(info.value) and "x > 0" in str(info.value)
    assert info.value.column == 5
    with pytest.raises(ExpressionError, match="too large for a float"):
        build_expression("x * 10**400", {"x": 1.0})
    with pytest.raises(ExpressionError, match="slope must be a number"):
        build_expression("leaky_relu(x, x)", {"x": 1.0})


@pytest.mark.parametrize("name", ["exp", "_x", "1x", "if", "x.y", "", "a b"])
def test_bad_variable_names_are_refused(name):
    with pytest.raises(ValueError):
        check_variable_names([name])


def test_values_must_be_numbers():
    with pytest.raises(TypeError):
        build_expression("x", {"x": "1"})
    with pytest.raises(ValueError):
        build_expression("x", {"x": float("nan")})
    assert isinstance(build_expression("x", {"x": 1})[0], Value)
