"""Compatibility module: metrics live in :mod:`nk.metrics`, plots in :mod:`nk.plots`.

``from nk import evaluate`` keeps working for plugins written against it; importing it does
not import matplotlib (the plot functions import it when they draw).
"""

from __future__ import annotations

from nk.metrics import (
    Interval,
    ccc_pcc,
    classification_metrics,
    regression_metrics,
    uar_from_counts,
)
from nk.plots import plot_confusion_matrix, plot_truth_vs_prediction, save_figure

__all__ = ["Interval", "ccc_pcc", "classification_metrics", "plot_confusion_matrix",
           "plot_truth_vs_prediction", "regression_metrics", "save_figure", "uar_from_counts"]
