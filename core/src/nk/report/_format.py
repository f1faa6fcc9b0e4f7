"""What the HTML and LaTeX writers share: cell text, table shapes, paragraphs."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


def cell_text(value: Any) -> str:
    """A table cell as text: floats with 3 decimals (or 3 significant digits), missing as "–"."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        x = float(value)
        if math.isnan(x):
            return "–"
        if math.isinf(x):
            return "∞" if x > 0 else "−∞"
        if x != 0 and (abs(x) >= 1e6 or abs(x) < 1e-3):
            return f"{x:.3g}"
        return f"{x:.3f}"
    try:
        import pandas as pd

        if not isinstance(value, (list, tuple, dict, set)) and pd.isna(value):
            return "–"
    except (TypeError, ValueError):
        pass
    return str(value)


@dataclass
class Grid:
    """A table as header and rows of text, with which columns hold numbers."""

    header: list[str]
    rows: list[list[str]]
    numeric: list[bool]
    notes: list[str]


def grid(frame: pd.DataFrame, *, max_rows: int, max_cols: int | None = None) -> Grid:
    """``frame`` as text cells. A non-default index becomes leading columns; more than
    ``max_cols`` columns are transposed when that fits, else cut; more than ``max_rows`` rows
    are cut. Each change is explained in ``notes``."""
    import pandas as pd

    notes: list[str] = []
    frame = frame.copy()
    if isinstance(frame.columns, pd.MultiIndex):
        frame.columns = [" / ".join(str(p) for p in c) for c in frame.columns]
    default_index = isinstance(frame.index, pd.RangeIndex) and frame.index.name is None
    if max_cols is not None and frame.shape[1] + (0 if default_index else frame.index.nlevels) > max_cols:
        if frame.shape[0] < frame.shape[1] and frame.shape[0] + 1 <= max_cols:
            frame = frame.T if not default_index else frame.T.rename(columns=lambda c: f"row {c}")
            default_index = False
            notes.append("Transposed to fit the page: rows and columns are swapped.")
    if not default_index:
        names = [str(n) if n is not None else "" for n in frame.index.names]
        frame = frame.reset_index(names=[n or f"level_{i}" for i, n in enumerate(names)], allow_duplicates=True)
        frame.columns = [*names, *[str(c) for c in frame.columns[len(names):]]]
    if max_cols is not None and frame.shape[1] > max_cols:
        hidden = frame.shape[1] - max_cols
        frame = frame.iloc[:, :max_cols]
        notes.append(f"{hidden} more column{'s' if hidden > 1 else ''} not shown here (too wide for "
                     "the page); the HTML report shows all.")
    if len(frame) > max_rows:
        notes.append(f"First {max_rows} of {len(frame)} rows shown.")
        frame = frame.iloc[:max_rows]
    numeric = [pd.api.types.is_numeric_dtype(frame.dtypes.iloc[i]) and not pd.api.types.is_bool_dtype(
        frame.dtypes.iloc[i]) for i in range(frame.shape[1])]
    rows = [[cell_text(v) for v in row] for row in frame.itertuples(index=False, name=None)]
    return Grid([str(c) for c in frame.columns], rows, numeric, notes)


def blocks(text: str) -> list[tuple[str, list[str]]]:
    """Plain text as ``("p", [paragraph])`` and ``("ul", [items])`` blocks."""
    out: list[tuple[str, list[str]]] = []
    for chunk in text.strip().split("\n\n"):
        lines = [line.strip() for line in chunk.strip().splitlines() if line.strip()]
        if not lines:
            continue
        if all(line.startswith("- ") for line in lines):
            out.append(("ul", [line[2:].strip() for line in lines]))
        else:
            out.append(("p", [" ".join(lines)]))
    return out
