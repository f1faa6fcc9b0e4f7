"""The figures of ``nk explore`` (nk.explore.plots): nothing cut off, legends beside the data,
and what a negative permutation importance means said in the plot."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg

from nk.explore import plots


def _drawn(fig):
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def _inside(box, outer, slack: float = 1.0) -> bool:
    return (box.x0 >= outer.x0 - slack and box.x1 <= outer.x1 + slack
            and box.y0 >= outer.y0 - slack and box.y1 <= outer.y1 + slack)


def test_bias_plot_keeps_every_label_inside_the_figure():
    """Issue 10: the top label of bias.png was cut ("p <") when its bar was long."""
    effects = ["Cramér's V = 1.00, p < .001", "Cramér's V = 0.95, p < .001", "ε² = 0.03, p = .201",
               "a much longer effect description = 0.123456, p < .001"]
    fig = plots.association_strengths("emotion: associations with the other columns",
                                      ["gender", "speaker", "duration", "a_long_column_name"],
                                      [4.0, 3.9, 1.4, 3.99], [True, True, False, True], effects)
    renderer = _drawn(fig)
    texts = [t for ax in fig.axes for t in ax.texts]
    assert {t.get_text() for t in texts} >= set(effects)
    for text in texts:
        assert _inside(text.get_window_extent(renderer), fig.bbox), text.get_text()


def _bars(ax):
    return [p for p in ax.patches if p.get_width() != 0]


def test_importance_legend_covers_no_bar_and_negative_permutation_is_explained():
    """Issue 10: the legend of feature_importance.png covered bars; negative permutation
    importances were unexplained."""
    names = [f"mfcc.feature_{i}" for i in range(15)]
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"permutation": np.r_[rng.uniform(0.1, 1, 12), [-0.4, -0.2, -1.0]],
                          "tree": np.ones(15), "linear": rng.uniform(0.5, 1, 15)}, index=names)
    fig = plots.importances("feature importance for emotion", table)
    renderer = _drawn(fig)
    (ax,) = fig.axes
    legend = ax.get_legend().get_window_extent(renderer)
    for bar in _bars(ax):
        box = bar.get_window_extent(renderer)
        overlap = min(box.x1, legend.x1) - max(box.x0, legend.x0) > 0.5 and \
            min(box.y1, legend.y1) - max(box.y0, legend.y0) > 0.5
        assert not overlap, "the legend covers a bar"
    notes = [t.get_text() for t in fig.texts]
    assert any("permutation < 0" in t and "made the held-out score better" in t for t in notes)
    for text in fig.texts:
        assert _inside(text.get_window_extent(renderer), fig.bbox), text.get_text()

    positive = plots.importances("feature importance", table.abs())
    assert not any("permutation < 0" in t.get_text() for t in positive.texts)
