"""touched_only=True: step() and zero_grad() visit only the parameters backward()
reached. Each test works the expected weights out by hand, or runs the same training
with touched_only=False (which walks every parameter) and asks for the same floats."""
import gc
import math
import random
import threading

import pytest

from microgrador import Value
from microgrador.losses import cross_entropy
from microgrador.nn import MLP
from microgrador.optim import SGD, Adam


def weights(n=20, start=1.0):
    """n leaf parameters; a test reaches one or two of them, so the touched walk
    (not the full one it falls back to past half of them) is what runs."""
    return [Value(start + i) for i in range(n)]


def sparse_inputs(rng, n):
    """Mostly zeros, as MNIST pixels: most first-layer weights get no gradient."""
    return [rng.random() if rng.random() < 0.06 else 0.0 for _ in range(n)]


def train(touched, make_opt, steps=25, batch=1, seed=1):
    rng = random.Random(seed)
    net = MLP(80, [6, 3], activation="sigmoid", seed=3)
    opt = make_opt(net.parameters(), touched)
    for _ in range(steps):
        opt.zero_grad()
        for _ in range(batch):
            cross_entropy(net(sparse_inputs(rng, 80)), rng.randrange(3)).backward()
        opt.step()
    return net, opt


OPTIMIZERS = {
    "sgd": lambda ps, t: SGD(ps, lr=0.3, touched_only=t),
    "momentum": lambda ps, t: SGD(ps, lr=0.3, momentum=0.9, touched_only=t),
    "nesterov": lambda ps, t: SGD(ps, lr=0.3, momentum=0.9, nesterov=True, touched_only=t),
    "dampening": lambda ps, t: SGD(ps, lr=0.3, momentum=0.8, dampening=0.25, touched_only=t),
    "weight_decay": lambda ps, t: SGD(ps, lr=0.3, weight_decay=0.01, touched_only=t),
    "adam": lambda ps, t: Adam(ps, lr=0.05, touched_only=t),
}


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_same_floats_as_walking_every_parameter(name, batch):
    full, _ = train(False, OPTIMIZERS[name], batch=batch)
    touched, _ = train(True, OPTIMIZERS[name], batch=batch)
    assert [p.data for p in touched.parameters()] == [p.data for p in full.parameters()]
    assert [p.grad for p in touched.parameters()] == [p.grad for p in full.parameters()]


def test_the_touched_walk_is_what_runs_on_sparse_inputs():
    # The documented cost of the walk: a .grad set by hand on a weight no backward()
    # reached is neither applied nor cleared. (Were every parameter walked, it would be.)
    net, opt = train(True, OPTIMIZERS["sgd"], steps=3)
    rng = random.Random(7)
    x = [0.0] * 80
    x[4] = 0.5
    opt.zero_grad()
    cross_entropy(net(x), 1).backward()
    unreached = net.layers[0].neurons[0].params[0]     # behind the black pixel 0
    before = unreached.data
    unreached.grad = 1.0
    opt.step()
    assert unreached.data == before
    opt.zero_grad()
    assert unreached.grad == 1.0
    full = SGD(net.parameters(), lr=0.3)    # the default walks everything
    full.step()
    assert unreached.data == before - 0.3


def test_a_parameter_untouched_by_one_backward_but_touched_by_the_next():
    w = weights()
    opt = SGD(w, lr=0.1, touched_only=True)
    opt.zero_grad()
    (w[0] * 2.0).backward()
    (w[1] * 3.0).backward()          # reaches w[1], which the first pass did not
    opt.step()
    assert (w[0].data, w[1].data) == (1.0 - 0.1 * 2.0, 2.0 - 0.1 * 3.0)
    opt.zero_grad()
    (w[2] * w[2]).backward()         # the next step: only w[2], d(w^2)/dw = 2w = 6
    opt.step()
    assert w[2].data == 3.0 - 0.1 * 6.0
    assert (w[0].data, w[1].data) == (1.0 - 0.1 * 2.0, 2.0 - 0.1 * 3.0)
    assert [p.data for p in w[3:]] == [4.0 + i for i in range(17)]


