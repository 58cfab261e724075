"""Fixtures shared by the test modules."""
import shutil

import pytest


@pytest.fixture
def no_graphviz(tmp_path, monkeypatch):
    """A PATH on which there is no Graphviz `dot`."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert shutil.which("dot") is None
