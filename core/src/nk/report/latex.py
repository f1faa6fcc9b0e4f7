"""A ReportDoc as LaTeX source (article class) and its compilation to PDF.

The source only needs packages of a basic TeX Live (``texlive-latex-base`` and
``-recommended``): graphicx, booktabs, longtable, array, caption, hyperref (and bookmark
when present). It uses Latin
Modern when installed and Computer Modern otherwise, and writes every non-ASCII character as a
LaTeX command, so it compiles the same with pdflatex, lualatex and xelatex. Characters LaTeX's
standard fonts lack (e.g. IPA symbols) appear as ``[U+0259]``; the HTML report shows them.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import time
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING

from nk.report._format import Grid, all_sections, blocks, figure_file, grid

if TYPE_CHECKING:
    from nk.report import Figure, ReportDoc, Table

ENGINES = ("pdflatex", "lualatex", "xelatex")
TEXT_WIDTH_CM = 16.0  # A4 with the margins below
MAX_ROWS = 300
MAX_COLS = 9
SHORT_TABLE_ROWS = 30  # shorter tables are not split across pages
CODE_WIDTH = 90  # characters per line of preformatted text in \footnotesize typewriter
COMPILE_TIMEOUT_S = 180
MAX_PASSES = 3

_ASCII = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
    "%": r"\%", "_": r"\_", "^": r"\textasciicircum{}", "~": r"\textasciitilde{}",
    "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}", '"': r"{\ttfamily\char34}",
    "`": r"\textasciigrave{}", "-": "-{}",  # -{}: no -- / --- dash ligatures from user text
    "\n": " ", "\t": " ", "\r": " ",
}
# commands that exist in every font encoding (OT1 and T1) or in math mode
_SPECIAL = {
    "ß": r"\ss{}", "æ": r"\ae{}", "Æ": r"\AE{}", "œ": r"\oe{}", "Œ": r"\OE{}", "ø": r"\o{}",
    "Ø": r"\O{}", "ł": r"\l{}", "Ł": r"\L{}", "ı": r"\i{}", "å": r"\aa{}", "Å": r"\AA{}",
    "\u00a0": "~", "–": "--", "—": "---", "‘": "`", "’": "'", "‚": ",", "“": "``", "”": "''",
    "„": "``", "…": r"\ldots{}", "•": r"\textbullet{}", "×": r"$\times$", "±": r"$\pm$",
    "°": r"$^{\circ}$", "·": r"$\cdot$", "µ": r"$\mu$", "−": r"$-$", "≤": r"$\leq$", "≥": r"$\geq$",
    "≈": r"$\approx$", "≠": r"$\neq$", "→": r"$\rightarrow$", "←": r"$\leftarrow$", "∞": r"$\infty$",
    "²": r"$^{2}$", "³": r"$^{3}$", "¹": r"$^{1}$", "©": r"\copyright{}", "§": r"\S{}", "¶": r"\P{}",
    "£": r"\pounds{}", "€": "EUR", "¿": "?`", "¡": "!`", "÷": r"$\div$",
    "«": r"\textless{}\textless{}", "»": r"\textgreater{}\textgreater{}",
    "√": r"$\surd$", "∑": r"$\sum$", "Δ": r"$\Delta$", "Σ": r"$\Sigma$", "Ω": r"$\Omega$",
}
for _name in ("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
              "lambda", "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi",
              "omega"):
    _SPECIAL[unicodedata.lookup(f"GREEK SMALL LETTER {_name.upper().replace('LAMBDA', 'LAMDA')}")] = \
        rf"$\{_name}$"
_ACCENTS = {"\u0300": "`", "\u0301": "'", "\u0302": "^", "\u0303": "~", "\u0304": "=", "\u0306": "u",
            "\u0307": ".", "\u0308": '"', "\u030a": "r", "\u030b": "H", "\u030c": "v", "\u0327": "c",
            "\u0323": "d", "\u0331": "b"}
_BREAK_AFTER = set("/_,=.:;+")
_LONG_TOKEN = 16  # characters; shorter words and numbers are never broken


def _char(c: str) -> str:
    if c in _ASCII:
        return _ASCII[c]
    if " " <= c <= "~":
        return c
    if c in _SPECIAL:
        return _SPECIAL[c]
    if ord(c) < 32 or unicodedata.category(c) in ("Cc", "Cf"):
        return ""
    if unicodedata.category(c) == "Zs":
        return " "
    decomposed = unicodedata.normalize("NFD", c)
    base, marks = decomposed[0], decomposed[1:]
    if marks and (" " <= base <= "~") and base.isalpha() and all(m in _ACCENTS for m in marks):
        out = r"\i" if base == "i" else r"\j" if base == "j" else base
        for mark in marks:
            cmd = _ACCENTS[mark]
            out = f"\\{cmd}{{{out}}}"
        return "{" + out + "}"
    return rf"\nkchar{{{ord(c):04X}}}"


def escape(text: object, *, breakable: bool = True) -> str:
    """``text`` as LaTeX that prints it literally. ``breakable``: long tokens (paths, override
    lists) may break after ``/ _ , = . : ; +``, so they do not run off the page."""
    out = []
    for token in re.split(r"(\s+)", unicodedata.normalize("NFC", str(text))):
        long = breakable and len(token) > _LONG_TOKEN
        for c in token:
            out.append(_char(c))
            if long and c in _BREAK_AFTER:
                out.append(r"\allowbreak{}")
    return "".join(out)


def find_engine() -> str | None:
    """The first LaTeX engine on PATH (pdflatex, lualatex, xelatex), or None."""
    for name in ENGINES:
        path = shutil.which(name)
        if path:
            return path
    return None


# --- figures ---------------------------------------------------------------------------------------

def _png_size_cm(path: Path) -> float | None:
    """The natural width of a PNG in cm, from its pixel width and pHYs resolution (96 dpi if none)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    width = struct.unpack(">I", data[16:20])[0]
    per_metre = 96 / 0.0254
    at = data.find(b"pHYs")
    if at > 0:
        ppu_x, _, unit = struct.unpack(">IIB", data[at + 4:at + 13])
        if unit == 1 and ppu_x > 0:
            per_metre = ppu_x
    return width / per_metre * 100


