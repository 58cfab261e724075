"""The synthetic data set, the training loop and evaluation helpers, and
`microgrador train synth` (on reduced sizes: the full 3-epoch runs are checked by hand)."""
import json
import math
import statistics
import subprocess
import sys

import pytest

from microgrador.cli import main
from microgrador.losses import cross_entropy
from microgrador.nn import MLP, load_model
from microgrador.optim import SGD
from microgrador.synth import load_synth
from microgrador.training import accuracy, argmax, evaluate, predict, train

Q = [[1.0, -0.05], [1.0, 0.4]]


def quadratic_form(x):
    """x^T Q x as a double sum, straight from the definition."""
    return sum(x[i] * Q[i][j] * x[j] for i in range(2) for j in range(2))


def test_shapes_types_and_sizes():
    (xt, yt), (xv, yv), num_classes = load_synth(num_train=500, num_val=200, seed=3)
    assert num_classes == 2
    assert len(xt) == len(yt) == 500 and len(xv) == len(yv) == 200
    assert all(type(x) is tuple and len(x) == 2 and all(type(v) is float for v in x) for x in xt + xv)
    assert set(yt + yv) == {0, 1} and all(type(y) is int for y in yt + yv)


def test_every_label_agrees_with_the_quadratic_form():
    (xt, yt), (xv, yv), _ = load_synth(num_train=20000, num_val=5000, seed=0)
    for x, y in zip(xt + xv, yt + yv):
        assert y == (1 if quadratic_form(x) > 0.6 else 0), x


def test_points_are_standard_normal_and_both_classes_are_common():
    (xt, yt), _, _ = load_synth(num_train=20000, num_val=0, seed=1)
    for i in range(2):
        column = [x[i] for x in xt]
        assert statistics.fmean(column) == pytest.approx(0.0, abs=0.04)
        assert statistics.pstdev(column) == pytest.approx(1.0, abs=0.03)
    assert 0.2 < sum(yt) / len(yt) < 0.8


def test_a_seed_reproduces_the_data():
    assert load_synth(300, 100, seed=5) == load_synth(300, 100, seed=5)
    assert load_synth(300, 100, seed=5)[0] != load_synth(300, 100, seed=6)[0]
    # the validation set does not depend on the size of the training set
    assert load_synth(300, 100, seed=5)[1] == load_synth(10, 100, seed=5)[1]
    # and does not repeat the training set
    assert set(load_synth(300, 300, seed=5)[0][0]).isdisjoint(load_synth(300, 300, seed=5)[1][0])


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_train"):
        load_synth(num_train=-1)
    with pytest.raises(TypeError, match="seed"):
        load_synth(10, 10, seed="a")


# --- training and evaluation ------------------------------------------------------------------------
def test_a_short_training_run_learns():
    train_data, val_data, _ = load_synth(num_train=10000, num_val=2000, seed=0)
    model = MLP(2, [3, 2], activation="sigmoid", init="normal(1)", seed=0)
    before = evaluate(model, *val_data)
    history = train(model, SGD(model.parameters(), lr=0.05), train_data, val_data, epochs=1,
                    seed=0, progress=False)
    (epoch,) = history.epochs
    assert epoch["epoch"] == 1 and epoch["seconds"] > 0 and history.total_seconds > 0
    assert epoch["val_accuracy"] > 0.90
    assert epoch["val_loss"] < 0.5 * before[0]
    first, last = history.curve[0][1], history.curve[-1][1]
    assert last < 0.4 * first                              # the training loss falls
    assert len(history.curve) == 50 and history.curve[-1][0] == 1.0
    assert (epoch["val_loss"], epoch["val_accuracy"]) == evaluate(model, *val_data)
    assert accuracy(model, *val_data) == epoch["val_accuracy"]


def test_training_is_reproducible_and_shuffles_with_the_seed():
    train_data, _, _ = load_synth(num_train=300, num_val=0, seed=0)

    def run(seed, shuffle=True):
        model = MLP(2, [3, 2], activation="sigmoid", init="normal(1)", seed=0)
        train(model, SGD(model.parameters(), lr=0.05), train_data, epochs=2, seed=seed,
              shuffle=shuffle, progress=False)
        return model.state_dict()

    assert run(1) == run(1)
    assert run(1) != run(2)
    assert run(1, shuffle=False) == run(2, shuffle=False)


