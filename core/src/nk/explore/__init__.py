"""``nk explore``: what the data looks like before any model is trusted.

Value counts, durations, a bias/confound analysis of the target against every label column
(Holm-corrected), feature importance with per-class distributions of the top features, and 2-D
projections of the feature space; every statistic as CSV, aligned text and ``explore.json``,
every plot as PNG, and an HTML (LaTeX/PDF) report.

This package's ``__init__`` stays light: :mod:`nk.config` imports :mod:`nk.explore.config`.
"""

import re


def safe_name(name: str) -> str:
    """A column name as a file stem (tables/counts_<stem>.csv, plots/…)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name)).strip("_") or "column"