def test_momentum_moves_a_parameter_whose_gradient_became_zero():
    w = weights()
    opt = SGD(w, lr=0.1, momentum=0.5, touched_only=True)
    opt.zero_grad()
    (w[0] * 4.0).backward()          # g = 4: buffer b = 4, w0 = 1 - 0.4
    opt.step()
    opt.zero_grad()
    (w[1] * 1.0).backward()          # w0 not reached: g = 0, b = 0.5 * 4 = 2, w0 -= 0.2
    opt.step()
    assert w[0].grad == 0.0
    assert w[0].data == pytest.approx(1.0 - 0.4 - 0.2, abs=1e-15)
    assert w[1].data == pytest.approx(2.0 - 0.1 * 1.0, abs=1e-15)
    assert [p.data for p in w[2:]] == [3.0 + i for i in range(18)]   # never reached: never moved


def test_adam_moves_a_parameter_whose_gradient_became_zero():
    w = weights()
    lr, (b1, b2), eps = 0.01, (0.9, 0.999), 1e-8
    opt = Adam(w, lr=lr, touched_only=True)
    opt.zero_grad()
    (w[0] * 2.0).backward()
    opt.step()
    opt.zero_grad()
    (w[1] * 1.0).backward()
    opt.step()
    m, v, x = 0.0, 0.0, 1.0      # w[0] by Adam's rule: g = 2, then g = 0
    for t, g in ((1, 2.0), (2, 0.0)):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        x -= lr * (m / (1 - b1 ** t)) / (math.sqrt(v / (1 - b2 ** t)) + eps)
    assert w[0].data == pytest.approx(x, abs=1e-12)
    assert w[0].data < 1.0 - 0.015    # it moved twice (about lr each time)
    assert [p.data for p in w[2:]] == [3.0 + i for i in range(18)]


def test_zero_grad_after_two_backward_calls_clears_both():
    w = weights()
    opt = SGD(w, lr=0.1, touched_only=True)
    opt.zero_grad()
    (w[0] * 2.0).backward()
    (w[5] * w[6]).backward()
    assert (w[0].grad, w[5].grad, w[6].grad) == (2.0, 7.0, 6.0)
    opt.zero_grad()
    assert [p.grad for p in w] == [0.0] * 20


def test_a_weight_used_twice_in_one_pass_is_updated_once():
    w = weights()
    opt = SGD(w, lr=0.1, touched_only=True)
    opt.zero_grad()
    (w[3] * 2.0 + w[3] * 5.0).backward()   # dL/dw3 = 7, reached by two nodes
    opt.step()
    assert w[3].data == 4.0 - 0.1 * 7.0


def test_before_the_first_zero_grad_every_parameter_is_walked():
    w = weights()
    w[9].grad = 2.0                   # set by hand before the optimizer knew anything
    opt = SGD(w, lr=0.1, touched_only=True)
    opt.step()
    assert w[9].data == 10.0 - 0.2
    opt.zero_grad()
    assert w[9].grad == 0.0


def test_backward_on_a_parameter_itself():
    w = weights()
    opt = SGD(w, lr=0.1, touched_only=True)
    opt.zero_grad()
    w[4].backward()                   # d w4 / d w4 = 1
    opt.step()
    assert w[4].data == 5.0 - 0.1
    opt.zero_grad()
    assert w[4].grad == 0.0


def test_many_backward_calls_without_zero_grad_accumulate():
    # past the passes it keeps, the optimizer walks everything: still exact
    w = weights()
    opt = SGD(w, lr=0.001, touched_only=True)
    opt.zero_grad()
    for _ in range(1500):
        (w[0] * 1.0).backward()
    (w[1] * 1.0).backward()
    opt.step()
    assert (w[0].data, w[1].data) == (1.0 - 0.001 * 1500.0, 2.0 - 0.001)


