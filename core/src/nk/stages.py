"""The row stages every command shares: load → segment → split → augment → featurize.

Each stage is a function of a :class:`~nk.context.RunContext` and what the previous stages
found; it returns what it found (it never writes into ``ctx.stash``, which is the plugins'
space), logs its time and calls the ``nk_stage_end`` hook. ``timing``, when given, collects
the seconds per stage for ``results.json``. Components are known only through the registry.

``nk run`` (:mod:`nk.pipeline`) chains all of them and then fits (:mod:`nk.fit`); ``nk explore``
uses load, segment, split and featurize.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from nk.context import RunContext
    from nk.registry import Component
    from nk.splits import Fold

Timing = dict[str, float]


@dataclass
class Built:
    """One selected component of a group, built from its resolved parameters."""

    name: str
    component: Component
    instance: Any
    params: dict[str, Any]


def build(ctx: RunContext, group: str) -> list[Built]:
    """Every component selected in ``group`` (in config order), built."""
    from nk.config import selected

    out = []
    for name, values in selected(ctx.cfg, group):
        comp = ctx.pm.registry.get(group, name)
        out.append(Built(name, comp, comp.build(values), values))
    return out


def stage_end(ctx: RunContext, stage: str, seconds: float, timing: Timing | None = None, **info: Any) -> None:
    """Log a finished stage, record its time, and tell the plugins (``nk_stage_end``)."""
    seconds = round(seconds, 3)
    if timing is not None:
        timing[stage] = seconds
    ctx.log.info("stage %s done in %.2f s %s", stage, seconds, info or "")
    ctx.pm.hook.nk_stage_end(ctx=ctx, stage=stage, info={**info, "seconds": seconds})


@contextmanager
def _clock() -> Iterator[Callable[[], float]]:
    started = time.perf_counter()
    yield lambda: time.perf_counter() - started


# --- load ----------------------------------------------------------------------------------


@dataclass
class Loaded:
    """The corpus of a run: one row per file (or segment, after :func:`segment`)."""

    frame: pd.DataFrame
    target: str
    task: str
    report: dict[str, Any]  # what the load stage did (renames, filters, label maps …)


def load(ctx: RunContext, model_task: Callable[[], str | None] | None = None, *,
         timing: Timing | None = None, labelled: bool = True) -> Loaded:
    """The corpus; ``model_task()`` (what the run's model does) decides ``task=auto`` for a
    numeric target (``nk explore`` has no model and passes none). ``labelled=False`` (``nk
    segment``): data without a configured target load too, with target and task ``""``."""
    from nk.corpus import load_corpus

    with _clock() as elapsed:
        frame, target, task, report = load_corpus(ctx, model_task, labelled=labelled)
    stage_end(ctx, "load", elapsed(), timing, rows=len(frame), target=target, task=task)
    return Loaded(frame, target, task, report.as_dict())


# --- segment -------------------------------------------------------------------------------


def segment(ctx: RunContext, frame: pd.DataFrame, *, timing: Timing | None = None) -> pd.DataFrame:
    """Cut files into segments with the configured segmenter (the frame unchanged without one)."""
    import numpy as np
    import pandas as pd

    from nk.data import check_corpus

    for built in build(ctx, "segment"):
        with _clock() as elapsed:
            where = f"segment {built.name!r} ({built.component.provider})"
            frame = built.instance.segment(frame, ctx)
            check_corpus(frame, where)
            if isinstance(frame.index, pd.MultiIndex):
                start = frame.index.get_level_values("start")
                end = frame.index.get_level_values("end")
                seg = (end - start).total_seconds().to_numpy()
                if "duration" in frame.columns:
                    seg = np.where(np.isnan(seg), frame["duration"].to_numpy() - start.total_seconds().to_numpy(),
                                   seg)
                frame = frame.assign(duration=seg)
        stage_end(ctx, "segment", elapsed(), timing, rows=len(frame))
    return frame


# --- split ---------------------------------------------------------------------------------


@dataclass
class Splits:
    """The folds of the configured split (one for a plain split) and what the checks found."""

    folds: list[Fold]
    duplicate_audio: list[list[str]] = field(default_factory=list)  # identical files in 2+ splits


def split(ctx: RunContext, frame: pd.DataFrame, target: str, task: str, *, timing: Timing | None = None,
          show_summary: bool = True) -> Splits:
    """The configured split, checked for leakage; prints the data summary (``show_summary``)."""
    from nk.splits import duplicate_audio, make_folds

    with _clock() as elapsed:
        folds = make_folds(frame, target, task, ctx)
        duplicates = duplicate_audio(frame, folds[0], ctx.log)
        if show_summary:
            _print_data_summary(ctx, frame, folds, target, task)
    info = {"folds": len(folds), **{k: int(v) for k, v in folds[0].split.value_counts().items()}}
    stage_end(ctx, "split", elapsed(), timing, **info)
    return Splits(folds, duplicates)


def random_split(ctx: RunContext, frame: pd.DataFrame, test_size: float) -> pd.Series:
    """A seeded random train/test assignment of the rows (speakers may overlap): for analyses
    of data without speakers."""
    from nk.splits import random_split as _random

    return _random(frame, test_size, 0.0, ctx.seed)


def _print_data_summary(ctx: RunContext, frame: pd.DataFrame, folds: list[Fold], target: str, task: str) -> None:
    """Rows (speakers) per split × label, durations and genders: on the console and in the log.

    Rendered from :func:`nk.splits.summary`, the same numbers results.json records.
    """
    import io

    import pandas as pd
    from rich.console import Console
    from rich.table import Table

    from nk.splits import summary

    split_of = folds[0].split if len(folds) == 1 else pd.Series("all", index=frame.index)
    info = summary(frame, split_of, target, task)
    parts = [p for p in ("train", "dev", "test", "all") if p in info["rows"]]
    speakers = info.get("speakers")

    def cell(rows: int, n_speakers: int | None) -> str:
        return f"{rows} ({n_speakers})" if n_speakers is not None else str(rows)

    table = Table(title=f"Data: {len(frame)} rows" + (f", {len(folds)} folds" if len(folds) > 1 else ""),
                  title_justify="left")
    table.add_column(target)
    for p in parts:
        table.add_column(p, justify="right")
    if task == "classification":
        per_label = info.get("speakers_per_label", {})
        for label in sorted(frame[target].unique()):
            table.add_row(str(label), *[
                cell(info["labels"].get(p, {}).get(label, 0),
                     per_label.get(p, {}).get(label, 0) if speakers is not None else None)
                for p in parts])
    table.add_row("all" + (" (speakers)" if speakers is not None else ""),
                  *[cell(info["rows"][p], speakers.get(p) if speakers is not None else None) for p in parts],
                  style="bold")
    if "duration_s" in info:
        per_split = info["duration_s"]["per_split"]
        table.add_row("duration (min)", *[f"{per_split.get(p, 0.0) / 60:.1f}" for p in parts])
    for g in sorted({g for counts in info.get("gender", {}).values() for g in counts}):
        table.add_row(f"gender {g}", *[str(info["gender"].get(p, {}).get(g, 0)) for p in parts])
    ctx.console.print(table)
    text = io.StringIO()
    Console(file=text, width=100, no_color=True).print(table)
    ctx.log.info("data summary:\n%s", text.getvalue())


# --- augment -------------------------------------------------------------------------------


def augment(ctx: RunContext, frame: pd.DataFrame, folds: list[Fold], *, timing: Timing | None = None,
            ) -> tuple[pd.DataFrame, list[Fold]]:
    """Add the augmenters' rows; an augmented copy trains only folds whose train holds its source."""
    import numpy as np
    import pandas as pd

    from nk.data import check_corpus
    from nk.errors import ContractError
    from nk.splits import Fold

    for built in build(ctx, "augment"):
        with _clock() as elapsed:
            where = f"augment {built.name!r} ({built.component.provider})"
            cv = len(folds) > 1
            source = frame if cv else frame[(folds[0].split == "train").to_numpy()]
            extra = built.instance.augment(source.drop(columns=["split"], errors="ignore"), ctx)
            check_corpus(extra, where)
            if extra.index.isin(frame.index).any():
                raise ContractError(f"{where}: augmented rows reuse existing index entries")
            if "augmented_from" not in extra.columns:
                raise ContractError(f"{where}: augmented rows need an 'augmented_from' column "
                                    "holding the source row's file")
            files = (frame.index.get_level_values("file") if isinstance(frame.index, pd.MultiIndex)
                     else frame.index)
            new_folds = []
            for fold in folds:
                train_files = set(files[(fold.split == "train").to_numpy()])
                extra_split = pd.Series(np.where(extra["augmented_from"].isin(train_files), "train", ""),
                                        index=extra.index)
                new_folds.append(Fold(fold.name, pd.concat([fold.split, extra_split])))
            frame = pd.concat([frame, extra])
            folds = new_folds
        stage_end(ctx, "augment", elapsed(), timing, rows=len(extra))
    return frame, folds


def augment_report(frame: pd.DataFrame, folds: list[Fold]) -> dict[str, Any] | None:
    """How many augmented rows (those with ``augmented_from``) each split of each fold got, for
    ``results.json``: ``None`` without augmentation."""
    if "augmented_from" not in frame.columns:
        return None
    extra = frame["augmented_from"].notna().to_numpy()
    per_fold = {}
    for fold in folds:
        parts = fold.split[extra]
        per_fold[fold.name] = {("unused" if k == "" else str(k)): int(v)
                               for k, v in parts.value_counts().items()}
    first = next(iter(per_fold.values()))
    return {"rows_added": int(extra.sum()), "sources": int(frame.loc[extra, "augmented_from"].nunique()),
            "by_split": first if len(folds) == 1 else per_fold,
            "note": "augmented copies train only folds whose training set holds their source; "
                    "never dev or test"}


# --- featurize -----------------------------------------------------------------------------


def featurize(ctx: RunContext, frame: pd.DataFrame, *, timing: Timing | None = None) -> pd.DataFrame:
    """The selected featurizers' features of every row (cached), side by side."""
    import pandas as pd

    from nk.data import check_features
    from nk.featurize import extract

    with _clock() as elapsed:
        parts = []
        for built in build(ctx, "feats"):
            feats = extract(built.component, built.instance, built.params, frame.index, ctx,
                            durations=frame["duration"].to_numpy() if "duration" in frame.columns else None)
            check_features(feats, frame.index, built.name,
                           allow_nan=bool(getattr(built.instance, "may_return_nan", False)))
            parts.append(feats)
        features = pd.concat(parts, axis=1) if len(parts) > 1 else parts[0]
    stage_end(ctx, "featurize", elapsed(), timing, rows=features.shape[0], features=features.shape[1])
    return features


def audio_rows(frame: pd.DataFrame, sampling_rate: int) -> pd.DataFrame:
    """What a learner with ``input = "audio"`` receives instead of features: one row per corpus
    row with ``file``, ``start`` and ``end`` (seconds, float; NaN: the whole file) and
    ``sampling_rate`` (the run's), on the corpus's index."""
    import numpy as np
    import pandas as pd

    if isinstance(frame.index, pd.MultiIndex):
        files = frame.index.get_level_values("file").astype(str)
        start = frame.index.get_level_values("start").total_seconds().to_numpy(dtype=float)
        end = frame.index.get_level_values("end").total_seconds().to_numpy(dtype=float)
    else:
        files = frame.index.astype(str)
        start = np.full(len(frame), np.nan)
        end = np.full(len(frame), np.nan)
    return pd.DataFrame({"file": np.asarray(files, dtype=object), "start": start, "end": end,
                         "sampling_rate": int(sampling_rate)}, index=frame.index)


__all__ = ["Built", "Loaded", "Splits", "audio_rows", "augment", "augment_report", "build", "featurize", "load",
           "random_split", "segment", "split", "stage_end"]
