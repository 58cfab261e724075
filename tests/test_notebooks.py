"""The notebooks run top to bottom in a fresh kernel, and their committed copies were
executed cleanly: so what a student reads on GitHub is what the code does today.

Execution uses tools/run_notebooks.py (the same code that refreshes the committed
outputs), in fast mode (MICROGRADOR_FAST=1), with a kernel running this very Python.
"""
import importlib.util
import os
import re
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _load_runner():
    spec = importlib.util.spec_from_file_location("run_notebooks", ROOT / "tools" / "run_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


runner = _load_runner()


def _code_cells(nb):
    return [cell for cell in nb.cells if cell.cell_type == "code"]


# A notebook that imports microgrador.draw shows graphs, which Jupyter renders with `dot`.
_DRAWS = re.compile(r"^\s*(from microgrador\.draw import|import microgrador\.draw)", re.M)


def missing_program(nb):
    """Why the notebook cannot run on this machine (a program it needs is not on PATH,
    and what to install), or None."""
    source = "\n".join(cell.source for cell in _code_cells(nb))
    if _DRAWS.search(source) and shutil.which("dot") is None:
        return ("needs Graphviz's `dot` program to show its drawings: apt-get install graphviz, "
                "brew install graphviz or conda install graphviz (CI installs it)")
    return None


def test_there_are_notebooks():
    assert NOTEBOOKS, f"no notebooks found in {ROOT / 'notebooks'}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_was_run_top_to_bottom_without_errors(path):
    nb = nbformat.read(str(path), as_version=4)
    nbformat.validate(nb)
    code = _code_cells(nb)
    assert code, f"{path.name} has no code cells"
    counts = [cell.execution_count for cell in code]
    assert counts == list(range(1, len(code) + 1)), (
        f"{path.name}: execution counts {counts} are not 1..{len(code)}: the committed copy "
        f"was not run top to bottom in one go; refresh it with "
        f"`python tools/run_notebooks.py {path.stem}`")
    assert any(cell.outputs for cell in code), f"{path.name} has no outputs"
    errors = [(i, out.get("ename"), out.get("evalue")) for i, cell in enumerate(nb.cells)
              if cell.cell_type == "code" for out in cell.outputs if out.output_type == "error"]
    assert not errors, f"{path.name} was committed with error outputs (cell, error, message): {errors}"
    streams = [(i, out.text[:200]) for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
               for out in cell.outputs if out.output_type == "stream" and out.name == "stderr"]
    assert not streams, f"{path.name} was committed with output on stderr (warnings?): {streams}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_a_fresh_kernel(path):
    nb = nbformat.read(str(path), as_version=4)
    reason = missing_program(nb)
    if reason:
        pytest.skip(f"{path.name} {reason}")
    # a last cell reports which Python and which microgrador the kernel used
    nb.cells.append(nbformat.v4.new_code_cell(
        "import sys, microgrador\nprint(sys.executable)\nprint(microgrador.__file__)"))
    try:
        runner.execute_notebook(nb, f"notebooks/{path.name}", fast=True)
    except runner.NotebookError as e:
        pytest.fail(str(e), pytrace=False)
    import microgrador
    executable, package = nb.cells[-1].outputs[0].text.split()
    assert executable == sys.executable
    assert os.path.realpath(package) == os.path.realpath(microgrador.__file__), (
        "the kernel imported a different microgrador than the tests")


def test_without_dot_the_drawing_notebooks_are_skipped_saying_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))          # a PATH with no `dot` on it
    skipped = {path.name[:2] for path in NOTEBOOKS
               if missing_program(nbformat.read(str(path), as_version=4))}
    assert {"01", "02", "04", "07"} <= skipped and not {"05", "06"} & skipped
    reason = missing_program(nbformat.read(str(NOTEBOOKS[0]), as_version=4))
    assert "apt-get install graphviz" in reason
    (tmp_path / "dot").write_text("#!/bin/sh\n")
    (tmp_path / "dot").chmod(0o755)
    assert missing_program(nbformat.read(str(NOTEBOOKS[0]), as_version=4)) is None


def test_a_failing_cell_is_named_with_its_source_and_error():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# broken"),
                nbformat.v4.new_code_cell("x = 1"),
                nbformat.v4.new_code_cell("import math\nmath.log(-x)")]
    with pytest.raises(runner.NotebookError) as info:
        runner.execute_notebook(nb, "broken.ipynb")
    error = info.value
    assert error.cell_index == 2
    assert "math.log(-x)" in str(error) and "ValueError" in str(error)
    assert str(error).startswith("broken.ipynb: cell 2 (In [2]) failed")


def test_fast_mode_reaches_the_kernel():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import os\nprint(os.environ.get('MICROGRADOR_FAST'))")]
    runner.execute_notebook(nb, "fast.ipynb", fast=True)
    assert nb.cells[0].outputs[0].text.strip() == "1"


def test_normalise_leaves_images_alone_and_steadies_text():
    png = "iVBORw0KGgo+v1234567AAAA/v7654321=="      # base64 may contain "+v<digits>"
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": png}),
                    nbformat.v4.new_output("stream", name="stdout",
                                           text="<object at 0x7f00aa>\n")]
    nb.cells = [cell]
    out = runner.normalise(nb)
    assert out.cells[0].outputs[0]["data"]["image/png"] == png
    assert out.cells[0].outputs[1]["text"] == "<object>\n"
