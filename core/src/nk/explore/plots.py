"""Plots of ``nk explore``, drawn with matplotlib's object API (no pyplot global state).

Each plot is described by a :class:`PlotJob` (a function of this module, its plain-data
arguments and the file stem) so that a batch can be rendered in worker processes; every job
writes a PNG and the extra formats the config asks for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

EFFECT_CHAR_INCHES = 0.075  # width of one character of "small" text (8.3 pt DejaVu Sans), generous
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


def _figure(width: float, height: float, *, constrained: bool = False) -> Any:
    """A Figure; constrained layout only where label sizes vary a lot (it doubles the drawing)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained" if constrained else None)


def _margins(fig: Any, *, left: float = 0.75, right: float = 0.2, bottom: float = 0.6, top: float = 0.6,
             wspace: float = 0.32) -> None:
    """Fixed margins in inches (cheap, unlike a layout engine)."""
    width, height = fig.get_size_inches()
    fig.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height,
                        top=1 - top / height, wspace=wspace)


def save(fig: Any, folder: Path, stem: str, formats: Sequence[str], dpi: int) -> list[Path]:
    """Write ``fig`` as ``stem.png`` and ``stem.<fmt>`` for the other formats; return the paths."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    paths = []
    for fmt in ["png", *[f for f in formats if f != "png"]]:
        path = folder / f"{stem}.{fmt}"
        if fmt == "png":  # light compression: a third of the encoding time, files ~1.5× larger
            fig.savefig(path, format=fmt, dpi=dpi, pil_kwargs={"compress_level": 1})
        else:
            fig.savefig(path, format=fmt)
        paths.append(path)
    return paths


def render(job: PlotJob, folder: Path, formats: Sequence[str], dpi: int) -> list[Path]:
    """Draw one job and write its files."""
    fig = globals()[job.function](**job.kwargs)
    return save(fig, folder, job.stem, formats, dpi)


def _title(ax: Any, text: str, **kwargs: Any) -> None:
    """An axes title at a fixed height: matplotlib's automatic placement measures every tick
    label's extent, a sixth of a plot's drawing time."""
    ax.set_title(text, y=1.0, pad=5, **kwargs)


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
    rotate = n > 6 or max((len(str(v)) for v in samples.index), default=0) > 6
    longest = max((len(str(v)) for v in samples.index), default=1)
    legend = bool(target) and 1 < len(samples.columns) <= 12
    right = 0.3 + 0.075 * max((len(str(c)) for c in [target or "", *samples.columns]), default=4) if legend else 0.2
    fig = _figure(width + (right if legend else 0), 4.2 + (0.07 * min(longest, 20) if rotate else 0))
    _margins(fig, bottom=0.6 + (0.07 * min(longest, 20) if rotate else 0), top=0.75, right=right,
             wspace=0.25)
    axes = fig.subplots(1, panels, squeeze=False)[0]
    ax = axes[0]
    x = np.arange(n)
    bottom = np.zeros(n)
    classes = list(samples.columns)
    for colour, cls in zip(_colours(len(classes)), classes, strict=False):
        values = samples[cls].to_numpy(dtype=float)
        ax.bar(x, values, bottom=bottom, color=colour, label=str(cls), width=0.8)
        bottom += values
    ax.set_xticks(x, [str(v) for v in samples.index])
    ax.set_xlabel(column)
    ax.set_ylabel("rows")
    _title(ax, "rows" + (f" by {target}" if target and len(classes) > 1 else ""))
    if legend:  # outside, right of the last panel
        handles, labels = ax.get_legend_handles_labels()
        fig.legend(handles[::-1], labels[::-1], title=target, fontsize="x-small", title_fontsize="small",
                   loc="upper right", bbox_to_anchor=(1.0, 1 - 0.75 / fig.get_size_inches()[1]))
    _label_bars(ax, rotate)
    if speakers is not None:
        ax2 = axes[1]
        ax2.bar(x, speakers.reindex(samples.index).fillna(0).to_numpy(dtype=float), color="#8C8C8C", width=0.8)
        ax2.set_xticks(x, [str(v) for v in samples.index])
        ax2.set_xlabel(column)
        ax2.set_ylabel("speakers")
        _title(ax2, "distinct speakers")
        _label_bars(ax2, rotate)
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
        # medians and quartiles as the violins' own line collections (cheaper than a box overlay)
        parts = ax.violinplot(data, positions=positions, showmedians=True, showextrema=False,
                              quantiles=[[0.25, 0.75]] * len(data))
        for body, colour in zip(parts["bodies"], colours, strict=False):
            body.set_facecolor(colour)
            body.set_alpha(0.6)
        parts["cmedians"].set_color("black")
        parts["cquantiles"].set_color("#444444")
        parts["cquantiles"].set_linestyle("--")
    else:
        box = ax.boxplot(data, positions=positions, widths=0.6, patch_artist=True,
                         medianprops={"color": "black"})
        for patch, colour in zip(box["boxes"], colours, strict=False):
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
    fig = _figure(4.4 * panels, 4.1)
    _margins(fig, bottom=0.85, top=0.75)
    axes = list(fig.subplots(1, panels, squeeze=False)[0])
    ax = axes.pop(0)
    values = np.asarray(values, dtype=float)
    finite = values[np.isfinite(values)]
    _, edges, _ = ax.hist(finite, bins="auto", color=PALETTE[0], alpha=0.55, histtype="stepfilled")
    if len(edges) > 1:
        _kde(ax, finite, PALETTE[3], scale=len(finite) * (edges[1] - edges[0]))
    ax.set_xlabel(column)
    ax.set_ylabel("rows")
    _title(ax, f"all rows (n = {len(finite)})")
    if groups is not None:
        ax2 = axes.pop(0)
        _distributions(ax2, groups, kind, column, target or "")
        _title(ax2, f"by {target}")
    elif target_values is not None:
        ax2 = axes.pop(0)
        ax2.scatter(values, target_values, s=8, alpha=0.5, color=PALETTE[0])
        ax2.set_xlabel(column)
        ax2.set_ylabel(target or "")
        _title(ax2, f"{target} against {column}")
    if per_speaker is not None:
        ax3 = axes.pop(0)
        ps = np.asarray(per_speaker, dtype=float)
        ps = ps[np.isfinite(ps)]
        ax3.hist(ps, bins="auto", color=PALETTE[2], alpha=0.7, histtype="stepfilled")
        ax3.set_xlabel(f"{column} (speaker mean)")
        ax3.set_ylabel("speakers")
        _title(ax3, f"per speaker (n = {len(ps)})")
    fig.suptitle(title)
    return fig


def durations(title: str, values: np.ndarray, groups: dict[str, np.ndarray] | None, target: str,
              kind: str, speakers_per_class: pd.Series | None) -> Any:
    """Duration histogram + KDE, per-class distributions and speakers per class."""
    panels = 1 + (groups is not None) + (speakers_per_class is not None)
    fig = _figure(4.4 * panels, 4.1)
    _margins(fig, bottom=0.85, top=0.75)
    axes = list(fig.subplots(1, panels, squeeze=False)[0])
    ax = axes.pop(0)
    values = np.asarray(values, dtype=float)
    _, edges, _ = ax.hist(values, bins="auto", color=PALETTE[0], alpha=0.55, histtype="stepfilled")
    if len(edges) > 1:
        _kde(ax, values, PALETTE[3], scale=len(values) * (edges[1] - edges[0]))
    ax.set_xlabel("duration (s)")
    ax.set_ylabel("rows")
    _title(ax, f"all rows: {values.sum() / 60:.1f} min")
    if groups is not None:
        ax2 = axes.pop(0)
        _distributions(ax2, groups, kind, "duration (s)", target)
        _title(ax2, f"by {target}")
    if speakers_per_class is not None:
        ax3 = axes.pop(0)
        x = np.arange(len(speakers_per_class))
        ax3.bar(x, speakers_per_class.to_numpy(dtype=float), color=_colours(len(x)))
        ax3.set_xticks(x, [str(v) for v in speakers_per_class.index])
        ax3.set_ylabel("speakers")
        ax3.set_xlabel(target)
        _title(ax3, "speakers per class")
        _label_bars(ax3, len(x) > 6)
    fig.suptitle(title)
    return fig


def association_strengths(title: str, labels: list[str], scores: list[float], significant: list[bool],
                          effects: list[str]) -> Any:
    """Horizontal bars of the strength scores of the ranked associations; each effect (size, p)
    is written in a column right of the axes, so that a long bar never pushes it off the figure."""
    from matplotlib.transforms import blended_transform_factory

    n = len(labels)
    left = 0.35 + 0.08 * max((len(label) for label in labels), default=4)
    right = 0.3 + EFFECT_CHAR_INCHES * max((len(text) for text in effects), default=4)
    fig = _figure(left + 6.0 + right, max(2.4, 0.42 * n + 1.3))
    _margins(fig, left=left, right=right, bottom=0.55, top=0.45)
    ax = fig.subplots()
    y = np.arange(n)[::-1]
    colours = [PALETTE[3] if s else "#AAAAAA" for s in significant]
    ax.barh(y, scores, color=colours)
    beside = blended_transform_factory(ax.transAxes, ax.transData)  # x: axes fraction, y: the bar
    for yi, text in zip(y, effects, strict=False):
        ax.text(1.02, yi, text, va="center", ha="left", fontsize="small", transform=beside, clip_on=False)
    ax.set_yticks(y, labels)
    for x, word in ((0.5, "negligible"), (1.5, "weak"), (2.5, "moderate"), (3.5, "strong")):
        ax.text(x, n - 0.35, word, ha="center", fontsize="x-small", color="#555555")
    for x in (1, 2, 3):
        ax.axvline(x, color="#CCCCCC", linewidth=0.8, zorder=0)
    ax.set_xlim(0, 4.1)
    ax.set_ylim(-0.6, n - 0.1)
    ax.set_xlabel("strength (0–1 negligible, 1–2 weak, 2–3 moderate, 3–4 strong); red: significant after Holm",
                  fontsize="small")
    fig.suptitle(title)
    return fig


def feature_distribution(title: str, feature: str, groups: dict[str, np.ndarray] | None, target: str,
                         kind: str, values: np.ndarray | None = None,
                         target_values: np.ndarray | None = None) -> Any:
    """One feature's distribution per class (or against a continuous target)."""
    fig = _figure(max(4.2, 0.7 * len(groups or {}) + 2.5), 4.0)
    _margins(fig, left=0.9, bottom=0.65 if len(groups or {}) <= 6 else 1.1, top=0.6)
    ax = fig.subplots()
    short = feature.split(".", 1)[-1]
    short = short if len(short) <= 28 else short[:27] + "…"  # the title has the full name
    if groups is not None:
        _distributions(ax, groups, kind, short, target)
    else:
        ax.scatter(target_values, values, s=8, alpha=0.5, color=PALETTE[0])
        ax.set_xlabel(target)
        ax.set_ylabel(short)
    _title(ax, title, fontsize="small")
    return fig


