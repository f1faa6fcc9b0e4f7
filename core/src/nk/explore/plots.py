"""Plots of ``nk explore``, drawn with matplotlib's object API (no pyplot global state).

Each plot is described by a :class:`PlotJob` (a function of this module, its plain-data
arguments and the file stem) so that a batch can be rendered in worker processes; every job
writes a PNG and the extra formats the config asks for.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

PALETTE = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C",
           "#CCB974", "#64B5CD")


@dataclass
class PlotJob:
    """One plot: ``function`` (a name in this module) called with ``stem`` and ``kwargs``."""

    function: str
    stem: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    caption: str = ""
    section: str = ""


def _colours(n: int) -> list[Any]:
    if n <= len(PALETTE):
        return list(PALETTE[:n])
    from matplotlib import colormaps

    cmap = colormaps["tab20" if n <= 20 else "turbo"]
    return [cmap(i / max(1, n - 1)) if n > 20 else cmap(i) for i in range(n)]


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def save(fig: Any, folder: Path, stem: str, formats: Sequence[str], dpi: int) -> list[Path]:
    """Write ``fig`` as ``stem.png`` and ``stem.<fmt>`` for the other formats; return the paths."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    paths = []
    for fmt in ["png", *[f for f in formats if f != "png"]]:
        path = folder / f"{stem}.{fmt}"
        fig.savefig(path, format=fmt, dpi=dpi if fmt == "png" else None)
        paths.append(path)
    return paths


def render(job: PlotJob, folder: Path, formats: Sequence[str], dpi: int) -> list[Path]:
    """Draw one job and write its files."""
    fig = globals()[job.function](**job.kwargs)
    return save(fig, folder, job.stem, formats, dpi)


def _label_bars(ax: Any, rotate: bool) -> None:
    if rotate:
        for label in ax.get_xticklabels():
            label.set_rotation(45)
            label.set_horizontalalignment("right")


def stacked_counts(title: str, samples: pd.DataFrame, speakers: pd.Series | None, column: str,
                   target: str | None) -> Any:
    """Rows per value of ``column`` stacked by target class; distinct speakers per value beside."""
    panels = 2 if speakers is not None else 1
    n = len(samples.index)
    width = min(16.0, max(4.5, 0.45 * n + 2.5)) * (1 if panels == 1 else 1.6)
    fig = _figure(width, 4.2)
    axes = fig.subplots(1, panels, squeeze=False)[0]
    ax = axes[0]
    x = np.arange(n)
    bottom = np.zeros(n)
    classes = list(samples.columns)
    for colour, cls in zip(_colours(len(classes)), classes):
        values = samples[cls].to_numpy(dtype=float)
        ax.bar(x, values, bottom=bottom, color=colour, label=str(cls), width=0.8)
        bottom += values
    ax.set_xticks(x, [str(v) for v in samples.index])
    ax.set_xlabel(column)
    ax.set_ylabel("rows")
    ax.set_title("rows" + (f" by {target}" if target and len(classes) > 1 else ""))
    if target and 1 < len(classes) <= 12:
        ax.legend(title=target, fontsize="small", title_fontsize="small")
    _label_bars(ax, n > 6 or max((len(str(v)) for v in samples.index), default=0) > 6)
    if speakers is not None:
        ax2 = axes[1]
        ax2.bar(x, speakers.reindex(samples.index).fillna(0).to_numpy(dtype=float), color="#8C8C8C", width=0.8)
        ax2.set_xticks(x, [str(v) for v in samples.index])
        ax2.set_xlabel(column)
        ax2.set_ylabel("speakers")
        ax2.set_title("distinct speakers")
        _label_bars(ax2, n > 6)
    fig.suptitle(title)
    return fig


def _kde(ax: Any, values: np.ndarray, colour: Any, label: str | None = None, scale: float = 1.0) -> None:
    from scipy.stats import gaussian_kde

    values = values[np.isfinite(values)]
    if len(values) < 3 or np.ptp(values) == 0:
        return
    grid = np.linspace(values.min(), values.max(), 200)
    try:
        density = gaussian_kde(values)(grid)
    except np.linalg.LinAlgError:
        return
    ax.plot(grid, density * scale, color=colour, label=label, linewidth=1.6)


