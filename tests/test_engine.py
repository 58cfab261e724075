"""The engine: every op against central differences and independent closed forms,
the graph walk, the modes, and the errors."""
import math
import random

import pytest
from hypothesis import given, settings, strategies as st

import microgrador as mg
from microgrador import Value, no_grad, detect_anomaly
from microgrador.testing import (gradcheck, numerical_grad, floats_in, expressions,
                                 GradcheckError, SMOOTH_OPS)

RTOL, ATOL = 1e-5, 1e-6
settings.register_profile("engine", max_examples=60, deadline=None)
settings.load_profile("engine")


# --- every op against central differences, over its domain -----------------------------------
UNARY = {
    # name: (function, low, high, points to keep away from)
    "neg": (lambda x: -x, -10, 10, ()),
    "exp": (lambda x: x.exp(), -20, 20, ()),
    "log": (lambda x: x.log(), 1e-2, 100, ()),
    "sqrt": (lambda x: x.sqrt(), 1e-2, 100, ()),
    "tanh": (lambda x: x.tanh(), -8, 8, ()),
    "sigmoid": (lambda x: x.sigmoid(), -30, 30, ()),
    "relu": (lambda x: x.relu(), -10, 10, (0.0,)),
    "leaky_relu": (lambda x: x.leaky_relu(), -10, 10, (0.0,)),
    "leaky_relu(0.2)": (lambda x: x.leaky_relu(0.2), -10, 10, (0.0,)),
    "abs": (lambda x: abs(x), -10, 10, (0.0,)),
    "sin": (lambda x: x.sin(), -10, 10, ()),
    "cos": (lambda x: x.cos(), -10, 10, ()),
    "square": (lambda x: x ** 2, -10, 10, ()),
    "cube": (lambda x: x ** 3, -10, 10, ()),
    "x**-1": (lambda x: x ** -1, 0.1, 10, ()),
    "x**-1 (negative x)": (lambda x: x ** -1, -10, -0.1, ()),
    "x**0.5": (lambda x: x ** 0.5, 0.01, 10, ()),
    "x**2.5": (lambda x: x ** 2.5, 0.01, 10, ()),
    "2**x": (lambda x: 2 ** x, -10, 10, ()),
    "1/x": (lambda x: 1 / x, 0.1, 10, ()),
    "3-x": (lambda x: 3 - x, -10, 10, ()),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_op_matches_central_differences(name):
    f, low, high, avoid = UNARY[name]

    @given(floats_in(low, high, avoid, margin=1e-3))
    def check(x):
        gradcheck(f, [x], rtol=RTOL, atol=ATOL)
    check()


BINARY = {
    "+": (lambda a, b: a + b, (-10, 10), (-10, 10)),
    "-": (lambda a, b: a - b, (-10, 10), (-10, 10)),
    "*": (lambda a, b: a * b, (-10, 10), (-10, 10)),
    "/": (lambda a, b: a / b, (-10, 10), (0.1, 10)),
    "/ negative": (lambda a, b: a / b, (-10, 10), (-10, -0.1)),
    "a**b": (lambda a, b: a ** b, (0.05, 5), (-3, 3)),
}


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_op_matches_central_differences(name):
    f, (alo, ahi), (blo, bhi) = BINARY[name]

    @given(floats_in(alo, ahi), floats_in(blo, bhi))
    def check(a, b):
        gradcheck(f, [a, b], rtol=RTOL, atol=ATOL)
    check()


NARY = {
    "sum": lambda *xs: mg.sum(xs),
    "dot with constants": lambda *xs: mg.dot(xs, [0.5 * i - 1 for i in range(len(xs))]),
    "dot with bias": lambda *xs: mg.dot(xs[1:], [1.5] * (len(xs) - 1), bias=xs[0]),
    "dot of Values": lambda *xs: mg.dot(xs, xs[::-1]),
    "logsumexp": lambda *xs: mg.logsumexp(xs),
    "softmax[0]": lambda *xs: mg.softmax(xs)[0],
    "softmax[-1]": lambda *xs: mg.softmax(xs)[-1],
    "log_softmax[0]": lambda *xs: mg.log_softmax(xs)[0],
    "cross_entropy": lambda *xs: mg.cross_entropy(xs, len(xs) - 1),
}


@pytest.mark.parametrize("name", sorted(NARY))
def test_nary_helper_matches_central_differences(name):
    f = NARY[name]

    @given(st.lists(floats_in(-10, 10), min_size=2, max_size=7))
    def check(xs):
        gradcheck(f, xs, rtol=RTOL, atol=ATOL)
    check()


# --- closed forms, worked out by hand ----------------------------------------------------------
def _softmax_by_hand(xs):
    m = max(xs)
    es = [math.exp(x - m) for x in xs]
    return [e / sum(es) for e in es]


@given(st.lists(floats_in(-50, 50), min_size=2, max_size=8), st.data())
def test_cross_entropy_gradient_is_softmax_minus_onehot(xs, data):
    target = data.draw(st.integers(0, len(xs) - 1))
    logits = [Value(x) for x in xs]
    loss = mg.cross_entropy(logits, target)
    loss.backward()
    y = _softmax_by_hand(xs)
    # -log softmax_t = logsumexp(x) - x_t, by hand in the stable form (m = max x);
    # within [-50, 50] it never underflows, so there is no case to leave out
    m = max(xs)
    assert loss.data == pytest.approx(m + math.log(sum(math.exp(x - m) for x in xs)) - xs[target],
                                      rel=1e-12, abs=1e-12)
    for i, v in enumerate(logits):
        assert v.grad == pytest.approx(y[i] - (1.0 if i == target else 0.0), abs=1e-12)
    # the node takes both rules at once from its parents; on floats the op runs them
    # one by one: the two must not drift apart
    assert loss.data == mg.cross_entropy(xs, target)
    assert list(loss.partials) == [float(d) for d in mg.ops.CrossEntropy(target).derivatives(
        loss.data, *xs)]


@given(st.lists(floats_in(-20, 20), min_size=2, max_size=6))
def test_softmax_jacobian_is_y_i_times_delta_minus_y_j(xs):
    y = _softmax_by_hand(xs)
    for i in range(len(xs)):
        logits = [Value(x) for x in xs]
        mg.softmax(logits)[i].backward()
        for j, v in enumerate(logits):
            expected = y[i] * ((1.0 if i == j else 0.0) - y[j])
            assert v.grad == pytest.approx(expected, abs=1e-12)


def test_tanh_and_sigmoid_rules_read_as_their_formulas():
    x = Value(0.7)
    x.tanh().backward()
    assert x.grad == pytest.approx(1 - math.tanh(0.7) ** 2, rel=1e-15)
    x = Value(-1.3)
    x.sigmoid().backward()
    s = 1 / (1 + math.exp(1.3))
    assert x.grad == pytest.approx(s * (1 - s), rel=1e-14)


def test_kinks_follow_pytorch_conventions():
    for f, expected in [(lambda x: x.relu(), 0.0), (lambda x: abs(x), 0.0),
                        (lambda x: x.leaky_relu(0.1), 0.1)]:
        x = Value(0.0)
        f(x).backward()
        assert x.grad == expected


# --- numerically stable helpers ----------------------------------------------------------------
def test_helpers_are_stable_for_huge_logits():
    logits = [Value(1000.0), Value(-1000.0)]
    assert mg.logsumexp(logits).data == 1000.0
    assert [y.data for y in mg.softmax(logits)] == [1.0, 0.0]
    assert mg.log_softmax(logits)[1].data == -2000.0
    loss = mg.cross_entropy(logits, 1)
    assert loss.data == 2000.0
    loss.backward()
    assert [v.grad for v in logits] == [1.0, -1.0]
    assert mg.sigmoid(Value(-1000.0)).data == 0.0
    assert mg.sigmoid(Value(1000.0)).data == 1.0


def test_nary_helpers_are_one_node():
    xs = [Value(float(i)) for i in range(5)]
    for node in [mg.sum(xs), mg.dot(xs, [1.0] * 5), mg.logsumexp(xs), mg.cross_entropy(xs, 3)]:
        assert node.parents == tuple(xs)
        assert mg.topological_order(node) == [node]


def test_softmax_outputs_share_one_logsumexp_node():
    """n outputs of softmax or log_softmax are n + 1 nodes: output i has the parents
    x_i and one shared r = log sum_j e^(x_j - max x), so memory is linear in n."""
    xs = [Value(float(i)) for i in range(5)]
    for outputs in (mg.softmax(xs), mg.log_softmax(xs)):
        shared = outputs[0].parents[1]
        assert shared.parents == tuple(xs)
        assert [y.parents for y in outputs] == [(x, shared) for x in xs]


def test_dot_keeps_constants_out_of_the_graph():
    w = [Value(1.0), Value(2.0)]
    b = Value(0.5)
    out = mg.dot(w, [3.0, 4], bias=b)
    assert out.data == 1 * 3 + 2 * 4 + 0.5
    assert out.parents == (w[0], w[1], b)
    out.backward()
    assert [v.grad for v in w] == [3.0, 4.0] and b.grad == 1.0


def test_a_zero_local_derivative_passes_nothing_even_from_an_infinite_grad():
    """relu is flat left of 0, so d L/d k = 0 there, whatever d L/d relu(k) is. Here that
    upstream grad overflows to inf (1e200 * 1e200); inf * 0 would be NaN, so backward
    must skip a zero local derivative rather than multiply by it."""
    k = Value(-1.0)
    r = k.relu()                          # 0.0, local derivative 0
    loss = (r * 1e200) * 1e200            # data 0.0; d loss/d r = 1e400 = inf
    loss.backward()
    assert math.isinf(r.grad)
    assert k.grad == 0.0


def test_ops_work_on_plain_numbers():
    assert mg.exp(0.0) == 1.0 and isinstance(mg.exp(0.0), float)
    assert mg.softmax([0.0, 0.0]) == [0.5, 0.5]
    assert mg.dot([1.0, 2.0], [3.0, 4.0]) == 11.0


# --- the graph walk -------------------------------------------------------------------------
def test_million_node_chain_has_no_recursion_limit():
    x = Value(0.5)
    y = x
    for _ in range(1_000_000):
        y = y + 1e-6
    y.backward()
    assert x.grad == 1.0
    assert y.data == pytest.approx(1.5, rel=1e-9)


def test_shared_subexpressions_accumulate():
    x = Value(3.0)
    y = x * x          # used three times below
    z = y + y * x + mg.sum([y, y])
    z.backward()
    # z = 3 x^2 + x^3, dz/dx = 6x + 3x^2
    assert x.grad == pytest.approx(6 * 3 + 3 * 9)
    assert y.grad == pytest.approx(1 + x.data + 2)     # dz/dy for the intermediate node


def test_every_node_gets_its_gradient():
    a, b = Value(2.0, "a"), Value(-3.0, "b")
    c = a * b
    d = c + a
    e = d.tanh()
    e.backward()
    assert e.grad == 1.0
    assert d.grad == pytest.approx(1 - math.tanh(-4.0) ** 2)
    assert c.grad == pytest.approx(d.grad)
    assert a.grad == pytest.approx(d.grad * (b.data + 1))


def test_second_backward_accumulates_in_leaves_only():
    x = Value(2.0)
    y = x * x
    z = y * 3
    z.backward()
    assert (x.grad, y.grad) == (12.0, 3.0)
    z.backward()
    # leaves accumulate (PyTorch's rule); intermediates hold this call's gradient
    assert (x.grad, y.grad, z.grad) == (24.0, 3.0, 1.0)
    z.zero_grad()
    assert (x.grad, y.grad, z.grad) == (0.0, 0.0, 0.0)
    z.backward()
    assert x.grad == 12.0


def test_backward_with_upstream_gradient():
    x = Value(1.5)
    (x * 4).backward(grad=0.5)
    assert x.grad == 2.0


@given(expressions(num_inputs=4, max_steps=10))
def test_random_expression_graphs_pass_gradcheck(case):
    expression, xs = case
    gradcheck(expression, xs, rtol=1e-4, atol=1e-6)


def test_gradcheck_reports_a_wrong_rule():
    class WrongSquare(mg.Op):
        name = "wrong_square"
        def forward(self, x): return x * x
        def derivatives(self, out, x): return (x,)     # should be 2x

    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda x, y: WrongSquare()(x) + y, [1.5, 2.0])
    message = str(info.value)
    assert "1 of 2 inputs" in message and "<-- differs" in message


