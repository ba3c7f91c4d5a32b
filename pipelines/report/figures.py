"""The report's plots, each a matplotlib `Figure` drawn on the Agg canvas (no display needed)."""

from __future__ import annotations

import numpy as np

TRAIN, VALIDATION = "#2e6da4", "#d35400"


def _figure(width: float = 5.0, height: float = 3.4, fixed: bool = False):
    """A figure; `fixed` margins skip constrained layout, which costs half the drawing time."""
    from matplotlib.figure import Figure

    if fixed:
        fig = Figure(figsize=(width, height), dpi=100)
        fig.subplots_adjust(left=0.16, right=0.97, bottom=0.15, top=0.9)
        return fig
    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def learning_curve(metric: str, series: dict[str, tuple[list[int], list[float]]]):
    """One metric over the epochs: train against validation."""
    fig = _figure(fixed=True)
    ax = fig.subplots()
    for split, color in (("train", TRAIN), ("validation", VALIDATION)):
        if split in series:
            epochs, values = series[split]
            ax.plot([e + 1 for e in epochs], values, marker="o", markersize=3, color=color, label=split)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(metric)
    ax.set_xlabel("epoch")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def recall_at_k(ks: list[int], recall: list[float], baseline: list[float], split: str):
    """A recommender's recall@k over k, against the popularity baseline's."""
    fig = _figure(fixed=True)
    ax = fig.subplots()
    ax.plot(ks, recall, marker="o", markersize=3, color=TRAIN, label="model")
    ax.plot(ks, baseline, marker="o", markersize=3, color=VALIDATION, linestyle="--", label="popularity")
    ax.set_xscale("log")
    ax.set_xticks(ks, [str(k) for k in ks])
    ax.set_title(f"recall@k ({split} split)")
    ax.set_xlabel("k")
    ax.set_ylim(0, max(1e-3, max(recall + baseline)) * 1.1)
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def fold_curves(metric: str, series: dict[str, tuple[list[int], list[float]]]):
    """One validation metric over the epochs, a line per cross-validation fold."""
    fig = _figure(fixed=True)
    ax = fig.subplots()
    for label, (epochs, values) in series.items():
        ax.plot([e + 1 for e in epochs], values, marker="o", markersize=3, label=label)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"validation {metric}, per fold")
    ax.set_xlabel("epoch")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def confusion_matrix(matrix: np.ndarray, classes: list[str]):
    """Counts of true (rows) against predicted (columns) classes, annotated when small."""
    k = len(classes)
    size = min(9.0, 2.5 + 0.45 * k)
    fig = _figure(size + 1, size)
    ax = fig.subplots()
    shown = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(shown, ax=ax, shrink=0.8)
    ticks = np.arange(k)
    ax.set_xticks(ticks, [str(c) for c in classes], rotation=45 if k > 6 else 0, ha="right" if k > 6 else "center")
    ax.set_yticks(ticks, [str(c) for c in classes])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("confusion matrix (test split)")
    if k <= 20:
        limit = matrix.max() / 2 if matrix.size else 0
        for i in range(k):
            for j in range(k):
                ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center", fontsize=8,
                        color="white" if matrix[i, j] > limit else "black")
    return fig


def precision_recall(classes: list[str], precision: np.ndarray, recall: np.ndarray):
    """Precision and recall of each class, side by side."""
    k = len(classes)
    fig = _figure(max(5.0, 0.5 * k + 2), 3.4)
    ax = fig.subplots()
    x = np.arange(k)
    ax.bar(x - 0.2, precision, width=0.4, label="precision", color=TRAIN)
    ax.bar(x + 0.2, recall, width=0.4, label="recall", color=VALIDATION)
    ax.set_xticks(x, [str(c) for c in classes], rotation=45 if k > 6 else 0, ha="right" if k > 6 else "center")
    ax.set_ylim(0, 1.05)
    ax.set_title("per-class precision and recall (test split)")
    ax.legend(loc="lower right")
    ax.grid(axis="y", alpha=0.3)
    return fig