_SAFE_NAME = re.compile(r"^[A-Za-z0-9_/-]+\.(png|jpg|jpeg|pdf)$", re.IGNORECASE)


def _figure(figure: Figure, folder: Path, stem: str, number: int) -> str:
    path = figure_file(figure.path, folder)
    caption = escape(figure.caption)
    if path.suffix.lower() not in (".png", ".jpg", ".jpeg", ".pdf"):
        sibling = next((path.with_suffix(s) for s in (".pdf", ".png") if path.with_suffix(s).exists()), None)
        if sibling is None:
            return (f"\\par\\medskip\\noindent\\textit{{Figure {number} ({escape(path.name)}) is in the HTML "
                    f"report only.}} {caption}\\par\\medskip\n")
        path = sibling
    elif path.suffix.lower() == ".png" and path.with_suffix(".pdf").exists():
        path = path.with_suffix(".pdf")  # a vector version prints better
    if not path.exists():
        return f"\\par\\medskip\\noindent\\textit{{Image missing: {escape(str(path))}}}\\par\\medskip\n"
    try:
        rel = path.resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        rel = ""
    if not _SAFE_NAME.match(rel):  # outside the folder, or a name TeX may misread: copy it in
        rel = f"{stem}-figures/figure{number}{path.suffix.lower()}"
        if not _SAFE_NAME.match(rel):
            rel = f"nk-figures/figure{number}{path.suffix.lower()}"
        (folder / rel).parent.mkdir(exist_ok=True)
        shutil.copyfile(path, folder / rel)
    natural = _png_size_cm(path) if path.suffix.lower() == ".png" else None
    width = min(natural, TEXT_WIDTH_CM) if natural else 0.9 * TEXT_WIDTH_CM
    return f"\\nkfigure{{{width:.2f}cm}}{{{rel}}}{{{caption}}}\n"


# --- tables ----------------------------------------------------------------------------------------

def _column_specs(g: Grid) -> tuple[str, list[bool], str]:
    """Column types, which columns wrap (p-columns), and the font size that fits the page."""
    lengths = [max([len(g.header[i])] + [len(r[i]) for r in g.rows]) for i in range(len(g.header))]
    per_char = 0.0108  # of \linewidth, \small Computer Modern; tabcolsep adds 0.026 per column
    sizes = [("small", 1.0), ("footnotesize", 0.88), ("scriptsize", 0.72)]
    wrap = [not g.numeric[i] and lengths[i] > 40 for i in range(len(lengths))]

    def width(scale: float, wrapping: list[bool]) -> float:
        return sum(0.026 + (0 if wrapping[i] else lengths[i] * per_char * scale) for i in range(len(lengths)))

    size, scale = sizes[-1]
    for name, factor in sizes:
        if width(factor, wrap) + 0.12 * sum(wrap) <= 1.0:
            size, scale = name, factor
            break
    else:  # still too wide: wrap every longer text column
        wrap = [w or (not g.numeric[i] and lengths[i] > 12) for i, w in enumerate(wrap)]
    free = max(1.0 - width(scale, wrap), 0.1 * sum(wrap))
    specs = []
    for i in range(len(lengths)):
        if wrap[i]:
            share = max(free / sum(wrap), 0.1)
            specs.append(rf">{{\raggedright\arraybackslash}}p{{{share:.3f}\linewidth}}")
        else:
            specs.append("r" if g.numeric[i] else "l")
    return "".join(specs), wrap, size


