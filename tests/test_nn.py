"""microgrador.nn: forward against hand computation, gradients against central
differences, initialisation statistics, parameter counts, checkpoints (round trip
and every bad-file case); and microgrador.losses against closed forms."""
import json
import math
import random
import statistics

import pytest

from microgrador import Value, losses, no_grad
from microgrador.losses import cross_entropy
from microgrador.nn import (MLP, CheckpointError, Init, Layer, Neuron, load_model,
                            read_checkpoint)
from microgrador.testing import gradcheck, numerical_grad

ACTIVATIONS = {
    "sigmoid": lambda z: 1 / (1 + math.exp(-z)),
    "tanh": math.tanh,
    "relu": lambda z: max(z, 0.0),
    "leaky_relu": lambda z: z if z > 0 else 0.01 * z,
    "identity": lambda z: z,
}


def hand_forward(net, x, act, out_act):
    """The MLP's outputs computed from its parameter values with plain floats."""
    for li, layer in enumerate(net.layers):
        f = ACTIVATIONS[out_act if li == len(net.layers) - 1 else act]
        x = [f(sum(n.params[i].data * x[i] for i in range(len(x))) + n.params[-1].data)
             for n in layer.neurons]
    return x


# --- forward -----------------------------------------------------------------------------------
@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_mlp_forward_matches_hand_computation(act):
    net = MLP(3, [4, 5, 2], activation=act, output_activation="tanh", init="normal(1)",
              bias_init="uniform(-1, 1)", seed=7)
    x = [0.5, -1.25, 2.0]
    got = [v.data for v in net(x)]
    assert got == pytest.approx(hand_forward(net, x, act, "tanh"), rel=1e-12, abs=1e-14)


def test_layer_is_its_neurons_and_neuron_works_alone():
    layer = Layer(3, 4, activation="tanh", seed=1)
    x = [0.1, 0.2, -0.3]
    assert [v.data for v in layer(x)] == [n(x).data for n in layer.neurons]
    xv = [Value(v) for v in x]
    assert [v.data for v in layer(xv)] == pytest.approx([n(xv).data for n in layer.neurons], rel=1e-15)


def test_each_neuron_is_one_dot_node_sharing_the_parameter_tuple():
    net = MLP(4, [3, 2], activation="sigmoid", seed=0)
    hidden = net.layers[0]([1.0, 2.0, 3.0, 4.0])
    for h, neuron in zip(hidden, net.layers[0].neurons):
        assert h.op == "sigmoid"
        (z,) = h.parents
        assert z.op == "dot"
        assert z.parents is neuron.params          # the same tuple: no copy per sample
        assert z.partials == (1.0, 2.0, 3.0, 4.0, 1.0)
    assert len({id(h.parents[0]._op) for h in hidden}) == 1   # one Dot op for the layer
    out = net.layers[1](hidden)
    for o, neuron in zip(out, net.layers[1].neurons):
        assert o.op == "dot"                       # identity output: the dot itself
        assert o.parents == tuple(hidden) + neuron.params


@pytest.mark.parametrize("seed", range(5))
def test_layer_on_inputs_that_are_mostly_zero(seed):
    """A layer skips the weights of zero inputs (most MNIST pixels): outputs, weight
    grads and bias grads must be what the full sum gives, zero inputs included."""
    rng = random.Random(seed)
    nin = 40
    x = [rng.choice([0.0, 0.0, 0.0, -0.0, rng.uniform(-2, 2)]) for _ in range(nin)]
    layer = Layer(nin, 3, activation="tanh", seed=seed)
    out = layer(x)
    upstream = [rng.uniform(-1, 1) for _ in out]
    total = sum(o * u for o, u in zip(out, upstream))
    total.backward()
    for o, u, neuron in zip(out, upstream, layer.neurons):
        w, b = neuron.params[:-1], neuron.params[-1]
        z = sum(wi.data * xi for wi, xi in zip(w, x)) + b.data
        assert o.data == pytest.approx(math.tanh(z), rel=1e-14, abs=1e-15)
        dz = u * (1 - math.tanh(z) ** 2)
        assert [wi.grad for wi in w] == pytest.approx([dz * xi for xi in x], rel=1e-12, abs=1e-15)
        assert b.grad == pytest.approx(dz, rel=1e-12)
    all_zero = layer([0.0] * nin)           # nothing but the biases
    assert [v.data for v in all_zero] == [math.tanh(n.params[-1].data) for n in layer.neurons]


