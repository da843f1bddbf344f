"""Figures drawn without pyplot: no global figure list to close, no backend switched under a user's notebook."""

from __future__ import annotations

from matplotlib.figure import Figure


def subplots(nrows: int = 1, ncols: int = 1, *, figsize=None, **kwargs):
    """`(figure, axes)` like `pyplot.subplots`; `figure.savefig(path)` writes it (Agg for PNG)."""
    figure = Figure(figsize=figsize)
    return figure, figure.subplots(nrows, ncols, **kwargs)
