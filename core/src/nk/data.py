"""The data contract between stages, and its checks.

A corpus frame has an audformat-style index: ``file`` (absolute path), or, once segmented,
``file``, ``start``, ``end`` with ``start``/``end`` as timedelta64. Columns: the target,
optionally ``speaker``, ``gender``, ``age`` and others, and ``split`` in {train, dev, test}.
A feature frame is float32, indexed exactly like its input, columns ``<featurizer>.<name>``.
Predictions hold ``truth``, ``pred`` and ``proba.<class>`` columns, indexed like the input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nk.errors import ContractError, UserError

SPLITS = ("train", "dev", "test")
SEGMENT_LEVELS = ("file", "start", "end")


@dataclass
class Corpus:
    """What a loader returns.

    :param frame: the table (index and columns as in this module's docstring).
    :param name: the database's name (used in logs and results).
    :param default_target: the target column used when the config names none.
    """

    frame: pd.DataFrame
    name: str
    default_target: str | None = None


def check_index(index: pd.Index, component: str) -> None:
    """Raise :class:`ContractError` unless ``index`` is a valid filewise or segmented index."""
    if isinstance(index, pd.MultiIndex):
        if tuple(index.names) != SEGMENT_LEVELS:
            raise ContractError(
                f"{component}: a segmented index must have levels {SEGMENT_LEVELS}; "
                f"got {tuple(index.names)}"
            )
        for level in ("start", "end"):
            dtype = index.levels[index.names.index(level)].dtype
            if not pd.api.types.is_timedelta64_dtype(dtype):
                raise ContractError(
                    f"{component}: level {level!r} must be timedelta64[ns]; got {dtype}"
                )
    elif index.name != "file":
        raise ContractError(f"{component}: the index must be named 'file'; got {index.name!r}")
    if not index.is_unique:
        dup = index[index.duplicated()][:3].tolist()
        raise ContractError(f"{component}: the index has duplicate entries, e.g. {dup}")


def check_corpus(frame: pd.DataFrame, component: str, *, target: str | None = None) -> None:
    """Check a corpus frame at a stage boundary."""
    if not isinstance(frame, pd.DataFrame):
        raise ContractError(f"{component}: must return a pandas DataFrame; got {type(frame).__name__}")
    check_index(frame.index, component)
    if len(frame) == 0:
        raise UserError(f"{component} produced no rows", todo="check the data configuration")
    if "split" in frame.columns:
        bad = sorted(set(frame["split"].dropna().unique()) - set(SPLITS))
        if bad:
            raise ContractError(f"{component}: column 'split' has values {bad}; allowed {SPLITS}")
    if target is not None and target not in frame.columns:
        raise UserError(
            f"The target column {target!r} is not in the data",
            where=component,
            allowed=", ".join(map(str, frame.columns)),
            todo="set `target=` to one of the allowed columns",
        )


def check_features(features: pd.DataFrame, index: pd.Index, component: str, *,
                   allow_nan: bool = False) -> None:
    """Check a featurizer's output against its input index.

    NaN is allowed only from featurizers that declare ``may_return_nan = True`` (their
    undefined values are then handled by the run's ``missing`` policy).
    """
    if not isinstance(features, pd.DataFrame):
        raise ContractError(f"{component}: must return a DataFrame; got {type(features).__name__}")
    if not features.index.equals(index):
        raise ContractError(f"{component}: the feature index differs from the input index")
    bad = [c for c, t in features.dtypes.items() if t != np.float32]
    if bad:
        raise ContractError(f"{component}: columns must be float32; {bad[:3]} are not")
    prefix = component + "."
    wrong = [c for c in features.columns if not str(c).startswith(prefix)]
    if wrong:
        raise ContractError(f"{component}: columns must start with {prefix!r}; got {wrong[:3]}")
    if not allow_nan and features.isna().to_numpy().any():
        cols = features.columns[features.isna().any()].tolist()
        rows = int(features.isna().any(axis=1).sum())
        raise ContractError(
            f"{component}: returned NaN in {rows} rows, columns {cols[:5]}, but does not declare "
            "may_return_nan = True (nk never fills missing values silently)"
        )


def check_predictions(pred: pd.DataFrame, index: pd.Index, component: str) -> None:
    """Check a predictions frame (``truth``, ``pred``, ``proba.<class>``)."""
    missing = {"truth", "pred"} - set(pred.columns)
    if missing:
        raise ContractError(f"{component}: predictions lack columns {sorted(missing)}")
    if not pred.index.equals(index):
        raise ContractError(f"{component}: the prediction index differs from the input index")


def detect_task(values: pd.Series, model_task: Callable[[], str | None] | None = None) -> str:
    """The task ``task=auto`` means for a target: a non-numeric target is classified; a numeric
    one gets the model's task when the model does one (``model_task()``, asked only for numeric
    targets), else regression when it has many distinct values and classification otherwise."""
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    # mostly numbers with a few text cells (an "NA" in ages): the model's task decides too, so
    # that a regression model reports the text cells instead of classifying every age
    mostly_numeric = numeric or bool(pd.to_numeric(values, errors="coerce").notna().mean() >= 0.5)
    task = model_task() if mostly_numeric and model_task is not None else None
    if task is not None:
        return task
    if numeric and values.nunique() > max(10, int(0.05 * len(values))):
        return "regression"
    return "classification"
