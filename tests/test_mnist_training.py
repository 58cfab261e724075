"""`microgrador train mnist` and `microgrador evaluate` on the bundled MNIST subset, with
small hidden layers so the file stays fast (full runs on the real data are checked by
hand: see bench/ and the README)."""
import contextlib
import io
import json
import math
import random
from collections import Counter
from operator import mul

import pytest

from microgrador import datasets
from microgrador.cli import main
from microgrador.datasets import load_mnist
from microgrador.engine import Value
from microgrador.nn import MLP, load_model, read_checkpoint
from microgrador.optim import SGD
from microgrador import training
from microgrador.training import PixelView, train

CLOSED_PORT = "http://127.0.0.1:1/"       # nothing listens there: connection refused at once
HIDDEN = 16
SHORT = ["train", "mnist", "--subset", "--limit", "1000", "--hidden", str(HIDDEN), "--lr", "0.1",
         "--no-progress"]


def run(argv):
    """main(argv) -> (exit code, stdout, stderr), usable outside a test function."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One short training run on the subset, saved, with its --json report."""
    path = tmp_path_factory.mktemp("mnist") / "model.json"
    code, out, err = run(SHORT + ["--json", "--save", str(path)])
    assert code == 0, err
    return path, json.loads(out)


@pytest.fixture(scope="module")
def validation():
    """The subset's validation images as (pixel tuples, labels), straight from the loader."""
    _, val, _ = load_mnist(subset=True)
    return [val.pixels(i) for i in range(len(val))], list(val.labels)


def hand_predict(state, hidden, x):
    """The class a 784-HIDDEN(sigmoid)-10 network predicts, from its saved numbers."""
    h = []
    for j in range(hidden):
        z = sum(map(mul, state[f"layers[0].neurons[{j}].w"], x)) + state[f"layers[0].neurons[{j}].b"]
        h.append(1.0 / (1.0 + math.exp(-z)))
    o = [sum(map(mul, state[f"layers[1].neurons[{k}].w"], h)) + state[f"layers[1].neurons[{k}].b"]
         for k in range(10)]
    return o.index(max(o))


def hand_sgd(net, images, limit, steps, lr, seed):
    """Per-sample SGD of a 784-H(sigmoid)-10 softmax network written out by hand (no
    Values): the first `steps` samples of the first `limit` images in the order
    random.Random(seed).shuffle gives, each step at the weights the previous one left.
    Returns (mean loss of those steps, each measured before its step; the weights after
    them, in net.parameters() order). Only the starting numbers come from `net`."""
    hidden = [[p.data for p in n.params] for n in net.layers[0].neurons]   # w..., b
    output = [[p.data for p in n.params] for n in net.layers[1].neurons]
    order = list(range(limit))
    random.Random(seed).shuffle(order)
    total = 0.0
    for i in order[:steps]:
        x, t = images.pixels(i), images.label(i)
        h = [1.0 / (1.0 + math.exp(-(sum(map(mul, row, x)) + row[-1]))) for row in hidden]
        z = [sum(map(mul, row, h)) + row[-1] for row in output]
        top = max(z)
        e = [math.exp(v - top) for v in z]
        p = [v / sum(e) for v in e]
        total += -math.log(p[t])
        dz = [p[k] - (k == t) for k in range(len(z))]                 # d loss / d z
        dh = [sum(dz[k] * output[k][j] for k in range(len(z))) for j in range(len(h))]
        for k, row in enumerate(output):
            for j in range(len(h)):
                row[j] -= lr * dz[k] * h[j]
            row[-1] -= lr * dz[k]
        for j, row in enumerate(hidden):
            da = dh[j] * h[j] * (1.0 - h[j])                          # through the sigmoid
            for i2, v in enumerate(x):
                row[i2] -= lr * da * v
            row[-1] -= lr * da
    return total / steps, [v for row in hidden + output for v in row]


