"""microgrador.optim: every update rule against numbers worked out in the test over a
few steps (gradients are set by hand, so only the optimizer is under test)."""
import math

import pytest

from microgrador import Value
from microgrador.optim import SGD, Adam

GRADS = [[0.5, -2.0, 0.0], [0.25, 1.0, -3.0], [-1.0, 0.5, 2.0]]   # per step, per parameter
START = [1.0, -0.5, 2.0]


def run(opt_factory, grads=GRADS, start=START):
    """Apply the optimizer with the given gradients; the weights after each step."""
    params = [Value(x) for x in start]
    opt = opt_factory(params)
    history = []
    for gs in grads:
        opt.zero_grad()
        for p, g in zip(params, gs):
            p.grad = g
        opt.step()
        history.append([p.data for p in params])
    return history


def test_plain_sgd():
    got = run(lambda ps: SGD(ps, lr=0.1))
    # w1 = w0 - 0.1 g1, ... for the first parameter: 1 - 0.05 = 0.95, 0.95 - 0.025, 0.925 + 0.1
    assert [h[0] for h in got] == pytest.approx([0.95, 0.925, 1.025], rel=1e-15)
    assert got[-1] == pytest.approx([1.025, -0.5 + 0.2 - 0.1 - 0.05, 2.0 + 0.3 - 0.2], rel=1e-15)


def test_sgd_momentum_over_three_steps():
    # first parameter, momentum 0.9, lr 0.1:
    # b1 = 0.5                      w = 1 - 0.05 = 0.95
    # b2 = 0.9 * 0.5 + 0.25 = 0.7   w = 0.95 - 0.07 = 0.88
    # b3 = 0.9 * 0.7 - 1 = -0.37    w = 0.88 + 0.037 = 0.917
    got = run(lambda ps: SGD(ps, lr=0.1, momentum=0.9))
    assert [h[0] for h in got] == pytest.approx([0.95, 0.88, 0.917], rel=1e-14)
    # third parameter: b = 0, -3, -0.7  ->  w = 2, 2.3, 2.37
    assert [h[2] for h in got] == pytest.approx([2.0, 2.3, 2.37], rel=1e-14)


def test_sgd_nesterov_over_three_steps():
    # first parameter: the step is g + 0.9 b with the updated buffer b
    # step 1: b = 0.5, g + 0.9 b = 0.95           w = 1 - 0.095 = 0.905
    # step 2: b = 0.7, 0.25 + 0.63 = 0.88          w = 0.905 - 0.088 = 0.817
    # step 3: b = -0.37, -1 - 0.333 = -1.333       w = 0.817 + 0.1333 = 0.9503
    got = run(lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True))
    assert [h[0] for h in got] == pytest.approx([0.905, 0.817, 0.9503], rel=1e-14)


def test_sgd_weight_decay_and_dampening():
    # weight decay 0.5: g' = g + 0.5 w; first parameter 1 - 0.1 (0.5 + 0.5) = 0.9,
    # then 0.9 - 0.1 (0.25 + 0.45) = 0.83
    got = run(lambda ps: SGD(ps, lr=0.1, weight_decay=0.5), grads=GRADS[:2])
    assert [h[0] for h in got] == pytest.approx([0.9, 0.83], rel=1e-14)
    # dampening 0.5 with momentum 0.9: b1 = g1 = 0.5, b2 = 0.45 + 0.5 * 0.25 = 0.575
    got = run(lambda ps: SGD(ps, lr=0.1, momentum=0.9, dampening=0.5), grads=GRADS[:2])
    assert [h[0] for h in got] == pytest.approx([0.95, 0.95 - 0.0575], rel=1e-14)


def test_sgd_nesterov_with_weight_decay():
    # first parameter, lr 0.1, momentum 0.9, weight decay 0.5:
    # step 1: g' = 0.5 + 0.5 * 1 = 1, b = 1, step g' + 0.9 b = 1.9          w = 0.81
    # step 2: g' = 0.25 + 0.5 * 0.81 = 0.655, b = 0.9 + 0.655 = 1.555,
    #         step 0.655 + 0.9 * 1.555 = 2.0545                              w = 0.60455
    got = run(lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.5),
              grads=GRADS[:2])
    assert [h[0] for h in got] == pytest.approx([0.81, 0.60455], rel=1e-14)


def test_course_momentum_form_is_sgd_with_momentum():
    """v <- gamma v + alpha g; W <- W - v, written out here, equals SGD(lr=alpha, momentum=gamma)."""
    alpha, gamma = 0.05, 0.8
    grads = [[math.sin(3 * t + i) for i in range(3)] for t in range(20)]
    w, v = list(START), [0.0] * 3
    for gs in grads:
        v = [gamma * vi + alpha * g for vi, g in zip(v, gs)]
        w = [wi - vi for wi, vi in zip(w, v)]
    got = run(lambda ps: SGD(ps, lr=alpha, momentum=gamma), grads=grads)[-1]
    assert got == pytest.approx(w, rel=1e-12, abs=1e-14)


