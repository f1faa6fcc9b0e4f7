"""Reports: one document model written as a self-contained HTML page, LaTeX source and PDF.

A :class:`ReportDoc` holds sections of plain text, tables (DataFrames), figures (PNG files)
and preformatted text (e.g. the config). :func:`write_reports` writes it as

- ``<stem>.html``: one self-contained file (images embedded, inline CSS, no scripts), always;
- ``<stem>.tex``: LaTeX source (article class), always; figures are referenced relative to
  the folder;
- ``<stem>.pdf``: compiled from the ``.tex`` with pdflatex, lualatex or xelatex when one is
  installed (``pdf="auto"``), required (``"always"``) or skipped (``"never"``).

All text is plain text: it is escaped for HTML and LaTeX, so values such as ``<script>`` or
``50% & more`` appear literally. The document's ``metadata`` becomes an "Environment" section.
``nk run`` writes a report for each run (:mod:`nk.report.run`) and sweep (:mod:`nk.report.sweep`);
other commands (``nk explore``) build their own :class:`ReportDoc`.

This module imports only the standard library, so importing it is cheap.
"""

from __future__ import annotations

import hashlib
import logging
import platform
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nk.errors import UserError

if TYPE_CHECKING:
    import pandas

log = logging.getLogger("nk.report")

PDF_MODES = ("auto", "always", "never")


@dataclass
class Table:
    """A table rendered from a DataFrame; a non-default index is shown as the first column(s)."""

    caption: str
    frame: pandas.DataFrame
    note: str = ""


@dataclass
class Figure:
    """An image file (PNG; JPEG and SVG work in HTML, PNG/JPEG/PDF in LaTeX) with a caption."""

    caption: str
    path: Path


@dataclass
class Section:
    """A numbered section: text, then tables, figures and preformatted ``code``.

    ``text`` is plain text; blank lines separate paragraphs and a paragraph whose lines all
    start with ``"- "`` becomes a bulleted list.
    """

    title: str
    text: str = ""
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    code: str | None = None


@dataclass
class ReportDoc:
    """A report: title, author, sections; ``metadata`` is rendered as the "Environment" section."""

    title: str
    author: str | None
    subtitle: str = ""
    sections: list[Section] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)


# --- environment and data identity -------------------------------------------------------------


def git_revision(folder: Path | None = None) -> str | None:
    """The commit of the git repository containing ``folder`` (default: the working directory),
    with ``" (modified)"`` when tracked files differ from it; None without git or a repository."""
    cwd = Path(folder) if folder is not None else Path.cwd()
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                             timeout=10, check=False)
        if rev.returncode != 0 or not rev.stdout.strip():
            return None
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                                capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    modified = status.returncode == 0 and bool(status.stdout.strip())
    return rev.stdout.strip() + (" (modified)" if modified else "")


BASE_LIBRARIES = ("numpy", "pandas", "scipy", "scikit-learn", "imbalanced-learn", "soundfile", "hydra-core",
                  "omegaconf")
"""Distributions every run uses (arrays, tables, learners, re-sampling, audio, config)."""

RECORD_GROUPS = ("data", "segment", "augment", "feats", "model", "report")
"""Config groups whose selected components the record lists."""


def _installed(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _requirement_names(dist: str) -> list[str]:
    """Names of the distributions ``dist`` requires (without extras-only ones)."""
    import re
    from importlib import metadata

    try:
        requires = metadata.requires(dist) or []
    except metadata.PackageNotFoundError:
        return []
    names = []
    for req in requires:
        if "extra" in req.partition(";")[2]:  # only with an extra (e.g. nk[test])
            continue
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req)
        if match:
            names.append(match.group(1))
    return names


