"""The functional API (grad, value_and_grad, jvp, vjp, jacobian/jacrev, jacfwd, hessian,
hvp): results against hand-derived formulas and central differences, forward mode
against reverse mode, nesting without perturbation confusion, and no side effects."""
import doctest
import math

import pytest
from hypothesis import given, settings, strategies as st

import microgrador as mg
from microgrador import Value, functional
from microgrador.functional import (grad, value_and_grad, jvp, vjp, jacobian, jacrev, jacfwd,
                                    hessian, hvp)
from microgrador.testing import numerical_grad, floats_in, expressions

settings.register_profile("functional", max_examples=25, deadline=None)
settings.load_profile("functional")


def close(a, b, rtol=1e-9, atol=1e-12):
    return abs(a - b) <= atol + rtol * abs(b)


def slots(expr, *xs):
    """Every intermediate result of a random Expression: a function R^n -> R^k."""
    values = list(xs)
    for name, i, j in expr.program:
        values.append(expr.table[name](values[i], values[j]))
    return values[expr.num_inputs:]


def test_module_docstring_examples():
    assert doctest.testmod(functional).failed == 0


# --- grad and value_and_grad ------------------------------------------------------------------
def test_grad_returns_a_plain_float():
    d = grad(lambda x: x * x.sin())(3.0)
    assert type(d) is float
    assert d == math.sin(3.0) + 3.0 * math.cos(3.0)


def test_value_and_grad():
    value, d = value_and_grad(lambda x: x.exp() * x)(0.5)
    assert type(value) is float and value == math.exp(0.5) * 0.5
    assert close(d, math.exp(0.5) * 1.5)


def test_argnums_int_and_tuple():
    f = lambda x, y, z: x * y * y + z        # noqa: E731
    assert grad(f, argnums=1)(2.0, 3.0, 5.0) == 12.0           # 2 x y
    assert grad(f, argnums=-1)(2.0, 3.0, 5.0) == 1.0
    assert grad(f, argnums=(0, 2))(2.0, 3.0, 5.0) == (9.0, 1.0)
    with pytest.raises(ValueError, match="argnums"):
        grad(f, argnums=3)(2.0, 3.0, 5.0)
    with pytest.raises(ValueError, match="argnums"):
        grad(f, argnums=True)(2.0, 3.0, 5.0)
    with pytest.raises(ValueError, match="argnums"):
        grad(f, argnums="0")(2.0, 3.0, 5.0)


def test_grad_of_a_list_argument_has_its_shape():
    f = lambda w, x: mg.tanh(mg.dot(w, x))       # noqa: E731  x: constants
    w, x = [0.5, -0.2, 0.1], [1.0, 2.0, 3.0]
    g = grad(f)(w, x)
    s = math.tanh(sum(a * b for a, b in zip(w, x)))
    assert isinstance(g, list) and len(g) == 3
    assert all(close(gi, (1 - s * s) * xi) for gi, xi in zip(g, x))
    # nested tuples keep their shape too
    g = grad(lambda p: p[0][0] * p[1])(((2.0,), 3.0))
    assert g == ((3.0,), 2.0)


@given(expressions(num_inputs=3, max_steps=8))
def test_grad_matches_central_differences(case):
    expr, xs = case
    g = grad(lambda v: expr(*v))(xs)
    for a, n in zip(g, numerical_grad(expr, xs)):
        assert close(a, n, rtol=1e-5, atol=1e-6)


def test_grad_of_a_function_that_ignores_its_input_is_zero():
    assert grad(lambda x: 3.0)(1.0) == 0.0
    assert grad(lambda x, y: y * 2)(1.0, 4.0) == 0.0
    assert grad(lambda x: x)(1.0) == 1.0


def test_grad_errors_name_the_problem():
    with pytest.raises(TypeError, match="jacobian"):
        grad(lambda x: [x, x])(1.0)
    with pytest.raises(TypeError, match="function"):
        grad(3.0)(1.0)
    with pytest.raises(TypeError, match="argument 0"):
        grad(lambda x: x)("1.0")
    with pytest.raises(TypeError, match="bool"):
        grad(lambda x: x)(True)


