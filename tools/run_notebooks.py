"""Run the notebooks headless, top to bottom, as CI does; refresh their committed outputs.

    python tools/run_notebooks.py                 # execute every notebook, write the outputs back
    python tools/run_notebooks.py 02 07           # only these (number, name or path)
    python tools/run_notebooks.py --check         # execute in memory; exit 1 at the first failing cell
    MICROGRADOR_FAST=1 python tools/run_notebooks.py --check    # the notebooks shrink long runs

Each notebook runs in a fresh kernel whose working directory is notebooks/ and whose
Python is this script's own interpreter (sys.executable), so it imports the same
microgrador as the script. Commit outputs made without MICROGRADOR_FAST: they are
what a reader sees on GitHub. Volatile details (timings, the Python patch version,
the memory addresses graphviz drawings use as node names) are removed before
writing, so a refresh gives a diff only where a result changed.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
FAST_ENV = "MICROGRADOR_FAST"       # "1": the notebooks shrink their long runs
KERNEL_NAME = "python3"
CELL_TIMEOUT = 120                  # seconds per cell

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_OBJECT_ID = re.compile(r"\bv(\d{6,})")           # draw() names nodes v<id(value)>
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+>")     # <... object at 0x7f...>


class NotebookError(Exception):
    """A cell of a notebook failed (or timed out); the message names the notebook,
    the cell, its source and the error."""

    def __init__(self, notebook: str, cell_index: Optional[int], source: str, error: str,
                 execution_count: Optional[int] = None) -> None:
        self.notebook, self.cell_index, self.source, self.error = notebook, cell_index, source, error
        if cell_index is None:
            where = "before the first cell"
        else:   # cells counted from 0, markdown included; In [n] is what Jupyter shows
            where = f"cell {cell_index}" + (f" (In [{execution_count}])" if execution_count else "")
        super().__init__(f"{notebook}: {where} failed\n"
                         f"--- cell source ---\n{source}\n--- error ---\n{error}")


def notebook_paths(names: Sequence[str] = ()) -> List[Path]:
    """The notebooks to run: all of notebooks/*.ipynb, or those named by number
    ("02"), name ("02-the-scalar-network", with or without .ipynb) or path."""
    every = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
    if not names:
        return every
    chosen = []
    for name in names:
        path = Path(name)
        if path.suffix == ".ipynb" and path.exists():
            chosen.append(path.resolve())
            continue
        stem = path.name[:-len(".ipynb")] if path.name.endswith(".ipynb") else path.name
        matches = [p for p in every if p.stem == stem or p.stem.split("-", 1)[0] == stem]
        if len(matches) != 1:
            known = ", ".join(p.stem for p in every) or "none"
            raise SystemExit(f"run_notebooks: no single notebook matches {name!r} "
                             f"(notebooks: {known})")
        chosen.append(matches[0])
    return chosen


@contextmanager
def own_python_kernel() -> Iterator[str]:
    """A directory holding a kernelspec named "python3" that runs sys.executable.

    The "python3" kernelspec Jupyter finds first may belong to another Python (a
    user-wide install, a different venv); the notebooks must import the microgrador
    installed next to the Python running this script, so they get their own spec."""
    with tempfile.TemporaryDirectory(prefix="microgrador-kernels-") as tmp:
        spec_dir = Path(tmp) / KERNEL_NAME
        spec_dir.mkdir()
        # what `python -m ipykernel install` would write: argv[0] is sys.executable
        from ipykernel.kernelspec import get_kernel_dict
        spec = get_kernel_dict()
        spec["argv"][0] = sys.executable
        (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")
        yield tmp


def kernel_env(fast: bool) -> Dict[str, str]:
    """The kernel's environment: ours, with MICROGRADOR_FAST set or removed, and
    PYTHONPATH made absolute (the kernel starts in notebooks/, where a relative
    entry such as `PYTHONPATH=.` would point somewhere else)."""
    env = dict(os.environ)
    if fast:
        env[FAST_ENV] = "1"
    else:
        env.pop(FAST_ENV, None)
    if env.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.pathsep.join(os.path.abspath(p) if p else os.getcwd()
                                            for p in env["PYTHONPATH"].split(os.pathsep))
    # plots go into the notebook, even where MPLBACKEND=Agg is set (common in CI)
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"   # silences a debugger warning on stderr
    return env


def execute_notebook(nb: nbformat.NotebookNode, name: str, fast: bool = False,
                     timeout: int = CELL_TIMEOUT) -> nbformat.NotebookNode:
    """Execute `nb` in place in a fresh kernel (cwd notebooks/) and return it; raise
    NotebookError naming the cell that failed."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    current = {"index": None}

    def on_cell_start(cell, cell_index, **_):
        current["index"] = cell_index

    with own_python_kernel() as kernel_dir:
        km = AsyncKernelManager(kernel_name=KERNEL_NAME,
                                kernel_spec_manager=KernelSpecManager(kernel_dirs=[kernel_dir]))
        client = NotebookClient(nb, km=km, kernel_name=KERNEL_NAME, timeout=timeout,
                                record_timing=False, allow_errors=False,
                                resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
                                on_cell_start=on_cell_start)
        try:
            client.execute(env=kernel_env(fast))
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as e:
            index = current["index"]
            cell = nb.cells[index] if index is not None else None
            # the cell's error output is the plain traceback (nbclient's message
            # repeats the source, which NotebookError shows once)
            tracebacks = ["\n".join(out.get("traceback", [])) for out in
                          (cell.get("outputs", []) if cell is not None else [])
                          if out.get("output_type") == "error"]
            error = _ANSI.sub("", tracebacks[-1] if tracebacks else str(e))
            raise NotebookError(name, index, cell.source if cell is not None else "", error,
                                cell.get("execution_count") if cell is not None else None) from None
    return nb


def execute(path: Path, fast: bool = False, timeout: int = CELL_TIMEOUT) -> nbformat.NotebookNode:
    """Read the notebook at `path`, execute it, and return the executed copy."""
    path = Path(path)
    nb = nbformat.read(str(path), as_version=4)
    return execute_notebook(nb, _display_path(path), fast, timeout)


def normalise(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Remove what changes from run to run without a result changing: timing and
    other execution metadata, the Python version, how printed text was split into
    messages, and object ids and addresses in text outputs (any v<id> left in
    them becomes n1, n2, ... per output)."""
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python",
                                 "name": KERNEL_NAME}
    info = nb.metadata.get("language_info", {})
    info.pop("version", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        cell.outputs = _merge_streams(cell.outputs)
        for output in cell.outputs:
            for mime, content in output.get("data", {}).items():
                # only text: base64 images (image/png) must never be rewritten
                if isinstance(content, str) and (mime.startswith("text/") or mime.endswith("+xml")):
                    output["data"][mime] = _stable_text(content)
            if output.get("output_type") == "stream":
                output["text"] = _stable_text(output["text"])
    return nb


def _merge_streams(outputs: list) -> list:
    """Join consecutive stdout (or stderr) outputs into one: how the kernel happens to
    split printed text into messages depends on timing, not on the notebook."""
    merged: list = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (output.get("output_type") == "stream" and previous is not None
                and previous.get("output_type") == "stream" and previous["name"] == output["name"]):
            previous["text"] += output["text"]
        else:
            merged.append(output)
    return merged


def _stable_text(text: str) -> str:
    names: Dict[str, str] = {}

    def rename(m: re.Match) -> str:
        return names.setdefault(m.group(1), f"n{len(names) + 1}")

    return _ADDRESS.sub(">", _OBJECT_ID.sub(rename, text))


def _display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description="Execute notebooks/*.ipynb headless, top to bottom, and write their "
                    "outputs back (or, with --check, only report the first failing cell).",
        epilog=f"Set {FAST_ENV}=1 (or pass --fast) to let the notebooks shrink their long runs.")
    parser.add_argument("names", nargs="*", help="notebooks by number (02), name or path; "
                                                 "default: all")
    parser.add_argument("--check", action="store_true",
                        help="execute in memory only; exit 1 naming the notebook and cell that failed")
    parser.add_argument("--fast", action="store_true", help=f"the same as {FAST_ENV}=1")
    parser.add_argument("--timeout", type=int, default=CELL_TIMEOUT,
                        help=f"seconds allowed per cell (default {CELL_TIMEOUT})")
    args = parser.parse_args(argv)
    fast = args.fast or os.environ.get(FAST_ENV, "") not in ("", "0")
    paths = notebook_paths(args.names)
    if not paths:
        print(f"run_notebooks: no notebooks in {NOTEBOOK_DIR}", file=sys.stderr)
        return 1
    if fast and not args.check:
        print(f"run_notebooks: note: writing outputs made in fast mode ({FAST_ENV}=1); "
              f"commit outputs of a full run", file=sys.stderr)
    total = time.perf_counter()
    for path in paths:
        start = time.perf_counter()
        try:
            nb = execute(path, fast=fast, timeout=args.timeout)
        except NotebookError as e:
            print(f"FAILED {e}", file=sys.stderr)
            return 1
        if not args.check:
            nbformat.validate(nb)
            nbformat.write(normalise(nb), str(path))
        done = "ran" if args.check else "ran and wrote"
        print(f"{done} {_display_path(path)} in {time.perf_counter() - start:.1f} s")
    print(f"{len(paths)} notebook(s) in {time.perf_counter() - total:.1f} s"
          + (" (fast mode)" if fast else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
