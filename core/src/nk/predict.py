"""Predicting labels a database lacks (group ``predict``): the stage, its checks, and the base
class for predictors computed row by row.

A predictor (:class:`nk.api.Predictor`) returns new columns for the rows it is given. Most
predictors compute a few numbers per row from that row's audio (an SNR estimate, DNSMOS scores,
a speaker embedding, class probabilities of a hub model). :class:`RowPredictor` expresses them
as a featurizer: ``feature_names()`` + ``extract(signal, rate)`` (and optionally
``extract_batch``, ``process_safe``, ``batch_seconds``, ``cache_dependencies``). Its
``predict()`` runs them through :func:`nk.featurize.extract`, so the per-row values land in the
**feature cache** (content-addressed by the audio, the predictor's name, version and key
parameters; resumable after Ctrl-C; ``nk cache`` lists them under ``<name>_pred``), with the
same progress bar, worker processes, batching and bad-file reports as features. ``finish()``
then turns the stored values into the output columns, possibly over the whole database (the
speaker predictor clusters its cached embeddings there; clustering is cheap and not cached).

Every predictor declares its output columns and their kinds (``output_columns()``:
``{"snr_pred": "float", "gender_pred": "category", …}``); :func:`predict` checks what comes
back against that at the stage boundary: same index, exactly the declared columns, no column
that already exists in the data, numbers where numbers were declared, no missing value.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from nk.errors import ContractError, UserError

if TYPE_CHECKING:
    import pandas as pd

    from nk.context import RunContext
    from nk.registry import Component

GROUP = "predict"
SUFFIX = "_pred"
"""Predicted columns are named ``<target>_pred`` (probabilities ``<target>_proba.<class>``)."""
FLOAT = "float"
CATEGORY = "category"
KINDS = (FLOAT, CATEGORY)


def proba_column(target: str, label: Any) -> str:
    """The column of the probability of class ``label`` of the predicted ``target``."""
    return f"{target}_proba.{label}"


class RowPredictor:
    """Base class of predictors whose values come row by row from the audio (see the module).

    Subclasses set ``target`` (``"snr"`` → column ``snr_pred``), store their parameters as
    attributes of the same names as their config fields (they enter the cache key), and
    implement ``feature_names()`` and ``extract(signal, rate)``; they override ``finish()``
    when the stored values are not the output columns themselves, and ``output_columns()``
    when they output more than ``<target>_pred`` as a number.
    """

    target: ClassVar[str] = ""
    process_safe: ClassVar[bool] = False
    sampling_rate: int | None = 16000
    may_return_nan: ClassVar[bool] = False

    def output_columns(self) -> dict[str, str]:
        """Output column → kind (``"float"`` or ``"category"``)."""
        return {f"{self.target}{SUFFIX}": FLOAT}

    def feature_names(self) -> Sequence[str]:
        raise NotImplementedError

    def extract(self, signal: np.ndarray, sampling_rate: int) -> np.ndarray:
        raise NotImplementedError

    def finish(self, values: pd.DataFrame, frame: pd.DataFrame, ctx: RunContext) -> pd.DataFrame:
        """The output columns from the stored values (columns: ``feature_names()``); by default
        the values are the outputs, in the order of ``output_columns()``."""
        return values.set_axis(list(self.output_columns()), axis=1)

    def predict(self, frame: pd.DataFrame, ctx: RunContext) -> pd.DataFrame:
        component, params = own_component(self, ctx)
        values = cached_values(component, self, params, frame, ctx)
        return self.finish(values, frame, ctx)


def own_component(instance: Any, ctx: RunContext) -> tuple[Component, dict[str, Any]]:
    """The registered predictor that built ``instance`` and its parameter values (read back from
    the instance's attributes of the same names)."""
    for comp in ctx.pm.registry:
        if comp.group == GROUP and isinstance(comp.factory, type) and type(instance) is comp.factory:
            params = {p.name: getattr(instance, p.name) for p in comp.params() if hasattr(instance, p.name)}
            return comp, params
    raise ContractError(f"{type(instance).__qualname__} is not a registered predictor: a RowPredictor "
                        "must be registered with its class as the factory (register(name, Class, Config))")


def cached_values(component: Component, featurizer: Any, params: dict[str, Any], frame: pd.DataFrame,
                  ctx: RunContext) -> pd.DataFrame:
    """``featurizer``'s values for every row of ``frame`` through the feature cache (cached under
    ``<name>_pred``, apart from featurizers of the same name); columns: its feature names."""
    from nk.featurize import extract

    cache_component = dataclasses.replace(component, name=f"{component.name}{SUFFIX}")
    durations = frame["duration"].to_numpy() if "duration" in frame.columns else None
    values = extract(cache_component, featurizer, params, frame.index, ctx, durations=durations)
    prefix = f"{cache_component.name}."
    return values.set_axis([str(c).removeprefix(prefix) for c in values.columns], axis=1)


# --- the stage -----------------------------------------------------------------------------


@dataclasses.dataclass
class Predicted:
    """What the predict stage found: the frame with the new columns and what each column is."""

    frame: pd.DataFrame
    columns: dict[str, dict[str, Any]]  # column → predictor, provider, version, kind, estimated
    seconds: dict[str, float]


def check_outputs(out: Any, frame: pd.DataFrame, declared: dict[str, str], where: str,
                  existing: Sequence[str]) -> pd.DataFrame:
    """A predictor's output at the stage boundary (see the module); raises ContractError for a
    plugin's mistake and UserError for a column the data already has."""
    import pandas as pd

    if not isinstance(out, pd.DataFrame):
        raise ContractError(f"{where}: predict() returned a {type(out).__name__}, not a DataFrame")
    if not out.index.equals(frame.index):
        raise ContractError(f"{where}: predict() must return one row per input row, on the same index")
    bad_kinds = {c: k for c, k in declared.items() if k not in KINDS}
    if bad_kinds:
        raise ContractError(f"{where}: output_columns() declares unknown kinds {bad_kinds} (allowed: {KINDS})")
    if list(out.columns) != list(declared):
        raise ContractError(f"{where}: predict() returned columns {list(out.columns)} but declares "
                            f"{list(declared)} (output_columns())")
    clash = [c for c in declared if c in existing]
    if clash:
        raise UserError(f"The data already has the column(s) {clash} that {where} predicts",
                        where="the loaded data", todo="drop or rename these columns in the table (e.g. "
                        "data.<db>.rename={snr_pred: snr_old}), or predict from the original table: "
                        "nk never overwrites a column")
    for column, kind in declared.items():
        values = out[column]
        if values.isna().any():
            raise ContractError(f"{where}: predicted {int(values.isna().sum())} missing values in "
                                f"{column!r} (nk never fills missing values)")
        if kind == FLOAT and not pd.api.types.is_numeric_dtype(values):
            raise ContractError(f"{where}: {column!r} is declared a number but has dtype {values.dtype}")
        if kind == FLOAT and not np.isfinite(values.to_numpy(dtype=float)).all():
            raise ContractError(f"{where}: {column!r} holds inf")
    return out


def selected_predictors(ctx: RunContext) -> list[Any]:
    from nk import stages

    return stages.build(ctx, GROUP)


def predict(ctx: RunContext, frame: pd.DataFrame, *, timing: dict[str, float] | None = None) -> Predicted:
    """Run every selected predictor over ``frame``; returns the frame with their columns."""
    import pandas as pd

    from nk import stages

    columns: dict[str, dict[str, Any]] = {}
    seconds: dict[str, float] = {}
    parts: list[pd.DataFrame] = []
    started = time.perf_counter()
    for built in selected_predictors(ctx):
        t = time.perf_counter()
        where = f"predictor {built.name!r} ({built.component.provider})"
        declared = dict(built.instance.output_columns()) if hasattr(built.instance, "output_columns") else None
        out = built.instance.predict(frame, ctx)
        if declared is None:  # a plain Predictor: its columns, checked for index and clashes
            declared = {str(c): FLOAT if pd.api.types.is_numeric_dtype(out[c]) else CATEGORY
                        for c in getattr(out, "columns", [])}
        existing = [*frame.columns, *(c for p in parts for c in p.columns)]
        out = check_outputs(out, frame, declared, where, existing)
        parts.append(out)
        seconds[built.name] = round(time.perf_counter() - t, 3)
        for column, kind in declared.items():
            columns[column] = {"predictor": built.name, "provider": built.component.provider,
                               "version": built.component.version, "kind": kind, "estimated": True}
        ctx.log.info("predictor %s: %s in %.1f s", built.name, list(declared), seconds[built.name])
    if parts:
        frame = pd.concat([frame, *parts], axis=1)
    stages.stage_end(ctx, "predict", time.perf_counter() - started, timing, rows=len(frame),
                     columns=list(columns))
    return Predicted(frame, columns, seconds)


__all__ = ["CATEGORY", "FLOAT", "GROUP", "SUFFIX", "Predicted", "RowPredictor", "cached_values",
           "check_outputs", "own_component", "predict", "proba_column"]
