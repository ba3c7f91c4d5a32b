"""Pictures of attributions: bar charts for tables, heatmaps over images.

Drawn with matplotlib's object API and the Agg canvas (no display, no global pyplot state).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

MAX_BARS = 25


def bar_chart(values, path: Path, title: str, xlabel: str, errors=None) -> Path:
    """A horizontal bar chart of `values` (a pandas Series, largest first); at most 25 bars."""
    from matplotlib.figure import Figure

    shown = values.iloc[:MAX_BARS][::-1]
    err = None if errors is None else np.asarray(errors)[: len(shown)][::-1]
    fig = Figure(figsize=(7, 0.9 + 0.28 * len(shown)), dpi=100, layout="constrained")
    ax = fig.subplots()
    colors = ["#c0392b" if v >= 0 else "#2e6da4" for v in shown.to_numpy()]
    ax.barh([str(i) for i in shown.index], shown.to_numpy(), xerr=err, color=colors)
    ax.axvline(0, color="#555", linewidth=0.8)
    ax.set_title(title, fontsize=11)
    ax.set_xlabel(xlabel)
    ax.tick_params(axis="y", labelsize=8)
    fig.savefig(path)
    return path


def heatmap(image: np.ndarray, attribution: np.ndarray, path: Path, title: str) -> Path:
    """The image beside the same image with its signed attribution laid over it (red: towards
    the explained output, blue: away from it)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.2, 2.8), dpi=100)  # fixed margins: one of these per example, drawn fast
    fig.subplots_adjust(left=0.02, right=0.85, bottom=0.04, top=0.78, wspace=0.1)
    left, right = fig.subplots(1, 2)
    shown = _displayable(image)
    for ax in (left, right):
        ax.imshow(shown, cmap=None if shown.ndim == 3 else "gray", interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
    limit = float(np.nanmax(np.abs(attribution))) or 1.0
    overlay = right.imshow(attribution, cmap="bwr", vmin=-limit, vmax=limit, alpha=0.6, interpolation="nearest")
    fig.colorbar(overlay, ax=right, shrink=0.8)
    left.set_title("input", fontsize=9)
    right.set_title("attribution", fontsize=9)
    fig.suptitle(title, fontsize=9)
    fig.savefig(path)
    return path


def heatmap_grid(images: list[np.ndarray], maps: list[np.ndarray], titles: list[str], path: Path) -> Path:
    """Up to 16 attribution overlays in one picture."""
    from matplotlib.figure import Figure

    count = min(16, len(images))
    cols = min(4, count)
    rows = int(np.ceil(count / cols))
    fig = Figure(figsize=(2.2 * cols, 2.4 * rows), dpi=100, layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, image, attribution, title in zip(axes, images[:count], maps[:count], titles[:count]):
        shown = _displayable(image)
        ax.imshow(shown, cmap=None if shown.ndim == 3 else "gray", interpolation="nearest")
        limit = float(np.nanmax(np.abs(attribution))) or 1.0
        ax.imshow(attribution, cmap="bwr", vmin=-limit, vmax=limit, alpha=0.6, interpolation="nearest")
        ax.set_title(title, fontsize=8)
    fig.savefig(path)
    return path


def _displayable(image: np.ndarray) -> np.ndarray:
    """Raw pixels scaled to 0..1 for display; one channel drawn in gray."""
    image = np.asarray(image, dtype="float32")
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    low, high = float(np.nanmin(image)), float(np.nanmax(image))
    return (image - low) / (high - low) if high > low else np.zeros_like(image)