def test_adam_over_three_steps_against_the_textbook_form():
    """Kingma & Ba's algorithm with bias-corrected moments, written out here."""
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    w, m, v = list(START), [0.0] * 3, [0.0] * 3
    expected = []
    for t, gs in enumerate(GRADS, 1):
        for i, g in enumerate(gs):
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            m_hat, v_hat = m[i] / (1 - b1 ** t), v[i] / (1 - b2 ** t)
            w[i] -= lr * m_hat / (math.sqrt(v_hat) + eps)
        expected.append(list(w))
    got = run(lambda ps: Adam(ps, lr=lr))           # PyTorch's defaults otherwise
    for g, e in zip(got, expected):
        assert g == pytest.approx(e, rel=1e-12)


def test_adam_first_step_moves_each_weight_by_about_lr():
    # after one step m_hat = g and v_hat = g^2, so the step is lr * g / (|g| + eps)
    got = run(lambda ps: Adam(ps, lr=0.1), grads=GRADS[:1])[0]
    assert got == pytest.approx([1.0 - 0.1, -0.5 + 0.1, 2.0], abs=1e-7)


def test_adam_weight_decay_adds_to_the_gradient():
    got = run(lambda ps: Adam(ps, lr=0.1, weight_decay=0.1), grads=[[0.0, 0.0, 0.0]])[0]
    # with zero gradients only the decay term acts: g' = 0.1 w, a step of -lr * sign(w)
    assert got == pytest.approx([0.9, -0.4, 1.9], abs=1e-7)


def test_zero_grad_and_optimizers_drive_a_loss_down():
    for make in (lambda ps: SGD(ps, lr=0.1), lambda ps: SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
                 lambda ps: Adam(ps, lr=0.1)):
        x, y = Value(3.0), Value(-2.0)
        opt = make([x, y])
        first = None
        for _ in range(100):
            opt.zero_grad()
            loss = (x - 1) ** 2 + 2 * (y + 0.5) ** 2
            loss.backward()
            first = loss.data if first is None else first
            opt.step()
        assert loss.data < 1e-3 * first
        opt.zero_grad()
        assert x.grad == 0.0 and y.grad == 0.0


def test_bad_settings_are_refused():
    p = [Value(1.0)]
    with pytest.raises(ValueError, match="empty parameter list"):
        SGD([], lr=0.1)
    with pytest.raises(ValueError, match="lr must be >= 0"):
        SGD(p, lr=-1)
    with pytest.raises(ValueError, match="appears twice"):
        SGD(p + p, lr=0.1)
    with pytest.raises(TypeError, match="parameter 0 is a float"):
        SGD([1.0], lr=0.1)
    with pytest.raises(ValueError, match="Nesterov"):
        SGD(p, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        Adam(p, betas=(0.9, 1.0))
    assert repr(SGD(p, lr=0.1, momentum=0.9)) == "SGD(1 parameters, lr=0.1, momentum=0.9)"


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.1), lambda ps: SGD(ps, lr=0.1, momentum=0.9),
                                  lambda ps: SGD(ps, lr=0.1, weight_decay=0.01),
                                  lambda ps: Adam(ps, lr=0.1)])
def test_step_after_create_graph_says_what_is_wrong(make):
    """backward(create_graph=True) leaves Values in .grad; step() must say so by name
    instead of failing inside the arithmetic (or turning .data into a Value)."""
    w = [Value(1.0), Value(2.0)]
    loss = w[1] * w[1]
    loss.backward(create_graph=True)
    with pytest.raises(TypeError, match=r"parameter 1 has a Value as its \.grad.*create_graph"):
        make(w).step()
    assert type(w[1].data) is float


def test_sgd_leaves_parameters_with_zero_gradient_alone():
    w = [Value(1.0), Value(-2.0), Value(3.0)]
    w[1].grad = 0.5
    SGD(w, lr=0.1).step()
    assert [p.data for p in w] == [1.0, -2.0 - 0.1 * 0.5, 3.0]


# --- gradients from backward(): the optimizers leave zero-gradient parameters alone ---------------
def _reference_sgd(start, grads_per_step, lr, momentum=0.0):
    """Plain-list SGD (PyTorch's rule), written independently of microgrador.optim."""
    w, buf = list(start), None
    for g in grads_per_step:
        if momentum:
            buf = list(g) if buf is None else [momentum * b + gi for b, gi in zip(buf, g)]
            w = [wi - lr * b for wi, b in zip(w, buf)]
        else:
            w = [wi - lr * gi for wi, gi in zip(w, g)]
    return w


