"""Conv2d, pooling, Flatten, BatchNorm1d, Dropout and Sequential (microgrador/layers.py):
forward passes against loops written here, gradients against central differences and
closed forms, train/eval behaviour, checkpoints, and `train mnist --model cnn`."""
import contextlib
import io
import json
import math
import random

import pytest
from hypothesis import given, settings, strategies as st

from microgrador import Value, no_grad
from microgrador.cli import main
from microgrador.nn import (AvgPool2d, BatchNorm1d, CheckpointError, Conv2d, Dropout, Flatten,
                            Layer, MaxPool2d, ReLU, Sequential, load_model, small_lenet)

FEW = settings(max_examples=15, deadline=None)


# --- helpers written independently of microgrador/layers.py -------------------------------------
def image(channels, rows, cols, rng, values=True):
    """A random image, as Values (leaves whose .grad we read) or plain floats."""
    make = Value if values else float
    return [[[make(rng.uniform(-1, 1)) for _ in range(cols)] for _ in range(rows)]
            for _ in range(channels)]


def data(x):
    """Nested lists of Values or floats -> the same nesting of floats."""
    if isinstance(x, Value):
        return x.data
    if isinstance(x, (int, float)):
        return float(x)
    return [data(v) for v in x]


def leaves(x):
    if isinstance(x, Value):
        return [x]
    return [v for item in x for v in leaves(item)] if isinstance(x, list) else []


def padded(x, p):
    """x[c][r][col] with p zeros on every side."""
    cols = len(x[0][0]) + 2 * p
    return [[[0.0] * cols for _ in range(p)]
            + [[0.0] * p + list(row) + [0.0] * p for row in channel]
            + [[0.0] * cols for _ in range(p)] for channel in data(x)]


def loop_conv(x, w, b, stride, padding):
    """out[o][i][j] = b[o] + sum_{c,u,v} w[o][c][u][v] xpad[c][i*s+u][j*s+v], by plain loops."""
    xp = padded(x, padding)
    k = len(w[0][0])
    rows = (len(xp[0]) - k) // stride + 1
    cols = (len(xp[0][0]) - k) // stride + 1
    out = []
    for o in range(len(w)):
        plane = []
        for i in range(rows):
            line = []
            for j in range(cols):
                total = b[o]
                for c in range(len(xp)):
                    for u in range(k):
                        for v in range(k):
                            total += w[o][c][u][v] * xp[c][i * stride + u][j * stride + v]
                line.append(total)
            plane.append(line)
        out.append(plane)
    return out


def kernels(conv):
    """The weights as w[o][c][u][v] floats and the biases as b[o], read by name."""
    k, cin = conv.kernel_size, conv.in_channels
    w = [[[[conv.weight(o, c, u, v).data for v in range(k)] for u in range(k)] for c in range(cin)]
         for o in range(conv.out_channels)]
    return w, [conv.params[o][-1].data for o in range(conv.out_channels)]


def weighted_sum(outputs, coefficients):
    """L = sum_k c_k out_k: a loss whose gradient reaches every output differently."""
    total = 0.0
    for v, c in zip(outputs, coefficients):
        total = total + v * c
    return total


def check_against_central_differences(loss_of, wrt, rtol=1e-4, atol=1e-6, h=1e-6):
    """backward() of loss_of() against (L(x + h) - L(x - h)) / 2h for every Value in wrt."""
    for v in wrt:
        v.grad = 0.0
    loss_of().backward()
    analytic = [v.grad for v in wrt]
    for v, g in zip(wrt, analytic):
        x = v.data
        v.data = x + h
        with no_grad():
            up = data(loss_of())
        v.data = x - h
        with no_grad():
            down = data(loss_of())
        v.data = x
        numeric = (up - down) / (2 * h)
        assert abs(g - numeric) <= atol + rtol * abs(numeric), (v.label, g, numeric)


conv_shapes = st.fixed_dictionaries({
    "cin": st.integers(1, 3), "cout": st.integers(1, 3), "k": st.integers(1, 3),
    "stride": st.integers(1, 3), "padding": st.integers(0, 2),
    "extra_rows": st.integers(0, 3), "extra_cols": st.integers(0, 3), "seed": st.integers(0, 10**6)})


