"""Hostile and careless input at the edges: output paths checked before any work,
bounded reading of checkpoints and data, numerics at extreme values, and first-contact
messages (issue 14)."""
import contextlib
import io
import json
import os
import signal
import subprocess
import sys

import pytest

import microgrador as mg
from microgrador import datasets, nn, synth, train_cli
from microgrador.cli import main
from microgrador.nn import MLP, Module


def run(argv):
    """main(argv) -> (exit code, stdout, stderr); argparse's exit becomes its code."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as e:
            code = e.code
    return code, out.getvalue(), err.getvalue()


SYNTH = ["train", "synth", "--num-train", "200", "--num-val", "50", "--epochs", "1", "--no-progress"]


@pytest.fixture
def no_data(monkeypatch):
    """Loading or making any data set fails the test: the command must stop before."""
    def refuse(*args, **kwargs):
        raise AssertionError("data was loaded")
    monkeypatch.setattr(synth, "load_synth", refuse)
    monkeypatch.setattr(datasets, "load_mnist", refuse)


# --- 1. output paths and options, checked before any data is loaded ---------------------------
@pytest.mark.parametrize("option, path, expected", [
    ("--save", "/nonexistent/x.json", "does not exist"),
    ("--plot", "/nonexistent/p.png", "does not exist"),
    ("--plot", "loss.xyz", "unknown image format 'xyz'"),
    ("--plot", "loss", "unknown image format '(no ending)'"),
])
def test_output_paths_are_checked_before_the_data(option, path, expected, no_data):
    code, out, err = run(SYNTH + [option, path])
    assert code == 2 and expected in err and path in err


def test_an_output_folder_that_is_not_writable_is_refused(tmp_path, no_data):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as root: every folder is writable")
        code, _, err = run(SYNTH + ["--save", str(folder / "m.json")])
        assert code == 2 and "not writable" in err
    finally:
        folder.chmod(0o700)


@pytest.mark.parametrize("argv, expected", [
    (["--lr", "-1"], "--lr: expected a number > 0"),
    (["--lr", "nan"], "--lr: expected a number > 0"),
    (["--epochs", "0"], "--epochs: expected an integer >= 1"),
    (["--momentum", "-0.5"], "--momentum: expected a number >= 0"),
    (["--hidden", "0"], "--hidden: expected an integer >= 1"),
    (["--num-train", "x"], "--num-train: expected an integer >= 1"),
])
def test_bad_options_are_refused_before_the_data(argv, expected, no_data):
    code, _, err = run(SYNTH + argv)
    assert code == 2 and expected in err


def test_a_failing_plot_does_not_cost_the_checkpoint(tmp_path, monkeypatch):
    def broken_plot(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(train_cli, "plot_history", broken_plot)
    model = tmp_path / "ok.json"
    code, out, err = run(SYNTH + ["--plot", str(tmp_path / "p.png"), "--save", str(model)])
    assert code == 1 and "cannot save the plot" in err and "disk full" in err
    assert nn.load_model(str(model)).config()["nin"] == 2
    assert "model saved to" in out


@pytest.mark.parametrize("signum, exit_code, handler", [
    (signal.SIGINT, 0, signal.default_int_handler),   # Ctrl-C again, mid-save
    (signal.SIGTERM, 143, signal.SIG_DFL),            # `kill`, mid-save: then exit 128 + 15
    (signal.SIGHUP, 129, signal.SIG_DFL),             # the terminal closed, mid-save
])
def test_a_signal_while_saving_lets_the_save_finish(tmp_path, monkeypatch, signum, exit_code,
                                                     handler):
    real_save = Module.save

    def save_with_signal(self, path, meta=None):
        os.kill(os.getpid(), signum)
        real_save(self, path, meta)
    monkeypatch.setattr(Module, "save", save_with_signal)
    model = tmp_path / "m.json"
    code, out, err = run(SYNTH + ["--save", str(model)])
    assert code == exit_code and "still saving" in err
    assert nn.load_model(str(model)).num_parameters() == 17
    assert signal.getsignal(signum) is handler                 # the handler is restored


@pytest.mark.parametrize("signum, exit_code", [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_sigterm_or_sighup_while_training_stops_it_as_ctrl_c_and_saves(tmp_path, monkeypatch,
                                                                        signum, exit_code):
    from microgrador.optim import SGD
    steps = []
    real_step = SGD.backward_and_step   # what training calls after each forward pass

    def step_then_signal(self, loss, grad=1.0):
        steps.append(1)
        if len(steps) == 50:
            os.kill(os.getpid(), signum)       # delivered here, in the 50th step
        real_step(self, loss, grad)
    monkeypatch.setattr(SGD, "backward_and_step", step_then_signal)
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}
    model = tmp_path / "m.json"
    code, out, err = run(SYNTH + ["--save", str(model), "--json"])
    assert code == exit_code
    name = signal.Signals(signum).name
    assert f"{name} after 49 training samples" in err and "saving the model trained so far" in err
    report = json.loads(out)
    assert report["interrupted"] is True and report["samples_trained"] == 49
    saved = nn.load_model(str(model))
    assert saved.num_parameters() == 17
    assert nn.read_checkpoint(str(model))["meta"]["samples_trained"] == 49
    assert {s: signal.getsignal(s) for s in before} == before     # the handlers are restored


@pytest.mark.parametrize("failure", [OSError("disk full"), KeyboardInterrupt()])
def test_a_failed_save_leaves_no_temporary_file(tmp_path, monkeypatch, failure):
    def replace(src, dst):
        raise failure
    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(type(failure)):
        MLP(2, [2]).save(str(tmp_path / "m.json"))
    assert os.listdir(tmp_path) == []


def test_evaluate_refuses_a_mismatched_model_before_the_data(tmp_path, no_data):
    path = tmp_path / "synth.json"
    MLP(2, [3, 2], activation="sigmoid").save(str(path))
    code, _, err = run(["evaluate", str(path), "--no-progress"])
    assert code == 2 and "2 inputs" in err and "784 inputs" in err


def test_evaluate_into_a_closed_pipe_exits_quietly(tmp_path):
    path = tmp_path / "m.json"
    MLP(784, [2, 10]).save(str(path))
    read_end, write_end = os.pipe()
    os.close(read_end)                         # the reader is gone before anything is written
    try:
        result = subprocess.run([sys.executable, "-m", "microgrador", "evaluate", str(path),
                                 "--subset", "--limit", "20", "--no-progress"],
                                stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert result.stderr == "" and result.returncode == 141


def test_train_help_has_no_developer_text():
    code, out, _ = run(["train", "--help"])
    assert code == 0 and "register" not in out and "run_training" not in out
    assert "synth" in out and "mnist" in out


# --- 2. bounded input: checkpoints ------------------------------------------------------------
def checkpoint_text(model=None, state=None, meta=None, **extra):
    doc = {"format": "microgrador-checkpoint", "version": 1,
           "model": model or {"type": "MLP", "nin": 2, "sizes": [1], "activation": "relu",
                              "output_activation": "identity"},
           "state_dict": state if state is not None else {"layers[0].neurons[0].w": [0.5, 0.5],
                                                          "layers[0].neurons[0].b": 0.0}}
    if meta is not None:
        doc["meta"] = meta
    doc.update(extra)
    return json.dumps(doc)


def load_text(tmp_path, text):
    path = tmp_path / "c.json"
    path.write_text(text)
    return nn.load_model(str(path))


def test_a_tiny_checkpoint_cannot_ask_for_a_huge_network(tmp_path):
    text = checkpoint_text(model={"type": "MLP", "nin": 784, "sizes": [1000000000, 10],
                                  "activation": "relu", "output_activation": "identity"}, state={})
    assert len(text) < 250
    with pytest.raises(nn.CheckpointError, match="795,000,000,010 parameters, but the state_dict "
                                                 "holds 0 numbers"):
        load_text(tmp_path, text)
    many_layers = checkpoint_text(model={"type": "MLP", "nin": 1, "sizes": [1] * 1000000,
                                         "activation": "relu", "output_activation": "identity"},
                                  state={})
    with pytest.raises(nn.CheckpointError, match="2,000,000 parameters"):
        load_text(tmp_path, many_layers)


def test_a_tiny_checkpoint_cannot_ask_for_a_huge_cnn(tmp_path):
    huge_conv = {"type": "Sequential", "layers": [
        {"type": "Conv2d", "in_channels": 1, "out_channels": 10 ** 9, "kernel_size": 5,
         "stride": 1, "padding": 0}]}
    with pytest.raises(nn.CheckpointError, match="26,000,000,000 parameters, but the state_dict "
                                                 "holds 0 numbers"):
        load_text(tmp_path, checkpoint_text(model=huge_conv, state={}))
    huge_norm = {"type": "Sequential", "layers": [
        {"type": "BatchNorm1d", "num_features": 10 ** 9, "eps": 1e-5, "momentum": 0.1}]}
    with pytest.raises(nn.CheckpointError, match="2,000,000,000 parameters"):
        load_text(tmp_path, checkpoint_text(model=huge_norm, state={}))
    endless = {"type": "Sequential", "layers": [{"type": "Flatten"}] * 100000}
    with pytest.raises(nn.CheckpointError, match="100,000 layers"):
        load_text(tmp_path, checkpoint_text(model=endless, state={}))


def test_num_parameters_must_agree_with_the_state(tmp_path):
    with pytest.raises(nn.CheckpointError, match="num_parameters.*says 5"):
        load_text(tmp_path, checkpoint_text(num_parameters=5))
    assert load_text(tmp_path, checkpoint_text(num_parameters=3)).num_parameters() == 3


@pytest.mark.parametrize("weight, expected", [
    ("1" + "0" * 400, "not a finite number"),            # 10**400
    ("9" * 5000, "not a finite number"),                  # a 5,000-digit number
    ("1" * 25, None),                                     # big but a float: fine
])
def test_huge_numbers_in_a_checkpoint(tmp_path, weight, expected):
    text = checkpoint_text().replace("[0.5, 0.5]", f"[{weight}, 0.5]")
    if expected is None:
        assert load_text(tmp_path, text).parameters()[0].data == float(weight)
    else:
        with pytest.raises(nn.CheckpointError, match=expected):
            load_text(tmp_path, text)


def test_a_huge_int_in_a_state_dict_is_a_checkpoint_error():
    with pytest.raises(nn.CheckpointError, match=r"layers\[0\].neurons\[0\].w\[0\] is inf"):
        MLP(2, [1]).load_state_dict({"layers[0].neurons[0].w": [10 ** 400, 0.0],
                                     "layers[0].neurons[0].b": 0.0})


def test_deeply_nested_json_is_a_checkpoint_error(tmp_path):
    with pytest.raises(nn.CheckpointError, match="nested too deeply"):
        load_text(tmp_path, '{"format": "microgrador-checkpoint", "meta": ' + "[" * 100000)


@pytest.mark.parametrize("meta", [[], None, "text", 3])
def test_meta_of_the_wrong_type_is_a_checkpoint_error(tmp_path, meta):
    text = checkpoint_text(meta=meta) if meta is not None else checkpoint_text()[:-1] + ', "meta": null}'
    with pytest.raises(nn.CheckpointError, match='"meta" entry should be an object'):
        load_text(tmp_path, text)
    path = tmp_path / "c.json"
    code, _, err = run(["evaluate", str(path), "--no-progress"])
    assert code == 2 and '"meta" entry' in err


def test_value_of_a_huge_int_says_so():
    with pytest.raises(ValueError, match="too large for a float"):
        mg.Value(10 ** 400)
    with pytest.raises(ValueError, match="too large for a float"):
        mg.Value(2.0) * 10 ** 400


# --- 2. bounded input: data folders, downloads, IDX files ------------------------------------
def test_evaluate_never_uses_the_folder_a_checkpoint_names(tmp_path, monkeypatch):
    monkeypatch.delenv("MICROGRADOR_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setitem(datasets.MIRRORS, "mnist", ["http://127.0.0.1:1/"])   # nothing answers
    evil = tmp_path / "chosen-by-the-checkpoint"
    path = tmp_path / "m.json"
    MLP(784, [2, 10]).save(str(path), meta={"data": {"path": str(evil), "subset": False,
                                                     "dataset": "mnist"}})
    code, out, err = run(["evaluate", str(path), "--limit", "10", "--no-progress"])
    assert code == 0, err                   # offline: the default folder, then the bundled subset
    assert not evil.exists() and "bundled subset" in err


@pytest.mark.parametrize("command", [["train", "mnist", "--hidden", "2"], ["evaluate", "m.json"]])
def test_a_missing_data_dir_is_an_error_that_suggests_the_subset(tmp_path, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    MLP(784, [2, 10]).save("m.json")
    code, _, err = run(command + ["--data-dir", "typo", "--no-progress"])
    assert code == 2 and "typo does not exist" in err and "--subset" in err
    assert not (tmp_path / "typo").exists()


class _Endless:
    """A local HTTP server whose answer never ends: streams forever, or trickles."""

    def __init__(self, trickle: bool):
        import http.server
        import threading
        stop = self.stop = threading.Event()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.end_headers()            # no Content-Length: the body never says it ends
                try:
                    while not stop.is_set():
                        self.wfile.write(b"x" if trickle else bytes(1 << 16))
                        self.wfile.flush()
                        if trickle:
                            stop.wait(0.05)
                except OSError:               # the client gave up: what we want
                    pass

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def __enter__(self):
        self.thread.start()
        return self.url

    def __exit__(self, *exc):
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def test_a_mirror_that_streams_forever_is_cut_at_the_file_size(tmp_path):
    with _Endless(trickle=False) as url:
        with pytest.raises(datasets.DataError, match="sent more than the file's 9,912,422 bytes; stopped"):
            datasets.download("mnist", str(tmp_path), mirrors=[url], progress=False)
    assert os.listdir(tmp_path) == []        # no .part left behind


def test_a_mirror_that_trickles_is_abandoned_at_the_deadline(tmp_path, monkeypatch):
    monkeypatch.setitem(datasets.SIZES["mnist"], "train-images-idx3-ubyte.gz", 10 ** 9)
    with _Endless(trickle=True) as url:
        with pytest.raises(datasets.DataError, match="longer than its deadline"):
            datasets.download("mnist", str(tmp_path), mirrors=[url], progress=False, deadline=0.5)
    assert os.listdir(tmp_path) == []


def idx_file(path, dims, data, compress=True):
    import gzip
    import struct
    content = struct.pack(">HBB", 0, 8, len(dims)) + struct.pack(f">{len(dims)}I", *dims) + data
    path.write_bytes(gzip.compress(content) if compress else content)
    return str(path)


def test_an_images_header_that_disagrees_with_the_labels_is_refused_before_the_pixels(tmp_path):
    """A gzip bomb: 100 MB of zeros (about 100 KB compressed) claiming 50 million 1x2
    images, against a labels file of 3: refused from the headers, without unpacking."""
    import zlib
    bomb = tmp_path / "train-images-idx3-ubyte.gz"
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)      # gzip framing
    with open(bomb, "wb") as f:
        f.write(compressor.compress(b"\x00\x00\x08\x03" + (50_000_000).to_bytes(4, "big")
                                    + (1).to_bytes(4, "big") + (2).to_bytes(4, "big")))
        zeros = bytes(1 << 20)
        for _ in range(95):
            f.write(compressor.compress(zeros))
        f.write(compressor.flush())
    labels = idx_file(tmp_path / "train-labels-idx1-ubyte.gz", (3,), bytes(3))
    with pytest.raises(datasets.DataError, match="claims 50,000,000 images, more than"):
        datasets._read_image_set(str(bomb), labels)
    fewer = idx_file(tmp_path / "i.gz", (900_000, 1, 2), bytes(1_800_000))
    with pytest.raises(datasets.DataError, match="has 3 labels but i.gz has 900000 images"):
        datasets._read_image_set(fewer, labels)


def test_a_file_of_zero_images_is_refused(tmp_path):
    images = idx_file(tmp_path / "i.gz", (0, 28, 28), b"")
    with pytest.raises(datasets.DataError, match="holds 0 images"):
        datasets._read_images(images)


# --- 2. the formula parser: its own error for anything it cannot take -------------------------
from hypothesis import given, settings, strategies as st  # noqa: E402

from microgrador.expr import ExpressionError, build_expression  # noqa: E402

TOKENS = ["x", "y", "1", "2.5", "0", "1e308", "(", ")", "+", "-", "*", "/", "**", ",", " ",
          "exp", "log", "sqrt", "tanh", "relu", "sum", "leaky_relu", "e", ".", "[", "]", "_",
          "\n", "9" * 30, "lambda", ":", "=", "'", "\udcff", "é", "#"]


def builds_or_explains(text):
    """A formula gives a graph, or the parser's documented ExpressionError: nothing else."""
    try:
        out, inputs = build_expression(text, {"x": 0.5, "y": -2.0})
    except ExpressionError as e:
        assert 1 <= e.column and 1 <= e.line and e.message
        return
    assert isinstance(out, mg.Value) and set(inputs) == {"x", "y"}


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=14).map("".join))
def test_any_formula_of_tokens_builds_or_raises_the_parsers_error(text):
    builds_or_explains(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_any_string_builds_or_raises_the_parsers_error(text):
    builds_or_explains(text)


@pytest.mark.parametrize("text", ["(1)(2)", "(x+1)(2)", "exp(x)(1)", "(-x)(1)"])
def test_calling_a_number_or_a_result_is_the_parsers_error(text):
    with pytest.raises(ExpressionError, match="only a function name can be called"):
        build_expression(text, {"x": 1.0})
    code, _, err = run(["draw", text, "x=1", "-o", os.devnull + ".dot"])
    assert code == 2 and "only a function name can be called" in err and "Traceback" not in err


def test_an_expression_that_ends_too_early_points_at_its_end():
    with pytest.raises(ExpressionError, match="ends too early") as err:
        build_expression("x+", {"x": 1.0})
    assert err.value.column == 3
    with pytest.raises(ExpressionError) as err:
        build_expression("tanh(x) *   ", {"x": 1.0})
    assert err.value.column == 10


def test_a_lone_surrogate_is_named():
    with pytest.raises(ExpressionError, match="lone surrogate") as err:
        build_expression("x + \udcff", {"x": 1.0})
    assert err.value.column == 5


# --- 3. numerics at the edges ------------------------------------------------------------------
import math  # noqa: E402

from microgrador import Value  # noqa: E402
from microgrador.losses import cross_entropy, nll  # noqa: E402


@pytest.mark.parametrize("make, expected", [
    (lambda: Value(1e300) ** 2, r"x \*\* 2: the result is too large for a float"),
    (lambda: Value(-1e300) ** 3, r"x \*\* 3: the result is too large"),
    (lambda: Value(2.0) ** Value(2000.0), r"a \*\* b: the result is too large"),
    (lambda: mg.ops.power(1e300, 2.0), r"the result is too large"),
])
def test_power_overflow_names_the_op(make, expected):
    with pytest.raises(OverflowError, match=expected):
        make()


def test_a_finite_power_with_an_overflowing_derivative_works_as_division_does():
    """1e-300 ** -1 = 1e300 is finite; its derivative -x^-2 = -1e600 is not: -inf,
    as 1 / x gives (and PyTorch)."""
    x = Value(1e-300)
    y = x ** -1
    y.backward()
    assert y.data == 1 / 1e-300 and x.grad == -math.inf
    x2 = Value(1e-300)
    (1 / x2).backward()
    assert x2.grad == x.grad
    z = Value(5e-324)
    w = z ** 0.001
    w.backward()
    assert w.data == pytest.approx(math.exp(0.001 * math.log(5e-324)))   # 0.4750...
    assert z.grad == math.inf
    neg = Value(-1e-300)
    (neg ** -1).backward()
    assert neg.grad == -math.inf                               # -x^-2: -inf on both sides
    cube = Value(-1e-200)
    (cube ** -1.0 * 1e-100).backward()                         # finite: -1e100
    assert cube.grad == -math.inf


@pytest.mark.parametrize("big", [1e12, 1e16, 1e300])
def test_log_softmax_and_cross_entropy_are_exact_at_large_logits(big):
    logits = [Value(big), Value(big)]
    assert cross_entropy(logits, 0).data == math.log(2)
    assert mg.log_softmax(logits)[1].data == -math.log(2)
    assert nll(mg.log_softmax(logits), 0).data == math.log(2)
    assert mg.log_softmax([big, big]) == [-math.log(2)] * 2


def test_softmax_memory_is_linear_in_n():
    """2,000 inputs: n + 1 nodes with 3n + ... partials, not n nodes of n partials."""
    import tracemalloc
    xs = [Value(i / 1000) for i in range(2000)]
    tracemalloc.start()
    ys = mg.softmax(xs)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 5_000_000, peak          # n^2 partials alone would be 4 million floats
    assert sum(y.data for y in ys) == pytest.approx(1.0)
    loss = mg.log(ys[7])
    loss.backward()                         # d log y_7/dx_j = [j = 7] - y_j
    assert xs[7].grad == pytest.approx(1 - ys[7].data)
    assert xs[8].grad == pytest.approx(-ys[8].data)


def test_softmax_derivatives_match_finite_differences_to_second_order():
    from microgrador.testing import gradcheck
    assert gradcheck(lambda a, b, c: mg.softmax([a, b, c])[1] * mg.log_softmax([a, b, c])[2],
                     [0.3, -1.2, 2.0], order=2)


# --- 4. first contact ---------------------------------------------------------------------------
def test_scalar_net_shows_the_node_gradients_and_the_weights():
    """dL/do, dL/dh, dL/dk by hand for other weights: o = hV + c, y = softmax(o),
    dL/do = y - onehot; dL/dh_j = sum_k V[j][k] dL/do_k; dL/dk_j = dL/dh_j h_j (1 - h_j)."""
    W = [[0.5, -1.0, 0.25], [1.5, 0.5, -0.75]]
    V = [[1.0, -2.0], [0.5, 0.25], [-1.0, 1.5]]
    x = [0.3, -0.7]
    k = [sum(x[i] * W[i][j] for i in range(2)) for j in range(3)]
    h = [1 / (1 + math.exp(-kj)) for kj in k]
    o = [sum(h[j] * V[j][c] for j in range(3)) for c in range(2)]
    y = [math.exp(oc) / sum(math.exp(v) for v in o) for oc in o]
    do = [y[0], y[1] - 1]                                    # target 1
    dh = [sum(V[j][c] * do[c] for c in range(2)) for j in range(3)]
    dk = [dh[j] * h[j] * (1 - h[j]) for j in range(3)]
    weights = json.dumps({"W": W, "V": V})
    import tempfile
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        f.write(weights)
    try:
        code, out, _ = run(["scalar-net", "--json", "--x", "0.3", "-0.7", "--target", "1",
                            "--weights", f.name])
        assert code == 0
        result = json.loads(out)
        for name, expected in (("do", do), ("dh", dh), ("dk", dk)):
            assert result[name] == pytest.approx(expected, rel=1e-12), name
        assert result["W"] == W and result["V"] == V
        code, text, _ = run(["scalar-net", "--x", "0.3", "-0.7", "--target", "1", "--weights", f.name])
    finally:
        os.unlink(f.name)
    assert f"dL/do = y - onehot(target)      = [{result['do'][0]!r}, {result['do'][1]!r}]" in text
    assert "dL/dh" in text and "dL/dk" in text
    assert "  [0.5, -1.0, 0.25]" in text and "  [-1.0, 1.5]" in text     # W and V rows


def test_cross_entropy_with_a_float_target_says_it_must_be_an_int():
    for loss in (cross_entropy, mg.cross_entropy, nll):
        with pytest.raises((TypeError, ValueError), match="must be an int.*got float 1.0"):
            loss([Value(0.0), Value(1.0)], 1.0)


def test_the_demo_lists_the_nodes_in_topological_order_with_local_derivatives(capsys):
    from microgrador import demo
    assert demo.chain_rule_example()
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines()[3:9]]
    assert [row[0] for row in rows] == ["x", "w", "x*w", "b", "z", "y"]
    assert f"dy/dz = {1 - math.tanh(-1.5) ** 2:.6f}" in out          # tanh' = 1 - tanh^2
    assert "d(x*w)/dx = -2.000000, d(x*w)/dw = 1.000000" in out       # d(xw)/dx = w, /dw = x
    assert "dz/d(x*w) = 1.000000, dz/db = 1.000000" in out


