"""Writes an explanation as files a person opens: CSVs, bar charts, heatmaps, a coloured text page.

```
attributions.csv      one row per example: prediction, baseline, one column per raw feature
attributions.png      mean |attribution| per feature over the examples (tables)
importance.csv/.png   permutation importance over the test split (tables)
heatmaps/<n>_<id>.png image and attribution overlay per example; heatmaps.png: the first 16
text.html, tokens.csv per-word attributions of text inputs
```
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from strata.data.features import Feature
from strata.explain.explainer import Explanation

_TITLES = {
    "integrated_gradients": "integrated gradients",
    "saliency": "saliency (|gradient|)",
    "occlusion": "occlusion (drop when removed)",
}


def write_explanation(
    explanation: Explanation | None, features: list[Feature], out: Path, importance=None
) -> list[Path]:
    """Writes every file for `explanation` (and `importance`, a permutation-importance frame)
    into the folder `out`; returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    # files name the columns a user knows (`1st Flr SF`), not the model's input names (`1st_Flr_SF`)
    columns = {f.name: f.source_column for f in features}
    scalar = [f.name for f in features if f.kind in ("numeric", "categorical")]
    if importance is not None:
        importance = importance.assign(feature=importance["feature"].map(lambda n: columns.get(n, n)))
        importance.to_csv(out / "importance.csv", index=False)
        from strata.explain.charts import bar_chart

        series = importance.set_index("feature")["importance"]
        written += [out / "importance.csv", bar_chart(
            series, out / "importance.png", "permutation importance (test split)",
            "increase of the error when the column is shuffled", importance["std"].to_numpy(),
        )]
    if explanation is None:
        return written
    explanation.frame().rename(columns=columns).to_csv(out / "attributions.csv", index=False)
    written.append(out / "attributions.csv")
    method = _TITLES.get(explanation.method, explanation.method)
    if len(scalar) + sum(f.kind == "text" for f in features) >= 2:
        from strata.explain.charts import bar_chart

        written.append(bar_chart(
            explanation.mean_abs().rename(index=columns), out / "attributions.png",
            f"{method}: mean |attribution| over {len(explanation.ids)} examples", "mean |attribution|",
        ))
    for f in features:
        if f.kind == "image" and f.name in explanation.maps:
            written += _heatmaps(explanation, f.name, out, method)
        elif f.kind == "text" and f.name in explanation.maps:
            written += _text(explanation, f.name, out, method)
    return written


def _heatmaps(explanation: Explanation, name: str, out: Path, method: str) -> list[Path]:
    from strata.explain.charts import heatmap, heatmap_grid

    folder = out / "heatmaps" if name == "image" else out / f"heatmaps_{name}"
    folder.mkdir(exist_ok=True)
    images, maps, titles, written = [], [], [], []
    for i, ident in enumerate(explanation.ids):
        image, attribution = explanation.inputs[name][i], explanation.maps[name][i]
        title = f"{ident}: {explanation.targets[i]} = {explanation.prediction[i]:.3g}"
        written.append(heatmap(image, attribution, folder / f"{i:04d}_{_safe(ident)}.png", f"{method}\n{title}"))
        images.append(image)
        maps.append(attribution)
        titles.append(title)
    written.append(heatmap_grid(images, maps, titles, out / f"{folder.name}.png"))
    return written


def _text(explanation: Explanation, name: str, out: Path, method: str) -> list[Path]:
    import pandas as pd

    from strata.explain.text_page import text_page

    rows, records = [], []
    for i, ident in enumerate(explanation.ids):
        words, values = explanation.tokens[name][i], np.asarray(explanation.maps[name][i])
        rows.append({"id": ident, "target": explanation.targets[i], "prediction": float(explanation.prediction[i]),
                     "words": words, "attributions": values})
        records += [{"id": ident, "position": p, "word": w, "attribution": float(v)}
                    for p, (w, v) in enumerate(zip(words, values))]
    suffix = "" if len([1 for _ in explanation.tokens]) == 1 else f"_{name}"
    page = out / f"text{suffix}.html"
    page.write_text(text_page(f"{method}: {name}", rows), encoding="utf-8")
    tokens = out / f"tokens{suffix}.csv"
    pd.DataFrame(records, columns=["id", "position", "word", "attribution"]).to_csv(tokens, index=False)
    return [page, tokens]


def _safe(ident: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(ident)).strip("._") or "example"