def conv_case(s, values=True):
    rng = random.Random(s["seed"])
    conv = Conv2d(s["cin"], s["cout"], s["k"], stride=s["stride"], padding=s["padding"],
                  bias_init="uniform(-1, 1)", seed=s["seed"])
    rows = max(1, s["k"] - 2 * s["padding"]) + s["extra_rows"]
    cols = max(1, s["k"] - 2 * s["padding"]) + s["extra_cols"]
    return conv, image(s["cin"], rows, cols, rng, values), rng


# --- Conv2d ------------------------------------------------------------------------------------
@FEW
@given(conv_shapes, st.booleans())
def test_conv2d_matches_a_nested_loop_convolution(s, values):
    conv, x, _ = conv_case(s, values)
    w, b = kernels(conv)
    got, want = data(conv(x)), loop_conv(x, w, b, s["stride"], s["padding"])
    assert len(got) == len(want) and len(got[0]) == len(want[0]) and len(got[0][0]) == len(want[0][0])
    for g, e in zip(leaves_flat(got), leaves_flat(want)):
        assert g == pytest.approx(e, rel=1e-12, abs=1e-12)


def leaves_flat(x):
    return [v for item in x for v in leaves_flat(item)] if isinstance(x, list) else [x]


@FEW
@given(conv_shapes, st.booleans())
def test_conv2d_gradients_match_central_differences(s, values):
    conv, x, rng = conv_case(s, values)
    shape = data(conv(x))
    coefficients = [rng.uniform(-1, 1) for _ in leaves_flat(shape)]
    check_against_central_differences(
        lambda: weighted_sum(leaves_flat(conv(x)), coefficients),
        conv.parameters() + leaves(x))


@FEW
@given(conv_shapes)
def test_a_shared_kernel_weight_gets_the_sum_of_its_per_position_contributions(s):
    conv, x, rng = conv_case(s)
    out = conv(x)
    c_out = [[[rng.uniform(-1, 1) for _ in row] for row in plane] for plane in out]
    loss = weighted_sum(leaves_flat(out), leaves_flat(c_out))
    loss.backward()
    xp, k, st_ = padded(x, s["padding"]), s["k"], s["stride"]
    for o in range(s["cout"]):
        for c in range(s["cin"]):
            for u in range(k):
                for v in range(k):
                    # dL/dw = sum over output positions (i, j) of dL/dout[o][i][j] * the input under w there
                    contributions = [c_out[o][i][j] * xp[c][i * st_ + u][j * st_ + v]
                                     for i in range(len(out[o])) for j in range(len(out[o][0]))]
                    assert conv.weight(o, c, u, v).grad == pytest.approx(math.fsum(contributions),
                                                                         rel=1e-9, abs=1e-12)
        assert conv.params[o][-1].grad == pytest.approx(math.fsum(leaves_flat(c_out[o])))


def test_each_conv_output_is_one_dot_node_over_its_field_with_shared_weights():
    conv = Conv2d(2, 3, 3, padding=1, seed=0)
    x = image(2, 4, 4, random.Random(0))
    out = conv(x)
    inside, corner = out[1][1][1], out[1][0][0]
    assert inside._op.name == "dot" and corner._op.name == "dot"
    assert len(inside._parents) == 2 * 9 * 2 + 1             # 18 inputs, 18 weights, the bias
    assert len(corner._parents) == 2 * 4 * 2 + 1             # padding adds no terms: 2 x 2 x 2 real inputs
    w = conv.weight(1, 0, 2, 2)
    assert any(p is w for p in inside._parents) and any(p is w for p in corner._parents)
    assert conv.num_parameters() == len(conv.parameters()) == 3 * (2 * 9 + 1)


def test_conv2d_on_pixels_makes_the_inputs_constants():
    conv = Conv2d(1, 2, 2, seed=0)
    out = conv([[[0.0, 1.0], [2, 3.0]]])
    assert len(out[0][0][0]._parents) == 4 + 1             # weights and bias only
    assert all(p in conv.params[0] for p in out[0][0][0]._parents)


