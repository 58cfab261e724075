"""Progress bars for long runs (training epochs, downloads): tqdm on stderr, or nothing.

tqdm is a declared dependency, but nothing here must need it: without it, or when
no bar is wanted, `progress_bar` returns a `NoBar` that takes the same calls.
"""
from __future__ import annotations

import sys
from typing import Any, Optional


class NoBar:
    """Stands in for a tqdm bar when there is none: every call does nothing."""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: Optional[int], desc: str, enabled: bool, **options: Any):
    """A tqdm bar of `total` steps on stderr, labelled `desc`, that disappears when done
    (`options` go to tqdm, e.g. unit="B"); a NoBar if not `enabled` or tqdm is missing."""
    if not enabled:
        return NoBar()
    try:
        from tqdm import tqdm
    except ImportError:
        return NoBar()
    return tqdm(total=total, desc=desc, file=sys.stderr, leave=False, **options)
