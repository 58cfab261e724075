"""README tells the truth: its code runs, its numbers are right, and .ci/run runs its commands."""
import contextlib
import io
import math
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_every_python_block_runs():
    blocks = python_blocks()
    assert blocks, "README has no python example"
    for block in blocks:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(block, "README.md", "exec"), {})


def test_first_example_prints_what_its_comments_say():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(python_blocks()[0], "README.md", "exec"), {})
    printed = out.getvalue().splitlines()
    y = math.tanh(1.0 * -2.0 + 0.5)
    dy_dw = (1 - y * y) * 1.0          # worked out by hand, independently of the engine
    assert printed[0] == f"Value(data={y!r}, grad=1.0)"
    assert float(printed[1]) == dy_dw
    assert f"# Value(data={y!r}, grad=1.0)" in README
    assert repr(dy_dw) in README


def test_ci_runs_exactly_the_readme_commands():
    block = README.split("<!-- ci:commands -->", 1)[1]
    commands = re.search(r"```sh\n(.*?)```", block, flags=re.S).group(1).strip().splitlines()
    assert len(commands) == 2
    assert "pip install" in commands[0] and "pytest" in commands[1]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "ci:commands" in ci and "README.md" in ci