def test_conv2d_refuses_bad_images_and_arguments_by_name():
    conv = Conv2d(2, 1, 3)
    with pytest.raises(ValueError, match="2 input channels, got 1"):
        conv([[[0.0] * 3] * 3])
    with pytest.raises(ValueError, match="channel 1 row 2 has 2 columns"):
        conv([[[0.0] * 3] * 3, [[0.0] * 3, [0.0] * 3, [0.0] * 2]])
    with pytest.raises(ValueError, match="fewer than the kernel's 3"):
        conv([[[0.0] * 2] * 3] * 2)
    with pytest.raises(TypeError, match="x\\[channel\\]\\[row\\]\\[column\\]"):
        conv([0.0, 1.0])
    for bad in ({"kernel_size": 0}, {"stride": 0}, {"padding": -1}, {"in_channels": 1.5}):
        args = {"in_channels": 1, "out_channels": 1, "kernel_size": 2, **bad}
        with pytest.raises(ValueError, match=next(iter(bad))):
            Conv2d(**args)


@pytest.mark.parametrize("layer", [Conv2d(1, 1, 2, seed=0), MaxPool2d(2, 1), AvgPool2d(2, 1), Flatten()],
                         ids=lambda layer: type(layer).__name__)
@pytest.mark.parametrize("entry, error, message", [
    ("x", TypeError, r"got str 'x'|is str 'x'"),
    (None, TypeError, r"NoneType None"),
    ([5.0], TypeError, r"got list \[5\.0\]|x\[0\]\[1\]\[2\]\[0\]"),
    (float("nan"), ValueError, r"expected a finite number, got nan"),
    (float("inf"), ValueError, r"expected a finite number, got inf"),
    (True, TypeError, r"got bool True"),
])
def test_a_bad_pixel_is_named_by_its_place_in_the_image(layer, entry, error, message):
    image = [[[1.0, 2.0, 3.0], [4.0, 5.0, entry], [7.0, 8.0, 9.0]]]
    name = type(layer).__name__
    if isinstance(layer, Flatten) and entry == [5.0]:
        assert layer(image)[5] == 5.0      # Flatten takes any nesting: a list is not an error
        return
    with pytest.raises(error, match=message) as caught:
        layer(image)
    assert str(caught.value).startswith(f"{name}: the input x[0][1][2]")


def test_pixels_near_the_float_limit_are_pooled_without_overflow():
    big = [[[1e308, 1e308, 3.0], [1e308, 1e308, 6.0], [7.0, 8.0, 9.0]]]
    assert AvgPool2d(2, 1)(big)[0][0][0] == pytest.approx(1e308, rel=1e-15)
    assert MaxPool2d(2)(big) == [[[1e308]]]


# --- pooling and Flatten ------------------------------------------------------------------------------
pool_shapes = st.fixed_dictionaries({
    "channels": st.integers(1, 3), "k": st.integers(1, 3), "stride": st.one_of(st.none(), st.integers(1, 3)),
    "extra_rows": st.integers(0, 3), "extra_cols": st.integers(0, 3), "seed": st.integers(0, 10**6)})


def pool_case(s):
    rows, cols = s["k"] + s["extra_rows"], s["k"] + s["extra_cols"]
    # distinct inputs 0.1 apart: max has a derivative, and h = 1e-6 cannot change the winner
    levels = [0.1 * i for i in range(s["channels"] * rows * cols)]
    random.Random(s["seed"]).shuffle(levels)
    it = iter(levels)
    return [[[Value(next(it)) for _ in range(cols)] for _ in range(rows)] for _ in range(s["channels"])]


def loop_pool(x, k, stride, reduce):
    x = data(x)
    rows, cols = (len(x[0]) - k) // stride + 1, (len(x[0][0]) - k) // stride + 1
    return [[[reduce([x[c][i * stride + u][j * stride + v] for u in range(k) for v in range(k)])
              for j in range(cols)] for i in range(rows)] for c in range(len(x))]


def check_pool(s, pool, reduce):
    """The pool against loops, and its input gradients against central differences."""
    x = pool_case(s)
    want = loop_pool(x, s["k"], s["stride"] or s["k"], reduce)
    assert leaves_flat(data(pool(x))) == pytest.approx(leaves_flat(want), rel=1e-12)
    rng = random.Random(s["seed"])
    coefficients = [rng.uniform(-1, 1) for _ in leaves_flat(want)]
    check_against_central_differences(lambda: weighted_sum(leaves_flat(pool(x)), coefficients), leaves(x))
    plain = leaves_flat(pool(data(x)))                         # plain numbers in, plain numbers out
    assert all(type(v) is float for v in plain) and plain == pytest.approx(leaves_flat(want))


