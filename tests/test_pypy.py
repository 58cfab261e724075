"""The core runs under PyPy 3.9 (Debian's pypy3): import it there and use it.

Skipped, with the reason, where no pypy3 is installed; .ci/run installs it."""
import os
import pathlib
import shutil
import subprocess

import pytest

from microgrador.training import pypy_nursery_note

ROOT = pathlib.Path(__file__).resolve().parents[1]
PYPY = shutil.which("pypy3")

SCRIPT = r"""
import math, microgrador as mg
from microgrador import Value
from microgrador.testing import gradcheck
x = Value(0.3)
y = mg.cross_entropy([x * 2, x.tanh(), mg.sigmoid(x)], 1) + mg.dot([x, x], [1.0, 2.0])
y.backward()
assert gradcheck(lambda x: mg.cross_entropy([x * 2, x.tanh(), mg.sigmoid(x)], 1), [0.3])
chain = x
for _ in range(200000):
    chain = chain + 1e-6
chain.backward()
from microgrador.datasets import load_mnist
train, evaluation, info = load_mnist(subset=True, progress=False)
assert len(train) == 1500 and len(train[0][0]) == 784
import gc
with mg.gc_paused():     # PyPy has no reference counting: its collector must keep running
    assert gc.isenabled()
    (x * x).backward()
    assert gc.isenabled()
print("ok", round(x.grad, 12))
"""


@pytest.mark.skipif(PYPY is None, reason="pypy3 is not installed (apt-get install -y pypy3)")
def test_core_runs_under_pypy():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([PYPY, "-c", SCRIPT], capture_output=True, text=True, env=env,
                          cwd=str(ROOT), timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok")


@pytest.mark.skipif(PYPY is None, reason="pypy3 is not installed (apt-get install -y pypy3)")
def test_command_line_runs_under_pypy_without_the_graphviz_package(tmp_path):
    # Debian's pypy3 has no graphviz Python package: training must still work from the
    # source folder (README's `pypy3 -m microgrador train ...`), and draw must say why not.
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    check = subprocess.run([PYPY, "-c", "import graphviz"], capture_output=True, env=env)
    if check.returncode == 0:
        pytest.skip("this pypy3 has the graphviz package, so its absence cannot be tested")
    out = tmp_path / "net.json"
    done = subprocess.run([PYPY, "-m", "microgrador", "train", "synth", "--epochs", "1",
                           "--no-progress", "--json", "--save", str(out)],
                          capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=600)
    assert done.returncode == 0, done.stderr
    assert '"val_accuracy"' in done.stdout and out.exists()
    # PyPy sizes its nursery from the cache the CPU reports (240 MB on a machine that
    # reports 480 MB): past 64 MB the command says how to keep memory down, on stderr
    nursery = subprocess.run([PYPY, "-c", "import gc; print(gc.get_stats().nursery_size)"],
                             capture_output=True, text=True, env=env).stdout.strip()
    megabytes = float(nursery[:-2]) * {"kB": 1 / 1024, "MB": 1, "GB": 1024}[nursery[-2:]]
    if "PYPY_GC_NURSERY" not in env:
        assert ("PYPY_GC_NURSERY=16MB" in done.stderr) == (megabytes > 64), (nursery, done.stderr)
    drawn = subprocess.run([PYPY, "-m", "microgrador", "draw", "x*y", "x=1", "y=2"],
                           capture_output=True, text=True, env=env, timeout=120)
    assert drawn.returncode == 2
    assert "pip install graphviz" in drawn.stderr and "Traceback" not in drawn.stderr


def test_the_nursery_note_names_a_large_nursery_and_how_to_shrink_it():
    note = pypy_nursery_note("pypy", {}, "240.0MB")
    assert "240.0MB" in note and "PYPY_GC_NURSERY=16MB" in note
    assert pypy_nursery_note("pypy", {}, "1.0GB") is not None
    assert pypy_nursery_note("pypy", {}, "16.0MB") is None          # a usual size: nothing to say
    assert pypy_nursery_note("pypy", {}, "1024.0kB") is None
    assert pypy_nursery_note("pypy", {"PYPY_GC_NURSERY": "512MB"}, "512.0MB") is None   # chosen
    assert pypy_nursery_note("cpython", {}, "240.0MB") is None
    assert pypy_nursery_note("pypy", {}, "a lot") is None           # a format it does not know


@pytest.mark.skipif(PYPY is None, reason="pypy3 is not installed (apt-get install -y pypy3)")
def test_the_nursery_note_reads_pypys_own_figure():
    script = ("from microgrador.training import pypy_nursery_note\n"
              "print(pypy_nursery_note(environ={}))")
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYPY_GC_NURSERY="200MB")
    done = subprocess.run([PYPY, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "200.0MB" in done.stdout and "PYPY_GC_NURSERY=16MB" in done.stdout