def component_libraries(component: Any) -> dict[str, str]:
    """Installed versions of the libraries a component computes with: its factory's
    ``cache_dependencies`` and ``library_dependencies`` (class or function attributes) plus the
    direct requirements of the distribution that provides it (nk's own core requirements are in
    :data:`BASE_LIBRARIES`). Distributions that are not installed are left out."""
    names: list[str] = []
    for attribute in ("cache_dependencies", "library_dependencies"):
        names += [str(d) for d in getattr(component.factory, attribute, ()) or ()]
    if component.provider != "nk":
        names += [d for d in _requirement_names(component.provider) if d.lower() != "nk"]
    out: dict[str, str] = {}
    for dist in names:
        version = _installed(dist)
        if version is not None and dist not in out:
            out[dist] = version
    return out


def reproducibility_record(pm: Any, cfg: Any = None) -> dict[str, Any]:
    """What produced a result, as JSON: nk, every plugin distribution, the libraries that
    compute the numbers (:data:`BASE_LIBRARIES` plus each selected component's
    :func:`component_libraries`), the components with their providers, the seed, Python, the
    platform and the git revision of the working directory. ``results.json`` stores it as
    ``environment``; the report's Environment table is :func:`environment_table` of it."""
    from nk import __version__

    plugins: dict[str, str] = {}
    for plugin in pm.plugin_infos():
        if plugin.distribution != "nk":
            plugins.setdefault(plugin.distribution, plugin.version)
    libraries = {dist: v for dist in BASE_LIBRARIES if (v := _installed(dist)) is not None}
    components: dict[str, Any] = {}
    if cfg is not None:
        from nk.config import databases, selected

        for group in RECORD_GROUPS:
            if group not in cfg:
                continue
            chosen = ([(db.name, db.loader) for db in databases(cfg)] if group == "data"
                      else [(name, name) for name, _ in selected(cfg, group)])
            for name, component in chosen:  # a database's key is its name, `loader` its component
                comp = pm.registry.get(group, component)
                libs = component_libraries(comp)
                components[f"{group}.{name}"] = {"provider": comp.provider, "version": comp.version,
                                                 "libraries": libs}
                for dist, version in libs.items():
                    libraries.setdefault(dist, version)
    return {
        "nk": __version__,
        "plugins": plugins,
        "libraries": libraries,
        "components": components,
        "seed": None if cfg is None else cfg.get("seed"),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "working_directory": str(Path.cwd()),
        "git_revision": git_revision(),
    }


def environment_table(record: dict[str, Any]) -> dict[str, str]:
    """The record of :func:`reproducibility_record` as the report's Environment rows."""
    used_by: dict[str, list[str]] = {}
    for key, comp in record.get("components", {}).items():
        for dist in comp.get("libraries", {}):
            used_by.setdefault(dist, []).append(key)
    info: dict[str, str] = {"nk": str(record["nk"])}
    for dist, version in record.get("plugins", {}).items():
        info[f"plugin {dist}"] = str(version)
    for key, comp in record.get("components", {}).items():
        info[f"component {key}"] = f"{comp['provider']} {comp['version']}"
    for dist, version in record.get("libraries", {}).items():
        info[dist] = str(version) + (f" (used by {', '.join(used_by[dist])})" if dist in used_by else "")
    if record.get("seed") is not None:
        info["seed"] = str(record["seed"])
    info["Python"] = str(record["python"])
    info["platform"] = str(record["platform"])
    info["working directory"] = str(record["working_directory"])
    info["git revision"] = record.get("git_revision") or "not a git repository"
    return info


def environment_info(pm: Any, cfg: Any = None) -> dict[str, str]:
    """The Environment table of a report: :func:`environment_table` of a new
    :func:`reproducibility_record` (with ``cfg``: its components, their libraries and the seed)."""
    return environment_table(reproducibility_record(pm, cfg))