@FEW
@given(pool_shapes)
def test_max_pool_matches_loops_and_its_gradient_goes_to_each_winner(s):
    check_pool(s, MaxPool2d(s["k"], s["stride"]), max)


@FEW
@given(pool_shapes)
def test_avg_pool_matches_loops_and_central_differences(s):
    check_pool(s, AvgPool2d(s["k"], s["stride"]), lambda w: sum(w) / len(w))


def test_max_pool_output_is_the_winning_value_itself():
    x = [[[Value(1.0), Value(4.0)], [Value(3.0), Value(2.0)]]]
    assert MaxPool2d(2)(x)[0][0][0] is x[0][0][1]


def test_flatten_is_channel_then_row_then_column():
    x = [[[100 * c + 10 * i + j for j in range(3)] for i in range(2)] for c in range(2)]
    assert Flatten()(x) == [100 * c + 10 * i + j for c in range(2) for i in range(2) for j in range(3)]


# --- BatchNorm1d ----------------------------------------------------------------------------------------
def batch(B, n, rng):
    return [[Value(rng.uniform(-2, 2)) for _ in range(n)] for _ in range(B)]


@FEW
@given(st.integers(2, 5), st.integers(1, 3), st.integers(0, 10**6))
def test_batch_norm_input_gradient_matches_the_closed_form(B, n, seed):
    rng = random.Random(seed)
    bn = BatchNorm1d(n)
    for k in range(n):
        bn.weight[k].data, bn.bias[k].data = rng.uniform(0.5, 2), rng.uniform(-1, 1)
    xs = batch(B, n, rng)
    g = [[rng.uniform(-1, 1) for _ in range(n)] for _ in range(B)]   # dL/dy
    out = bn.forward_batch(xs)
    weighted_sum([v for row in out for v in row], [c for row in g for c in row]).backward()
    for k in range(n):
        col = [xs[s][k].data for s in range(B)]
        mean = sum(col) / B
        var = sum((c - mean) ** 2 for c in col) / B
        std = math.sqrt(var + bn.eps)
        xhat = [(c - mean) / std for c in col]
        gk = [g[s][k] for s in range(B)]
        for s in range(B):
            assert out[s][k].data == pytest.approx(bn.weight[k].data * xhat[s] + bn.bias[k].data)
            closed = ((B * gk[s] - sum(gk) - xhat[s] * sum(a * b for a, b in zip(gk, xhat)))
                      * bn.weight[k].data / (B * std))
            assert xs[s][k].grad == pytest.approx(closed, rel=1e-7, abs=1e-9)
        assert bn.weight[k].grad == pytest.approx(sum(a * b for a, b in zip(gk, xhat)))
        assert bn.bias[k].grad == pytest.approx(sum(gk))


@FEW
@given(st.integers(2, 4), st.integers(1, 3), st.integers(0, 10**6))
def test_batch_norm_gradients_match_central_differences(B, n, seed):
    rng = random.Random(seed)
    bn = BatchNorm1d(n)
    xs = batch(B, n, rng)
    coefficients = [rng.uniform(-1, 1) for _ in range(B * n)]
    check_against_central_differences(
        lambda: weighted_sum([v for row in bn.forward_batch(xs) for v in row], coefficients),
        bn.parameters() + [v for row in xs for v in row], rtol=1e-4, atol=1e-5)


