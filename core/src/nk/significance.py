"""Is a run of a sweep worse than the sweep's best? Paired tests on the same rows.

For each run against the top-ranked one, on the split the ranking uses (dev when every run has
one, else test), on the rows both runs predicted (``dev_predictions.csv`` / ``predictions.csv``
in the run folders; ``inner_cv_predictions.csv``, the out-of-fold predictions of train, for a
ranking by the inner cross-validation of a search without dev):

* a paired bootstrap of the primary metric (:func:`nk.metrics.paired_bootstrap`: the same
  speaker resamples for both runs), one-sided p for "the best is better than this run";
* McNemar's exact test of accuracy (classification; :func:`nk.metrics.mcnemar`), one-sided;
* Holm's adjustment of each family of p-values over the compared runs
  (:func:`nk.metrics.holm`).

A run is *not significantly worse* than the best when its Holm-adjusted bootstrap p is at least
``alpha`` = 1 − ``bootstrap.level`` (0.05 by default): the ranking's metric decides, McNemar is
a second opinion on accuracy that treats rows as independent. Runs whose rows differ from the
best run's (other data, another split) are not tested, and ``significance_note`` says why.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = ("vs_best_difference", "vs_best_ci_low", "vs_best_ci_high", "p_bootstrap", "p_bootstrap_holm",
           "p_mcnemar", "p_mcnemar_holm", "not_worse", "significance_note")
"""The columns :func:`add_significance` adds to a ranking (and ranking.csv)."""


PREDICTIONS = {"dev": "dev_predictions.csv", "inner_cv": "inner_cv_predictions.csv", "test": "predictions.csv"}
"""The predictions each ``ranked_on`` pairs runs on (inner_cv: out-of-fold predictions of train)."""


def bootstrap_settings(run_dir: Path, result: dict[str, Any], primary: str, on: str) -> dict[str, Any]:
    """The bootstrap settings of a run: its config.yaml (``bootstrap.*``, ``seed``), else what
    its results.json records of the interval."""
    from nk.metrics import MIN_SPEAKERS

    entry = result.get(on, {}).get(primary, {})
    settings: dict[str, Any] = {"n_resamples": int(entry.get("n_resamples") or 1000),
                                "level": float(entry.get("ci_level") or 0.95),
                                "seed": int((result.get("environment") or {}).get("seed") or 0),
                                "min_speakers": MIN_SPEAKERS}
    config = run_dir / "config.yaml"
    if config.is_file():
        from omegaconf import OmegaConf

        cfg = OmegaConf.to_container(OmegaConf.load(config))
        if not isinstance(cfg, dict):
            return settings
        boot = cfg.get("bootstrap") or {}
        for key in ("n_resamples", "level", "min_speakers"):
            if boot.get(key) is not None:
                settings[key] = type(settings[key])(boot[key])
        if isinstance(cfg.get("seed"), int):
            settings["seed"] = int(cfg["seed"])
    return settings


def _predictions(run_dir: Path, on: str) -> tuple[pd.DataFrame | None, str]:
    from nk.ensemble import read_predictions

    name = PREDICTIONS[on]  # never the test predictions for a dev or inner-CV ranking
    path = run_dir / name
    if not path.is_file():
        return None, f"{name} is missing in {run_dir.name}"
    return read_predictions(path), ""


def _same_rows(best: pd.DataFrame, run: pd.DataFrame, on: str) -> str:
    """Why the two prediction frames cannot be compared row by row ('' when they can)."""
    if best.index.has_duplicates or run.index.has_duplicates:
        return f"rows repeat in the {on} predictions (e.g. cross-validation with a dev split per fold)"
    only_best, only_run = best.index.difference(run.index), run.index.difference(best.index)
    if len(only_best) or len(only_run):
        return (f"different {on} rows than the best run ({len(only_best)} only in the best run, {len(only_run)} "
                "only in this one): other data or another split")
    truth = run.loc[best.index, "truth"].astype(str).to_numpy()
    differ = int((best["truth"].astype(str).to_numpy() != truth).sum())
    if differ:
        return f"different {on} labels on {differ} rows than the best run (another target or label_map)"
    return ""


def add_significance(ranking: pd.DataFrame, results: list[dict[str, Any]], sweep_dir: Path) -> pd.DataFrame:
    """The ranking (rank 1 first) with the :data:`COLUMNS` of each run against rank 1."""
    import numpy as np
    import pandas as pd

    from nk.metrics import holm, mcnemar, paired_bootstrap

    out = ranking.copy()
    empty: dict[str, Any] = {"vs_best_difference": np.nan, "vs_best_ci_low": np.nan, "vs_best_ci_high": np.nan,
                             "p_bootstrap": np.nan, "p_bootstrap_holm": np.nan, "p_mcnemar": np.nan,
                             "p_mcnemar_holm": np.nan, "not_worse": None, "significance_note": ""}
    rows = [dict(empty) for _ in range(len(out))]
    if out.empty:
        return out.assign(**{c: [] for c in COLUMNS})
    by_dir = {str(Path(r["run_dir"]).relative_to(sweep_dir)): r for r in results}
    on, primary = str(out["ranked_on"].iloc[0]), str(out["primary"].iloc[0])
    best_dir = sweep_dir / str(out["run_dir"].iloc[0])
    best_result = by_dir[str(out["run_dir"].iloc[0])]
    task = str(best_result.get("task"))
    settings = bootstrap_settings(best_dir, best_result, primary, on)
    best_pred, why_not = _predictions(best_dir, on)
    rows[0].update(vs_best_difference=0.0, not_worse=True, significance_note="the best run")
    tested: list[int] = []
    for i in range(1, len(out)):
        run_dir = sweep_dir / str(out["run_dir"].iloc[i])
        if best_pred is None:
            rows[i]["significance_note"] = f"not tested: {why_not}"
            continue
        pred, missing = _predictions(run_dir, on)
        reason = missing or ("" if pred is None else _same_rows(best_pred, pred, on))
        if by_dir[str(out["run_dir"].iloc[i])].get("task") != task:
            reason = "a different task than the best run"
        if reason or pred is None:
            rows[i]["significance_note"] = f"not tested: {reason}"
            continue
        pred = pred.loc[best_pred.index]
        groups = None
        if "speaker" in best_pred.columns and "speaker" in pred.columns:
            groups = best_pred["speaker"].astype(str).to_numpy()
        if task == "classification":
            truth, a, b = (best_pred["truth"].astype(str).to_numpy(), best_pred["pred"].astype(str).to_numpy(),
                           pred["pred"].astype(str).to_numpy())
        else:
            truth, a, b = (best_pred["truth"].to_numpy(float), best_pred["pred"].to_numpy(float),
                           pred["pred"].to_numpy(float))
        boot = paired_bootstrap(truth, a, b, task=task, groups=groups, **settings)
        rows[i].update(vs_best_difference=boot["difference"], vs_best_ci_low=boot["ci"][0],
                       vs_best_ci_high=boot["ci"][1], p_bootstrap=boot["p_greater"],
                       significance_note=f"{len(truth)} {on} rows, {_method_words(boot)}")
        if task == "classification":
            rows[i]["p_mcnemar"] = mcnemar(truth, a, b)["p_greater"]
        tested.append(i)
    alpha = 1.0 - float(settings["level"])
    if tested:
        adjusted = holm([rows[i]["p_bootstrap"] for i in tested])
        for i, p in zip(tested, adjusted, strict=True):
            rows[i]["p_bootstrap_holm"] = float(p)
            rows[i]["not_worse"] = bool(p >= alpha)
        if task == "classification":
            for i, p in zip(tested, holm([rows[i]["p_mcnemar"] for i in tested]), strict=True):
                rows[i]["p_mcnemar_holm"] = float(p)
    extra = pd.DataFrame(rows, index=out.index, columns=list(COLUMNS))
    out = pd.concat([out, extra], axis=1)
    out.attrs["alpha"] = alpha
    return out


def _method_words(boot: dict[str, Any]) -> str:
    n = boot.get("n_speakers")
    return {"speaker": f"{n} speakers resampled", "rows_within_speakers": f"rows resampled within {n} speakers",
            "rows": "rows resampled (no speaker ids)"}[str(boot["ci_method"])]


def verdict(not_worse: Any, note: Any) -> str:
    """A short mark for a table: 'best', 'not worse', 'worse' or 'not tested'."""
    if str(note) == "the best run":
        return "best"
    if not_worse is None or (isinstance(not_worse, float) and not_worse != not_worse):  # None, or NaN from a CSV
        return "not tested"
    return "not worse" if bool(not_worse) else "worse"


def marks(ranking: pd.DataFrame) -> list[str]:
    """:func:`verdict` of every row of a ranking with the significance columns."""
    return [verdict(w, n) for w, n in zip(ranking["not_worse"], ranking["significance_note"], strict=True)]


def summary_text(ranking: pd.DataFrame) -> str:
    """One paragraph for the console and the report: which runs are not significantly worse."""
    if "not_worse" not in ranking or len(ranking) < 2:
        return ""
    mark = marks(ranking)
    alpha = float(ranking.attrs.get("alpha", 0.05))
    on = str(ranking["ranked_on"].iloc[0])
    same = [str(r) for r, m in zip(ranking["rank"], mark, strict=True) if m == "not worse"]
    worse = [str(r) for r, m in zip(ranking["rank"], mark, strict=True) if m == "worse"]
    untested = [str(r) for r, m in zip(ranking["rank"], mark, strict=True) if m == "not tested"]
    if not same and not worse:
        notes = {str(n).removeprefix("not tested: ") for n in ranking["significance_note"].iloc[1:]}
        return f"No run was tested against the best run: {'; '.join(sorted(notes))}."
    tested = [str(n) for n, m in zip(ranking["significance_note"], mark, strict=True) if m in ("worse", "not worse")]
    how = tested[0].split(", ", 1)[-1] if tested else ""
    text = (f"Against the best run (paired bootstrap of {str(ranking['primary'].iloc[0]).upper()} on {on}, {how}, "
            f"one-sided, Holm-adjusted over {len(same) + len(worse)} comparisons, alpha {alpha:.2f}): ")
    parts = [f"not significantly worse: rank {', '.join(same)}" if same else "every tested run is significantly worse"]
    if worse and same:
        parts.append(f"significantly worse: rank {', '.join(worse)}")
    if untested:
        parts.append(f"not tested (see significance_note): rank {', '.join(untested)}")
    return text + "; ".join(parts) + "."


__all__ = ["COLUMNS", "add_significance", "bootstrap_settings", "marks", "summary_text", "verdict"]
