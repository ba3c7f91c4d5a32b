"""An HTML page that colours each word of a text by its attribution (red for, blue against)."""

from __future__ import annotations

import html

import numpy as np

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; max-width: 60em; color: #222; }
.example { border-bottom: 1px solid #ddd; padding: 0.8em 0; }
.meta { color: #666; font-size: 0.85em; margin-bottom: 0.3em; }
.w { padding: 0.1em 0.15em; border-radius: 0.2em; line-height: 1.9; }
.legend span { padding: 0.2em 0.5em; margin-right: 0.5em; }
"""


def text_page(title: str, rows: list[dict]) -> str:
    """The page's HTML.

    Args:
        rows: one dict per text: `id`, `target`, `prediction`, `words` (list of str) and
            `attributions` (one float per word).
    """
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        '<p class="legend"><span style="background:rgba(192,57,43,0.6)">pushes towards the explained output</span>'
        '<span style="background:rgba(46,109,164,0.6)">pushes away from it</span>'
        " (hover a word for its value)</p>",
    ]
    for row in rows:
        values = np.asarray(row["attributions"], dtype="float64")
        limit = float(np.max(np.abs(values))) if len(values) else 0.0
        words = []
        for word, value in zip(row["words"], values):
            alpha = 0.0 if limit == 0 else min(1.0, abs(value) / limit) * 0.8
            color = "192,57,43" if value >= 0 else "46,109,164"
            words.append(
                f'<span class="w" style="background:rgba({color},{alpha:.2f})" title="{value:+.4g}">'
                f"{html.escape(word)}</span>"
            )
        meta = f"#{html.escape(str(row['id']))} &middot; {html.escape(str(row['target']))} = {row['prediction']:.4g}"
        parts.append(f'<div class="example"><div class="meta">{meta}</div>{" ".join(words) or "<em>(no words)</em>"}</div>')
    parts.append("</body></html>")
    return "\n".join(parts)