def test_int_inputs_are_constants_and_bool_is_refused():
    net = MLP(2, [2], seed=0)
    assert [v.data for v in net([1, 2])] == [v.data for v in net([1.0, 2.0])]
    with pytest.raises(TypeError, match="bool"):
        net([True, 1.0])


def test_wrong_input_length_names_both_counts():
    net = MLP(3, [2], seed=0)
    with pytest.raises(ValueError, match="expects 3 inputs, got 2"):
        net([1.0, 2.0])
    with pytest.raises(TypeError, match="list of 3"):
        net(Value(1.0))


def test_no_grad_builds_no_graph():
    net = MLP(2, [3, 2], activation="tanh", seed=0)
    with no_grad():
        out = net([0.5, 0.5])
    assert all(o.is_leaf for o in out)


# --- gradients -----------------------------------------------------------------------------------
def _param_gradcheck(net, x, target):
    """Every parameter's d loss / d p from backward() against central differences."""
    params = net.parameters()
    net.zero_grad()
    cross_entropy(net(x), target).backward()
    analytic = [p.grad for p in params]
    start = [p.data for p in params]

    def loss_at(*vs):
        for p, v in zip(params, vs):
            p.data = v.data
        return cross_entropy(net(x), target).data

    numeric = numerical_grad(loss_at, start)
    for p, v in zip(params, start):
        p.data = v
    for (name, _), a, n in zip(net.named_parameters(), analytic, numeric):
        assert a == pytest.approx(n, rel=1e-5, abs=1e-7), name


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_parameter_gradients_match_central_differences(act):
    net = MLP(3, [4, 3], activation=act, init="normal(1)", bias_init="normal(0.5)", seed=3)
    _param_gradcheck(net, [0.7, -1.1, 0.4], 2)


def test_deeper_network_gradients_match_central_differences():
    net = MLP(2, [5, 4, 3], activation="tanh", output_activation="sigmoid", init="xavier_normal",
              bias_init="normal(0.1)", seed=11)
    _param_gradcheck(net, [1.5, -0.3], 0)


def test_input_gradients_match_central_differences():
    net = MLP(3, [4, 2], activation="sigmoid", init="normal(1)", seed=5)
    assert gradcheck(lambda a, b, c: cross_entropy(net([a, b, c]), 1), [0.2, -0.8, 1.3])
    # a mix of Values and plain numbers: the numbers are constants
    assert gradcheck(lambda a, b: cross_entropy(net([a, 0.5, b]), 0), [0.2, -0.8])


def test_gradients_accumulate_until_zero_grad():
    net = MLP(2, [2], seed=0)
    loss = cross_entropy(net([1.0, 1.0]), 0)
    loss.backward()
    once = [p.grad for p in net.parameters()]
    cross_entropy(net([1.0, 1.0]), 0).backward()
    assert [p.grad for p in net.parameters()] == pytest.approx([2 * g for g in once])
    net.zero_grad()
    assert all(p.grad == 0.0 for p in net.parameters())


# --- parameters -----------------------------------------------------------------------------------
def test_parameter_count_of_mlp_784_64_10():
    net = MLP(784, [64, 10], init="zeros")
    by_hand = 784 * 64 + 64 + 64 * 10 + 10
    assert by_hand == 50_890
    assert net.num_parameters() == by_hand == len(net.parameters())
    assert "50,890 parameters" in repr(net)
    assert "64 x (784 weights + 1 bias) = 50,240 parameters" in repr(net)


def test_named_parameters_are_unique_and_ordered():
    net = MLP(2, [3, 2], seed=0)
    names = [n for n, _ in net.named_parameters()]
    assert len(set(names)) == len(names) == 17
    assert names[:3] == ["layers[0].neurons[0].w[0]", "layers[0].neurons[0].w[1]",
                         "layers[0].neurons[0].b"]
    assert [p for _, p in net.named_parameters()] == net.parameters()
    assert all(p.label == n for n, p in net.named_parameters())
    assert Neuron(4).num_parameters() == 5 and Layer(4, 3).num_parameters() == 15