def predicted_vs_actual(actual: np.ndarray, predicted: np.ndarray, name: str):
    """A scatter of predictions against the truth, with the line of perfect predictions."""
    fig = _figure(4.2, 4.0)
    ax = fig.subplots()
    ax.scatter(actual, predicted, s=10, alpha=0.6, color=TRAIN)
    low = float(np.nanmin([np.nanmin(actual), np.nanmin(predicted)]))
    high = float(np.nanmax([np.nanmax(actual), np.nanmax(predicted)]))
    ax.plot([low, high], [low, high], color="#555", linewidth=1, linestyle="--", label="perfect")
    _compact_ticks(ax.xaxis, ax.yaxis)
    ax.set_xlabel(f"actual {name}")
    ax.set_ylabel(f"predicted {name}")
    ax.set_title("predicted vs actual (test split)")
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    return fig


def residual_histogram(residuals: np.ndarray, name: str):
    """How far predictions miss (prediction - actual)."""
    fig = _figure()
    ax = fig.subplots()
    ax.hist(residuals[np.isfinite(residuals)], bins=30, color=TRAIN, alpha=0.85)
    ax.axvline(0, color="#555", linewidth=1)
    _compact_ticks(ax.xaxis)
    ax.set_xlabel(f"residual: predicted - actual {name}")
    ax.set_ylabel("examples")
    ax.set_title("residuals (test split)")
    return fig


def image_grid(rows: list[list[np.ndarray]], row_titles: list[str], title: str):
    """Images in rows (e.g. inputs above their reconstructions, or generated samples)."""
    columns = max(len(r) for r in rows)
    fig = _figure(1.3 * columns + 0.8, 1.4 * len(rows) + 0.5)
    axes = np.asarray(fig.subplots(len(rows), columns, squeeze=False))
    for r, images in enumerate(rows):
        for c in range(columns):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(images):
                shown = displayable(images[c])
                ax.imshow(shown, cmap=None if shown.ndim == 3 else "gray", interpolation="nearest")
            else:
                ax.axis("off")
        axes[r, 0].set_ylabel(row_titles[r], fontsize=9)
    fig.suptitle(title, fontsize=10)
    return fig


def series_pairs(pairs: list[tuple[np.ndarray, np.ndarray]], labels: tuple[str, str], title: str, context=None):
    """Up to four examples, each a line of the truth against the model's output (forecasts,
    reconstructions of tables); `context` adds the history that led to a forecast."""
    count = min(4, len(pairs))
    fig = _figure(8.0, 1.9 * count + 0.6)
    axes = np.atleast_1d(fig.subplots(count, 1, squeeze=False)[:, 0])
    for i, ax in enumerate(axes):
        truth, output = (np.asarray(v, dtype="float64").reshape(-1) for v in pairs[i])
        start = 0
        if context is not None and context[i] is not None:
            history = np.asarray(context[i], dtype="float64").reshape(-1)
            ax.plot(np.arange(len(history)), history, color="#888", label="input")
            start = len(history)
        steps = np.arange(start, start + len(truth))
        ax.plot(steps, truth, marker="o", markersize=3, color=TRAIN, label=labels[0])
        ax.plot(steps[: len(output)], output[: len(steps)], marker="x", markersize=3, color=VALIDATION, label=labels[1])
        ax.grid(alpha=0.3)
        if i == 0:
            ax.legend(fontsize=8, loc="upper left")
    fig.suptitle(title, fontsize=10)
    return fig


def _compact_ticks(*axes) -> None:
    """At most five ticks, with SI prefixes (250k, not 250000) so large units stay readable."""
    from matplotlib.ticker import EngFormatter, MaxNLocator

    for axis in axes:
        axis.set_major_locator(MaxNLocator(5))
        axis.set_major_formatter(EngFormatter(sep=""))


def displayable(image: np.ndarray) -> np.ndarray:
    """Any image array scaled to 0..1, with one channel drawn in gray."""
    image = np.asarray(image, dtype="float32")
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim == 1:
        side = int(np.sqrt(image.size))
        image = image[: side * side].reshape(side, side) if side * side == image.size else image[None, :]
    low, high = float(np.nanmin(image)), float(np.nanmax(image))
    return np.clip((image - low) / (high - low), 0, 1) if high > low else np.zeros_like(image)