def test_batch_norm_running_statistics_follow_pytorchs_rule():
    bn = BatchNorm1d(2, momentum=0.25)
    batches = [[[1.0, -1.0], [3.0, 0.0], [5.0, 4.0]], [[0.0, 2.0], [2.0, 2.0]]]
    mean, var = [0.0, 0.0], [1.0, 1.0]
    for xs in batches:
        bn.forward_batch(xs)
        B = len(xs)
        for k in range(2):
            m = sum(x[k] for x in xs) / B
            unbiased = sum((x[k] - m) ** 2 for x in xs) / (B - 1)
            mean[k] = 0.75 * mean[k] + 0.25 * m
            var[k] = 0.75 * var[k] + 0.25 * unbiased
    # by hand for feature 0: mean 0.75*(0.25*3) + 0.25*1 = 0.8125; var 0.75*(0.75+0.25*4) + 0.25*2
    assert mean[0] == pytest.approx(0.8125) and var[0] == pytest.approx(1.8125)
    assert [v.data for v in bn.running_mean] == pytest.approx(mean)
    assert [v.data for v in bn.running_var] == pytest.approx(var)


def test_batch_norm_train_and_eval_differ_as_in_pytorch():
    bn = BatchNorm1d(1)
    xs = [[2.0], [4.0]]
    train_out = [row[0].data for row in bn.forward_batch(xs)]
    # training: normalised with the batch's mean 3 and biased variance 1
    assert train_out == pytest.approx([-1 / math.sqrt(1 + 1e-5), 1 / math.sqrt(1 + 1e-5)])
    bn.eval()
    # evaluation: the running stats, mean 0.3 and var 0.9 + 0.1 * 2 = 1.1, one sample at a time
    assert bn([2.0])[0].data == pytest.approx((2.0 - 0.3) / math.sqrt(1.1 + 1e-5))
    before = [v.data for v in bn.running_mean]
    bn.forward_batch(xs)                                       # eval: the statistics stay
    assert [v.data for v in bn.running_mean] == before
    bn.train()
    with pytest.raises(ValueError, match="batch of >= 2 samples, got 1"):
        bn.forward_batch([[1.0]])
    with pytest.raises(ValueError, match="forward_batch"):
        bn([1.0])


# --- Dropout -------------------------------------------------------------------------------------------
def test_dropout_zeroes_with_probability_p_and_scales_the_rest():
    p, n = 0.3, 4000
    x = [Value(1.0 + i % 7) for i in range(n)]
    out = Dropout(p, seed=5)(x)
    dropped = sum(1 for v in out if v == 0.0 and not isinstance(v, Value))
    assert abs(dropped / n - p) < 4 * math.sqrt(p * (1 - p) / n)     # a fixed seed: deterministic
    for v, o in zip(x, out):
        if isinstance(o, Value):
            assert o.data == pytest.approx(v.data / (1 - p))
    kept = [(v, o) for v, o in zip(x, out) if isinstance(o, Value)]
    sum(o for _, o in kept).backward()
    assert all(v.grad == pytest.approx(1 / (1 - p)) for v, _ in kept)


def test_dropout_is_reproducible_from_its_seed_and_off_in_eval():
    x = [[[float(i + j) for j in range(5)] for i in range(5)]]
    first, again, other = Dropout(0.5, seed=1), Dropout(0.5, seed=1), Dropout(0.5, seed=2)
    a, b = first(x), again(x)
    assert a == b and a != other(x)
    assert first(x) != a                                       # a fresh mask every call
    first.eval()
    assert first(x) is x
    assert Dropout(1.0)(x) == [[[0.0] * 5] * 5]
    with pytest.raises(ValueError, match="p must be in"):
        Dropout(1.5)


# --- Sequential, modes and checkpoints --------------------------------------------------------------------
def test_train_and_eval_reach_every_layer():
    net = Sequential(Flatten(), Dropout(0.5), BatchNorm1d(4), Layer(4, 2))
    assert net.eval() is net
    assert not net.training and not net[1].training and not net[2].training
    net.train()
    assert net.training and net[1].training and net[2].training
    with pytest.raises(TypeError, match="True or False"):
        net.train("no")


def test_sequential_gradients_match_central_differences():
    rng = random.Random(3)
    net = Sequential(Conv2d(2, 2, 2, stride=1, padding=1, seed=1), AvgPool2d(2), Flatten(),
                     Layer(8, 3, activation="tanh", seed=2))
    x = image(2, 3, 3, rng)
    coefficients = [rng.uniform(-1, 1) for _ in range(3)]
    check_against_central_differences(lambda: weighted_sum(net(x), coefficients),
                                      net.parameters() + leaves(x))