def test_user_defined_op_with_gradcheck():
    class Softplus(mg.Op):
        """log(1 + e^x); d/dx = sigmoid(x)."""
        name = "softplus"
        def forward(self, x): return math.log1p(math.exp(-abs(x))) + max(x, 0.0)
        def derivatives(self, out, x): return (mg.sigmoid(x),)

    softplus = Softplus()
    assert softplus(0.0) == pytest.approx(math.log(2))
    for x in [-5.0, -0.3, 0.0, 2.0, 30.0]:
        assert gradcheck(lambda v: softplus(v) * v, [x])


def test_numerical_grad_of_known_function():
    assert numerical_grad(lambda x, y: x * x * y, [3.0, 2.0]) == pytest.approx([12.0, 9.0])


def test_smooth_ops_table_is_all_exercised():
    # each building block of the random graphs passes on its own too
    for name, f in SMOOTH_OPS.items():
        assert gradcheck(lambda a, b: f(a, b), [0.7, -1.1], rtol=1e-5, atol=1e-7), name


# --- modes -----------------------------------------------------------------------------------
def test_no_grad_builds_no_graph():
    x = Value(2.0)
    with no_grad():
        y = x * x + 1
        assert not mg.is_grad_enabled()
    assert mg.is_grad_enabled()
    assert y.data == 5.0 and y.is_leaf and y.parents == ()
    z = x * x
    assert z.parents == (x, x)


