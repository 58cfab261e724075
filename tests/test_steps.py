"""backward_steps against backward() and a hand computation; the tape table."""
import random

import pytest
from hypothesis import given, settings

from microgrador import Value, relu
from microgrador.steps import all_values, backward_steps, count_steps, describe_step, tape
from microgrador.testing import expressions


def hand_graph():
    """f = (x*w + b) * x at x = 3, w = -2, b = 1.

    By hand: xw = -6, s = xw + b = -5, f = s * x = -15;
    df/dx = 2xw + b = -11, df/dw = x^2 = 9, df/db = x = 3."""
    x, w, b = Value(3.0, "x"), Value(-2.0, "w"), Value(1.0, "b")
    xw = x * w
    s = xw + b
    f = s * x
    return x, w, b, xw, s, f


def test_steps_by_hand():
    x, w, b, xw, s, f = hand_graph()
    steps = list(backward_steps(f))
    assert [st.node for st in steps] == [f, s, xw]
    assert [st.index for st in steps] == [0, 1, 2] and {st.total for st in steps} == {3}

    root, plus, times = steps
    assert root.grad == 1.0
    # f = s * x: d f/d s = x = 3, d f/d x = s = -5
    assert [(u.parent, u.local, u.contribution, u.grad) for u in root.parents] == [
        (s, 3.0, 3.0, 3.0), (x, -5.0, -5.0, -5.0)]
    assert plus.grad == 3.0
    assert [(u.parent, u.local, u.contribution, u.grad) for u in plus.parents] == [
        (xw, 1.0, 3.0, 3.0), (b, 1.0, 3.0, 3.0)]
    # xw = x * w: d/dx = w = -2 (x's grad so far: -5 + 3 * -2 = -11), d/dw = x = 3
    assert times.grad == 3.0
    assert [(u.parent, u.local, u.contribution, u.grad) for u in times.parents] == [
        (x, -2.0, -6.0, -11.0), (w, 3.0, 9.0, 9.0)]
    assert (x.grad, w.grad, b.grad) == (-11.0, 9.0, 3.0)
    assert not any(st.skipped for st in steps)


def test_steps_are_lazy_and_partial_until_the_end():
    x, w, b, xw, s, f = hand_graph()
    gen = backward_steps(f)
    assert x.grad == 0.0          # nothing happens before the first step is asked for
    next(gen)
    assert (x.grad, w.grad, b.grad) == (-5.0, 0.0, 0.0)
    next(gen)
    assert (x.grad, w.grad, b.grad) == (-5.0, 0.0, 3.0)
    next(gen)
    assert (x.grad, w.grad, b.grad) == (-11.0, 9.0, 3.0)
    with pytest.raises(StopIteration):
        next(gen)


def _grads(root):
    return [v.grad for v in all_values(root)]


@settings(max_examples=80, deadline=None)
@given(expressions(num_inputs=3, max_steps=10))
def test_consuming_all_steps_gives_exactly_backwards_grads(case):
    expression, xs = case
    by_backward = expression(*[Value(x) for x in xs])
    by_steps = expression(*[Value(x) for x in xs])
    by_backward.backward()
    steps = list(backward_steps(by_steps))
    # same structure, built the same way: all_values lists both graphs in the same order
    assert _grads(by_steps) == _grads(by_backward)
    assert len(steps) == count_steps(by_steps)

    # reverse topological: a node comes before every interior node it depends on, each once
    done = set()
    for st in steps:
        assert st.node not in done
        assert not any(u.parent in done for u in st.parents if not u.parent.is_leaf)
        done.add(st.node)
    # a step's grad is final: nothing later adds to the node
    for st in steps:
        assert st.grad == st.node.grad
        for u in st.parents:
            assert u.contribution == st.grad * u.local