# --- composition to any order -----------------------------------------------------------------
@given(floats_in(-2, 2))
def test_grad_of_grad_of_grad(x):
    f = lambda x: x ** 5 - 2 * x ** 3 + x.exp()      # noqa: E731
    assert close(grad(f)(x), 5 * x ** 4 - 6 * x ** 2 + math.exp(x))
    assert close(grad(grad(f))(x), 20 * x ** 3 - 12 * x + math.exp(x))
    assert close(grad(grad(grad(f)))(x), 60 * x ** 2 - 12 + math.exp(x))
    assert close(grad(grad(grad(grad(f))))(x), 120 * x + math.exp(x), atol=1e-10)


def test_jacobian_of_grad_is_the_hessian():
    f = lambda v: v[0] ** 2 * v[1] + v[1].sin()      # noqa: E731
    xs = [1.5, 0.5]
    expected = [[2 * 0.5, 2 * 1.5], [2 * 1.5, -math.sin(0.5)]]
    for h in (jacobian(grad(f))(xs), jacfwd(grad(f))(xs), hessian(f)(xs),
              jacobian(jacobian(f))(xs)):
        assert all(close(h[i][j], expected[i][j]) for i in range(2) for j in range(2))


def test_hessian_of_a_scalar_function_of_a_scalar_is_a_number():
    assert close(hessian(mg.sin)(0.3), -math.sin(0.3))


@given(expressions(num_inputs=3, max_steps=8))
def test_hessian_is_symmetric(case):
    expr, xs = case
    h = hessian(lambda v: expr(*v))(xs)
    n = len(xs)
    assert len(h) == n and all(len(row) == n for row in h)
    for i in range(n):
        for j in range(i):
            assert close(h[i][j], h[j][i], rtol=1e-9, atol=1e-9), (i, j, h)


@given(expressions(num_inputs=3, max_steps=6), st.data())
def test_hvp_is_hessian_times_vector(case, data):
    expr, xs = case
    v = data.draw(st.lists(floats_in(-2, 2), min_size=len(xs), max_size=len(xs)))
    f = lambda p: expr(*p)       # noqa: E731
    h = hessian(f)(xs)
    hv = hvp(f, (xs,), (v,))
    for i in range(len(xs)):
        assert close(hv[i], sum(h[i][j] * v[j] for j in range(len(xs))), rtol=1e-8, atol=1e-9)


# --- forward mode against reverse mode --------------------------------------------------------
def test_jvp_hand_computed():
    # f(x, y) = x sin y: J = [sin y, x cos y]; direction (1, 2)
    out, t = jvp(lambda x, y: x * y.sin(), (2.0, 1.0), (1.0, 2.0))
    assert out == 2.0 * math.sin(1.0)
    assert close(t, math.sin(1.0) + 2 * 2.0 * math.cos(1.0))


def test_vjp_hand_computed():
    out, vjp_fn = vjp(lambda x, y: [x * y, x + y, x.exp()], 2.0, 3.0)
    assert out == [6.0, 5.0, math.exp(2.0)]
    assert vjp_fn([1.0, 0.0, 0.0]) == (3.0, 2.0)
    assert vjp_fn([0.0, 1.0, 0.0]) == (1.0, 1.0)
    assert vjp_fn([1.0, 2.0, 0.5]) == (3.0 + 2.0 + 0.5 * math.exp(2.0), 2.0 + 2.0)


@given(expressions(num_inputs=3, max_steps=8), st.data())
def test_dot_product_identity(case, data):
    # u . (J v) == (u^T J) . v: forward and reverse mode are transposes of each other
    expr, xs = case
    f = lambda v: slots(expr, *v)            # noqa: E731  R^n -> R^k
    k = len(expr.program)
    v = data.draw(st.lists(floats_in(-2, 2), min_size=len(xs), max_size=len(xs)))
    u = data.draw(st.lists(floats_in(-2, 2), min_size=k, max_size=k))
    _, jv = jvp(f, (xs,), (v,))
    _, vjp_fn = vjp(f, xs)
    (uj,) = vjp_fn(u)
    left = sum(a * b for a, b in zip(u, jv))
    right = sum(a * b for a, b in zip(uj, v))
    assert close(left, right, rtol=1e-9, atol=1e-9)