def test_a_cnn_with_batch_norm_saves_and_loads_its_running_statistics(tmp_path):
    rng = random.Random(0)
    net = Sequential(Conv2d(1, 2, 3, seed=0), ReLU(), MaxPool2d(2), Flatten(), BatchNorm1d(8),
                     Dropout(0.2, seed=3), Layer(8, 3, seed=1))
    net.forward_batch([image(1, 6, 6, rng, values=False) for _ in range(4)])
    path = tmp_path / "cnn.json"
    net.save(str(path))
    loaded = load_model(str(path))
    assert loaded.config() == net.config()
    assert loaded.state_dict() == net.state_dict()
    assert [v.data for v in loaded[4].running_var] == [v.data for v in net[4].running_var]
    assert "layers[4].running_mean" in json.loads(path.read_text())["state_dict"]
    x = image(1, 6, 6, rng, values=False)
    assert data(loaded.eval()(x)) == data(net.eval()(x))
    other = Sequential(Conv2d(1, 3, 3), ReLU(), MaxPool2d(2), Flatten(), BatchNorm1d(12), Layer(12, 3))
    with pytest.raises(CheckpointError, match="Conv2d"):
        other.load(str(path))


def test_bad_cnn_checkpoints_are_refused_by_name(tmp_path):
    net = Sequential(Conv2d(1, 1, 2), Flatten(), Layer(4, 2))
    path = tmp_path / "cnn.json"
    net.save(str(path))
    doc = json.loads(path.read_text())
    cases = [("layers", [{"type": "Conv3d"}], "layers\\[0\\]: unknown model type 'Conv3d'"),
             ("layers", [{"type": "Conv2d", "in_channels": 1, "out_channels": 1, "kernel_size": 0}],
              "layers\\[0\\]: Conv2d: kernel_size"),
             ("layers", "conv", "Sequential")]
    for key, value, message in cases:
        bad = json.loads(json.dumps(doc))
        bad["model"][key] = value
        path.write_text(json.dumps(bad))
        with pytest.raises(CheckpointError, match=message):
            load_model(str(path))
    bad = json.loads(json.dumps(doc))
    bad["state_dict"]["layers[0].weight[0]"] = [0.0, 1.0, 2.0]
    path.write_text(json.dumps(bad))
    with pytest.raises(CheckpointError, match="layers\\[0\\].weight\\[0\\] has 3 numbers"):
        load_model(str(path))


def test_small_lenet_has_the_documented_size():
    assert small_lenet().num_parameters() == 156 + 2416 + 2570 == 5142
    assert small_lenet(batch_norm=True).num_parameters() == 5142 + 512
    out = small_lenet()([[[0.5] * 28 for _ in range(28)]])
    assert len(out) == 10 and all(isinstance(v, Value) for v in out)


# --- train mnist --model cnn, end to end on a slice of the bundled subset --------------------------------
def run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("model, batch", [("cnn", "1"), ("cnn-bn", "4")])
def test_train_mnist_cnn_saves_a_checkpoint_that_evaluate_reads(tmp_path, model, batch):
    path = tmp_path / f"{model}.json"
    code, out, err = run(["train", "mnist", "--subset", "--model", model, "--limit", "24",
                          "--val-limit", "12", "--batch-size", batch, "--lr", "0.05",
                          "--no-progress", "--json", "--save", str(path)])
    assert code == 0, err
    report = json.loads(out)
    assert report["num_parameters"] == (5142 if model == "cnn" else 5654)
    assert report["samples_trained"] == 24 and report["model"]["type"] == "Sequential"
    code, out, err = run(["evaluate", str(path), "--json", "--no-progress"])
    assert code == 0, err
    result = json.loads(out)
    assert result["num_samples"] == 12
    assert result["accuracy"] == pytest.approx(report["final_val_accuracy"])
    assert result["loss"] == pytest.approx(report["final_val_loss"])
    untrained = small_lenet(batch_norm=model == "cnn-bn")
    assert load_model(str(path)).state_dict() != untrained.state_dict()


def test_cnn_with_batch_norm_needs_minibatches(capsys):
    assert main(["train", "mnist", "--subset", "--model", "cnn-bn", "--no-progress"]) == 2
    assert "--batch-size >= 2" in capsys.readouterr().err