def test_json_report_of_a_short_run_has_the_figures(trained):
    _, report = trained
    assert report["dataset"] == "mnist" and report["num_train"] == 1000 and report["num_val"] == 500
    assert report["model"] == {"type": "MLP", "nin": 784, "sizes": [HIDDEN, 10],
                               "activation": "sigmoid", "output_activation": "identity"}
    assert report["num_parameters"] == HIDDEN * 785 + 10 * (HIDDEN + 1)
    assert report["val_split"] == "validation" and report["data"]["subset"] is True
    [epoch] = report["epochs"]
    assert set(epoch) == {"epoch", "train_loss", "val_loss", "val_accuracy", "seconds"}
    assert report["final_val_accuracy"] == epoch["val_accuracy"]
    assert report["samples_trained"] == 1000 and report["interrupted"] is False
    assert report["total_seconds"] > report["train_seconds"] > 0 and report["peak_rss_mb"] > 0


def test_a_short_run_clearly_beats_chance(trained, validation):
    path, report = trained
    assert report["final_val_accuracy"] > 0.7          # chance is 10%
    # the reported figure is what the saved weights really do, by a hand-written forward pass
    state = read_checkpoint(str(path))["state_dict"]
    xs, ys = validation
    correct = sum(hand_predict(state, HIDDEN, x) == y for x, y in zip(xs, ys))
    assert report["final_val_accuracy"] == correct / len(ys)


def test_evaluate_the_checkpoint_gives_the_same_accuracy_and_a_consistent_matrix(trained, validation):
    path, report = trained
    code, out, err = run(["evaluate", str(path), "--json", "--no-progress"])
    assert code == 0, err
    result = json.loads(out)
    _, ys = validation
    assert result["split"] == "validation" and result["num_samples"] == len(ys) == 500
    assert result["accuracy"] == report["final_val_accuracy"]
    matrix = result["confusion_matrix"]
    counts = Counter(ys)
    assert [sum(row) for row in matrix] == [counts[c] for c in range(10)]
    assert sum(matrix[c][c] for c in range(10)) == result["correct"] == round(result["accuracy"] * 500)

    code, text, _ = run(["evaluate", str(path), "--no-progress"])   # the same, as text
    assert code == 0
    assert f"accuracy {100 * result['accuracy']:.2f}% ({result['correct']:,} of 500)" in text
    rows = [line.split() for line in text.splitlines() if line[:4].strip().isdigit()]
    assert [[int(v) for v in row[1:11]] for row in rows] == matrix


def test_ctrl_c_stops_cleanly_and_still_saves(tmp_path, monkeypatch):
    calls = []
    real_step = SGD.backward_and_step   # what train() calls after each forward pass

    def step_then_interrupt(self, loss, grad=1.0):
        if len(calls) == 120:                        # Ctrl-C during the 121st step
            raise KeyboardInterrupt
        calls.append(1)
        real_step(self, loss, grad)

    monkeypatch.setattr(SGD, "backward_and_step", step_then_interrupt)
    path = tmp_path / "stopped.json"
    code, out, err = run(["train", "mnist", "--subset", "--limit", "400", "--hidden", "4",
                          "--no-progress", "--json", "--save", str(path)])
    assert code == 130
    assert "interrupted after 120 training samples" in err and "saving" in err
    report = json.loads(out)
    assert report["interrupted"] is True and report["samples_trained"] == 120
    [epoch] = report["epochs"]
    # the mean loss of the 120 steps taken, and the weights after them, by a hand replay
    untrained = MLP(784, [4, 10], activation="sigmoid", seed=0)
    train_set, _, _ = load_mnist(subset=True)
    hand_loss, hand_weights = hand_sgd(untrained, train_set, 400, steps=120, lr=0.05, seed=0)
    assert set(epoch) == {"epoch", "train_loss", "samples", "interrupted", "seconds"}
    assert epoch["epoch"] == 1 and epoch["samples"] == 120 and epoch["interrupted"] is True
    assert epoch["train_loss"] == pytest.approx(hand_loss, rel=1e-9)
    assert 0 < epoch["seconds"] <= report["total_seconds"]
    model = load_model(str(path))                    # a whole, loadable checkpoint
    assert [p.data for p in model.parameters()] != [p.data for p in untrained.parameters()]
    assert [p.data for p in model.parameters()] == pytest.approx(hand_weights, rel=1e-9, abs=1e-12)
    assert read_checkpoint(str(path))["meta"]["interrupted"] is True


