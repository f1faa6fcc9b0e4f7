"""The report of one ``nk run``: what was found, on which data, how, and with what software."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nk.report import (
    Figure,
    ReportDoc,
    Section,
    Table,
    data_hash,
    environment_table,
    reproducibility_record,
    write_reports,
)

if TYPE_CHECKING:
    import pandas as pd

    from nk.context import RunContext

SPLIT_ORDER = ("train", "dev", "test", "all")
FIGURE_CAPTIONS = {
    "confusion_matrix.png": "Confusion matrix on the test data: counts and the share of each true class "
                            "(rows) given each predicted class (columns).",
    "truth_vs_prediction.png": "Prediction against truth on the test data; the dashed line marks perfect "
                               "prediction.",
    "epochs.png": "Training curve of the neural model: train loss and dev metric per epoch; the dashed line "
                  "marks the epoch kept (chosen on dev, or on a held-out slice of train, never on test).",
}
METRIC_NAMES = {
    "uar": "UAR (unweighted average recall)", "accuracy": "accuracy", "macro_f1": "macro-F1",
    "ccc": "CCC (concordance correlation)", "pcc": "PCC (Pearson correlation)",
    "mae": "MAE (mean absolute error)", "mse": "MSE (mean squared error)", "r2": "R² (explained variance)",
}


def document_option(cfg: Any, key: str, default: Any = None) -> Any:
    """``cfg.document.<key>``, or ``default`` when the config has no such key."""
    from omegaconf import OmegaConf

    value = OmegaConf.select(cfg, f"document.{key}", default=default)
    return default if value is None else value


def _splits(keys: Any) -> list[str]:
    keys = [str(k) for k in keys]
    return [s for s in SPLIT_ORDER if s in keys] + sorted(k for k in keys if k not in SPLIT_ORDER)


def _ci_text(metric: dict[str, Any]) -> str:
    return f"[{metric['ci'][0]:.3f}, {metric['ci'][1]:.3f}]"


def _interval_text(value: dict[str, Any]) -> str:
    """What the primary metric's interval is and what it covers, for the summary."""
    from nk.metrics import ci_method_text

    level = round(value["ci_level"] * 100)
    method = value.get("ci_method") or ("speaker" if value.get("ci_unit") == "speaker" else "rows")
    head = (f"{level} % confidence interval {_ci_text(value)} ({ci_method_text(value)}, "
            f"{value['n_resamples']} resamples).")
    if method == "speaker":
        return (head + " The interval shows how much the number could change with other speakers like "
                "these: when the intervals of two experiments overlap, the difference between them may be "
                "chance.")
    if method == "rows_within_speakers":
        n = value.get("n_speakers")
        these = "this one speaker" if n == 1 else f"these {n} speakers"
        few = "a single test speaker" if n == 1 else f"only {n} test speakers"
        return (head + f" With {few} a bootstrap over speakers would look far more precise than the data "
                f"allow, so this interval resamples rows within each speaker: it shows only how much the "
                f"number could change with other recordings of {these}. It says nothing about other "
                "speakers, for whom the result may differ much more; test on more speakers before "
                "comparing experiments.")
    return (head + " The data have no speaker ids, so rows were resampled as if independent; when a speaker "
            "has several rows the interval is too narrow.")


def _summary(results: dict[str, Any]) -> Section:
    test, primary, task = results["test"], results["primary"], results["task"]
    value = test[primary]
    comps = results["components"]
    lines = [
        f"{results['target']} ({task}) predicted from {' + '.join(comps['feats'])} features with the "
        f"{comps['model'][0]} model on data from {', '.join(comps['data'])}.",
        "",
        f"Result: {primary.upper()} = {value['value']:.3f}, " + _interval_text(value),
    ]
    if task == "classification" and test.get("labels"):
        k = len(test["labels"])
        lines += ["", f"Chance level: a model that guesses gets a UAR of about {1 / k:.3f} with {k} classes."]
    speakers = f", {test['n_groups']} speakers" if test.get("n_groups") else ""
    lines += ["", f"- Test numbers come from {results['sources']['test']} ({test['n']} rows{speakers})."]
    if results["sources"].get("dev"):
        lines.append(f"- Dev numbers come from {results['sources']['dev']}.")
    lines.append(f"- Model selection: {results['model_selection']}.")
    prep = results.get("preprocessing", {})
    if prep:
        lines.append(f"- Preprocessing: scaling {prep.get('scale')}, re-sampling {prep.get('balance')}; "
                     f"the model saw {results.get('n_model_inputs')} of {results.get('n_features')} features.")
    if results.get("cv"):
        cv = results["cv"]
        lines.append(f"- Cross-validation ({cv['method']}, {cv['n_folds']} folds): {primary.upper()} per fold "
                     f"{cv['mean']:.3f} ± {cv['sd']:.3f} (mean ± sd); the headline number pools all folds.")
    return Section("Summary", "\n".join(lines), tables=[_metrics_table(results)])