def test_draw_without_dot_tells_a_command_line_user_to_write_a_dot_file(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))          # no `dot` on PATH
    code, _, err = run(["draw", "x*2", "x=1", "-o", str(tmp_path / "g.svg")])
    assert code == 1 and "apt-get install graphviz" in err
    assert "write a .dot file" in err and "drawing.source" not in err
    code, out, _ = run(["draw", "x*2", "x=1", "-o", str(tmp_path / "g.dot")])
    assert code == 0 and (tmp_path / "g.dot").read_text().startswith("digraph")


def test_sigterm_during_a_download_leaves_no_part_file(tmp_path):
    """A `kill` while a mirror is still sending: the process ends (128 + 15) and the
    temporary .part file goes with it."""
    import time
    target = tmp_path / "data"
    target.mkdir()
    with _Endless(trickle=True) as url:
        code = ("import sys; from microgrador import datasets, cli; "
                f"datasets.MIRRORS['mnist'] = [{url!r}]; "
                f"sys.exit(cli.main(['train', 'mnist', '--data-dir', {str(target)!r}, "
                "'--no-progress']))")
        proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
        for _ in range(200):                      # until the download has begun
            if any(name.endswith(".part") for name in os.listdir(target)):
                break
            time.sleep(0.05)
        assert any(name.endswith(".part") for name in os.listdir(target))
        proc.terminate()
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert os.listdir(target) == [] and "Traceback" not in err