def test_explicit_weights_and_biases():
    net = MLP(2, [3, 1], activation="identity",
              weights=[[[1, 2], [3, 4], [5, 6]], [[1, -1, 2]]], biases=[[0.5, 0, 0], [1.0]])
    # hidden = [1*1 + 2*1 + 0.5, 3 + 4, 5 + 6] = [3.5, 7, 11]; out = 3.5 - 7 + 22 + 1
    assert net([1.0, 1.0])[0].data == 19.5
    with pytest.raises(ValueError, match="weights must have one entry per neuron"):
        Layer(2, 3, weights=[[1, 2]])
    with pytest.raises(ValueError, match="2 weights needed, got 3"):
        Neuron(2, weights=[1, 2, 3])


def test_bad_architectures_are_refused():
    with pytest.raises(ValueError, match="unknown activation 'softplus'"):
        MLP(2, [3], activation="softplus")
    with pytest.raises(ValueError, match="sizes"):
        MLP(2, [])
    with pytest.raises(ValueError, match="sizes"):
        MLP(2, [3, 0])


# --- initialisation ----------------------------------------------------------------------------------
def _weights(layer):
    return [p.data for n in layer.neurons for p in n.params[:-1]]


@pytest.mark.parametrize("spec, std", [
    ("lecun", 1 / math.sqrt(400)),
    ("normal(1)", 1.0),
    ("normal(0.05)", 0.05),
    ("xavier_normal", math.sqrt(2 / (400 + 250))),
    ("glorot_normal", math.sqrt(2 / (400 + 250))),
    ("he", math.sqrt(2 / 400)),
])
def test_normal_inits_have_the_right_spread(spec, std):
    layer = Layer(400, 250, init=spec, seed=1)            # 100,000 weights
    ws = _weights(layer)
    assert statistics.fmean(ws) == pytest.approx(0.0, abs=4 * std / math.sqrt(len(ws)))
    assert statistics.pstdev(ws) == pytest.approx(std, rel=0.015)
    assert all(n.params[-1].data == 0.0 for n in layer.neurons)   # bias_init zeros by default


@pytest.mark.parametrize("spec, low, high", [
    ("xavier_uniform", -math.sqrt(6 / 650), math.sqrt(6 / 650)),
    ("uniform(-0.3, 0.7)", -0.3, 0.7),
    ("uniform", -1.0, 1.0),
])
def test_uniform_inits_fill_their_interval(spec, low, high):
    ws = _weights(Layer(400, 250, init=spec, seed=2))
    assert low <= min(ws) < low + 0.01 * (high - low)
    assert high - 0.01 * (high - low) < max(ws) <= high
    assert statistics.fmean(ws) == pytest.approx((low + high) / 2, abs=0.01 * (high - low))
    assert statistics.pstdev(ws) == pytest.approx((high - low) / math.sqrt(12), rel=0.015)


def test_zeros_init_and_bias_init():
    layer = Layer(10, 5, init="zeros", bias_init="normal(2)", seed=0)
    assert set(_weights(layer)) == {0.0}
    assert all(n.params[-1].data != 0.0 for n in layer.neurons)


def test_a_seed_reproduces_the_weights_exactly():
    a = MLP(5, [7, 3], init="he", seed=42).state_dict()
    assert a == MLP(5, [7, 3], init="he", seed=42).state_dict()
    assert a == MLP(5, [7, 3], init="he", seed=random.Random(42)).state_dict()
    assert a != MLP(5, [7, 3], init="he", seed=43).state_dict()
    # draws go layer by layer, neuron by neuron, weights then bias, from one stream
    rng = random.Random(9)
    expected = [rng.gauss(0, 1) for _ in range(3)]
    n = MLP(2, [1], init="normal(1)", bias_init="normal(1)", seed=9).layers[0].neurons[0]
    assert [p.data for p in n.params] == expected


def test_init_names_and_errors():
    assert repr(Init.parse("uniform(-0.5, 0.5)")) == "uniform(-0.5, 0.5)"
    assert Init.parse("kaiming").kind == "he"
    for bad, message in [("gaussian", "unknown initialisation"), ("normal(-1)", "std"),
                         ("uniform(1, 0)", "a <= b"), ("he(2)", "takes no arguments"),
                         ("normal(x)", "expected numbers"), ("uniform(1, 2, 3)", "at most two")]:
        with pytest.raises(ValueError, match=message):
            Init.parse(bad)