def importances(title: str, table: pd.DataFrame) -> Any:
    """Grouped bars: the top features (rows, in rank order) by each method (columns), each
    method scaled to its largest value. The legend sits above the bars (never over them); a
    negative permutation importance gets a line below the axis that says what it means."""
    methods = list(table.columns)
    n = len(table)
    left = 0.3 + 0.062 * max((len(str(i)) for i in table.index), default=4)
    negative = "permutation" in table and bool((table["permutation"].to_numpy(dtype=float) < 0).any())
    bottom = 0.6 + (0.45 if negative else 0.0)
    fig = _figure(left + 5.0, max(3.0, 0.32 * n + 1.3) + 0.35 + (0.45 if negative else 0.0))
    _margins(fig, left=left, right=0.2, bottom=bottom, top=0.8)
    ax = fig.subplots()
    height = 0.8 / max(1, len(methods))
    y = np.arange(n)[::-1]
    for i, (method, colour) in enumerate(zip(methods, _colours(len(methods)), strict=False)):
        values = table[method].to_numpy(dtype=float)
        top = np.nanmax(np.abs(values)) if np.isfinite(values).any() else 0.0
        scaled = values / top if top > 0 else values
        ax.barh(y + 0.4 - (i + 0.5) * height, scaled, height=height, color=colour, label=method)
    ax.set_yticks(y, [str(i) for i in table.index], fontsize="x-small")
    ax.set_ylim(-0.5, n - 0.5)
    ax.axvline(0, color="black", linewidth=0.6)
    ax.set_xlabel("importance (scaled to each method's largest)", fontsize="small")
    ax.legend(fontsize="x-small", loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=max(1, len(methods)),
              frameon=False, borderaxespad=0.2)
    if negative:
        fig.text(0.5, 0.12 / fig.get_size_inches()[1], NEGATIVE_PERMUTATION, ha="center", va="bottom",
                 fontsize="x-small", color="#444444", wrap=True)
    fig.suptitle(title)
    return fig