def data_hash(frame: pandas.DataFrame) -> str:
    """A stable sha256 of a data table: its index, column names and values.

    Row order and column order do not matter (a loader that lists files in another order
    gives the same hash); any changed value, file, label or column does.
    """
    import numpy as np
    import pandas as pd

    order = sorted(range(frame.shape[1]), key=lambda i: str(frame.columns[i]))
    ordered = frame.iloc[:, order]
    columns = list(ordered.columns)
    try:
        rows = pd.util.hash_pandas_object(ordered, index=True)
    except TypeError:  # unhashable cells (lists, dicts): hash their text
        rows = pd.util.hash_pandas_object(ordered.astype(str), index=True)
    digest = hashlib.sha256()
    digest.update(repr([str(c) for c in columns]).encode())
    digest.update(repr([str(n) for n in frame.index.names]).encode())
    digest.update(np.sort(rows.to_numpy(dtype=np.uint64)).tobytes())
    return digest.hexdigest()


# --- writing -----------------------------------------------------------------------------------


def pdf_mode(value: Any) -> str:
    """``auto``/``always``/``never`` from a string or an enum member (``document.pdf``)."""
    mode = str(getattr(value, "value", value)).lower()
    if mode not in PDF_MODES:
        raise UserError(f"Unknown PDF mode {value!r}", where="config key document.pdf",
                        allowed=", ".join(PDF_MODES), todo="choose one of the allowed values")
    return mode


def check_pdf_possible(value: Any) -> None:
    """Raise a UserError when ``pdf="always"`` but no LaTeX engine is installed (check early)."""
    from nk.report.latex import find_engine

    if pdf_mode(value) == "always" and find_engine() is None:
        raise UserError(
            "document.pdf=always needs a LaTeX engine (pdflatex, lualatex or xelatex), and none is installed",
            where="config key document.pdf",
            allowed="auto (PDF when LaTeX is installed), always, never",
            todo="install TeX Live (Debian/Ubuntu: apt-get install texlive-latex-recommended "
                 "texlive-latex-extra), or set document.pdf=auto",
        )


def write_reports(doc: ReportDoc, folder: Path, *, stem: str = "report", pdf: str = "auto") -> dict[str, Path]:
    """Write ``doc`` as ``folder/<stem>.html`` and ``.tex``, and compile ``.pdf`` per ``pdf``.

    Returns ``{"html": …, "tex": …}`` plus ``"pdf"`` when a PDF was made, or ``"log"`` (the
    LaTeX log) when compiling failed. A failed compilation is logged as a warning in ``auto``
    mode and raises :class:`~nk.errors.UserError` in ``always`` mode, as does a missing engine.
    """
    from nk.report.html import render_html
    from nk.report.latex import compile_pdf, find_engine, render_latex

    mode = pdf_mode(pdf)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if mode == "always":
        check_pdf_possible(mode)
    out: dict[str, Path] = {}
    html_path = folder / f"{stem}.html"
    html_path.write_text(render_html(doc, folder), encoding="utf-8")
    out["html"] = html_path
    tex_path = folder / f"{stem}.tex"
    tex_path.write_text(render_latex(doc, folder, stem=stem), encoding="utf-8")
    out["tex"] = tex_path
    engine = find_engine() if mode != "never" else None
    if engine is not None:
        pdf_path, log_path, error = compile_pdf(tex_path, engine)
        if pdf_path is not None:
            out["pdf"] = pdf_path
        else:
            out["log"] = log_path
            if mode == "always":
                raise UserError(f"Compiling {tex_path.name} to PDF with {Path(engine).name} failed: {error}",
                                where=str(log_path), todo="read the LaTeX log; set document.pdf=auto "
                                "to keep the HTML and .tex reports without a PDF")
            log.warning("PDF report not made: %s failed on %s (%s); see %s", Path(engine).name,
                        tex_path, error, log_path)
    elif mode == "auto":
        log.info("no LaTeX engine found (pdflatex, lualatex, xelatex): %s has no PDF", tex_path)
    return out


__all__ = ["Figure", "ReportDoc", "Section", "Table", "check_pdf_possible", "component_libraries", "data_hash",
           "environment_info", "environment_table", "git_revision", "pdf_mode", "reproducibility_record",
           "write_reports"]
