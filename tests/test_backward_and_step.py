"""Optimizer.backward_and_step(loss): loss.backward(), then step_and_zero_grad(). Plain
SGD with touched_only=True steps a first-layer weight during the backward sweep; each
test runs the same training the long way (backward(), step(), zero_grad() walking
every parameter) and asks for the same floats, and checks whether the sweep took the
weights itself where that matters."""
import random

import pytest

from microgrador import Value, detect_anomaly
from microgrador.losses import cross_entropy
from microgrador.nn import MLP
from microgrador.optim import SGD, Adam
from microgrador.touched import ReachedParams
from microgrador.training import train


def sparse_inputs(rng, n):
    """Mostly zeros, as MNIST pixels."""
    return [rng.random() if rng.random() < 0.1 else 0.0 for _ in range(n)]


def samples(n, seed=1):
    rng = random.Random(seed)
    return [(sparse_inputs(rng, 60), rng.randrange(3)) for _ in range(n)]


def net():
    return MLP(60, [5, 3], activation="sigmoid", seed=3)


def long_way(data, make_loss=None, momentum=0.0):
    """What backward_and_step must equal: backward(), step() and zero_grad() over all."""
    model = net()
    opt = SGD(model.parameters(), lr=0.4, momentum=momentum)
    for x, t in data:
        loss = cross_entropy(model(x), t) if make_loss is None else make_loss(model, x, t)
        loss.backward()
        opt.step()
        opt.zero_grad()
    return model


def fused_way(data, make_loss=None, momentum=0.0, touched=True):
    model = net()
    opt = SGD(model.parameters(), lr=0.4, momentum=momentum, touched_only=touched)
    opt.zero_grad()
    for x, t in data:
        loss = cross_entropy(model(x), t) if make_loss is None else make_loss(model, x, t)
        opt.backward_and_step(loss)
    return model


def one_step(opt, loss, fused):
    """backward_and_step(loss), or the long way: backward(), step(), zero_grad()."""
    if fused:
        opt.backward_and_step(loss)
    else:
        loss.backward()
        opt.step()
        opt.zero_grad()


@pytest.fixture
def plans(monkeypatch):
    """What fused_plan answered at each backward_and_step: None means the long way."""
    seen = []
    real = ReachedParams.fused_plan

    def spy(self, nodes):
        seen.append(real(self, nodes))
        return seen[-1]
    monkeypatch.setattr(ReachedParams, "fused_plan", spy)
    return seen


def same_floats(a, b):
    assert [p.data for p in a.parameters()] == [p.data for p in b.parameters()]
    assert all(p.grad == 0.0 for p in a.parameters())


def test_the_sweep_steps_the_first_layer_with_the_same_floats(plans):
    data = samples(30)
    fused = fused_way(data)
    same_floats(fused, long_way(data))
    # every step took the fused path, with all five first-layer neurons
    assert len(plans) == 30 and all(p is not None and len(p[0]) == 5 for p in plans)
    assert fused.layers[0].parameters() != long_way(data[:1]).layers[0].parameters()


def test_a_first_layer_weight_used_again_waits_for_its_whole_gradient(plans):
    # w gets two terms in one pass (its neuron, and the penalty 0.5 w^2): the sweep
    # must not step it on the first, so this pass goes the long way
    def loss_with_penalty(model, x, t):
        w = model.layers[0].neurons[2].params[7]
        return cross_entropy(model(x), t) + 0.5 * w * w
    data = samples(10)
    same_floats(fused_way(data, loss_with_penalty), long_way(data, loss_with_penalty))
    assert plans and all(p is None for p in plans)


def test_two_samples_in_one_graph_go_the_long_way(plans):
    pairs = samples(12)

    def two_samples(model, x, t):   # the same neurons twice: a minibatch of 2
        (x2, t2) = pairs[(pairs.index((x, t)) + 1) % len(pairs)]
        return cross_entropy(model(x), t) + cross_entropy(model(x2), t2)
    same_floats(fused_way(pairs, two_samples), long_way(pairs, two_samples))
    assert plans and all(p is None for p in plans)


