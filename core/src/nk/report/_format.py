"""What the HTML and LaTeX writers share: cell text, table shapes, paragraphs."""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from nk.report import ReportDoc, Section


_NUMBERISH = re.compile(r"^[-+−]?[\d.,:%±()\[\] –e-]*\d[\d.,:%±()\[\] –e-]*$|^–?$")


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
    # an unnamed integer index (0, 1, …, maybe re-ordered by sorting) carries no information
    default_index = frame.index.nlevels == 1 and frame.index.name is None and (
        isinstance(frame.index, pd.RangeIndex) or pd.api.types.is_integer_dtype(frame.index.dtype))
    width = frame.shape[1] + (0 if default_index else frame.index.nlevels)
    if max_cols is not None and width > max_cols and frame.shape[0] < frame.shape[1] < max_rows and \
            frame.shape[0] + 1 <= max_cols:
        frame = frame.T if not default_index else frame.T.rename(columns=lambda c: f"row {c}")
        default_index = False
        notes.append("Transposed to fit the page: rows and columns are swapped.")
    if not default_index:
        names = [str(n) if n is not None else "" for n in frame.index.names]
        frame = frame.reset_index(names=[n or f"level_{i}" for i, n in enumerate(names)],
                                  allow_duplicates=True)
        frame.columns = [*names, *[str(c) for c in frame.columns[len(names):]]]
    if max_cols is not None and frame.shape[1] > max_cols:
        hidden = frame.shape[1] - max_cols
        frame = frame.iloc[:, :max_cols]
        notes.append(f"{hidden} more column{'s' if hidden > 1 else ''} not shown here (too wide for "
                     "the page); the HTML report shows all.")
    if len(frame) > max_rows:
        notes.append(f"First {max_rows} of {len(frame)} rows shown.")
        frame = frame.iloc[:max_rows]
    rows = [[cell_text(v) for v in row] for row in frame.itertuples(index=False, name=None)]
    numeric = []
    for i in range(frame.shape[1]):
        dtype = frame.dtypes.iloc[i]
        is_number = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
        # text such as "8 (4)" or "[0.125, 0.875]" is right-aligned like numbers
        numeric.append(is_number or (bool(rows) and all(_NUMBERISH.match(r[i]) for r in rows)))
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


def all_sections(doc: ReportDoc) -> list[Section]:
    """The document's sections plus the "Environment" section made from its metadata."""
    from nk.report import Section, Table

    sections = list(doc.sections)
    if doc.metadata:
        import pandas as pd

        env = pd.DataFrame({"item": list(doc.metadata), "value": [str(v) for v in doc.metadata.values()]})
        sections.append(Section("Environment", "What produced this report, for reproducing it.",
                                tables=[Table("Software, platform and data identity", env)]))
    return sections


def figure_file(path: Path | str, folder: Path | None) -> Path:
    """A figure's file: a relative path is looked up in the report folder first, then the cwd."""
    path = Path(path)
    if not path.is_absolute() and folder is not None and (folder / path).exists():
        return folder / path
    return path