NEGATIVE_PERMUTATION = ("permutation < 0: shuffling the feature made the held-out score better, i.e. the "
                        "model gains nothing from it there (chance, or the feature misleads on new speakers)")


def scatter(title: str, xy: np.ndarray, colourings: dict[str, pd.Series | np.ndarray],
            axis_labels: tuple[str, str]) -> Any:
    """A 2-D projection, one panel per colouring (categorical: legend up to 12 values; numeric:
    colour bar). One scatter call per panel: cheap to draw whatever the number of values."""
    from matplotlib.colors import to_rgba
    from matplotlib.lines import Line2D

    panels = max(1, len(colourings))
    fig = _figure(4.6 * panels, 4.4)
    _margins(fig, left=0.35, right=0.3, bottom=0.45, top=0.75, wspace=0.12)
    axes = fig.subplots(1, panels, squeeze=False)[0]
    for ax, (name, values) in zip(axes, colourings.items(), strict=False):
        values = pd.Series(np.asarray(values))
        numeric = pd.api.types.is_numeric_dtype(values) and values.nunique() > 10
        if numeric:
            points = ax.scatter(xy[:, 0], xy[:, 1], c=values.to_numpy(dtype=float), s=9, cmap="viridis",
                                alpha=0.8)
            fig.colorbar(points, ax=ax, label=name, fraction=0.05, pad=0.02)
        else:
            text = values.astype(str)
            levels = sorted(text.unique())
            palette = [to_rgba(c) for c in _colours(len(levels))]
            codes = pd.Categorical(text, categories=levels).codes
            ax.scatter(xy[:, 0], xy[:, 1], c=np.asarray(palette)[codes], s=9, alpha=0.8)
            if len(levels) <= 12:
                handles = [Line2D([], [], marker="o", linestyle="", color=c, markersize=4) for c in palette]
                ax.legend(handles, levels, title=name, fontsize="x-small", title_fontsize="small")
        _title(ax, f"coloured by {name}")
        ax.set_xlabel(axis_labels[0])
        ax.set_ylabel(axis_labels[1])
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title)
    return fig