def _table(table: Table) -> str:
    g = grid(table.frame, max_rows=MAX_ROWS, max_cols=MAX_COLS)
    caption = escape(table.caption)
    if not g.header:
        return f"\\par\\noindent\\textit{{{caption}: empty table.}}\\par\n"
    spec, wrap, size = _column_specs(g)
    n = len(g.header)
    header = " & ".join(escape(h, breakable=wrap[i]) for i, h in enumerate(g.header)) + r" \\"
    rows = "\n".join(" & ".join(escape(c, breakable=wrap[i]) for i, c in enumerate(row)) + r" \\"
                     for row in g.rows)
    notes = [t for t in (table.note, *g.notes) if t]
    note = "".join(f"\\par\\smallskip{{\\centering\\small\\itshape {escape(t)}\\par}}" for t in notes)
    if len(g.rows) <= SHORT_TABLE_ROWS:  # kept on one page, caption and notes with it
        return (f"\\par\\medskip\\noindent\\begin{{minipage}}{{\\linewidth}}\\centering\\{size}\n"
                f"\\captionof{{table}}{{{caption}}}\n\\begin{{tabular}}{{{spec}}}\n\\toprule\n{header}\n"
                f"\\midrule\n{rows}\n\\bottomrule\n\\end{{tabular}}{note}\n\\end{{minipage}}\\par\\medskip\n")
    return (
        f"{{\\{size}\n\\begin{{longtable}}{{{spec}}}\n"
        f"\\caption{{{caption}}}\\\\\n\\toprule\n{header}\n\\midrule\n\\endfirsthead\n"
        f"\\multicolumn{{{n}}}{{l}}{{\\itshape continued}}\\\\\n\\toprule\n{header}\n\\midrule\n\\endhead\n"
        f"\\midrule\n\\multicolumn{{{n}}}{{r}}{{\\itshape continued on the next page}}\\\\\n\\endfoot\n"
        f"\\bottomrule\n\\endlastfoot\n{rows}\n\\end{{longtable}}}}{note}\\par\\medskip\n"
    )


def _code(code: str) -> str:
    raw_lines = code.expandtabs(4).splitlines() or [""]
    # a long listing of short lines (a config) takes half the pages in two columns
    two = len(raw_lines) > 40 and max(len(line) for line in raw_lines) <= CODE_WIDTH // 2 - 2
    width = CODE_WIDTH // 2 - 2 if two else CODE_WIDTH
    lines = []
    for raw in raw_lines:
        chunks = [raw[i:i + width] for i in range(0, len(raw), width)] or [""]
        for j, chunk in enumerate(chunks):
            text = escape(chunk, breakable=False).replace(" ", "~")
            lines.append(("\\hspace*{2em}" if j else "") + r"\mbox{}" + text + r"\par")
    body = "\n".join(lines)
    if two:
        body = "\\begin{multicols}{2}\n" + body + "\n\\end{multicols}"
    return "\\begin{nkcode}\n" + body + "\n\\end{nkcode}\n"


def _text(text: str) -> str:
    out = []
    for kind, items in blocks(text):
        if kind == "ul":
            out.append("\\begin{itemize}\n" + "".join(f"\\item {escape(i)}\n" for i in items) + "\\end{itemize}")
        else:
            out.append(escape(items[0]) + "\n")
    return "\n".join(out)


# Documents with fewer sections get no contents list (the PDF outline lists them anyway), so that
# they compile in one pass
TOC_MIN_SECTIONS = 7

PREAMBLE = r"""\documentclass[11pt,a4paper]{article}
\usepackage{iftex}
\ifPDFTeX
  \usepackage[utf8]{inputenc}
  \IfFileExists{lmodern.sty}{\usepackage[T1]{fontenc}\usepackage{lmodern}}{}
\fi
\usepackage[a4paper,margin=2.5cm]{geometry}
\usepackage{graphicx}
\usepackage{array}
\usepackage{booktabs}
\usepackage{longtable}
\usepackage{caption}
\usepackage{multicol}
\usepackage{xcolor}
\usepackage[hidelinks,bookmarksnumbered]{hyperref}
\IfFileExists{bookmark.sty}{\usepackage{bookmark}}{}% PDF outline in one pass (hyperref: two)
\captionsetup{font=small,labelfont=bf}
\setlength{\parindent}{0pt}
\setlength{\parskip}{0.5\baselineskip}
\setlength{\LTcapwidth}{\linewidth}
\setlength{\LTpost}{0pt}
\setlength{\emergencystretch}{2em}
\ifPDFTeX\pdfobjcompresslevel=0\fi % plain page objects: tools and tests can count pages
\ifLuaTeX\pdfvariable objcompresslevel 0\fi
\newcommand{\nkchar}[1]{{\ttfamily\footnotesize[U+#1]}}
\newcommand{\nkfigure}[3]{\par\medskip\noindent\begin{minipage}{\linewidth}\centering
  \includegraphics[width=#1,height=0.55\textheight,keepaspectratio]{#2}
  \captionof{figure}{#3}\end{minipage}\par\medskip}
\newenvironment{nkcode}{\par\smallskip\begingroup\footnotesize\ttfamily\setlength{\parskip}{0pt}%
  \setlength{\leftskip}{1em}\raggedright}{\endgroup\par\smallskip}
"""