def test_anomaly_mode_names_the_node():
    x = Value(1e-160, "x")
    y = x * x          # 1e-320: subnormal, not zero
    z = y.sqrt()       # forward is fine, but d sqrt/dy = 0.5 / 1e-160 is huge
    w = z * 1e300      # and then overflows to inf in backward
    with detect_anomaly(), pytest.raises(FloatingPointError) as info:
        w.backward()
    assert "sqrt" in str(info.value)
    x.zero_grad()


# --- errors that teach --------------------------------------------------------------------------
@pytest.mark.parametrize("expr, error, words", [
    (lambda: Value(-1.0).log(), ValueError, "log(x) needs x > 0, got x = -1.0"),
    (lambda: Value(0.0).log(), ValueError, "log(x) needs x > 0, got x = 0.0"),
    (lambda: Value(-4.0).sqrt(), ValueError, "sqrt(x) needs x > 0"),
    (lambda: Value(0.0).sqrt(), ValueError, "sqrt(x) needs x > 0"),
    (lambda: Value(1.0) / 0, ZeroDivisionError, "b = 0.0"),
    (lambda: 1.0 / Value(0.0), ZeroDivisionError, "b = 0.0"),
    (lambda: Value(0.0) ** -2, ZeroDivisionError, "0 to a negative power"),
    (lambda: Value(-2.0) ** 0.5, ValueError, "non-integer power, got x = -2.0"),
    (lambda: (-2.0) ** Value(2.0), ValueError, "needs a > 0"),
    (lambda: Value(-2.0) ** Value(2.0), ValueError, "needs a > 0"),
    (lambda: Value(1000.0).exp(), OverflowError, "exp(x) overflows"),
    (lambda: mg.exp(710.0), OverflowError, "exp(x) overflows"),
    (lambda: mg.log(-3), ValueError, "got x = -3.0"),
    (lambda: Value(1e308) * 10, OverflowError, "1e+308"),
    (lambda: Value(float("nan")), ValueError, "finite"),
    (lambda: mg.cross_entropy([Value(1.0)], 1), ValueError, "class index in 0..0"),
    (lambda: mg.dot([Value(1.0)], [1.0, 2.0]), ValueError, "same length"),
    (lambda: mg.softmax([]), ValueError, "empty"),
])
def test_bad_input_raises_an_error_that_names_it(expr, error, words):
    with pytest.raises(error) as info:
        expr()
    assert words in str(info.value)
    assert "math domain error" not in str(info.value)