def test_ctrl_c_while_validating_keeps_the_finished_training_epoch(monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "evaluate", interrupted)
    xs, ys = [(1.0, 0.0), (0.0, 1.0), (1.0, 1.0)], [0, 1, 1]
    model = MLP(2, [2], seed=0)
    history = train(model, SGD(model.parameters(), lr=0.1), (xs, ys), (xs, ys), epochs=3,
                    progress=False)
    assert history.interrupted and history.samples == 3
    [epoch] = history.epochs
    assert epoch["epoch"] == 1 and epoch["interrupted"] is True and "val_accuracy" not in epoch
    assert epoch["train_loss"] > 0


def test_offline_without_data_dir_falls_back_to_the_subset_and_says_so(tmp_path, monkeypatch):
    monkeypatch.delenv("MICROGRADOR_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))    # an empty cache
    monkeypatch.setitem(datasets.MIRRORS, "mnist", [CLOSED_PORT])    # no mirror answers
    code, out, err = run(["train", "mnist", "--limit", "20", "--val-limit", "20", "--hidden", "2",
                          "--no-progress"])
    assert code == 0, err
    lines = [line for line in err.splitlines() if "bundled subset" in line]
    assert len(lines) == 1 and "could not be downloaded" in lines[0]
    assert "MNIST from the bundled subset" in out


def test_evaluate_refuses_bad_files_by_name(tmp_path):
    cases = {
        "truncated.json": ('{"format": "microgrador-checkpoint", "vers', "not valid JSON"),
        "empty.json": ("", "is empty"),
        "other.json": ('{"weights": [1, 2]}', "not a microgrador checkpoint"),
    }
    for name, (text, expected) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        code, out, err = run(["evaluate", str(path), "--no-progress"])
        assert code == 2 and out == ""
        assert str(path) in err and expected in err
    binary = tmp_path / "image.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    code, _, err = run(["evaluate", str(binary)])
    assert code == 2 and "not a text file" in err
    code, _, err = run(["evaluate", str(tmp_path / "missing.json")])
    assert code == 2 and "cannot read" in err and "missing.json" in err
    wrong_shape = tmp_path / "synth.json"
    MLP(2, [3, 2], activation="sigmoid").save(str(wrong_shape))
    code, _, err = run(["evaluate", str(wrong_shape), "--subset", "--no-progress"])
    assert code == 2 and "2 inputs" in err and "784 inputs" in err


def test_bad_options_are_refused(capsys):
    for argv in (["--hidden", "0"], ["--limit", "0"], ["--activation", "swish"],
                 ["--batch-size", "0"]):
        with pytest.raises(SystemExit) as stop:      # argparse refuses them, before any data
            main(["train", "mnist", "--subset", "--no-progress"] + argv)
        assert stop.value.code == 2
    assert main(["train", "mnist", "--subset", "--no-progress", "--init", "gaussian"]) == 2
    err = capsys.readouterr().err
    assert "--hidden: expected an integer >= 1" in err and "invalid choice: 'swish'" in err
    assert "--batch-size: expected an integer >= 1" in err and "'gaussian'" in err
    with pytest.raises(SystemExit):                  # argparse: the two sources exclude each other
        main(["train", "mnist", "--subset", "--data-dir", "x"])


def test_minibatch_steps_with_the_mean_gradient():
    """A single-layer softmax classifier, two samples in one batch of 2, computed by
    hand: dL/dW[k][i] = (softmax(z)_k - [k = t]) x_i, averaged over the batch."""
    W = [[0.1, -0.2, 0.3], [0.0, 0.5, -0.4]]
    xs, ys = [(1.0, 2.0, -1.0), (0.5, -1.0, 2.0)], [1, 0]
    model = MLP(3, [2], weights=[W], biases=[[0.0, 0.0]])
    train(model, SGD(model.parameters(), lr=0.5), (xs, ys), epochs=1, shuffle=False,
          progress=False, batch_size=2)
    expected_w = [row[:] for row in W]
    expected_b = [0.0, 0.0]
    for x, t in zip(xs, ys):
        z = [sum(w * v for w, v in zip(row, x)) for row in W]        # the weights before the step
        e = [math.exp(v) for v in z]
        p = [v / sum(e) for v in e]
        for k in range(2):
            g = p[k] - (1.0 if k == t else 0.0)
            expected_b[k] -= 0.5 * g / 2
            for i in range(3):
                expected_w[k][i] -= 0.5 * g * x[i] / 2
    got = [[p.data for p in n.params] for n in model.layers[0].neurons]
    for k in range(2):
        assert got[k] == pytest.approx(expected_w[k] + [expected_b[k]], abs=1e-12)


class _Line:
    """y = w x with one weight: small enough to follow every SGD step by hand.
    With `batchwise`, train() runs a minibatch through forward_batch() and takes one
    backward() of the summed loss, the path a Sequential with BatchNorm1d takes."""

    def __init__(self, w: float, batchwise: bool) -> None:
        self.w = Value(w)
        self.batchwise = batchwise

    def __call__(self, x):
        return self.w * x

    def forward_batch(self, xs):
        return [self.w * x for x in xs]


@pytest.mark.parametrize("batchwise", [False, True])
def test_a_partial_last_batch_steps_with_its_own_mean_gradient(batchwise):
    """Three samples in batches of 2: the second batch has one sample, and its step
    must use that sample's whole gradient (scale 1/1, not 1/batch_size). Squared error
    (w x - y)^2 has d/dw = 2 (w x - y) x; worked out by hand, lr 0.1, w = 0 at first:
      batch [0, 1] at w = 0: gradients 2(0 - 2)1 = -4 and 2(0 - 4)2 = -16, mean -10,
                             so w = 0 - 0.1 (-10) = 1;
      batch [2]    at w = 1: gradient 2(1*3 - 6)3 = -18, so w = 1 - 0.1 (-18) = 2.8
    (1/batch_size would give 1.9). The losses, each before its step: 4, 16 and 9."""
    model = _Line(0.0, batchwise)
    xs, ys = [1.0, 2.0, 3.0], [2.0, 4.0, 6.0]
    history = train(model, SGD([model.w], lr=0.1), (xs, ys), epochs=1, shuffle=False,
                    progress=False, batch_size=2, loss_fn=lambda out, y: (out - y) ** 2)
    assert model.w.data == pytest.approx(2.8, abs=1e-12)
    assert history.samples == 3
    assert history.epochs[0]["train_loss"] == pytest.approx((4 + 16 + 9) / 3, abs=1e-12)


def test_pixel_view_scales_grey_levels_to_the_unit_interval():
    view = PixelView([bytes([0, 255, 51]), bytes([102, 1, 254])])
    assert len(view) == 2
    assert view[0] == (0.0, 1.0, 0.2) and view[1] == (0.4, 1 / 255, 254 / 255)
    assert type(view[1]) is tuple and all(type(v) is float for v in view[1])


def test_pixel_views_slice_into_views_and_name_a_bad_index():
    from microgrador.datasets import ImageView
    view = PixelView([bytes([0, 255, 51]), bytes([102, 1, 254]), bytes([255, 0, 0])])
    head = view[:2]
    assert type(head) is PixelView and len(head) == 2 and head[1] == (0.4, 1 / 255, 254 / 255)
    assert view[1:][1] == (1.0, 0.0, 0.0) and view[-1] == (1.0, 0.0, 0.0)
    with pytest.raises(IndexError, match=r"image 3 does not exist: there are 3 \(0\.\.2\)"):
        view[3]
    with pytest.raises(TypeError, match="indexed by an int or a slice, not a str"):
        view["0"]
    images = ImageView([bytes([0, 255, 51, 102]), bytes([255] * 4)], cols=2)
    assert images[1] == [[(1.0, 1.0), (1.0, 1.0)]]
    tail = images[1:]
    assert type(tail) is ImageView and len(tail) == 1 and tail[0] == [[(1.0, 1.0), (1.0, 1.0)]]
    assert images[0] == [[(0.0, 1.0), (0.2, 0.4)]]
    with pytest.raises(IndexError, match="image 2 does not exist"):
        images[2]


def test_train_fashion_reads_its_own_folder_and_evaluate_follows_its_data_set(tmp_path, monkeypatch):
    """`train fashion` is the MNIST command on FashionMNIST files (same format): here a
    folder made from the bundled subset's files under the standard names."""
    import shutil
    monkeypatch.delenv("MICROGRADOR_DATA", raising=False)
    folder = tmp_path / "fashion"
    folder.mkdir()
    for base in datasets.FILES:
        shutil.copy(f"{datasets.SUBSET_DIR}/{datasets.SUBSET_PREFIX}{base}.gz", folder / f"{base}.gz")
    model = tmp_path / "fashion.json"
    code, out, err = run(["train", "fashion", "--data-dir", str(folder), "--final", "--limit", "300",
                          "--hidden", "8", "--no-progress", "--json", "--save", str(model)])
    assert code == 0, err
    report = json.loads(out)
    assert report["dataset"] == "fashion" and report["data"]["dataset"] == "fashion"
    # The folder is given again: evaluate never reads or writes where a checkpoint says.
    code, out, err = run(["evaluate", str(model), "--json", "--no-progress", "--data-dir", str(folder)])
    assert code == 0, err
    evaluated = json.loads(out)
    assert evaluated["dataset"] == "fashion" and evaluated["split"] == "test"
    assert evaluated["num_samples"] == 1000
    assert evaluated["accuracy"] == report["final_val_accuracy"]
    code, out, err = run(["evaluate", str(model), "--no-progress", "--data-dir", str(folder)])
    assert "FashionMNIST test set" in out
    code, _, err = run(["evaluate", str(model), "--subset", "--no-progress"])
    assert code == 2 and "no bundled subset of FashionMNIST" in err


@pytest.mark.parametrize("argv, lr", [
    (["--model", "mlp", "--hidden", "4"], 0.05),
    (["--model", "cnn"], 0.0075),         # 0.05 makes the CNN diverge within an epoch
    (["--model", "cnn", "--lr", "0.02"], 0.02),
])
def test_the_default_learning_rate_follows_the_model(argv, lr):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["train", "mnist", "--subset", "--limit", "3", "--val-limit", "2",
                     "--json", "--no-progress"] + argv)
    assert code == 0
    report = json.loads(out.getvalue())
    assert report["lr"] == lr and f"lr={lr}" in report["optimizer"]


