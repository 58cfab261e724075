"""Second and higher derivatives of every op, by both routes: the engine's
backward(create_graph=True) (checked by gradcheck(order=2)) and the functional
transforms (hessian, grad of grad), against central differences of the first
derivatives and against closed forms written out here."""
import math

import pytest
from hypothesis import given, settings, strategies as st

import microgrador as mg
from microgrador import Value
from microgrador.functional import grad, hessian
from microgrador.testing import (gradcheck, analytic_grad, numerical_grad, floats_in,
                                 expressions, GradcheckError)

RTOL, ATOL = 1e-5, 1e-6
settings.register_profile("higher_order", max_examples=15, deadline=None)
settings.load_profile("higher_order")


def numerical_hessian(f, xs, eps=1e-6):
    """H[i][j] = d/dx_j of df/dx_i by central differences of the first derivatives
    (from a plain backward(), the route test_engine.py checks)."""
    columns = [numerical_grad(lambda *x: analytic_grad(f, [v.data for v in x])[i], xs, eps)
               for i in range(len(xs))]
    return columns


def assert_close(a, b, rtol=RTOL, atol=ATOL, what=""):
    assert abs(a - b) <= atol + rtol * abs(b), f"{what}: {a!r} != {b!r}"


def check_second_derivatives(f, xs):
    """Both routes against central differences of the first derivatives."""
    gradcheck(f, xs, rtol=RTOL, atol=ATOL, order=2)                 # the engine's route
    h = hessian(lambda v: f(*v))(list(xs))                           # the functional route
    numeric = numerical_hessian(f, xs)
    for i in range(len(xs)):
        for j in range(len(xs)):
            assert_close(h[i][j], numeric[i][j], what=f"hessian[{i}][{j}] at {xs}")


