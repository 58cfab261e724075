"""What the one-step benches (bench/mnist_step.py, bench/cnn_step.py) share: microgrador's
training step, and the hand-written output layer (o = W h + b, softmax cross-entropy,
its SGD update) on lists of floats."""
from __future__ import annotations

import math
from operator import mul

from microgrador.losses import cross_entropy
from microgrador.optim import SGD


def microgrador_sgd_step(net, x, t, lr, touched_only=False):
    """(step, params): step() is zero_grad, forward, cross-entropy, backward and an SGD
    update of `net` on sample (x, t), returning the loss; params() the parameters' values
    in net.parameters() order. touched_only: SGD(..., touched_only=True)."""
    return microgrador_sgd_steps(net, [(x, t)], lr, touched_only)


def microgrador_sgd_steps(net, samples, lr, touched_only=False):
    """As microgrador_sgd_step, but step() takes one such step on each (x, t) of
    `samples` in turn, as a training loop does, and returns the last loss."""
    opt = SGD(net.parameters(), lr=lr, touched_only=touched_only)

    def step():
        for x, t in samples:
            opt.zero_grad()
            loss = cross_entropy(net(x), t)
            loss.backward()
            opt.step()
        return loss.data

    return step, lambda: [p.data for p in net.parameters()]


def microgrador_train_steps(net, samples, lr):
    """As microgrador_sgd_steps, with the step that training.train (and so `microgrador
    train`) takes: SGD(..., touched_only=True), and after each forward pass
    backward_and_step(loss), which steps the first layer's weights during the backward
    sweep and then updates and clears the others in one walk."""
    opt = SGD(net.parameters(), lr=lr, touched_only=True)
    opt.zero_grad()

    def step():
        for x, t in samples:
            loss = cross_entropy(net(x), t)
            opt.backward_and_step(loss)
        return loss.data

    return step, lambda: [p.data for p in net.parameters()]


def softmax_output_step(W, b, h, t, lr):
    """(loss, dL/dh) for loss = logsumexp(o) - o[t], o = W h + b; W and b are updated in
    place by SGD (dL/dh = W^T (softmax(o) - onehot(t)) uses W before the update)."""
    o = [sum(map(mul, w, h)) + bk for w, bk in zip(W, b)]
    m = max(o)
    e = [math.exp(v - m) for v in o]
    s = sum(e)
    loss = m + math.log(s) - o[t]
    do = [v / s for v in e]
    do[t] -= 1.0
    dh = [sum(map(mul, do, column)) for column in zip(*W)]
    for k, g in enumerate(do):
        c = lr * g
        W[k] = [w - c * hj for w, hj in zip(W[k], h)]
        b[k] -= c
    return loss, dh