def _metrics_table(results: dict[str, Any]) -> Table:
    import pandas as pd

    primary = results["primary"]
    keys = [primary, *(("accuracy", "macro_f1") if results["task"] == "classification"
                       else ("pcc", "mae", "mse", "r2"))]
    parts = [p for p in ("test", "dev") if results.get(p)]
    rows = []
    for key in keys:
        row: dict[str, Any] = {"metric": METRIC_NAMES.get(key, key)}
        for part in parts:
            entry = results[part].get(key)
            row[part] = entry["value"] if isinstance(entry, dict) else entry
            if key == primary:
                row[f"{part} CI"] = _ci_text(entry)
            else:
                row[f"{part} CI"] = ""
        rows.append(row)
    frame = pd.DataFrame(rows, columns=["metric", *[c for p in parts for c in (p, f"{p} CI")]])
    from nk.metrics import ci_method_text

    level = round(results["test"][primary]["ci_level"] * 100)
    methods = "; ".join(f"{part}: {ci_method_text(results[part][primary])}" for part in parts
                        if "ci" in results[part][primary])
    notes = [f"{part}: {results[part][primary]['ci_note']}." for part in parts
             if results[part][primary].get("ci_note")]
    return Table("Metrics", frame, note=" ".join([f"CI: {level} % bootstrap confidence interval of the primary "
                                                  f"metric ({methods}).", *notes]))


def _data(results: dict[str, Any], frame: pd.DataFrame) -> Section:
    import pandas as pd

    data, target = results["data"], results["target"]
    load = results.get("load") or {}
    text = [f"{len(frame)} rows (utterances or segments) with {frame.shape[1]} columns were used."]
    if load.get("databases"):
        text.append("Databases: " + ", ".join(f"{k} ({v} rows)" for k, v in load["databases"].items()) + ".")
    if data.get("folds"):
        text.append(f"Cross-validation over {data['folds']} folds: every row is tested once.")
    if load.get("filters"):
        text.append(f"Filters applied: {load['filters']}.")
    if load.get("skipped_files"):
        text.append(f"{len(load['skipped_files'])} unreadable or too short files were left out "
                    "(listed in results.json).")
    missing = results.get("missing") or {}
    if missing.get("rows_with_missing"):
        text.append(f"{missing['rows_with_missing']} rows had missing feature values "
                    f"(policy: {missing.get('policy')}).")
    if results.get("duplicate_audio"):
        text.append(f"{len(results['duplicate_audio'])} groups of identical audio files were found "
                    "(listed in results.json).")
    tables = []
    rows, speakers = data.get("rows", {}), data.get("speakers", {})
    splits = _splits(rows)
    if "labels" in data:
        labels, spk_labels = data["labels"], data.get("speakers_per_label", {})
        names = sorted({str(label) for part in labels.values() for label in part})
        table = {}
        for part in splits:
            counts = {str(k): v for k, v in labels.get(part, {}).items()}
            spk = {str(k): v for k, v in spk_labels.get(part, {}).items()}
            column = [f"{counts.get(n, 0)} ({spk[n]})" if n in spk else str(counts.get(n, 0)) for n in names]
            column.append(f"{rows.get(part, 0)} ({speakers[part]})" if part in speakers else str(rows.get(part, 0)))
            table[part] = column
        tables.append(Table(f"Rows (speakers) per split and {target}",
                            pd.DataFrame(table, index=pd.Index([*names, "all"], name=target)),
                            note="Speakers in parentheses." if speakers else ""))
    else:
        counts = {part: [rows.get(part, 0), speakers.get(part, "–")] for part in splits}
        tables.append(Table("Rows and speakers per split",
                            pd.DataFrame(counts, index=pd.Index(["rows", "speakers"], name="")).astype(str)))
    if "target" in data:
        stats = pd.DataFrame(data["target"]).T
        stats.index.name = "split"
        tables.append(Table(f"The target {target} per split", stats.loc[_splits(stats.index)]))
    if "duration_s" in data:
        dur = data["duration_s"]
        per = dur.get("per_split", {})
        parts = _splits(per)
        values = [per[p] / 60 for p in parts]
        if len(parts) > 1:
            parts, values = [*parts, "total"], [*values, dur["total"] / 60]
        minutes = pd.DataFrame({"minutes": values}, index=pd.Index(parts, name="split"))
        tables.append(Table("Audio duration", minutes, note=f"Mean duration of a row: {dur['mean']:.2f} s."))
    if "gender" in data:
        gender = pd.DataFrame(data["gender"]).fillna(0).astype(int)
        gender = gender[_splits(gender.columns)]
        gender.index.name = "gender"
        tables.append(Table("Gender per split (rows)", gender))
    return Section("Data", " ".join(text), tables=tables)