def _distributions(ax: Any, groups: dict[str, np.ndarray], kind: str, ylabel: str, xlabel: str) -> None:
    names = list(groups)
    data = [np.asarray(groups[g], dtype=float) for g in names]
    data = [d[np.isfinite(d)] for d in data]
    positions = np.arange(1, len(names) + 1)
    colours = _colours(len(names))
    drawable = [len(d) > 1 and np.ptp(d) > 0 for d in data]
    if kind == "violin" and all(drawable):
        parts = ax.violinplot(data, positions=positions, showmedians=True, showextrema=False)
        for body, colour in zip(parts["bodies"], colours):
            body.set_facecolor(colour)
            body.set_alpha(0.6)
        ax.boxplot(data, positions=positions, widths=0.12, showfliers=False,
                   medianprops={"color": "black"}, patch_artist=False)
    else:
        box = ax.boxplot(data, positions=positions, widths=0.6, patch_artist=True,
                         medianprops={"color": "black"})
        for patch, colour in zip(box["boxes"], colours):
            patch.set_facecolor(colour)
            patch.set_alpha(0.6)
    ax.set_xticks(positions, names)
    ax.set_ylabel(ylabel)
    ax.set_xlabel(xlabel)
    _label_bars(ax, len(names) > 6 or max((len(n) for n in names), default=0) > 8)


def continuous(title: str, column: str, values: np.ndarray, groups: dict[str, np.ndarray] | None,
               target: str | None, per_speaker: np.ndarray | None, kind: str,
               target_values: np.ndarray | None = None) -> Any:
    """Histogram + KDE; per-class violins/boxes (or a scatter against a continuous target);
    the distribution of per-speaker means."""
    panels = 1 + (groups is not None or target_values is not None) + (per_speaker is not None)
    fig = _figure(4.4 * panels, 3.9)
    axes = list(fig.subplots(1, panels, squeeze=False)[0])
    ax = axes.pop(0)
    values = np.asarray(values, dtype=float)
    finite = values[np.isfinite(values)]
    counts, edges, _ = ax.hist(finite, bins="auto", color=PALETTE[0], alpha=0.55)
    if len(edges) > 1:
        _kde(ax, finite, PALETTE[3], scale=len(finite) * (edges[1] - edges[0]))
    ax.set_xlabel(column)
    ax.set_ylabel("rows")
    ax.set_title(f"all rows (n = {len(finite)})")
    if groups is not None:
        ax2 = axes.pop(0)
        _distributions(ax2, groups, kind, column, target or "")
        ax2.set_title(f"by {target}")
    elif target_values is not None:
        ax2 = axes.pop(0)
        ax2.scatter(values, target_values, s=8, alpha=0.5, color=PALETTE[0])
        ax2.set_xlabel(column)
        ax2.set_ylabel(target or "")
        ax2.set_title(f"{target} against {column}")
    if per_speaker is not None:
        ax3 = axes.pop(0)
        ps = np.asarray(per_speaker, dtype=float)
        ps = ps[np.isfinite(ps)]
        ax3.hist(ps, bins="auto", color=PALETTE[2], alpha=0.7)
        ax3.set_xlabel(f"{column} (speaker mean)")
        ax3.set_ylabel("speakers")
        ax3.set_title(f"per speaker (n = {len(ps)})")
    fig.suptitle(title)
    return fig


def durations(title: str, values: np.ndarray, groups: dict[str, np.ndarray] | None, target: str,
              kind: str, speakers_per_class: pd.Series | None) -> Any:
    """Duration histogram + KDE, per-class distributions and speakers per class."""
    panels = 1 + (groups is not None) + (speakers_per_class is not None)
    fig = _figure(4.4 * panels, 3.9)
    axes = list(fig.subplots(1, panels, squeeze=False)[0])
    ax = axes.pop(0)
    values = np.asarray(values, dtype=float)
    counts, edges, _ = ax.hist(values, bins="auto", color=PALETTE[0], alpha=0.55)
    if len(edges) > 1:
        _kde(ax, values, PALETTE[3], scale=len(values) * (edges[1] - edges[0]))
    ax.set_xlabel("duration (s)")
    ax.set_ylabel("rows")
    ax.set_title(f"all rows: {values.sum() / 60:.1f} min")
    if groups is not None:
        ax2 = axes.pop(0)
        _distributions(ax2, groups, kind, "duration (s)", target)
        ax2.set_title(f"by {target}")
    if speakers_per_class is not None:
        ax3 = axes.pop(0)
        x = np.arange(len(speakers_per_class))
        ax3.bar(x, speakers_per_class.to_numpy(dtype=float), color=_colours(len(x)))
        ax3.set_xticks(x, [str(v) for v in speakers_per_class.index])
        ax3.set_ylabel("speakers")
        ax3.set_xlabel(target)
        ax3.set_title("speakers per class")
        _label_bars(ax3, len(x) > 6)
    fig.suptitle(title)
    return fig