@given(expressions(num_inputs=3, max_steps=8))
def test_jacfwd_equals_jacrev_and_central_differences(case):
    expr, xs = case
    f = lambda v: slots(expr, *v)            # noqa: E731
    forward, reverse = jacfwd(f)(xs), jacrev(f)(xs)
    assert len(forward) == len(expr.program) and len(forward[0]) == len(xs)
    for k, (row_f, row_r) in enumerate(zip(forward, reverse)):
        numeric = numerical_grad(lambda *v: slots(expr, *v)[k], xs)
        for a, b, n in zip(row_f, row_r, numeric):
            assert close(a, b, rtol=1e-9, atol=1e-10)
            assert close(a, n, rtol=1e-5, atol=1e-6)


def test_jacobian_shapes_follow_jax():
    # output shape outside, input shape inside
    assert jacobian(lambda x: x * x)(3.0) == 6.0
    assert jacobian(lambda x: [x, x * x])(3.0) == [1.0, 6.0]
    assert jacobian(lambda v: v[0] * v[1])([2.0, 5.0]) == [5.0, 2.0]
    assert jacobian(lambda v: [v[0] * v[1], v[1]])([2.0, 5.0]) == [[5.0, 2.0], [0.0, 1.0]]
    assert jacfwd(lambda v: [v[0] * v[1], v[1]])([2.0, 5.0]) == [[5.0, 2.0], [0.0, 1.0]]
    assert jacobian(lambda x, y: x * y, argnums=(0, 1))(2.0, 5.0) == (5.0, 2.0)


def test_sweep_counts_one_per_output_in_reverse_one_per_input_in_forward(monkeypatch):
    counts = {"forward": 0, "backward": 0}
    for name in counts:
        original = getattr(functional._Sweeps, name)

        def counted(self, seeds, _name=name, _original=original):
            counts[_name] += 1
            return _original(self, seeds)
        monkeypatch.setattr(functional._Sweeps, name, counted)

    f = lambda v: [mg.sum(v), mg.dot(v, v)]     # noqa: E731  R^5 -> R^2
    xs = [0.1, 0.2, 0.3, 0.4, 0.5]
    jacrev(f)(xs)
    assert counts == {"forward": 0, "backward": 2}
    counts.update(forward=0, backward=0)
    jacfwd(f)(xs)
    assert counts == {"forward": 5, "backward": 0}
    counts.update(forward=0, backward=0)
    grad(mg.sum)(xs)
    assert counts == {"forward": 0, "backward": 1}


def test_jvp_and_vjp_check_shapes():
    with pytest.raises(ValueError, match="tangents"):
        jvp(lambda x, y: x * y, (1.0, 2.0), (1.0,))
    with pytest.raises(ValueError, match="shape"):
        jvp(lambda v: v[0], ([1.0, 2.0],), ([1.0],))
    with pytest.raises(TypeError, match="tuple"):
        jvp(lambda x: x, 1.0, 1.0)
    _, vjp_fn = vjp(lambda x: [x, x], 1.0)
    with pytest.raises(ValueError, match="shape"):
        vjp_fn(1.0)


# --- nesting: no perturbation confusion, no side effects --------------------------------------
@given(floats_in(-5, 5))
def test_classic_perturbation_confusion(x):
    # d/dx [x * d/dy (x + y)] = d/dx [x * 1] = 1 at every x; a confused
    # implementation that mixes the two perturbations gets 2.
    assert grad(lambda x: x * grad(lambda y: x + y)(1.0))(x) == 1.0
    # inner derivative taken at the outer variable itself: still 1
    assert grad(lambda x: x * grad(lambda y: x + y)(x))(x) == 1.0


@given(floats_in(-5, 5), floats_in(-5, 5))
def test_inner_derivative_stays_a_function_of_the_outer_variable(x, y):
    # d/dy (x y) = x, so d/dx [x * x] = 2x
    assert close(grad(lambda x: x * grad(lambda y: x * y)(y))(x), 2 * x)
    # d/dy (x y^2) = 2 x y at y = x: 2 x^2; d/dx = 4x
    assert close(grad(lambda x: grad(lambda y: x * y * y)(x))(x), 4 * x)