# --- every op: second derivatives against central differences -------------------------------
# f(x, y) = op(x) * y + op(x)^2 / 2 has d2f/dx2 = op''(x) y + op'(x)^2 + op(x) op''(x)
# and d2f/dxdy = op'(x): the op's second derivative and its first, on Values.
UNARY = {
    # name: (op, low, high, points to keep away from)
    "exp": (mg.exp, -5, 5, ()),
    "log": (mg.log, 0.05, 20, ()),
    "sqrt": (mg.sqrt, 0.05, 20, ()),
    "tanh": (mg.tanh, -5, 5, ()),
    "sigmoid": (mg.sigmoid, -10, 10, ()),
    "relu": (mg.relu, -5, 5, (0.0,)),
    "leaky_relu": (mg.leaky_relu, -5, 5, (0.0,)),
    "leaky_relu(0.2)": (lambda x: mg.leaky_relu(x, 0.2), -5, 5, (0.0,)),
    "abs": (mg.abs, -5, 5, (0.0,)),
    "sin": (mg.sin, -6, 6, ()),
    "cos": (mg.cos, -6, 6, ()),
    "neg": (lambda x: -x, -5, 5, ()),
    "x**2": (lambda x: x ** 2, -5, 5, ()),
    "x**3": (lambda x: x ** 3, -5, 5, ()),
    "x**1": (lambda x: x ** 1, -5, 5, ()),
    "x**0": (lambda x: x ** 0, -5, 5, ()),
    "x**-1": (lambda x: x ** -1, 0.2, 5, ()),
    "x**-2 (negative x)": (lambda x: x ** -2, -5, -0.2, ()),
    "x**0.5": (lambda x: x ** 0.5, 0.05, 10, ()),
    "x**2.5": (lambda x: x ** 2.5, 0.05, 5, ()),
    "x**-1.5": (lambda x: x ** -1.5, 0.2, 5, ()),
    "2**x": (lambda x: 2 ** x, -5, 5, ()),
    "1/x": (lambda x: 1 / x, 0.2, 5, ()),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_op_second_derivatives(name):
    op, low, high, avoid = UNARY[name]

    @given(floats_in(low, high, avoid, margin=1e-2), floats_in(-3, 3))
    def check(x, y):
        check_second_derivatives(lambda x, y: op(x) * y + op(x) ** 2 / 2, [x, y])
    check()


BINARY = {
    "+": (lambda a, b: (a + b) ** 3, (-3, 3), (-3, 3)),
    "-": (lambda a, b: (a - b) ** 3, (-3, 3), (-3, 3)),
    "*": (lambda a, b: a * b * a, (-3, 3), (-3, 3)),
    "/": (lambda a, b: a / b, (-3, 3), (0.2, 3)),
    "/ (negative b)": (lambda a, b: a / b, (-3, 3), (-3, -0.2)),
    "Value ** Value": (lambda a, b: a ** b, (0.1, 4), (-3, 3)),
    "mul chain": (lambda a, b: (a * b).tanh() * (a - b), (-3, 3), (-3, 3)),
}


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_op_second_derivatives(name):
    f, (alow, ahigh), (blow, bhigh) = BINARY[name]

    @given(floats_in(alow, ahigh), floats_in(blow, bhigh))
    def check(a, b):
        check_second_derivatives(f, [a, b])
    check()


NARY = {
    "sum": lambda a, b, c: mg.sum([a, b * c, a * a]) * mg.sum([a, c]),
    "logsumexp": lambda a, b, c: mg.logsumexp([a, b, c]),
    "logsumexp of products": lambda a, b, c: mg.logsumexp([a * b, b * c, a]),
    "softmax[0]": lambda a, b, c: mg.softmax([a, b, c])[0],
    "softmax[2]": lambda a, b, c: mg.softmax([a, b, c])[2],
    "log_softmax[1]": lambda a, b, c: mg.log_softmax([a, b, c])[1],
    "cross_entropy target 0": lambda a, b, c: mg.cross_entropy([a, b, c], 0),
    "cross_entropy target 2": lambda a, b, c: mg.cross_entropy([a * b, b, c * c], 2),
    "dot of Values": lambda a, b, c: mg.dot([a, b], [c, a]),
    "dot of Values with bias": lambda a, b, c: mg.dot([a, b], [b, c], bias=a * c),
    "dot with constants": lambda a, b, c: mg.dot([a, b, c], [1.5, -2.0, 0.5], bias=0.25) * a,
    "dot with constants, squared": lambda a, b, c: mg.dot([a, b], [0.5, 3.0], bias=c) ** 2,
}


@pytest.mark.parametrize("name", sorted(NARY))
def test_nary_helper_second_derivatives(name):
    f = NARY[name]

    @given(st.lists(floats_in(-3, 3), min_size=3, max_size=3))
    def check(xs):
        check_second_derivatives(f, xs)
    check()


def test_softmax_second_derivative_closed_form():
    # y_0 = softmax(x)_0; d2 y_0/dx_0^2 = y_0 (1 - y_0) (1 - 2 y_0), written out here
    xs = [0.3, -1.1, 0.8]
    e = [math.exp(x) for x in xs]
    y0 = e[0] / sum(e)
    h = hessian(lambda v: mg.softmax(v)[0])(xs)
    assert math.isclose(h[0][0], y0 * (1 - y0) * (1 - 2 * y0), rel_tol=1e-12)


@given(expressions(num_inputs=3, max_steps=6))
def test_random_expression_graphs_pass_gradcheck_order_2(case):
    expr, xs = case
    gradcheck(expr, xs, rtol=1e-4, atol=1e-5, order=2)


# --- gradcheck(order=2) can fail --------------------------------------------------------------
class SinWithMathCos(mg.Op):
    """A classic mistake: math.cos in the derivative rule. On floats it is right; on
    Values it silently gives a constant (Value has __float__), so the second
    derivative is wrong: 0 instead of -sin(x)."""
    name = "bad_sin"
    def forward(self, x): return math.sin(x)
    def derivatives(self, out, x): return (math.cos(x),)


def test_a_rule_written_with_math_fails_loudly_at_second_order():
    bad_sin = SinWithMathCos()
    assert gradcheck(lambda x: bad_sin(x), [0.7])                    # first order: fine
    # on Values, math.cos(x) would silently give a constant (a wrong second
    # derivative); the engine refuses and says what to use instead
    with pytest.raises(TypeError, match=r"microgrador\.exp\(x\)"):
        gradcheck(lambda x: bad_sin(x), [0.7], order=2)
    with pytest.raises(TypeError, match="drop it from the graph"):
        grad(grad(lambda x: bad_sin(x)))(0.7)


def test_gradcheck_order_2_reports_a_wrong_second_derivative():
    class SquareWithConstantSlope(mg.Op):
        """x^2 whose rule 2x is right on floats but is a constant on Values."""
        name = "square_const_slope"
        def forward(self, x): return x * x
        def derivatives(self, out, x):
            return (2 * (x.data if isinstance(x, mg.Value) else x),)

    sq = SquareWithConstantSlope()
    assert gradcheck(lambda x: sq(x), [0.7])
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda x: sq(x), [0.7], order=2)
    message = str(info.value)
    assert "differs" in message


def test_gradcheck_order_must_be_1_or_2():
    with pytest.raises(ValueError, match="order"):
        gradcheck(lambda x: x * x, [1.0], order=3)


# --- third derivatives against closed forms ---------------------------------------------------
def _tanh3(x):
    t = math.tanh(x)
    return (1 - t * t) * (6 * t * t - 2)   # d/dx of -2 t (1 - t^2), with t' = 1 - t^2


THIRD = {
    # name: (f, f'' closed form, f''' closed form)
    "exp": (mg.exp, math.exp, math.exp),
    "sin": (mg.sin, lambda x: -math.sin(x), lambda x: -math.cos(x)),
    "cos": (mg.cos, lambda x: -math.cos(x), lambda x: math.sin(x)),
    "tanh": (mg.tanh, lambda x: -2 * math.tanh(x) * (1 - math.tanh(x) ** 2), _tanh3),
}