def association_strengths(title: str, labels: list[str], scores: list[float], significant: list[bool],
                          effects: list[str]) -> Any:
    """Horizontal bars of the strength scores of the ranked associations."""
    n = len(labels)
    fig = _figure(7.5, max(2.4, 0.42 * n + 1.2))
    ax = fig.subplots()
    y = np.arange(n)[::-1]
    colours = [PALETTE[3] if s else "#AAAAAA" for s in significant]
    ax.barh(y, scores, color=colours)
    for yi, score, text in zip(y, scores, effects):
        ax.text(score + 0.05, yi, text, va="center", fontsize="small")
    ax.set_yticks(y, labels)
    for x, word in ((0.5, "negligible"), (1.5, "weak"), (2.5, "moderate"), (3.5, "strong")):
        ax.text(x, n - 0.35, word, ha="center", fontsize="x-small", color="#555555")
    for x in (1, 2, 3):
        ax.axvline(x, color="#CCCCCC", linewidth=0.8, zorder=0)
    ax.set_xlim(0, 4.6)
    ax.set_ylim(-0.6, n - 0.1)
    ax.set_xlabel("strength (0–1 negligible, 1–2 weak, 2–3 moderate, 3–4 strong); red: significant after Holm")
    fig.suptitle(title)
    return fig


def feature_distribution(title: str, feature: str, groups: dict[str, np.ndarray] | None, target: str,
                         kind: str, values: np.ndarray | None = None,
                         target_values: np.ndarray | None = None) -> Any:
    """One feature's distribution per class (or against a continuous target)."""
    fig = _figure(max(4.2, 0.7 * len(groups or {}) + 2.5), 3.8)
    ax = fig.subplots()
    if groups is not None:
        _distributions(ax, groups, kind, feature, target)
    else:
        ax.scatter(target_values, values, s=8, alpha=0.5, color=PALETTE[0])
        ax.set_xlabel(target)
        ax.set_ylabel(feature)
    ax.set_title(title, fontsize="medium")
    return fig


def importances(title: str, tables: dict[str, pd.Series]) -> Any:
    """Bars of the largest importances, one panel per method."""
    panels = len(tables)
    rows = max((len(s) for s in tables.values()), default=1)
    fig = _figure(4.6 * panels, max(3.0, 0.3 * rows + 1.3))
    axes = fig.subplots(1, panels, squeeze=False)[0]
    for ax, (method, series) in zip(axes, tables.items()):
        y = np.arange(len(series))[::-1]
        ax.barh(y, series.to_numpy(dtype=float), color=PALETTE[0])
        ax.set_yticks(y, [str(i) for i in series.index], fontsize="small")
        ax.set_title(method)
        ax.axvline(0, color="black", linewidth=0.6)
    fig.suptitle(title)
    return fig


def scatter(title: str, xy: np.ndarray, colourings: dict[str, pd.Series | np.ndarray],
            axis_labels: tuple[str, str]) -> Any:
    """A 2-D projection, one panel per colouring (categorical: legend; numeric: colour bar)."""
    panels = max(1, len(colourings))
    fig = _figure(4.6 * panels, 4.2)
    axes = fig.subplots(1, panels, squeeze=False)[0]
    for ax, (name, values) in zip(axes, colourings.items()):
        values = pd.Series(np.asarray(values))
        numeric = pd.api.types.is_numeric_dtype(values) and values.nunique() > 10
        if numeric:
            points = ax.scatter(xy[:, 0], xy[:, 1], c=values.to_numpy(dtype=float), s=9, cmap="viridis",
                                alpha=0.8)
            fig.colorbar(points, ax=ax, label=name)
        else:
            levels = sorted(values.astype(str).unique())
            for colour, level in zip(_colours(len(levels)), levels):
                mask = (values.astype(str) == level).to_numpy()
                ax.scatter(xy[mask, 0], xy[mask, 1], s=9, alpha=0.8, color=colour, label=level)
            if len(levels) <= 12:
                ax.legend(title=name, fontsize="x-small", title_fontsize="small", markerscale=1.5)
        ax.set_title(f"coloured by {name}")
        ax.set_xlabel(axis_labels[0])
        ax.set_ylabel(axis_labels[1])
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title)
    return fig


def grid_shape(n: int) -> tuple[int, int]:
    cols = min(n, 5)
    return math.ceil(n / cols), cols