def test_evaluation_helpers_on_a_hand_set_model():
    # output 0 - output 1 = x1: class 0 iff x1 > 0 (ties go to the first class)
    model = MLP(2, [2], activation="identity", weights=[[[1.0, 0.0], [0.0, 0.0]]])
    assert argmax([0.3, 0.7, 0.1]) == 1 and argmax([0.5, 0.5]) == 0
    assert predict(model, (2.0, 5.0)) == 0 and predict(model, (-2.0, 5.0)) == 1
    xs, ys = [(1.0, 0.0), (-1.0, 0.0), (3.0, 0.0)], [0, 0, 1]
    assert accuracy(model, xs, ys) == pytest.approx(1 / 3)
    loss, acc = evaluate(model, xs, ys)
    # cross-entropy of logits [x1, 0]: log(1 + e^-x1) for class 0, log(1 + e^x1) for class 1
    expected = (math.log(1 + math.exp(-1)) + math.log(1 + math.exp(1)) + math.log(1 + math.exp(3))) / 3
    assert loss == pytest.approx(expected, rel=1e-12) and acc == pytest.approx(1 / 3)
    assert cross_entropy(model((1.0, 0.0)), 0).data == pytest.approx(math.log(1 + math.exp(-1)))


def test_train_refuses_bad_input():
    model = MLP(2, [2])
    opt = SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="3 samples but 2 labels"):
        train(model, opt, ([(0.0, 0.0)] * 3, [0, 1]), progress=False)
    with pytest.raises(ValueError, match="epochs"):
        train(model, opt, ([(0.0, 0.0)], [0]), epochs=0, progress=False)


# --- the command ------------------------------------------------------------------------------------
SMALL = ["train", "synth", "--num-train", "3000", "--num-val", "500", "--lr", "0.05",
         "--epochs", "2", "--no-progress"]


def test_train_synth_json(capsys):
    assert main(SMALL + ["--json"]) == 0
    out = capsys.readouterr().out
    report = json.loads(out)                               # one JSON object, nothing else
    assert [e["epoch"] for e in report["epochs"]] == [1, 2]
    for e in report["epochs"]:
        assert set(e) == {"epoch", "train_loss", "val_loss", "val_accuracy", "seconds"}
    assert report["epochs"][1]["train_loss"] < report["epochs"][0]["train_loss"]
    assert report["final_val_accuracy"] == report["epochs"][-1]["val_accuracy"] > 0.8
    assert report["num_parameters"] == 17 and report["model"]["sizes"] == [3, 2]
    assert report["num_train"] == 3000 and report["num_val"] == 500 and report["lr"] == 0.05
    assert report["total_seconds"] > 0


def test_train_synth_text_and_checkpoint(tmp_path, capsys):
    path = tmp_path / "synth.json"
    assert main(SMALL + ["--hidden", "4", "--save", str(path)]) == 0
    out = capsys.readouterr().out
    assert "epoch 1/2  train loss" in out and "val accuracy" in out and "total time" in out
    assert "MLP(2 -> 4 -> 2" in out
    model = load_model(str(path))
    _, val_data, _ = load_synth(0, 500, seed=0)
    last = [line for line in out.splitlines() if line.startswith("epoch 2/2")][0]
    assert f"val accuracy {100 * accuracy(model, *val_data):.2f}%" in last


def test_train_synth_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    path = tmp_path / "loss.png"
    assert main(SMALL + ["--epochs", "1", "--plot", str(path)]) == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_history_leaves_the_pyplot_backend_alone(tmp_path):
    """Saving a plot must not switch pyplot's backend (that would turn off inline
    plots in a notebook), so it must not even import pyplot."""
    pytest.importorskip("matplotlib")
    path = tmp_path / "loss.png"
    code = ("import sys\n"
            "from microgrador.training import History, plot_history\n"
            "h = History(); h.curve = [(0.5, 0.6), (1.0, 0.4)]\n"
            "h.epochs = [{'epoch': 1, 'val_loss': 0.4, 'val_accuracy': 0.9}]\n"
            f"plot_history(h, {str(path)!r}, 'title')\n"
            "print('matplotlib.pyplot' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_train_synth_plot_without_matplotlib_says_how_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)   # import matplotlib now fails
    assert main(SMALL + ["--plot", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert 'pip install "microgrador[plot]"' in err
    assert not (tmp_path / "x.png").exists()


def test_train_synth_bad_options(capsys):
    assert main(["train", "synth", "--init", "gaussian", "--no-progress"]) == 2
    assert "unknown initialisation 'gaussian'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "synth", "--hidden", "0"])
    assert main(["train"]) == 2                            # no data set: the help
    assert "synth" in capsys.readouterr().out