@pytest.mark.parametrize("name", sorted(THIRD))
def test_third_derivatives_match_closed_forms(name):
    f, second, third = THIRD[name]

    @given(floats_in(-4, 4))
    def check(x):
        assert_close(grad(grad(f))(x), second(x), rtol=1e-12, atol=1e-12, what="f''")
        assert_close(grad(grad(grad(f)))(x), third(x), rtol=1e-12, atol=1e-12, what="f'''")
    check()


def test_third_derivative_by_the_engine_route():
    # backward(create_graph=True) twice, then backward(): d3/dx3 tanh(x)
    x = Value(0.4)
    mg.tanh(x).backward(create_graph=True)
    first, x.grad = x.grad, 0.0
    first.backward(create_graph=True)
    second, x.grad = x.grad, 0.0
    second.backward()
    assert math.isclose(x.grad, _tanh3(0.4), rel_tol=1e-12)


def test_fourth_derivative_of_sin_is_sin():
    assert math.isclose(grad(grad(grad(grad(mg.sin))))(1.3), math.sin(1.3), rel_tol=1e-12)


# --- a polynomial's derivatives are exact -----------------------------------------------------
def _poly_derivative(coefficients, x, m):
    """The m-th derivative of sum_k c_k x^k at integer x, in exact integer arithmetic."""
    return sum(c * math.factorial(k) // math.factorial(k - m) * x ** (k - m)
               for k, c in enumerate(coefficients) if k >= m)


@given(st.lists(st.integers(-9, 9), min_size=1, max_size=6), st.integers(-3, 3))
def test_taylor_polynomial_derivatives_are_exact(coefficients, x):
    def powers(x):      # sum_k c_k x^k, with ** (PowConst's rule n x^(n-1) at each order)
        return mg.sum([c * x ** k for k, c in enumerate(coefficients)])

    def horner(x):      # c_0 + x (c_1 + x (c_2 + ...)): only + and *
        acc = coefficients[-1] + 0 * x
        for c in reversed(coefficients[:-1]):
            acc = acc * x + c
        return acc

    for f in (powers, horner):
        d = f
        for m in range(len(coefficients) + 1):   # up to one past the degree: exactly 0
            if m:
                d = grad(d)
            assert d(float(x)) == _poly_derivative(coefficients, x, m), (f.__name__, m)


# --- kinks: documented second derivative 0 ----------------------------------------------------
def test_kinks_have_second_derivative_zero():
    # Away from 0 the second derivative of relu, abs and leaky_relu is 0 exactly (their
    # first-derivative rule is a constant on each side). At the kink itself the first
    # derivative follows PyTorch (relu' = abs' = 0, leaky_relu' = slope) and the second
    # is taken as 0 too: the true one is a Dirac delta, which no number represents.
    for x in (-2.0, 0.0, 3.0):
        for f in (mg.relu, mg.abs, mg.leaky_relu, lambda v: mg.leaky_relu(v, 0.2)):
            assert grad(grad(f))(x) == 0.0
    assert grad(mg.relu)(0.0) == 0.0 and grad(mg.abs)(0.0) == 0.0
    assert grad(lambda v: mg.leaky_relu(v, 0.2))(0.0) == 0.2
    # a smooth factor around a kink still gets its second derivative: (x relu(x))'' = 2 for x > 0
    assert grad(grad(lambda v: v * mg.relu(v)))(1.5) == 2.0
    assert grad(grad(lambda v: v * mg.relu(v)))(-1.5) == 0.0


# --- the PyTorch route: backward(create_graph=True) -------------------------------------------
def test_create_graph_leaves_differentiable_grads():
    x = Value(2.0)
    y = x ** 3
    y.backward(create_graph=True)
    first = x.grad
    assert isinstance(first, Value) and first.data == 12.0        # 3 x^2
    x.grad = 0.0                    # leaves accumulate (PyTorch's rule): clear first
    first.backward()
    assert x.grad == 12.0                                          # 6 x


def test_second_backward_accumulates_without_clearing():
    # As in PyTorch: x.grad.backward() without clearing adds f'' to the f' already there.
    x = Value(2.0)
    (x ** 3).backward(create_graph=True)
    x.grad.backward()
    assert x.grad.data == 12.0 + 12.0   # x.grad is the Value 12 (first pass) + 12.0


def test_create_graph_mixed_partials():
    # f = x^2 y + sin(x y): d2f/dxdy = 2x + cos(xy) - xy sin(xy)
    x, y = Value(0.7), Value(-1.3)
    f = x * x * y + (x * y).sin()
    f.backward(create_graph=True)
    dfdx = x.grad
    x.grad = y.grad = 0.0
    dfdx.backward()
    xy = 0.7 * -1.3
    assert math.isclose(y.grad, 2 * 0.7 + math.cos(xy) - xy * math.sin(xy), rel_tol=1e-12)
    assert math.isclose(x.grad, 2 * -1.3 - (-1.3) ** 2 * math.sin(xy), rel_tol=1e-12)