# --- state dicts and checkpoints -----------------------------------------------------------------------
def _net():
    return MLP(2, [3, 2], activation="sigmoid", init="normal(1)", bias_init="normal(1)", seed=4)


def test_state_dict_is_json_safe_and_round_trips():
    a, b = _net(), MLP(2, [3, 2], activation="sigmoid", seed=99)
    state = json.loads(json.dumps(a.state_dict()))
    assert state["layers[1].neurons[0].w"] == [p.data for p in a.layers[1].neurons[0].params[:-1]]
    b.load_state_dict(state)
    assert [p.data for p in b.parameters()] == [p.data for p in a.parameters()]


def test_save_and_load_round_trip(tmp_path):
    a = _net()
    path = tmp_path / "net.json"
    a.save(str(path), meta={"note": "test"})
    text = path.read_text()
    assert text.startswith("{")                                  # JSON, not pickle
    doc = json.loads(text)
    assert doc["model"] == {"type": "MLP", "nin": 2, "sizes": [3, 2], "activation": "sigmoid",
                            "output_activation": "identity"}
    assert doc["num_parameters"] == 17 and doc["meta"] == {"note": "test"}
    b = MLP(2, [3, 2], activation="sigmoid", seed=1)
    b.load(str(path))
    x = [0.3, -0.9]
    assert [v.data for v in b(x)] == [v.data for v in a(x)]     # bit for bit
    c = load_model(str(path))
    assert repr(c) == repr(a) and [v.data for v in c(x)] == [v.data for v in a(x)]
    assert read_checkpoint(str(path))["meta"] == {"note": "test"}


def _write(tmp_path, content):
    path = tmp_path / "bad.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


def _good_doc(tmp_path):
    path = tmp_path / "good.json"
    _net().save(str(path))
    return json.loads(path.read_text())


def _assert_refused(tmp_path, content, message):
    net = MLP(2, [3, 2], activation="sigmoid", seed=0)
    before = [p.data for p in net.parameters()]
    with pytest.raises(CheckpointError, match=message):
        net.load(_write(tmp_path, content))
    assert [p.data for p in net.parameters()] == before        # nothing half-loaded