@pytest.mark.parametrize("bad, type_name", [("a", "str"), (None, "NoneType"), (1j, "complex"),
                                            ([1.0], "list")])
def test_non_numbers_raise_type_error_naming_the_type(bad, type_name):
    for make in (lambda: Value(1.0) + bad, lambda: bad * Value(1.0), lambda: Value(bad)):
        with pytest.raises(TypeError) as info:
            make()
        assert type_name in str(info.value)


def test_a_result_of_an_op_in_the_wrong_place_is_called_a_value_in_the_error():
    from microgrador.nn import Layer
    y = Value(1.0) * 2.0              # a Computed: users know it as a Value
    for wrong in (lambda: mg.softmax(y), lambda: mg.cross_entropy(y, 0), lambda: Layer(2, 2)(y),
                  lambda: y.backward(grad=y)):
        with pytest.raises(TypeError) as info:
            wrong()
        assert "got Value" in str(info.value) and "Computed" not in str(info.value)


def test_bool_is_refused_with_advice():
    with pytest.raises(TypeError, match=r"float\(True\)"):
        Value(2.0) * True
    with pytest.raises(TypeError, match="ambiguous"):
        bool(Value(1.0))


def test_repr_and_inspection():
    x = Value(2.0, label="x")
    y = (x * 3).tanh()
    assert repr(Value(2.0)) == "Value(data=2.0, grad=0.0)"
    assert repr(x) == "Value(data=2.0, grad=0.0, label='x')"
    assert y.op == "tanh" and x.op == "" and x.is_leaf
    assert y.parents[0].parents[0] is x
    assert y.partials == pytest.approx((1 - math.tanh(6.0) ** 2,))