def test_backward_in_another_thread_is_seen():
    w = weights()
    opt = SGD(w, lr=0.1, touched_only=True)
    opt.zero_grad()
    worker = threading.Thread(target=lambda: (w[7] * 3.0).backward())
    worker.start()
    worker.join()
    opt.step()
    assert w[7].data == 8.0 - 0.3


def test_create_graph_gradients_are_refused_with_the_reason():
    w = weights()
    opt = SGD(w, lr=0.1, touched_only=True)
    opt.zero_grad()
    (w[0] * w[0]).backward(create_graph=True)
    with pytest.raises(TypeError, match="create_graph"):
        opt.step()


def test_parameters_that_are_not_leaves_are_walked_in_full():
    a = Value(2.0)
    w = weights() + [a * 3.0]         # an interior "parameter"
    opt = SGD(w, lr=0.1, touched_only=True)
    opt.zero_grad()
    w[-1].grad = 1.0
    opt.step()
    assert w[-1].data == 6.0 - 0.1


def test_a_dropped_optimizer_is_no_longer_told():
    w = weights()
    opt = SGD(w, lr=0.1, touched_only=True)
    reached = opt._reached
    calls = []
    reached.reached = lambda nodes: calls.append(nodes)
    (w[0] * 2.0).backward()
    assert len(calls) == 1
    del opt, reached
    gc.collect()
    (w[0] * 2.0).backward()
    assert len(calls) == 1


def test_repr_says_touched_only():
    assert "touched_only=True" in repr(SGD(weights(), lr=0.1, touched_only=True))
    assert "touched_only" not in repr(SGD(weights(), lr=0.1))


def test_two_models_trained_side_by_side():
    # each optimizer is told about the other model's backward passes too, and must
    # pick out its own parameters (the others are not its to move)
    def side_by_side(touched):
        rng = random.Random(5)
        nets = [MLP(80, [6, 3], activation="sigmoid", seed=s) for s in (1, 2)]
        opts = [OPTIMIZERS["momentum"](n.parameters(), touched) for n in nets]
        for _ in range(10):
            for net, opt in zip(nets, opts):
                opt.zero_grad()
                cross_entropy(net(sparse_inputs(rng, 80)), rng.randrange(3)).backward()
                opt.step()
        return [[p.data for p in n.parameters()] for n in nets]
    assert side_by_side(True) == side_by_side(False)


def test_two_touched_only_optimizers_over_one_parameter_walk_everything():
    w = weights()
    first = SGD(w[:10], lr=0.1, touched_only=True)
    second = SGD(w[5:], lr=0.1, touched_only=True)   # shares w[5:10] with `first`
    for opt in (first, second):
        opt.zero_grad()
    w[2].grad, w[12].grad = 1.0, 1.0                  # by hand: seen only by full walks
    first.step()
    second.step()
    assert (w[2].data, w[12].data) == (3.0 - 0.1, 13.0 - 0.1)


def test_parameters_scattered_among_other_parents_of_one_node():
    # One node whose parents mix our weights, out of list order, with inputs and
    # another model's weights: every one of ours gets its own gradient, once.
    from microgrador.engine import apply
    from microgrador.ops import Dot
    w = weights()
    other = [Value(0.5), Value(-2.0)]
    x = Value(3.0)
    opt = SGD(w, lr=0.1, touched_only=True)
    opt.zero_grad()
    # d = w7*x + w2*o0 + w3*w8 + o1*w4  (a, b pairs)
    d = apply(Dot(4), (w[7], w[2], w[3], other[1], x, other[0], w[8], w[4]))
    d.backward()
    opt.step()
    expected = {7: 3.0, 2: 0.5, 3: 9.0, 8: 4.0, 4: -2.0}   # x, o0, w8, w3, o1 (before the step)
    for i, p in enumerate(w):
        assert p.data == (1.0 + i) - 0.1 * expected.get(i, 0.0), i
    assert [o.data for o in other] == [0.5, -2.0]   # not ours: not moved
