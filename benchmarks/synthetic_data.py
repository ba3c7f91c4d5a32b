"""Generates the benchmark data sets: a CSV table, a folder of PNG images, a file of labelled
sentences. Deterministic (one seed), so every repetition and both sides read the same files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

NUMERIC_COLUMNS = 16
CATEGORIES = {"color": ["red", "green", "blue", "black", "white"], "city": [f"city_{i}" for i in range(20)]}


def make_csv(path: Path, rows: int, seed: int = 0) -> Path:
    """A table of 16 numeric and 2 categorical columns and a 3-class integer `label`."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    numbers = rng.normal(size=(rows, NUMERIC_COLUMNS)) * rng.uniform(0.5, 50, NUMERIC_COLUMNS) + rng.uniform(-10, 100, NUMERIC_COLUMNS)
    frame = pd.DataFrame(numbers.round(4), columns=[f"x{i}" for i in range(NUMERIC_COLUMNS)])
    score = (numbers[:, :4] - numbers[:, :4].mean(0)) / numbers[:, :4].std(0) @ np.array([1.0, -0.5, 0.8, 0.3])
    for name, values in CATEGORIES.items():
        codes = rng.integers(0, len(values), rows)
        frame[name] = np.asarray(values)[codes]
        score = score + (codes % 3 - 1) * 0.5
    frame["label"] = np.digitize(score + rng.normal(scale=0.5, size=rows), np.quantile(score, [1 / 3, 2 / 3]))
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def make_images(folder: Path, count: int, size: int = 32, classes: int = 4, seed: int = 0) -> Path:
    """`count` RGB PNG images of `size`x`size` pixels, one sub-folder per class: noisy shapes
    whose position and colour depend on the class."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for c in range(classes):
        (folder / f"class_{c}").mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[:size, :size]
    for i in range(count):
        c = i % classes
        cy, cx = rng.integers(size // 4, 3 * size // 4, 2)
        radius = size / 6 + c * size / 16
        blob = ((yy - cy) ** 2 + (xx - cx) ** 2 < radius**2)[..., None]
        colour = np.array([(c * 70) % 256, 255 - c * 50, (c * 120 + 60) % 256])
        pixels = rng.normal(100, 40, (size, size, 3)) + blob * (colour - 100)
        Image.fromarray(np.clip(pixels, 0, 255).astype("uint8")).save(folder / f"class_{c}" / f"{i:06d}.png")
    return folder


def make_text(path: Path, rows: int, source: Path, seed: int = 0) -> Path:
    """`rows` tab-separated `sentence<TAB>label` lines (no header): sentences recombined from the
    words of a labelled source file (the Yelp sentiment sentences), each labelled by the class
    most of its words came from."""
    rng = np.random.default_rng(seed)
    words: dict[int, list[str]] = {0: [], 1: []}
    for line in source.read_text(encoding="utf-8").splitlines():
        text, _, label = line.rpartition("\t")
        if label.strip() in ("0", "1"):
            words[int(label)] += [w for w in text.replace('"', "").split() if w]
    lines = []
    for _ in range(rows):
        label = int(rng.integers(0, 2))
        n = int(rng.integers(6, 40))
        own = rng.random(n) < 0.7
        chosen = [words[label if o else 1 - label][rng.integers(len(words[label if o else 1 - label]))] for o in own]
        lines.append(f"{' '.join(chosen)}\t{label}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def make_regression_csv(path: Path, rows: int, columns: int = 9, seed: int = 0) -> Path:
    """A table of `columns` numeric columns `x0..` and a numeric `target` (a noisy linear and
    quadratic function of them), written in blocks so that millions of rows stay cheap."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    weights = rng.normal(size=columns)
    path.parent.mkdir(parents=True, exist_ok=True)
    block = 200_000
    for start in range(0, rows, block):
        n = min(block, rows - start)
        numbers = rng.normal(size=(n, columns))
        target = numbers @ weights + 0.5 * numbers[:, 0] ** 2 + rng.normal(scale=0.1, size=n)
        frame = pd.DataFrame(numbers.round(5), columns=[f"x{i}" for i in range(columns)])
        frame["target"] = target.round(5)
        frame.to_csv(path, index=False, header=start == 0, mode="w" if start == 0 else "a")
    return path