def test_a_leaf_is_a_small_value_and_a_result_remembers_its_op():
    import sys
    w = Value(0.5, label="w")
    y = w * 2.0
    assert isinstance(y, Value) and isinstance(y, mg.Computed) and not isinstance(w, mg.Computed)
    assert w.parents == () and w.partials == () and w.op == ""
    assert [p.data for p in y.parents] == [0.5, 2.0] and y.partials == (2.0, 0.5)
    with no_grad():
        z = w * 2.0
    assert type(z) is Value and z.is_leaf            # no graph: a plain leaf
    if sys.implementation.name == "cpython":
        # an MNIST net's 238,510 weights are leaves, and a step is bound by reading them:
        # four fields, one 64-byte block each (seven fields took 96)
        assert sys.getsizeof(w) <= 64 < sys.getsizeof(y)
    with pytest.raises(AttributeError):
        w.extra = 1.0                                  # no per-Value dict


def test_numpy_style_reals_are_accepted():
    from fractions import Fraction
    assert (Value(1.0) + Fraction(1, 2)).data == 1.5


def test_math_functions_on_a_value_are_refused_not_silently_detached():
    x = Value(0.5)
    with pytest.raises(TypeError, match="drop it from the graph"):
        math.exp(x)
    with pytest.raises(TypeError, match=r"x\.data"):
        float(x)
    assert x.item() == 0.5


def test_enable_grad_records_inside_no_grad():
    x = Value(2.0)
    with no_grad():
        with mg.enable_grad():
            y = x * x
        z = x * x
    assert y.parents == (x, x) and z.is_leaf