def _metrics(results: dict[str, Any], run_dir: Path) -> Section:
    import pandas as pd

    test = results["test"]
    tables, text = [], []
    if results["task"] == "classification":
        per_class = pd.DataFrame(test["per_class"]).T
        per_class.index.name = results["target"]
        per_class["support"] = per_class["support"].astype(int)
        tables.append(Table("Per class on the test data", per_class,
                            note="Recall: share of a class found; precision: share of predictions of a class "
                                 "that are right; support: rows of the class."))
        labels = [str(label) for label in test["labels"]]
        matrix = pd.DataFrame(test["confusion_matrix"], index=pd.Index(labels, name="true \\ predicted"),
                              columns=labels)
        tables.append(Table("Confusion matrix (counts; rows: true class, columns: predicted class)", matrix))
        text.append("Per-class results and the confusion matrix show which classes the model confuses.")
    else:
        text.append("The scatter plot shows how predictions follow the true values.")
    if results.get("cv"):
        cv = results["cv"]
        folds = pd.DataFrame(cv["folds"])
        tables.append(Table(f"Cross-validation folds ({cv['method']})", folds,
                            note=f"Mean ± sd over folds: {cv['mean']:.3f} ± {cv['sd']:.3f}."))
    figures = [Figure(FIGURE_CAPTIONS.get(p.name, p.stem.replace("_", " ")), p)
               for p in sorted(run_dir.glob("*.png"), key=lambda p: (p.name not in FIGURE_CAPTIONS, p.name))]
    return Section("Metrics", " ".join(text), tables=tables, figures=figures)


def build_run_doc(ctx: RunContext, results: dict[str, Any], frame: pd.DataFrame) -> ReportDoc:
    """The report of a finished run from its results, data table and run folder."""
    cfg = ctx.cfg
    config_path = ctx.run_dir / "config.yaml"
    config_text = config_path.read_text(encoding="utf-8") if config_path.exists() else ""
    comps = results["components"]
    sha = data_hash(frame)
    metadata = {
        "created": datetime.now().astimezone().isoformat(timespec="seconds"),
        "run folder": str(ctx.run_dir),
        **environment_table(results.get("environment") or reproducibility_record(ctx.pm, cfg)),
        "data table sha256": sha,
        "data table": f"{len(frame)} rows × {frame.shape[1]} columns (index: "
                      f"{', '.join(str(n) for n in frame.index.names)})",
    }
    return ReportDoc(
        title=document_option(cfg, "title") or f"nk experiment: {cfg.name}",
        author=document_option(cfg, "author"),
        subtitle=(f"{results['target']} ({results['task']}): {' + '.join(comps['feats'])} + "
                  f"{comps['model'][0]}; {results['summary']} on {results['evaluated_on']}"),
        sections=[
            _summary(results),
            _data(results, frame),
            _metrics(results, ctx.run_dir),
            Section("Configuration", "The complete resolved configuration of this run (config.yaml; "
                    "values of secret-looking keys are replaced by ***). Running nk with it repeats the "
                    "experiment.", code=config_text),
        ],
        metadata=metadata,
    )


def interval_notes(results: dict[str, Any]) -> list[str]:
    """One line per split whose primary-metric interval is not a speaker bootstrap (and why)."""
    from nk.metrics import ci_method_text

    primary = results["primary"]
    out: list[str] = []
    said: set[str] = set()
    for part in ("test", "dev"):
        entry = (results.get(part) or {}).get(primary) or {}
        if not entry.get("ci_note"):
            continue
        if entry.get("ci_method") in said and "no width" not in entry["ci_note"]:  # reason given for test
            out.append(f"{part} {primary.upper()} interval: likewise {ci_method_text(entry)} only")
        else:
            out.append(f"{part} {primary.upper()} interval: {entry['ci_note']}")
        if "no width" not in entry["ci_note"]:
            said.add(str(entry.get("ci_method")))
    return out


def log_interval_notes(results: dict[str, Any], log: Any) -> None:
    """Write :func:`interval_notes` to nk.log as warnings (the console shows them below the
    summary table, so they are marked file-only here)."""
    for note in interval_notes(results):
        log.warning("%s", note, extra={"file_only": True})


def write_run_report(ctx: RunContext, results: dict[str, Any], frame: pd.DataFrame) -> list[Path]:
    """Write report.html, report.tex (and report.pdf) into the run folder; returns their paths.

    Also records the data table's hash as ``results["data_sha256"]`` and the reproducibility
    record (:func:`nk.report.reproducibility_record`) as ``results["environment"]``. An unexpected error is
    logged (with its traceback, in nk.log) instead of failing the finished run.
    """
    from nk.errors import UserError

    log_interval_notes(results, ctx.log)
    # the same record as the report's Environment table (results.json is written after this)
    results["environment"] = reproducibility_record(ctx.pm, ctx.cfg)
    try:
        doc = build_run_doc(ctx, results, frame)
        results["data_sha256"] = doc.metadata["data table sha256"]
        paths = write_reports(doc, ctx.run_dir, stem="report", pdf=document_option(ctx.cfg, "pdf", "auto"))
    except UserError:
        raise
    except Exception:  # a bug in the report must not cost the run's results (results.json is next)
        ctx.log.exception("the run report could not be written; the other results are complete")
        return []
    return [p for key, p in paths.items() if key in ("html", "tex", "pdf")]
