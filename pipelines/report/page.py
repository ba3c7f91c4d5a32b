"""`report.html`: one static page (no script, no server) that shows a run's pictures and tables."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 0 auto; padding: 1.5em; max-width: 75em; color: #222; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 1.6em; }
.sub { color: #666; margin-top: 0; }
.grid { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.85em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #f7f7f7; padding: 1em; overflow-x: auto; font-size: 0.85em; }
details { margin: 0.5em 0; } .note { color: #777; font-style: italic; }
"""


@dataclass
class Section:
    title: str
    images: list[tuple[str, str]] = field(default_factory=list)  # (relative path, caption)
    tables: list[tuple[str, list[str], list[list[Any]]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    preformatted: str | None = None
    collapsed: bool = False


def render(title: str, subtitle: str, sections: list[Section]) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="sub">{html.escape(subtitle)}</p>',
    ]
    for section in sections:
        parts.append(f"<h2>{html.escape(section.title)}</h2>")
        for note in section.notes:
            parts.append(f'<p class="note">{html.escape(note)}</p>')
        for caption, header, rows in section.tables:
            parts.append(_table(caption, header, rows))
        if section.images:
            parts.append('<div class="grid">')
            for src, caption in section.images:
                parts.append(
                    f'<figure><img src="{html.escape(src)}" alt="{html.escape(caption)}">'
                    f"<figcaption>{html.escape(caption)}</figcaption></figure>"
                )
            parts.append("</div>")
        if section.preformatted is not None:
            block = f"<pre>{html.escape(section.preformatted)}</pre>"
            parts.append(f"<details><summary>show</summary>{block}</details>" if section.collapsed else block)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _table(caption: str, header: list[str], rows: list[list[Any]]) -> str:
    out = ["<table>"]
    if caption:
        out.append(f"<caption style='text-align:left;font-weight:600'>{html.escape(caption)}</caption>")
    out.append("<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header) + "</tr>")
    for row in rows:
        cells = []
        for value in row:
            numeric = isinstance(value, (int, float)) or str(value).replace(",", "").replace(".", "", 1).lstrip("-").isdigit()
            cells.append(f"<td{' class=num' if numeric else ''}>{html.escape(str(value))}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "".join(out)
