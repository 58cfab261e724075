"""A self-contained web page that steps through forward and backward on the real graph.

    ex = explore(loss)        # in Jupyter it shows inline; elsewhere:
    ex.save("loss.html")      # one file: inline SVG, the numbers, plain JavaScript

The graph is laid out by Graphviz exactly as `draw` lays it out; the page then plays
the forward pass and the backward pass step by step. This module is the face: the
page is built in explore_page.py (which knows no Graphviz), and `explore` is
microgrador.draw.explore, which lays the graph out and hands it to the page.
"""
from .draw import explore
from .explore_page import PAGE_SUFFIXES, Explorer, build_page, check_path, local_formula

__all__ = ["explore", "Explorer", "build_page", "check_path", "local_formula", "PAGE_SUFFIXES"]