def test_gradients_left_by_an_earlier_backward_are_kept(plans):
    x, t = samples(1)[0]
    x2, t2 = samples(1, seed=5)[0]
    fused_model, long_model = net(), net()
    opt = SGD(fused_model.parameters(), lr=0.4, touched_only=True)
    opt.zero_grad()
    cross_entropy(fused_model(x2), t2).backward()      # accumulated, not yet stepped
    opt.backward_and_step(cross_entropy(fused_model(x), t))
    full = SGD(long_model.parameters(), lr=0.4)
    cross_entropy(long_model(x2), t2).backward()
    cross_entropy(long_model(x), t).backward()
    full.step()
    full.zero_grad()
    same_floats(fused_model, long_model)
    assert plans == [None]        # the grads were not all 0: no shortcut


@pytest.mark.parametrize("touched", [True, False])
def test_momentum_and_walking_every_parameter_take_the_two_calls(touched, plans):
    data = samples(15)
    same_floats(fused_way(data, momentum=0.9, touched=touched), long_way(data, momentum=0.9))
    assert plans == []


def test_adam_takes_the_two_calls():
    data = samples(8)
    models = []
    for fused in (True, False):
        model = net()
        opt = Adam(model.parameters(), lr=0.01, touched_only=True)
        opt.zero_grad()
        for x, t in data:
            loss = cross_entropy(model(x), t)
            one_step(opt, loss, fused)
        models.append(model)
    same_floats(*models)


def test_in_anomaly_mode_every_term_is_still_checked(plans):
    data = samples(5)
    with detect_anomaly():
        fused = fused_way(data)
    same_floats(fused, long_way(data))
    assert plans == []
    model = net()
    opt = SGD(model.parameters(), lr=0.4, touched_only=True)
    opt.zero_grad()
    before = [p.data for p in model.parameters()]
    tiny = Value(1e-160)
    steep = (tiny * tiny).sqrt() * 1e300   # d sqrt/dy = 0.5 / 1e-160, times 1e300: inf
    with detect_anomaly(), pytest.raises(FloatingPointError, match="sqrt"):
        opt.backward_and_step(cross_entropy(model(data[0][0]), 0) + steep)
    assert [p.data for p in model.parameters()] == before    # no step was taken


def test_the_interior_grads_are_those_of_backward():
    # the sweep still fills every interior node's .grad (backward()'s rule)
    x, t = samples(1)[0]
    grads = []
    for fused in (True, False):
        model = net()
        opt = SGD(model.parameters(), lr=0.4, touched_only=True)
        opt.zero_grad()
        logits = model(x)
        loss = cross_entropy(logits, t)
        one_step(opt, loss, fused)
        grads.append([v.grad for v in logits] + [h.grad for h in logits[0].parents[:5]])
    assert grads[0] == grads[1] and all(g != 0.0 for g in grads[0])


def test_a_leaf_loss_and_a_plain_number_are_handled_as_backward_handles_them():
    w = [Value(1.0 + i) for i in range(10)]
    opt = SGD(w, lr=0.5, touched_only=True)
    opt.zero_grad()
    opt.backward_and_step(w[3])            # d w3 / d w3 = 1
    assert w[3].data == 4.0 - 0.5 and w[3].grad == 0.0
    with pytest.raises(AttributeError):
        opt.backward_and_step(2.0)


def test_train_steps_with_it_and_gives_the_long_way_s_floats(plans):
    data = samples(20)
    xs, ys = [x for x, _ in data], [t for _, t in data]
    model = net()
    train(model, SGD(model.parameters(), lr=0.4, touched_only=True), (xs, ys), epochs=2,
          shuffle=False, progress=False)
    twice = long_way(data + data)
    same_floats(model, twice)
    assert len(plans) == 40 and all(p is not None for p in plans)


def test_another_model_in_the_same_graph_gets_its_grads_for_its_own_optimizer(plans):
    # model a's optimizer takes a's first layer in the sweep; b's neurons are left to
    # the sweep, and b's own (touched-only) optimizer steps them from their .grad
    data = samples(6)
    results = []
    for fused in (True, False):
        a, b = net(), MLP(60, [4, 3], activation="tanh", seed=9)
        opt_a = SGD(a.parameters(), lr=0.4, touched_only=True)
        opt_b = SGD(b.parameters(), lr=0.2, touched_only=True)
        opt_a.zero_grad()
        opt_b.zero_grad()
        for x, t in data:
            loss = cross_entropy([u + v for u, v in zip(a(x), b(x))], t)
            one_step(opt_a, loss, fused)
            opt_b.step_and_zero_grad()
        results.append([p.data for p in a.parameters() + b.parameters()])
    assert results[0] == results[1]
    assert len(plans) == 6 and all(p is not None and len(p[0]) == 5 for p in plans)