def test_transforms_leave_grads_alone():
    w = Value(2.0)
    x = Value(3.0)
    f = lambda x: w * x * x.sin()                  # noqa: E731 closes over w
    grad(f)(1.0)
    grad(grad(f))(1.0)
    hessian(lambda v: w * v[0] * v[1])([1.0, 2.0])
    grad(f)(x)
    assert w.grad == 0.0 and x.grad == 0.0


def test_values_in_give_values_out_that_backward_works_on():
    # a gradient penalty: g = d/dx (w x^2) = 2 w x, then dg/dw = 2x by backward()
    w, x = Value(2.0), Value(3.0)
    g = grad(lambda x: w * x * x)(x)
    assert isinstance(g, Value) and g.data == 12.0
    g.backward()
    assert w.grad == 6.0 and x.grad == 4.0        # dg/dw = 2x, dg/dx = 2w


def test_nested_transforms_return_values():
    seen = []

    def f(x):
        inner = grad(lambda y: y * y)(x)
        seen.append(inner)
        return inner * x
    assert grad(f)(3.0) == 12.0                   # d/dx [2x * x] = 4x
    assert isinstance(seen[0], Value)


def test_transforms_work_inside_no_grad():
    with mg.no_grad():
        assert grad(lambda x: x ** 3)(2.0) == 12.0
        assert hessian(lambda v: v[0] * v[1])([1.0, 2.0]) == [[0.0, 1.0], [1.0, 0.0]]
    assert mg.is_grad_enabled()


def test_every_smooth_op_supports_forward_over_reverse():
    # hessian is jacfwd(jacrev(f)): every op's rule run on Values, swept forward
    f = lambda v: (mg.cross_entropy([v[0], v[1], v[0] * v[1]], 1)
                   + mg.logsumexp([v[0], v[1]]) * mg.log_softmax([v[1], v[0]])[0]
                   + mg.softmax([v[0], v[1]])[1] * mg.dot([v[0], v[1]], [v[1], 2.0], bias=v[0])
                   + (v[0] ** v[1]).log() + v[1].sigmoid().sqrt())   # noqa: E731
    xs = [0.7, 1.3]
    h = hessian(f)(xs)
    for i in range(2):
        numeric = numerical_grad(lambda *v: grad(f)([t.data for t in v])[i], xs)
        for j in range(2):
            assert close(h[i][j], numeric[j], rtol=1e-5, atol=1e-6)


# --- the README example: Newton's method ------------------------------------------------------
def test_newton_1d():
    # minimise f(x) = x^4 - 8x: f'(x) = 4x^3 - 8 = 0 at x = 2^(1/3)
    f = lambda x: x ** 4 - 8 * x                  # noqa: E731
    df, d2f = grad(f), grad(grad(f))
    x = 3.0
    for _ in range(20):
        x = x - df(x) / d2f(x)
    assert close(x, 2 ** (1 / 3), rtol=1e-12)


def test_newton_2d_rosenbrock():
    # minimise (1 - x)^2 + 100 (y - x^2)^2, minimum at (1, 1); solve H d = -g by Cramer's rule
    f = lambda v: (1 - v[0]) ** 2 + 100 * (v[1] - v[0] ** 2) ** 2     # noqa: E731
    p = [-1.2, 1.0]
    for _ in range(20):
        g, h = grad(f)(p), hessian(f)(p)
        det = h[0][0] * h[1][1] - h[0][1] * h[1][0]
        p = [p[0] - (h[1][1] * g[0] - h[0][1] * g[1]) / det,
             p[1] - (h[0][0] * g[1] - h[1][0] * g[0]) / det]
    assert close(p[0], 1.0) and close(p[1], 1.0)


def test_values_passed_inside_no_grad_still_connect():
    # transforms ignore an outer no_grad (as torch.func does): g still depends on x
    x = Value(3.0)
    with mg.no_grad():
        g = grad(lambda x: x * x * x)(x)
    g.backward()
    assert g.data == 27.0 and x.grad == 18.0      # d/dx 3x^2 = 6x