def test_truncated_empty_and_non_json_files_are_refused(tmp_path):
    good = (tmp_path / "g.json")
    _net().save(str(good))
    text = good.read_text()
    _assert_refused(tmp_path, text[: len(text) // 2], "not valid JSON .truncated or corrupted")
    _assert_refused(tmp_path, text[:-1], "not valid JSON")
    _assert_refused(tmp_path, "", "is empty")
    _assert_refused(tmp_path, "\x80PICKLE", "not valid JSON")
    _assert_refused(tmp_path, [1, 2, 3], "not a microgrador checkpoint")
    _assert_refused(tmp_path, {"weights": [1]}, "not a microgrador checkpoint")


def test_a_file_larger_than_any_checkpoint_is_refused_unread(tmp_path, monkeypatch):
    from microgrador import checkpoint
    path = tmp_path / "big.json"
    _net().save(str(path))
    monkeypatch.setattr(checkpoint, "MAX_CHECKPOINT_BYTES", 100)   # the file is ~600 bytes
    with pytest.raises(CheckpointError, match=r"big.json is \d{3,} bytes, larger than any checkpoint .*100 bytes"):
        load_model(str(path))


def test_a_stream_longer_than_any_checkpoint_is_refused_after_the_limit(tmp_path, monkeypatch):
    import os
    import threading
    from microgrador import checkpoint
    monkeypatch.setattr(checkpoint, "MAX_CHECKPOINT_BYTES", 1 << 20)
    fifo = tmp_path / "endless.json"
    os.mkfifo(fifo)                       # a pipe has no size to check first: read to the limit

    def writer():
        try:
            with open(fifo, "wb") as f:
                for _ in range(64):           # 4 MiB, four times the limit
                    f.write(b"[" + b" " * 65535)
        except BrokenPipeError:
            pass                              # the reader stopped at the limit, as it should

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    with pytest.raises(CheckpointError, match=r"endless.json holds more than 1,048,576 bytes"):
        read_checkpoint(str(fifo))
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_a_device_or_binary_file_is_refused_at_its_first_byte(tmp_path):
    with pytest.raises(CheckpointError, match=r"/dev/zero is not valid JSON.*byte 0 is b'\\x00'"):
        read_checkpoint("/dev/zero")             # endless: refused without reading it all
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{"format": "caf\xe9"}')
    with pytest.raises(CheckpointError, match=r"not a text file.*byte 15 is not UTF-8"):
        read_checkpoint(str(path))


def test_wrong_version_and_missing_sections_are_refused(tmp_path):
    doc = _good_doc(tmp_path)
    _assert_refused(tmp_path, dict(doc, version=99), "format version 99")
    _assert_refused(tmp_path, {k: v for k, v in doc.items() if k != "state_dict"},
                    '"state_dict" entry is missing')
    _assert_refused(tmp_path, dict(doc, model=[2, 3, 2]), '"model" entry')


def test_another_architecture_is_refused_naming_both(tmp_path):
    path = tmp_path / "wide.json"
    MLP(2, [4, 2], activation="sigmoid", seed=0).save(str(path))
    net = MLP(2, [3, 2], activation="sigmoid", seed=0)
    with pytest.raises(CheckpointError, match=r"holds MLP\(2 -> 4 -> 2.*this model is MLP\(2 -> 3 -> 2"):
        net.load(str(path))
    MLP(2, [3, 2], activation="relu", seed=0).save(str(path))
    with pytest.raises(CheckpointError, match="activation=relu.*activation=sigmoid"):
        net.load(str(path))


@pytest.mark.parametrize("edit, message", [
    (lambda s: s.pop("layers[1].neurons[1].b"), r"missing layers\[1\]\.neurons\[1\]\.b"),
    (lambda s: s.update({"layers[2].neurons[0].b": 0.0}), r"unexpected layers\[2\]\.neurons\[0\]\.b"),
    (lambda s: s.update({"layers[0].neurons[2].w": [1.0]}), r"layers\[0\]\.neurons\[2\]\.w has 1 numbers, .* needs 2"),
    (lambda s: s.update({"layers[0].neurons[2].w": 1.0}), r"layers\[0\]\.neurons\[2\]\.w should be a list of 2"),
    (lambda s: s.update({"layers[0].neurons[1].w": [1.0, "2"]}), r"layers\[0\]\.neurons\[1\]\.w\[1\] should be a number, got str"),
    (lambda s: s.update({"layers[0].neurons[1].b": None}), r"layers\[0\]\.neurons\[1\]\.b should be a number, got NoneType"),
    (lambda s: s.update({"layers[0].neurons[1].b": True}), r"layers\[0\]\.neurons\[1\]\.b should be a number, got bool"),
    (lambda s: s.update({"layers[1].neurons[0].w": [0.0, float("nan"), 0.0]}), r"layers\[1\]\.neurons\[0\]\.w\[1\] is nan"),
])
def test_bad_parameters_are_refused_by_name(tmp_path, edit, message):
    doc = _good_doc(tmp_path)
    edit(doc["state_dict"])
    _assert_refused(tmp_path, json.dumps(doc), message)     # NaN is written as JSON's NaN


def test_state_dict_errors_and_missing_file(tmp_path):
    net = _net()
    with pytest.raises(CheckpointError, match="expected a mapping"):
        net.load_state_dict([1.0])
    with pytest.raises(FileNotFoundError):
        net.load(str(tmp_path / "nope.json"))
    with pytest.raises(CheckpointError, match="unknown model type"):
        doc = _good_doc(tmp_path)
        doc["model"]["type"] = "CNN"
        load_model(_write(tmp_path, doc))


def test_save_refuses_non_finite_parameters(tmp_path):
    net = _net()
    net.parameters()[3].data = float("inf")
    with pytest.raises(ValueError, match=r"layers\[0\]\.neurons\[1\]\.w holds inf"):
        net.save(str(tmp_path / "x.json"))
    assert not (tmp_path / "x.json").exists()


# --- losses (microgrador.losses) ------------------------------------------------------------------------

def _lse(zs):
    m = max(zs)
    return m + math.log(sum(math.exp(z - m) for z in zs))


LOSS_CASES = {
    # name: (loss of Values, the same loss written with math, inputs)
    "cross_entropy": (lambda a, b, c: losses.cross_entropy([a, b, c], 1),
                      lambda a, b, c: _lse([a, b, c]) - b, [0.3, -1.2, 2.0]),
    "nll": (lambda a, b, c: losses.nll(list(map(lambda v: v - 3.0, [a, b, c])), 2),
            lambda a, b, c: -(c - 3.0), [0.3, -1.2, 2.0]),
    "mse": (lambda a, b, c: losses.mse([a, b, c], [1.0, 0.0, -1.0]),
            lambda a, b, c: ((a - 1) ** 2 + b ** 2 + (c + 1) ** 2) / 3, [0.3, -1.2, 2.0]),
    "hinge": (lambda a, b, c: losses.hinge([a, b, c], 0),
              lambda a, b, c: max(0.0, b - a + 1) + max(0.0, c - a + 1), [0.3, -1.2, 2.0]),
    "binary_cross_entropy": (lambda p: losses.binary_cross_entropy(p, 0.25),
                             lambda p: -(0.25 * math.log(p) + 0.75 * math.log(1 - p)), [0.8]),
    "binary_cross_entropy_with_logits": (
        lambda z: losses.binary_cross_entropy_with_logits(z, 1),
        lambda z: -math.log(1 / (1 + math.exp(-z))), [-1.7]),
}


@pytest.mark.parametrize("name", sorted(LOSS_CASES))
def test_losses_match_closed_forms_and_central_differences(name):
    f, by_hand, xs = LOSS_CASES[name]
    assert f(*[Value(x) for x in xs]).data == pytest.approx(by_hand(*xs), rel=1e-12)
    assert gradcheck(f, xs)
    assert set(losses.LOSSES) == set(LOSS_CASES)


def test_log_softmax_then_nll_is_cross_entropy():
    from microgrador import log_softmax
    zs = [Value(v) for v in (0.5, 2.0, -1.0)]
    assert losses.nll(log_softmax(zs), 1).data == pytest.approx(losses.cross_entropy(zs, 1).data, rel=1e-14)


def test_stable_losses_survive_extreme_logits():
    assert losses.cross_entropy([Value(1000.0), Value(-1000.0)], 0).data == 0.0
    assert losses.cross_entropy([Value(1000.0), Value(-1000.0)], 1).data == 2000.0
    assert losses.binary_cross_entropy_with_logits(Value(-800.0), 1).data == 800.0
    assert losses.binary_cross_entropy_with_logits(Value(800.0), 1).data == 0.0


def test_hinge_is_zero_beyond_the_margin_and_bce_targets_are_checked():
    assert losses.hinge([Value(5.0), Value(3.9)], 0).data == 0.0
    assert losses.hinge([Value(5.0), Value(4.5)], 0, margin=1.0).data == 0.5
    with pytest.raises(ValueError, match="0 < p < 1"):
        losses.binary_cross_entropy(Value(1.0), 1)
    with pytest.raises(ValueError, match=r"target must be in \[0, 1\]"):
        losses.binary_cross_entropy(Value(0.5), 2)
    with pytest.raises(ValueError, match="target must be a class index in 0..1"):
        losses.cross_entropy([Value(0.0), Value(1.0)], 2)
    with pytest.raises(ValueError, match="3 outputs but 2 targets"):
        losses.mse([Value(0.0)] * 3, [1.0, 2.0])


def test_layer_with_interior_parameters_still_passes_gradients_through_them():
    # The first layer tells backward() its parents are leaves (so the graph search
    # skips the weights); if a neuron's parameters are replaced by computed Values,
    # the promise must be dropped and the gradient must reach what they came from.
    from microgrador.nn import Layer
    layer = Layer(3, 2, seed=0)
    x = [0.0, 2.0, -1.5]
    layer(x)[0].backward()                 # a first call with leaf parameters
    u = Value(0.5, "u")
    n = layer.neurons[1]
    n.params = tuple(u * c for c in (1.0, 3.0, -2.0)) + (u * 4.0,)   # w = u c, b = 4u
    out = layer(x)[1]
    out.backward()
    # out = u (c . x) + 4u, so d out / du = c . x + 4 = 0 + 6 + 3 + 4
    assert u.grad == pytest.approx(13.0)
    assert out.data == pytest.approx(0.5 * 13.0)