def test_leaves_accumulate_over_calls_like_backward():
    def graph():
        x, y = Value(0.5, "x"), Value(-1.5, "y")
        return x, y, (x * y + x).tanh()
    x1, y1, out1 = graph()
    x2, y2, out2 = graph()
    out1.backward()
    out1.backward()
    for _ in range(2):
        for _ in backward_steps(out2):
            pass
    assert (x2.grad, y2.grad) == (x1.grad, y1.grad)
    assert x1.grad != 0.0
    # interior grads are fresh each call, not doubled: d out/d out = 1
    assert out2.grad == 1.0


def test_seed_grad():
    x = Value(2.0)
    y = x * x
    list(backward_steps(y, grad=0.5))
    assert x.grad == 0.5 * 2 * 2.0


def test_leaf_root_is_one_step():
    x = Value(4.0, "x")
    steps = list(backward_steps(x))
    assert len(steps) == 1 and steps[0].node is x and steps[0].parents == ()
    assert x.grad == 1.0
    list(backward_steps(x))
    assert x.grad == 2.0          # a leaf accumulates, as with backward()


def test_a_node_with_zero_grad_passes_nothing():
    x = Value(-1.0, "x")
    h = x * 3.0
    out = relu(h)                # relu'(-3) = 0: h's grad is 0
    steps = list(backward_steps(out))
    by_node = {st.node: st for st in steps}
    assert by_node[h].grad == 0.0 and by_node[h].skipped
    assert x.grad == 0.0
    assert "passes nothing" in describe_step(by_node[h])


def test_describe_names_the_numbers():
    x, w, b, xw, s, f = hand_graph()
    last = list(backward_steps(f))[-1]
    text = str(last)
    assert "step 3 of 3" in text
    assert "to x: 3 × -2 (local) = -6, its grad now -11" in text
    assert "to w: 3 × 3 (local) = 9, its grad now 9" in text


def test_random_graph_from_seed_matches_backward():
    # a wider graph than the hypothesis ones: many shared nodes, long chains of adds
    def build():
        r = random.Random(7)
        leaves = [Value(r.uniform(-1, 1), f"a{i}") for i in range(6)]
        pool = list(leaves)
        for _ in range(60):
            a, b = r.choice(pool), r.choice(pool)
            pick = r.randrange(4)
            pool.append(a * b if pick == 0 else (a + b).tanh() if pick == 1
                        else a - b if pick == 2 else sum(pool[-3:], Value(0.0)))
        return pool[-1] + pool[-2] * pool[-5]
    one, two = build(), build()
    one.backward()
    list(backward_steps(two))
    assert _grads(one) == _grads(two)


# --- tape ------------------------------------------------------------------------------------
def test_tape_rows_by_hand():
    x, w, b, xw, s, f = hand_graph()
    f.backward()
    lines = tape(f).splitlines()
    assert lines[0].split() == ["#", "name", "op", "inputs", "data", "grad"]
    rows = [line.split() for line in lines[1:]]
    # leaves first as met, then each interior node after its inputs
    assert rows == [
        ["0", "x", "leaf", "3", "-11"],
        ["1", "w", "leaf", "-2", "9"],
        ["2", "*", "x,", "w", "-6", "3"],
        ["3", "b", "leaf", "1", "3"],
        ["4", "+", "#2,", "b", "-5", "3"],
        ["5", "*", "#4,", "x", "-15", "1"],
    ]


def test_tape_is_topological_and_truncates_wide_inputs():
    xs = [Value(float(i), f"p{i}") for i in range(20)]
    from microgrador import sum as total
    out = total(xs) * xs[0]
    text = tape(out, max_inputs=4)
    assert "p0, p1, p2, p3, ... (20 inputs)" in text
    lines = text.splitlines()[1:]
    assert len(lines) == 20 + 2
    for i, line in enumerate(lines):   # every #k an input refers to is an earlier row
        for token in line.replace(",", " ").split():
            if token.startswith("#"):
                assert int(token[1:]) < i


def test_tape_keeps_hostile_labels_on_one_line():
    x = Value(1.0, "two\nlines")
    y = x * 2.0
    assert len(tape(y).splitlines()) == 1 + 3