def _loss(params, step):
    """A loss whose gradient reaches a different subset of the parameters each step:
    step 0 uses a and b (c untouched), step 1 uses only c, step 2 uses a and c."""
    a, b, c = params
    return [a * a + 3 * b, c * c * c, a * c][step]


def _hand_grads(w, step):
    a, b, c = w
    return [[2 * a, 3.0, 0.0], [0.0, 0.0, 3 * c * c], [c, 0.0, a]][step]


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_after_backward_matches_a_plain_reference(momentum):
    # c is untouched by the first backward and touched by the next; b's gradient
    # becomes 0 after step 0, so with momentum its buffer must keep moving it.
    start, lr = [0.5, -1.0, 2.0], 0.1
    params = [Value(x) for x in start]
    opt = SGD(params, lr=lr, momentum=momentum)
    w, grads = list(start), []
    for step in range(3):
        opt.zero_grad()
        _loss(params, step).backward()
        opt.step()
        grads.append(_hand_grads(w, step))
        w = _reference_sgd(start, grads, lr, momentum)
    assert [p.data for p in params] == pytest.approx(w, rel=1e-14)
    if momentum:   # b moved at steps 1 and 2 by its decaying buffer alone
        assert params[1].data == pytest.approx(-1.0 - lr * 3.0 * (1 + 0.9 + 0.81))


def test_zero_grad_after_two_backward_calls_clears_every_touched_parameter():
    params = [Value(x) for x in (0.5, -1.0, 2.0)]
    opt = SGD(params, lr=0.1)
    _loss(params, 0).backward()     # a and b
    _loss(params, 1).backward()     # c, accumulated on top
    assert [p.grad for p in params] == pytest.approx([1.0, 3.0, 12.0])
    opt.step()                       # both backward calls' gradients are applied
    assert [p.data for p in params] == pytest.approx([0.4, -1.3, 0.8])
    opt.zero_grad()
    assert [p.grad for p in params] == [0.0, 0.0, 0.0]


# --- step_and_zero_grad: step() then zero_grad(), one walk for plain SGD --------------------------
STEP_AND_ZERO = {
    "sgd": lambda ps, t: SGD(ps, lr=0.1, touched_only=t),
    "momentum": lambda ps, t: SGD(ps, lr=0.1, momentum=0.9, touched_only=t),
    "weight_decay": lambda ps, t: SGD(ps, lr=0.1, weight_decay=0.01),
    "adam": lambda ps, t: Adam(ps, lr=0.1, touched_only=t),
}


@pytest.mark.parametrize("touched", [False, True])
@pytest.mark.parametrize("name", sorted(STEP_AND_ZERO))
def test_step_and_zero_grad_is_step_then_zero_grad(name, touched):
    # the closed-form reference for plain SGD; the others against their own step()
    start, lr = [0.5, -1.0, 2.0] + [1.0] * 7, 0.1   # 3 of 10 reached: the touched walk runs
    fused, split = [Value(x) for x in start], [Value(x) for x in start]
    opts = [STEP_AND_ZERO[name](fused, touched), STEP_AND_ZERO[name](split, touched)]
    opts[0].zero_grad(), opts[1].zero_grad()
    w, grads = list(start[:3]), []
    for step in range(3):
        _loss(fused[:3], step).backward()
        _loss(split[:3], step).backward()
        opts[0].step_and_zero_grad()
        opts[1].step()
        assert [p.data for p in fused] == [p.data for p in split]
        opts[1].zero_grad()
        assert all(type(p.grad) is float and p.grad == 0.0 for p in fused)
        grads.append(_hand_grads(w, step))
        w = _reference_sgd(start[:3], grads, lr)
        if name == "sgd":
            assert [p.data for p in fused[:3]] == pytest.approx(w, rel=1e-14)
    assert opts[0].steps == 3


def test_step_and_zero_grad_after_create_graph_says_what_is_wrong():
    w = [Value(1.0), Value(2.0)]
    (w[1] * w[1]).backward(create_graph=True)
    with pytest.raises(TypeError, match=r"parameter 1 has a Value as its \.grad"):
        SGD(w, lr=0.1).step_and_zero_grad()
    assert type(w[1].data) is float


def test_a_subclass_rule_is_kept_by_step_and_zero_grad():
    class SignSGD(SGD):
        def _update(self):
            for p in self.params:
                p.data -= self.lr * ((p.grad > 0) - (p.grad < 0))
    w = [Value(1.0), Value(1.0)]
    (w[0] * 5.0 - w[1] * 0.5).backward()
    SignSGD(w, lr=0.25).step_and_zero_grad()
    assert [p.data for p in w] == [0.75, 1.25] and [p.grad for p in w] == [0.0, 0.0]
