"""Diagnostic plots of predictions: confusion matrix and truth against prediction.

matplotlib is imported inside each function, so importing this module (or :mod:`nk.metrics`)
stays cheap; figures are drawn on the Agg canvas (no display needed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nk.metrics import ArrayLike, _as_1d, _as_float, _check_pair, _confusion, _encode_labels


def save_figure(fig: Any, path: Path) -> None:
    """Render a Figure with the Agg canvas and write it as PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(path, format="png", dpi=120)


def plot_confusion_matrix(
    truth: ArrayLike,
    pred: ArrayLike,
    labels: ArrayLike | None,
    path: Path,
    *,
    title: str = "",
) -> None:
    """Write a PNG confusion matrix; each cell shows its count and row-%."""
    from matplotlib.figure import Figure

    t_raw, p_raw = _as_1d(truth, "truth"), _as_1d(pred, "pred")
    _check_pair(t_raw, p_raw)
    label_list, t, p = _encode_labels(t_raw, p_raw, labels)
    k = len(label_list)
    cm = _confusion(t, p, k)
    row_sums = cm.sum(axis=1, keepdims=True)
    share = np.divide(cm, row_sums, out=np.zeros(cm.shape), where=row_sums > 0)

    side = 2.0 + 0.8 * k
    fig = Figure(figsize=(side + 1.0, side), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, label="row share")
    fontsize = max(5.0, min(10.0, 60.0 / k))
    for i in range(k):
        for j in range(k):
            colour = "white" if share[i, j] > 0.5 else "black"
            ax.text(
                j,
                i,
                f"{cm[i, j]}\n{100 * share[i, j]:.1f}%",
                ha="center",
                va="center",
                color=colour,
                fontsize=fontsize,
            )
    names = [str(label) for label in label_list]
    ax.set_xticks(range(k), names, rotation=45, ha="right")
    ax.set_yticks(range(k), names)
    ax.set_xlabel("Predicted")
    ax.set_ylabel("True")
    if title:
        ax.set_title(title)
    save_figure(fig, path)


def plot_truth_vs_prediction(
    truth: ArrayLike, pred: ArrayLike, path: Path, *, title: str = ""
) -> None:
    """Write a PNG scatter of prediction against truth with the identity line."""
    from matplotlib.figure import Figure

    x, y = _as_float(truth, "truth"), _as_float(pred, "pred")
    n = _check_pair(x, y)
    fig = Figure(figsize=(5.5, 5.0), layout="constrained")
    ax = fig.add_subplot()
    ax.scatter(
        x, y, s=10, alpha=float(np.clip(300.0 / n, 0.05, 0.8)), edgecolors="none"
    )
    low, high = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
    pad = 0.05 * (high - low) if high > low else 1.0
    ax.plot(
        [low - pad, high + pad],
        [low - pad, high + pad],
        color="grey",
        linestyle="--",
        linewidth=1.0,
        label="identity",
    )
    ax.set_xlim(low - pad, high + pad)
    ax.set_ylim(low - pad, high + pad)
    ax.set_aspect("equal")
    ax.set_xlabel("Truth")
    ax.set_ylabel("Prediction")
    ax.legend(loc="upper left")
    if title:
        ax.set_title(title)
    save_figure(fig, path)


def plot_epochs(history: list[dict[str, Any]], path: Path, *, best_epoch: int | None = None,
                title: str = "") -> None:
    """Write a PNG of a neural learner's training curve: the train loss per epoch (left axis),
    each ``dev_<metric>`` entry (right axis) and the chosen epoch as a dashed line. ``history``
    holds one dict per epoch with ``epoch`` and ``train_loss`` (a learner's ``history_``)."""
    from matplotlib.figure import Figure

    if not history:
        raise ValueError("plot_epochs: the history is empty")
    epochs = [int(h["epoch"]) for h in history]
    fig = Figure(figsize=(6.0, 3.8), layout="constrained")
    ax = fig.add_subplot()
    handles = ax.plot(epochs, [float(h.get("train_loss", np.nan)) for h in history], color="tab:blue",
                      marker=".")
    labels = ["train loss"]
    ax.set_xlabel("Epoch")
    ax.set_ylabel("Train loss", color="tab:blue")
    dev_keys = sorted({k for h in history for k in h if k.startswith("dev_")})
    if dev_keys:
        right = ax.twinx()
        for key in dev_keys:
            handles += right.plot(epochs, [float(h.get(key, np.nan)) for h in history], color="tab:orange",
                                  marker=".")
            labels.append(f"dev {key[4:].upper()}")
        right.set_ylabel("Dev metric (higher is better)", color="tab:orange")
    if best_epoch is not None:
        handles.append(ax.axvline(best_epoch, color="grey", linestyle="--", linewidth=1.0))
        labels.append(f"chosen epoch {best_epoch}")
    fig.legend(handles, labels, loc="outside lower center", ncol=3, frameon=False)
    if title:
        ax.set_title(title)
    save_figure(fig, path)