def render_latex(doc: ReportDoc, folder: Path, *, stem: str = "report") -> str:
    """The LaTeX source; figures are referenced relative to ``folder`` (copied in when outside)."""
    sections = all_sections(doc)
    title = escape(doc.title)
    if doc.subtitle:
        title += r"\\[0.3em]\large " + escape(doc.subtitle)
    meta = [PREAMBLE,
            f"\\hypersetup{{pdftitle={{{escape(doc.title)}}}"
            + (f",pdfauthor={{{escape(doc.author)}}}" if doc.author else "") + ",pdfcreator={nk}}",
            f"\\title{{{title}}}", f"\\author{{{escape(doc.author or '')}}}", r"\date{\today}",
            r"\begin{document}", r"\maketitle"]
    if len(sections) >= TOC_MIN_SECTIONS:  # a contents list costs a second LaTeX pass
        meta.append(r"{\setlength{\parskip}{0pt}\tableofcontents}")
    meta.append("")
    body = []
    n_figure = 0
    for section in sections:
        part = [f"\\section{{{escape(section.title)}}}", _text(section.text)]
        part += [_table(t) for t in section.tables]
        for figure in section.figures:
            n_figure += 1
            part.append(_figure(figure, folder, stem, n_figure))
        if section.code is not None:
            part.append(_code(section.code))
        body.append("\n".join(p for p in part if p))
    return "\n".join(meta) + "\n\n".join(body) + "\n\\end{document}\n"


# --- compiling -------------------------------------------------------------------------------------

def _first_error(log_path: Path) -> str:
    try:
        text = log_path.read_text(errors="replace")
    except OSError:
        return "no log written"
    for line in text.splitlines():
        if line.startswith("!"):
            return line[1:].strip()
    return "see the log"


def _asks_rerun(log_path: Path) -> bool:
    """Whether LaTeX's log asks for another pass (changed labels, outlines or table widths)."""
    try:
        text = log_path.read_text(errors="replace")
    except OSError:
        return False
    return any(m in text for m in ("Rerun to get", "Rerun LaTeX", "Label(s) may have changed"))


def compile_pdf(tex_path: Path, engine: str, *, timeout: float = COMPILE_TIMEOUT_S,
                ) -> tuple[Path | None, Path, str]:
    """Run ``engine`` on ``tex_path`` in its folder: once, again when the document has a table of
    contents (a ``.toc`` was written) or LaTeX asks for a rerun, at most ``MAX_PASSES`` times.
    Returns ``(pdf or None, log file, error message)``; auxiliary files and the log are removed
    after success."""
    import logging

    log = logging.getLogger("nk.report")
    folder = tex_path.parent
    stem = tex_path.stem
    pdf_path, log_path = folder / f"{stem}.pdf", folder / f"{stem}.log"
    toc_path = folder / f"{stem}.toc"
    toc_path.unlink(missing_ok=True)  # a stale contents list from an earlier document
    cmd = [engine, "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", tex_path.name]
    env = {**os.environ, "max_print_line": "1000"}  # unwrapped log lines
    started = time.perf_counter()
    error = ""
    passes = 0
    while passes < MAX_PASSES:
        passes += 1
        try:
            done = subprocess.run(cmd, cwd=folder, stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=timeout, env=env, check=False)
        except subprocess.TimeoutExpired:
            error = f"timed out after {timeout:.0f} s"
            break
        except OSError as exc:
            error = str(exc)
            break
        if done.returncode != 0:
            error = _first_error(log_path)
            break
        if not ((passes == 1 and toc_path.exists()) or _asks_rerun(log_path)):
            break
    if error or not pdf_path.exists():
        pdf_path.unlink(missing_ok=True)  # a partial PDF would look like a finished one
        return None, log_path, error or "no PDF written"
    for suffix in (".aux", ".out", ".toc", ".log"):
        (folder / f"{stem}{suffix}").unlink(missing_ok=True)
    log.info("compiled %s with %s in %.1f s (%d pass%s)", pdf_path.name, Path(engine).name,
             time.perf_counter() - started, passes, "" if passes == 1 else "es")
    return pdf_path, log_path, ""
