"""The load stage: databases → one checked table with durations, filtered, labels prepared.

Order: load each database (its loader) → rename columns → map labels → tag ``db`` and role →
concatenate → check the target → check every audio file (all problems reported together) →
filters (each logged with the rows it removed) → task, ``labels``, ``bins``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from nk.config import BadFiles, Task, as_enum, databases
from nk.data import check_corpus, detect_task
from nk.errors import UserError
from nk.registry import Role

if TYPE_CHECKING:
    from nk.context import RunContext


@dataclass
class LoadReport:
    """What the load stage did, for results.json."""

    databases: dict[str, int] = field(default_factory=dict)
    skipped_files: list[dict[str, str]] = field(default_factory=list)
    filters: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"databases": self.databases, "skipped_files": self.skipped_files, "filters": self.filters}



def load_corpus(ctx: RunContext, model_task: Callable[[], str | None] | None = None, *,
                labelled: bool = True) -> tuple[pd.DataFrame, str, str, LoadReport]:
    """Return (frame, target, task, report) for the run's databases; ``model_task()`` (what the
    run's model does, if known) decides ``task=auto`` for a numeric target. ``labelled=False``
    (``nk segment``): without a configured target the data need none (target and task ``""``)."""
    cfg = ctx.cfg
    report = LoadReport()
    frames = []
    target: str | None = cfg.target
    for db in databases(cfg):
        comp = ctx.pm.registry.get("data", db.loader)
        where = f"database {db.name!r} (loader {db.loader!r}, {comp.provider})"
        try:
            corpus = comp.build(db.params).load(ctx)
        except UserError as err:
            raise _for_database(err, db.name, ctx) from None
        _check_split_column(corpus.frame, db.name)
        check_corpus(corpus.frame, where)
        frame = corpus.frame
        missing = sorted(set(db.rename) - set(frame.columns))
        if missing:
            raise UserError(
                f"Cannot rename columns {missing}: they are not in the data",
                where=f"config key data.{db.name}.rename",
                allowed=", ".join(map(str, frame.columns)),
                todo="use the columns' exact names (case matters)",
            )
        frame = frame.rename(columns=db.rename)
        if target is None:
            target = corpus.default_target
        if target is None and not labelled:
            frames.append(frame.assign(db=db.name, _role=db.role.value if db.role is not Role.all else None))
            report.databases[db.name] = len(frame)
            continue
        if target is None:
            raise UserError(
                "No target column given",
                where="config key target",
                allowed=", ".join(map(str, frame.columns)),
                todo="set `target=COLUMN`",
            )
        if target not in frame.columns:
            raise UserError(
                f"The target column {target!r} is not in the data",
                where=where,
                allowed=", ".join(map(str, frame.columns)),
                todo="set `target=` to one of the allowed columns, or rename a column with "
                f"data.{db.name}.rename",
            )
        if db.label_map:
            present = {str(v) for v in frame[target].dropna().unique()}
            unknown = sorted(set(db.label_map) - present)
            if unknown:
                raise UserError(
                    f"label_map renames {unknown}, which do not occur in {target!r}",
                    where=f"config key data.{db.name}.label_map",
                    allowed=", ".join(sorted(present)),
                    todo="fix the label names (case matters)",
                )
            mapping = db.label_map
            frame = frame.assign(**{target: frame[target].map(
                lambda v, m=mapping: m.get(str(v), v) if pd.notna(v) else v)})
        frame = frame.assign(db=db.name)
        frame = frame.assign(_role=db.role.value if db.role is not Role.all else None)
        report.databases[db.name] = len(frame)
        frames.append(frame)
    try:
        frame = _concat(frames)
        if target is None:  # labelled=False and no target: the audio checks and filters only
            frame = _apply_filters(_check_audio(frame, ctx, report), ctx, report)
            check_corpus(frame, "load stage")
            return frame, "", "", report
        frame = _check_target(frame, target)
        frame = _check_audio(frame, ctx, report)
        frame = _apply_filters(frame, ctx, report)
        frame, task = _prepare_target(frame, target, ctx, model_task)
    except UserError as err:
        raise with_database_keys(err, list(report.databases)) from None
    check_corpus(frame, "load stage", target=target)
    return frame, target, task, report


def with_database_keys(err: UserError, names: list[str]) -> UserError:
    """``err`` with ``data.<db>.KEY`` written as the real key: ``data.emodb.KEY`` for one
    database, ``data.<emodb|ravdess>.KEY`` for several."""
    if not names:
        return err
    real = f"data.{names[0]}." if len(names) == 1 else f"data.<{'|'.join(map(str, names))}>."

    def fix(text: str | None) -> str | None:
        return text.replace("data.<db>.", real) if text else text

    if not any("data.<db>." in (t or "") for t in (err.what, err.where, err.allowed, err.todo)):
        return err
    return UserError(fix(err.what) or err.what, where=fix(err.where), allowed=fix(err.allowed),
                     todo=fix(err.todo))


def _for_database(err: UserError, name: str, ctx: RunContext) -> UserError:
    """A loader's error with the real config key (``data.emodb.path``, not ``data.<db>.path``),
    and, for a database a recipe prepares (``nk data prepare polish``), that command."""
    err = with_database_keys(err, [name])
    todo = err.todo
    if name in ctx.pm.registry.names("dataset") and ("does not exist" in err.what or "not found" in err.what):
        todo = (f"prepare it first: `nk data prepare {name}` (in the folder you run nk from; "
                f"`nk data list` shows the recipes)" + (f", or {todo}" if todo else ""))
    return UserError(err.what, where=err.where, allowed=err.allowed, todo=todo)


def _check_split_column(frame: pd.DataFrame, name: str) -> None:
    """A ``split`` column from the data holds train, dev, test or nothing (a data error, not a bug)."""
    from nk.data import SPLITS

    if "split" not in frame.columns:
        return
    values = frame["split"].dropna()
    bad = values[~values.astype(str).isin(SPLITS)].astype(str).value_counts()
    if len(bad):
        listing = ", ".join(f"{v!r} ({n} rows)" for v, n in bad.items())
        synonyms = {"validation": "dev", "valid": "dev", "val": "dev", "development": "dev",
                    "training": "train", "testing": "test", "eval": "test", "evaluation": "test"}
        rename = [f"{v} → {synonyms[v.lower()]}" for v in bad.index if v.lower() in synonyms]
        raise UserError(
            f"The split column of database {name!r} has values nk does not know: {listing}",
            where=f"the data of database {name!r}, column split",
            allowed="train, dev, test, or an empty cell (then split by split.method)",
            todo=("rename them in the data" + (f" ({', '.join(rename)})" if rename else "")
                  + f", or rename the column (data.{name}.rename={{split: orig_split}}) to keep it as a label"),
        )


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    if len(frames) == 1:
        return frames[0]
    kinds = {isinstance(f.index, pd.MultiIndex) for f in frames}
    if len(kinds) > 1:
        raise UserError("Some databases are segmented (file, start, end) and others are not",
                        todo="use databases of one kind, or segment them all")
    frame = pd.concat(frames)
    dup = frame.index[frame.index.duplicated()]
    if len(dup):
        dbs = frame.loc[frame.index.isin(dup), "db"].unique().tolist()
        raise UserError(
            f"{len(dup)} rows occur in more than one database ({', '.join(map(str, dbs))}), "
            f"e.g. {list(dup[:3])}",
            todo="remove the duplicates, or use one database",
        )
    return frame


def _check_target(frame: pd.DataFrame, target: str) -> pd.DataFrame:
    missing = frame[target].isna()
    if missing.any():
        files = ", ".join(map(str, frame.index[missing][:10]))
        raise UserError(
            f"{int(missing.sum())} rows have no value in the target column {target!r}: {files}"
            + (" …" if missing.sum() > 10 else ""),
            where="the data",
            todo=f"label these rows, or drop them explicitly with `filter.required=[{target}]` "
            "(nk never fills missing labels)",
        )
    return frame


def _file_level(frame: pd.DataFrame) -> pd.Index:
    return frame.index.get_level_values("file") if isinstance(frame.index, pd.MultiIndex) else frame.index


def _probe(path: str, min_duration: float) -> tuple[float, str | None, tuple[int, int] | None]:
    """(duration in s, problem or None, (device, inode) or None) of one audio file."""
    import soundfile as sf

    from nk.paths import path_problem

    problem = path_problem(path, want="file")
    if problem is not None:
        return 0.0, problem, None
    try:
        st = os.stat(path)
    except OSError as exc:
        return 0.0, f"cannot be read ({exc.strerror})", None
    identity = (st.st_dev, st.st_ino)
    if st.st_size == 0:
        return 0.0, "empty file (0 bytes)", identity
    try:
        info = sf.info(path)
    except Exception as exc:
        return 0.0, f"unreadable ({str(exc).splitlines()[0][:120]})", identity
    if info.frames == 0 or info.samplerate <= 0:
        return 0.0, "no audio samples", identity
    duration = info.frames / info.samplerate
    try:  # float files can hold NaN/inf samples (nk.audio reads only those here)
        from nk.audio import nonfinite_problem

        if problem := nonfinite_problem(path, info):
            return duration, problem, identity
    except Exception as exc:
        return duration, f"unreadable ({str(exc).splitlines()[0][:120]})", identity
    if duration < min_duration:
        return duration, f"shorter than audio.min_duration ({duration:.3f} s < {min_duration} s)", identity
    return duration, None, identity


def _common_cause(problems: dict[str, str], n_files: int) -> str | None:
    """One sentence when the bad files share a cause (Windows paths, a wrong base folder)."""
    missing = [f for f, p in problems.items() if p.startswith("not found")]
    if not missing:
        return None
    backslashed = [f for f in missing if "\\" in str(f)]
    if len(backslashed) >= max(1, len(missing) // 2):
        return (f"{len(backslashed)} of {n_files} file paths contain backslashes (e.g. '{backslashed[0]}'): "
                "Windows-style paths. nk runs on Linux and macOS, where '\\' is part of a file name, not a "
                "folder separator")
    if len(missing) == n_files and n_files > 1:
        folder = os.path.commonpath([os.path.dirname(str(f)) for f in missing]) if all(
            os.path.isabs(str(f)) for f in missing) else None
        where = (f"; their common folder {folder!r} " + ("does not exist" if not os.path.isdir(folder)
                                                        else "exists, but holds none of them")) if folder else ""
        return f"None of the {n_files} audio files exists (e.g. {missing[0]!r}){where}"
    return None


def _check_audio(frame: pd.DataFrame, ctx: RunContext, report: LoadReport) -> pd.DataFrame:
    """Probe every file once; report all bad files together; add a ``duration`` column."""
    from rich.progress import Progress

    min_duration = float(ctx.cfg.audio.min_duration)
    files = pd.unique(_file_level(frame))
    durations: dict[str, float] = {}
    problems: dict[str, str] = {}
    identities: dict[str, tuple[int, int]] = {}
    with Progress(console=ctx.console, transient=True, disable=len(files) < 500) as progress:
        task = progress.add_task("Checking audio files", total=len(files))
        for file in files:
            durations[file], problem, identity = _probe(str(file), min_duration)
            if problem:
                problems[file] = problem
            if identity is not None:
                identities[file] = identity
            progress.advance(task)
    _check_same_audio(frame, identities)
    stop = as_enum(ctx.cfg.audio.bad_files, BadFiles) is BadFiles.stop
    if problems and stop:
        cause = _common_cause(problems, len(files))
        if cause is not None:
            raise UserError(cause, where="the data's file column",
                            todo="write the paths with '/' (audio/a.wav, not audio\\a.wav), then run again"
                            if "backslash" in cause else
                            "check the paths' base folder (a CSV's paths are relative to its own folder "
                            "unless data.<db>.root is set)")
    if problems:
        listing = "; ".join(f"{f}: {p}" for f, p in list(problems.items())[:30])
        more = f" … and {len(problems) - 30} more" if len(problems) > 30 else ""
        if stop:
            raise UserError(
                f"{len(problems)} of {len(files)} audio files cannot be used: {listing}{more}",
                where="the data's file column",
                allowed="existing, readable, non-empty audio (wav, flac, ogg, mp3 …) with finite samples",
                todo="fix or remove these files, or set audio.bad_files=skip to leave them out "
                "(they are then listed in results.json)",
            )
        report.skipped_files = [{"file": str(f), "problem": p} for f, p in problems.items()]
        ctx.log.warning("Skipping %d bad audio files (audio.bad_files=skip): %s%s",
                        len(problems), listing, more)
        frame = frame[~_file_level(frame).isin(list(problems))]
        if frame.empty:
            raise UserError("No usable audio file is left", todo="check the data's file paths")
    file_duration = _file_level(frame).map(durations).to_numpy(dtype=float)
    if isinstance(frame.index, pd.MultiIndex):
        start = frame.index.get_level_values("start").total_seconds().to_numpy()
        end = frame.index.get_level_values("end")
        end_s = np.where(end.isna(), file_duration, end.total_seconds().to_numpy())
        frame, keep = _check_segments(frame, start, end_s, file_duration, stop, report, ctx)
        duration = (end_s - start)[keep]
    else:
        duration = file_duration
    return frame.assign(duration=duration)


SEGMENT_TOLERANCE_S = 0.01  # an end this far past the file's end counts as the end


def _check_segments(frame: pd.DataFrame, start: np.ndarray, end: np.ndarray, file_duration: np.ndarray,
                    stop: bool, report: LoadReport, ctx: RunContext) -> tuple[pd.DataFrame, np.ndarray]:
    """Segments must lie inside their file: 0 ≤ start < end ≤ the file's duration. All bad rows
    are reported together (audio.bad_files=skip leaves them out and lists them)."""
    problem = np.full(len(frame), "", dtype=object)
    problem[end > file_duration + SEGMENT_TOLERANCE_S] = "ends after the file's end"
    problem[start >= file_duration] = "starts at or after the file's end"
    problem[end <= start] = "end is not after start"
    problem[start < 0] = "negative start"
    bad = problem != ""
    if not bad.any():
        return frame, np.ones(len(frame), dtype=bool)
    files = _file_level(frame)
    rows = [f"{files[i]} [{start[i]:g}–{end[i]:g} s; file {file_duration[i]:.3f} s]: {problem[i]}"
            for i in np.flatnonzero(bad)]
    listing = "; ".join(rows[:20]) + (f" … and {len(rows) - 20} more" if len(rows) > 20 else "")
    if stop:
        raise UserError(
            f"{len(rows)} of {len(frame)} segments lie outside their audio file: {listing}",
            where="the data's start/end columns",
            allowed="0 ≤ start < end ≤ the file's duration (seconds); an empty end means the file's end",
            todo="fix the start/end values, or set audio.bad_files=skip to leave these rows out",
        )
    report.skipped_files.extend({"file": str(files[i]), "problem": f"segment {start[i]:g}–{end[i]:g} s: "
                                 f"{problem[i]}"} for i in np.flatnonzero(bad))
    ctx.log.warning("Skipping %d segments outside their file (audio.bad_files=skip): %s", len(rows), listing)
    keep = ~bad
    if not keep.any():
        raise UserError("No usable segment is left", todo="check the data's start/end columns")
    return frame[keep], keep


def _check_same_audio(frame: pd.DataFrame, identities: dict[str, tuple[int, int]]) -> None:
    """Rows that reach one audio file through different paths (symbolic or hard links) would be
    counted twice and may carry different labels, or leak between splits."""
    by_identity: dict[tuple[int, int], list[str]] = {}
    for file, identity in identities.items():
        by_identity.setdefault(identity, []).append(file)
    clashes = [sorted(paths) for paths in by_identity.values() if len(paths) > 1]
    if not clashes:
        return
    if isinstance(frame.index, pd.MultiIndex):  # only the same segment of the same file clashes
        spans = {f: set(zip(frame.xs(f, level="file").index.get_level_values("start"),
                            frame.xs(f, level="file").index.get_level_values("end"), strict=True))
                 for group in clashes for f in group}
        clashes = [g for g in clashes if set.intersection(*(spans[f] for f in g))]
        if not clashes:
            return
    listing = "; ".join(" = ".join(group) for group in clashes[:5])
    raise UserError(
        f"{len(clashes)} audio files are listed under more than one path (symbolic or hard links): {listing}"
        + (" …" if len(clashes) > 5 else ""),
        where="the data's file column",
        todo="list each recording once (remove the rows of the links)",
    )


def _apply_filters(frame: pd.DataFrame, ctx: RunContext, report: LoadReport) -> pd.DataFrame:
    f = ctx.cfg.filter
    rng = np.random.default_rng(ctx.seed)

    def step(name: str, fn: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
        nonlocal frame
        before = len(frame)
        frame = fn(frame)
        removed = before - len(frame)
        report.filters.append({"filter": name, "removed": removed, "left": len(frame)})
        ctx.log.info("filter %s removed %d of %d rows", name, removed, before)
        ctx.console.print(f"Filter {name}: removed {removed} of {before} rows, {len(frame)} left",
                          highlight=False, markup=False)
        if frame.empty:
            raise UserError(f"The filter {name} removed every row", where=f"config key filter.{name.split('=')[0]}",
                            todo="loosen the filter")

    for col in f.required:
        _need_column(frame, str(col), "filter.required")
        def required(d: pd.DataFrame, c: str = str(col)) -> pd.DataFrame:
            return d[d[c].notna() & (d[c].astype(str).str.strip() != "")]

        step(f"required={col}", required)
    value_filter = f["values"] or {}
    if not hasattr(value_filter, "items"):
        raise UserError(f"filter.values must be a mapping {{column: [values]}}; got {value_filter!r}",
                        where="config key filter.values", todo="write e.g. filter.values={gender: [female]}")
    for col, values in value_filter.items():
        if isinstance(values, (str, int, float)):
            values = [values]
        _need_column(frame, str(col), "filter.values")
        allowed = {str(v) for v in values}
        def keep_values(d: pd.DataFrame, c: str = str(col), a: set[str] = allowed) -> pd.DataFrame:
            return d[d[c].astype(str).isin(a)]

        step(f"values.{col}", keep_values)
    if f.min_duration is not None:
        step(f"min_duration={f.min_duration}", lambda d: d[d["duration"] >= float(f.min_duration)])
    if f.max_duration is not None:
        step(f"max_duration={f.max_duration}", lambda d: d[d["duration"] <= float(f.max_duration)])
    if f.max_per_speaker is not None:
        _need_column(frame, "speaker", "filter.max_per_speaker")
        k = int(f.max_per_speaker)

        def per_speaker(d: pd.DataFrame) -> pd.DataFrame:
            keep = []
            for _, rows in d.groupby("speaker", sort=True, observed=True):
                idx = np.arange(len(rows))
                keep.extend(rows.index[np.sort(rng.permutation(idx)[:k])] if len(rows) > k else rows.index)
            return d.loc[d.index.isin(keep)]

        step(f"max_per_speaker={k}", per_speaker)
    if f.max_samples is not None and len(frame) > int(f.max_samples):
        n = int(f.max_samples)
        step(f"max_samples={n}", lambda d: d.iloc[np.sort(rng.permutation(len(d))[:n])])
    return frame


def _need_column(frame: pd.DataFrame, column: str, key: str) -> None:
    if column not in frame.columns:
        raise UserError(f"The column {column!r} is not in the data", where=f"config key {key}",
                        allowed=", ".join(map(str, frame.columns)), todo="use an existing column")


def _prepare_target(frame: pd.DataFrame, target: str, ctx: RunContext,
                    model_task: Callable[[], str | None] | None) -> tuple[pd.DataFrame, str]:
    cfg = ctx.cfg
    bins = cfg.bins
    task_cfg = as_enum(cfg.task, Task)
    # bins with task=regression and labels=[] are refused when the config is composed (config.py)
    binned = bins.edges is not None or bins.quantiles is not None
    if binned:
        frame = frame.assign(**{target: _binned(frame[target], bins, target)})
        task = "classification"
    else:
        task = detect_task(frame[target], model_task) if task_cfg is Task.auto else task_cfg.value
        if task_cfg is Task.auto and task == "classification" and model_task is not None \
                and detect_task(frame[target]) == "regression":
            # a continuous target (ages) and a classifier (the default svm): one class per value
            # is never what was meant; say it before a split fails on it
            model = str(cfg.model.get("name", "the model")) if cfg.get("model") is not None else "the model"
            raise UserError(
                f"The target {target!r} is numeric with {frame[target].nunique()} distinct values, but "
                f"model {model} classifies (task=auto takes the model's task)",
                where="config keys target, model and task",
                allowed="a regression model (svr, knn_reg, tree_reg, lin_reg, xgr …) for numbers; "
                "classes via bins.edges / bins.quantiles",
                todo=f"add model=svr to predict {target!r} as a number, bins.quantiles=3 for classes, or "
                "task=classification to treat every value as a class",
            )
    if task == "regression" and cfg.labels is not None:
        raise UserError(
            f"labels= keeps classes, but the target {target!r} is regressed (task={task_cfg.value})",
            where="config key labels",
            todo="remove labels= (use filter.values={COLUMN: [...]} to keep rows by value), or "
            "classify: task=classification, or bins.edges=[…] for ranges",
        )
    if task == "regression":
        values = pd.to_numeric(frame[target], errors="coerce")
        bad = values.isna()
        if bad.any():
            raise UserError(
                f"The regression target {target!r} has non-numeric values, e.g. "
                f"{frame.loc[bad, target].astype(str).unique()[:5].tolist()}",
                where="the data",
                todo="fix the values (only an empty cell counts as missing: write nothing, not NA; "
                f"drop such rows with filter.required=[{target}]), or set task=classification")
        return frame.assign(**{target: values.astype(float)}), task
    frame = frame.assign(**{target: frame[target].astype(str)})
    if cfg.labels is not None:
        wanted = [str(v) for v in cfg.labels]
        present = set(frame[target].unique())
        absent = [w for w in wanted if w not in present]
        if absent:
            raise UserError(
                f"labels lists {absent}, which do not occur in {target!r}",
                where="config key labels",
                allowed=", ".join(sorted(present)),
                todo="fix the names (case matters), or map classes with data.<db>.label_map",
            )
        before = len(frame)
        frame = frame[frame[target].isin(wanted)]
        ctx.log.info("labels kept %s: removed %d of %d rows", wanted, before - len(frame), before)
        ctx.console.print(f"labels={wanted}: removed {before - len(frame)} of {before} rows, {len(frame)} left",
                          highlight=False, markup=False)
    classes = frame[target].unique()
    if len(classes) < 2:
        raise UserError(
            f"The target {target!r} has only one class ({classes[0]!r})",
            where="the data after filtering",
            todo="choose a target with at least two classes, or loosen the filters",
        )
    return frame, task


def _binned(values: pd.Series, bins: Any, target: str) -> pd.Series:
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.isna().any():
        raise UserError(f"Binning needs a numeric target; {target!r} has non-numeric values",
                        where="config key bins", todo="bin a numeric column")
    if bins.quantiles is not None:
        q = int(bins.quantiles)
        edges = list(np.unique(np.quantile(numeric, np.linspace(0, 1, q + 1))[1:-1]))
    else:
        edges = sorted(float(e) for e in bins.edges)
    n_bins = len(edges) + 1
    names = [str(n) for n in bins.names] if bins.names is not None else None
    if names is not None and len(names) != n_bins:
        raise UserError(f"bins.names has {len(names)} names for {n_bins} bins",
                        where="config key bins.names", todo=f"give {n_bins} names")
    if names is None:
        bounds = [-np.inf, *edges, np.inf]
        names = [f"{_fmt(lo)}–{_fmt(hi)}" for lo, hi in itertools.pairwise(bounds)]
    codes = np.searchsorted(np.asarray(edges), numeric.to_numpy(), side="right")
    return pd.Series(np.asarray(names, dtype=object)[codes], index=values.index)


def _fmt(x: float) -> str:
    return "" if np.isinf(x) else f"{x:g}"
