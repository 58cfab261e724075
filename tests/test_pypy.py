"""The core runs under PyPy 3.9 (Debian's pypy3): import it there and use it.

Skipped, with the reason, where no pypy3 is installed; .ci/run installs it."""
import os
import pathlib
import shutil
import subprocess

import pytest

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
print("ok", round(x.grad, 12))
"""


@pytest.mark.skipif(PYPY is None, reason="pypy3 is not installed (apt-get install -y pypy3)")
def test_core_runs_under_pypy():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([PYPY, "-c", SCRIPT], capture_output=True, text=True, env=env,
                          cwd=str(ROOT), timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok")
