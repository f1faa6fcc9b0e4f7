"""A ReportDoc as one self-contained HTML page: inline CSS, images as data URIs, no scripts."""

from __future__ import annotations

import base64
import logging
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from nk.report._format import all_sections, blocks, figure_file, grid

if TYPE_CHECKING:
    from nk.report import Figure, ReportDoc, Table

log = logging.getLogger("nk.report")

MAX_ROWS = 2000
MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml",
        ".gif": "image/gif", ".webp": "image/webp"}

CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #fff; color: #1d2125;
  font: 16px/1.55 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans",
  "Liberation Sans", sans-serif; }
main { max-width: 60rem; margin: 0 auto; padding: 2rem 1.5rem 4rem; }
header { border-bottom: 2px solid #2b4c7e; margin-bottom: 1.5rem; padding-bottom: .75rem; }
h1 { font-size: 1.9rem; line-height: 1.25; margin: 0 0 .3rem; color: #16324f; }
.subtitle { font-size: 1.1rem; color: #4a5560; margin: 0 0 .3rem; }
.author { color: #4a5560; margin: 0; }
h2 { font-size: 1.35rem; color: #16324f; margin: 2.4rem 0 .8rem; padding-bottom: .25rem;
  border-bottom: 1px solid #d5dbe1; }
nav.toc { background: #f5f7f9; border: 1px solid #e1e6eb; border-radius: 6px; padding: .8rem 1.2rem; }
nav.toc h2 { font-size: 1rem; margin: 0 0 .4rem; border: 0; padding: 0; }
nav.toc ol { margin: 0; padding-left: 1.4rem; }
a { color: #1f5fa8; text-decoration: none; }
a:hover { text-decoration: underline; }
p, ul { margin: .6rem 0; }
div.table { margin: 1.4rem 0; }
.table-wrap { overflow-x: auto; }
p.caption { font-weight: 600; margin: 0 0 .4rem; color: #2d3740; font-size: .95rem; }
table { border-collapse: collapse; font-size: .92rem; font-variant-numeric: tabular-nums; }
th, td { padding: .3rem .7rem; border-bottom: 1px solid #e3e7eb; text-align: left; vertical-align: top; }
thead th { border-bottom: 2px solid #9aa6b2; background: #f5f7f9; white-space: nowrap; }
tbody tr:nth-child(even) { background: #fafbfc; }
td { max-width: 32rem; overflow-wrap: anywhere; }
td.num, th.num { text-align: right; white-space: nowrap; overflow-wrap: normal; }
.note { font-size: .86rem; color: #5a6570; margin: .3rem 0 0; }
figure { margin: 1.5rem 0; text-align: center; }
figure img { max-width: 100%; height: auto; border: 1px solid #e3e7eb; }
figcaption { font-size: .92rem; color: #2d3740; margin-top: .4rem; }
.missing { color: #a33; font-style: italic; }
pre { background: #f5f7f9; border: 1px solid #e1e6eb; border-radius: 6px; padding: .8rem 1rem;
  overflow-x: auto; font: .85rem/1.45 ui-monospace, "SFMono-Regular", Menlo, Consolas,
  "DejaVu Sans Mono", "Liberation Mono", monospace; white-space: pre; }
footer { margin-top: 3rem; font-size: .8rem; color: #7a8590; }
@media print {
  main { max-width: none; padding: 0; }
  nav.toc { display: none; }
  h2 { break-after: avoid; }
  figure, div.table { break-inside: avoid; }
  pre { white-space: pre-wrap; }
}
"""


def _table(table: Table, number: int) -> str:
    g = grid(table.frame, max_rows=MAX_ROWS)

    def cls(i: int) -> str:
        return ' class="num"' if g.numeric[i] else ""

    head = "".join(f"<th{cls(i)} scope=\"col\">{escape(h)}</th>" for i, h in enumerate(g.header))
    body = "\n".join("<tr>" + "".join(f"<td{cls(i)}>{escape(c)}</td>" for i, c in enumerate(row)) + "</tr>"
                     for row in g.rows)
    notes = [n for n in (table.note, *g.notes) if n]
    note = "".join(f'<p class="note">{escape(n)}</p>' for n in notes)
    return (f'<div class="table"><p class="caption" id="table-{number}">Table {number}. {escape(table.caption)}</p>\n'
            f'<div class="table-wrap"><table aria-describedby="table-{number}">\n'
            f"<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody></table></div>{note}</div>")


def _figure(figure: Figure, number: int, folder: Path | None) -> str:
    path = figure_file(figure.path, folder)
    caption = f"<figcaption>Figure {number}. {escape(figure.caption)}</figcaption>"
    mime = MIME.get(path.suffix.lower())
    try:
        data = path.read_bytes()
    except OSError as exc:
        log.warning("report figure %s cannot be read: %s", path, exc)
        return f'<figure><p class="missing">Image missing: {escape(str(path))}</p>{caption}</figure>'
    if mime is None:
        return (f'<figure><p class="missing">Cannot embed {escape(path.name)} '
                f"(not an image type a browser shows)</p>{caption}</figure>")
    uri = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    return f'<figure><img src="{uri}" alt="{escape(figure.caption)}">{caption}</figure>'


def _text(text: str) -> str:
    out = []
    for kind, items in blocks(text):
        if kind == "ul":
            out.append("<ul>" + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul>")
        else:
            out.append(f"<p>{escape(items[0])}</p>")
    return "\n".join(out)


def render_html(doc: ReportDoc, folder: Path | None = None) -> str:
    """The whole page. Every text, cell, caption and the code block is HTML-escaped; relative
    figure paths are looked up in ``folder`` first."""
    sections = all_sections(doc)
    n_table = n_figure = 0
    parts: list[str] = []
    toc: list[str] = []
    for i, section in enumerate(sections, 1):
        anchor = f"sec-{i}"
        toc.append(f'<li><a href="#{anchor}">{escape(section.title)}</a></li>')
        body = [f'<section id="{anchor}">', f"<h2>{i}. {escape(section.title)}</h2>", _text(section.text)]
        for table in section.tables:
            n_table += 1
            body.append(_table(table, n_table))
        for figure in section.figures:
            n_figure += 1
            body.append(_figure(figure, n_figure, folder))
        if section.code is not None:
            body.append(f"<pre>{escape(section.code)}</pre>")
        body.append("</section>")
        parts.append("\n".join(b for b in body if b))
    head = [f"<h1>{escape(doc.title)}</h1>"]
    if doc.subtitle:
        head.append(f'<p class="subtitle">{escape(doc.subtitle)}</p>')
    if doc.author:
        head.append(f'<p class="author">{escape(doc.author)}</p>')
    nav = (f'<nav class="toc"><h2>Contents</h2><ol>{"".join(toc)}</ol></nav>' if toc else "")
    meta_author = f'\n<meta name="author" content="{escape(doc.author)}">' if doc.author else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="nk">{meta_author}
<title>{escape(doc.title)}</title>
<style>{CSS}</style>
</head>
<body>
<main>
<header>{"".join(head)}</header>
{nav}
{chr(10).join(parts)}
<footer>Written by nk. Self-contained: images are embedded; this file can be moved or e-mailed alone.</footer>
</main>
</body>
</html>
"""