def test_training_steps_run_with_the_collector_paused_and_it_is_back_after_ctrl_c(monkeypatch):
    import gc
    seen = []
    real_step = SGD.backward_and_step   # what train() calls after each forward pass

    def watched_step(self, loss, grad=1.0):
        seen.append(gc.isenabled())
        if len(seen) == 5:
            raise KeyboardInterrupt
        real_step(self, loss, grad)

    monkeypatch.setattr(SGD, "backward_and_step", watched_step)
    xs, ys = [(1.0, 0.0), (0.0, 1.0), (1.0, 1.0)] * 3, [0, 1, 1] * 3
    model = MLP(2, [2], seed=0)
    assert gc.isenabled()
    history = train(model, SGD(model.parameters(), lr=0.1), (xs, ys), None, epochs=1,
                    progress=False)
    assert seen == [False] * 5                 # every step ran with the collector off
    assert history.interrupted and history.samples == 4
    assert gc.isenabled()                      # and Ctrl-C left it on again


def test_train_takes_any_object_with_step_and_zero_grad():
    # an optimizer of one's own, not a microgrador.optim.Optimizer: train() calls its
    # step() then zero_grad() after each backward, and zero_grad() once before
    from microgrador import Value
    w = Value(1.0)
    calls = []

    class Halving:
        def step(self):
            calls.append(("step", w.grad))
            w.data -= 0.5 * w.grad

        def zero_grad(self):
            calls.append(("zero", w.grad))
            w.grad = 0.0

    w.grad = 7.0   # left over from before: cleared first
    train(lambda x: w * x[0], Halving(), ([(2.0,), (1.0,)], [0.0, 0.0]), shuffle=False,
          progress=False, loss_fn=lambda out, y: (out - y) ** 2)
    # loss (w x)^2: dL/dw = 2 w x^2 = 8 at w=1, x=2 -> w = -3; then 2 * -3 * 1 = -6 -> w = 0
    assert calls == [("zero", 7.0), ("step", 8.0), ("zero", 8.0), ("step", -6.0), ("zero", -6.0)]
    assert w.data == 0.0