# --- modes are per thread, and their edges ------------------------------------------------------
def _run_threads(*targets):
    import threading
    errors = []

    def guarded(f):
        def run():
            try:
                f()
            except BaseException as e:   # reported in the main thread
                errors.append(e)
        return run
    threads = [threading.Thread(target=guarded(f)) for f in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        raise errors[0]


def test_no_grad_in_one_thread_leaves_another_thread_training():
    import threading
    inside, done = threading.Event(), threading.Event()
    seen = {}

    def evaluator():
        with no_grad():
            inside.set()
            assert done.wait(10)      # hold no_grad open while the other thread trains
            seen["evaluator enabled"] = mg.is_grad_enabled()

    def trainer():
        assert inside.wait(10)
        x = Value(2.0)
        (x * x).backward()
        seen["grad"] = x.grad         # d x^2/dx = 2x = 4
        done.set()

    _run_threads(evaluator, trainer)
    assert seen == {"evaluator enabled": False, "grad": 4.0}


def test_overlapping_no_grad_blocks_in_two_threads_leave_grad_on():
    import threading
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def a():
        with no_grad():
            a_in.set()
            assert b_in.wait(10)      # B enters while A is inside ...
        a_out.set()                   # ... and A leaves first

    def b():
        assert a_in.wait(10)
        with no_grad():
            b_in.set()
            assert a_out.wait(10)

    _run_threads(a, b)
    assert mg.is_grad_enabled()
    after = {}
    _run_threads(lambda: after.update(enabled=mg.is_grad_enabled()))
    assert after == {"enabled": True}
    x = Value(3.0)
    (x * x).backward()
    assert x.grad == 6.0


def test_grad_mode_is_per_asyncio_task():
    import asyncio

    async def evaluate(started, release):
        with no_grad():
            started.set()
            await release.wait()
            return mg.is_grad_enabled()

    async def train(started, release):
        await started.wait()
        x = Value(5.0)
        (x * x).backward()
        release.set()
        return x.grad

    async def main():
        started, release = asyncio.Event(), asyncio.Event()
        return await asyncio.gather(evaluate(started, release), train(started, release))

    assert asyncio.run(main()) == [False, 10.0]


def test_create_graph_inside_no_grad_still_builds_the_second_derivative():
    x = Value(2.0)
    y = x ** 3
    with no_grad():
        y.backward(create_graph=True)     # x.grad = 3 x^2 = 12, as a Value
        assert not mg.is_grad_enabled()
    assert x.grad.data == 12.0
    g = x.grad
    x.grad = 0.0
    g.backward()                          # d(3x^2)/dx = 6x = 12 (PyTorch agrees)
    assert x.grad == 12.0


def test_backward_on_a_result_of_no_grad_says_why_there_are_no_gradients():
    x = Value(2.0)
    with no_grad():
        y = x * x
    with pytest.raises(RuntimeError, match="computed under no_grad"):
        y.backward()
    assert x.grad == 0.0
    leaf = Value(1.0)          # a leaf made by hand is fine: it just gets the seed
    leaf.backward()
    assert leaf.grad == 1.0


def test_anomaly_mode_works_with_create_graph():
    x = Value(1e-160, "x")
    w = (x * x).sqrt() * 1e300     # d sqrt/d(x*x) = 0.5 / 1e-160 overflows times 1e300
    with detect_anomaly(), pytest.raises(FloatingPointError, match="sqrt"):
        w.backward(create_graph=True)


def test_zero_upstream_grad_times_infinite_local_passes_nothing_in_both_modes():
    # A node with an infinite local derivative whose own grad is 0: backward() treats
    # 0 * inf as 0 (the term is absent), and anomaly mode agrees instead of raising.
    class Steep(mg.Op):
        name = "steep"
        def forward(self, x): return x
        def derivatives(self, out, x): return (float("inf"),)

    for mode in (None, detect_anomaly):
        x = Value(1.0, "x")
        y = Steep()(x)
        out = y * 0.0 + x            # y's grad is exactly 0; x's grad is 1 via the sum
        if mode is None:
            out.backward()
        else:
            with mode():
                out.backward()
        assert x.grad == 1.0, mode


# --- gc_paused: the cyclic collector off while a graph is built ------------------------------
def test_gc_paused_stops_the_collector_and_restores_it_even_on_an_error():
    import gc
    assert gc.isenabled()
    with pytest.raises(ZeroDivisionError):
        with mg.gc_paused():
            assert not gc.isenabled()
            with mg.gc_paused():          # nested: the inner block does not switch it back on
                pass
            assert not gc.isenabled()
            1 / 0
    assert gc.isenabled()


def test_gc_paused_leaves_a_collector_the_user_switched_off_off():
    import gc
    gc.disable()
    try:
        with mg.gc_paused():
            pass
        Value(2.0).__mul__(3.0).backward()   # backward pauses it too
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_gc_paused_frees_an_acyclic_graph_by_reference_counting():
    import gc
    with mg.gc_paused():
        x = Value(1.0)
        before = len(gc.get_objects())       # the objects the collector tracks
        y = x
        for _ in range(1000):
            y = y * 1.001 + 1.0
        built = len(gc.get_objects())
        y.backward()
        del y
        after = len(gc.get_objects())
        assert not gc.isenabled()
    assert built - before > 3000             # nodes, constants and parent tuples
    assert after - before < 50               # all gone again, with no collection run
    assert x.grad == pytest.approx(1.001 ** 1000, rel=1e-12)   # d/dx of the chain
