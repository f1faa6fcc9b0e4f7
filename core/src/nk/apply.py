"""Commands that apply a trained model: ``nk test`` (a new labelled database) and ``nk demo``
(files, a folder, a list, the microphone). Both load a run folder or a bundle with
:func:`nk.inference.load_run` and never train anything."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nk.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

    from nk.cli import App
    from nk.context import RunContext
    from nk.inference import Predictor

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".opus", ".aiff", ".aif", ".au")


def _db_names(overrides: list[str]) -> list[str]:
    return [o.split("=", 1)[1] for o in overrides if o.startswith("data=")]


# --- nk test ------------------------------------------------------------------------------------


def test_command(run: str, data: list[str], overrides: list[str], app: App) -> dict[str, Any]:
    """Evaluate the saved model of ``run`` (folder or bundle) on the databases ``data``: every
    row is test data. Returns the results dict (also written to the new folder's results.json)."""
    from nk.bundle import model_folder
    from nk.config import compose
    from nk.inference import load_run
    from nk.pipeline import run_in_folder
    from nk.results import new_run_dir

    if not data:
        raise UserError("nk test needs the database to test on", todo="add --data NAME (e.g. --data polish)")
    folder = model_folder(Path(run))
    predictor = load_run(folder, app.pm, console=app.console)
    db = "[" + ",".join(data) + "]" if len(data) > 1 else data[0]
    given = {o.split("=", 1)[0].lstrip("+") for o in overrides}
    defaults = [f"data={db}", f"target={predictor.target}", f"task={predictor.task}",
                f"sampling_rate={predictor.spec['sampling_rate']}"]
    cfg = compose([o for o in defaults if o.split("=", 1)[0] not in given] + overrides, app.pm)
    run_dir = new_run_dir(Path(cfg.results_root).resolve(), str(cfg.name), label="test")
    app.console.print(f"[bold]nk test[/] the model of {folder} on {', '.join(data)} → {run_dir}", highlight=False)
    return run_in_folder(cfg, app.pm, run_dir, app.console, "test", lambda ctx: _test(ctx, predictor, folder))


def _test(ctx: RunContext, predictor: Predictor, folder: Path) -> dict[str, Any]:
    import pandas as pd

    from nk import __version__, stages
    from nk.bundle import card_of
    from nk.fit import evaluate
    from nk.metrics import headline
    from nk.results import write_json

    loaded = stages.load(ctx, lambda: predictor.task)
    frame, target = loaded.frame, loaded.target
    if predictor.labels is not None:
        known = {str(v) for v in predictor.labels}
        unseen = sorted({str(v) for v in frame[target]} - known)
        if unseen:
            counts = frame[target].astype(str).value_counts()
            listing = ", ".join(f"{v} ({counts[v]} rows)" for v in unseen)
            db = next(iter(ctx.cfg.data))
            raise UserError(
                f"The test data have labels the model never saw: {listing}",
                where=f"{target} in {', '.join(str(k) for k in ctx.cfg.data)}",
                allowed=", ".join(sorted(known)),
                todo=f"map them onto the model's labels with data.{db}.label_map={{{unseen[0]}: "
                     f"{sorted(known)[0]}}}, or keep only known ones with labels=[...]")
    ctx.console.print(f"Predicting {len(frame)} rows with the saved model …", highlight=False)
    pred = predictor.predict_files(frame)
    if pred.index.isin(frame.index).all():
        rows = frame.loc[pred.index]
        truth = rows[target]
    else:  # the model segments files: each segment inherits its file's label and speaker
        files = frame.index.get_level_values(0)
        per_file = frame.reset_index(drop=True).assign(_file=files).groupby("_file").first()
        rows = per_file.reindex(pred.index.get_level_values(0)).set_axis(pred.index)
        truth = rows[target]
    out = pd.DataFrame({"truth": truth.to_numpy(), **{c: pred[c] for c in pred.columns}}, index=pred.index)
    if predictor.task == "regression":
        out["truth"] = out["truth"].astype(float)
    test = evaluate(ctx, out, rows, predictor.task)
    if "speaker" in rows.columns:
        out["speaker"] = rows["speaker"].to_numpy()
    out.to_csv(ctx.run_dir / "predictions.csv")
    card = card_of(folder)
    primary = test["primary"]
    results: dict[str, Any] = {
        "nk_version": __version__, "kind": "test", "name": str(ctx.cfg.name), "run_dir": str(ctx.run_dir),
        "model": str(folder), "target": target, "task": predictor.task, "primary": primary,
        "summary": headline(primary, test[primary]), "evaluated_on": f"all rows of {', '.join(ctx.cfg.data)}",
        "trained_on": card.get("trained_on"), "model_test": card.get("test"), "test": test,
        "load": loaded.report,
    }
    artefacts = ["config.yaml", "nk.log", "results.json", "predictions.csv", *_plots_and_report(ctx, results, out, card)]
    results["artefacts"] = sorted(artefacts)
    write_json(ctx.run_dir / "results.json", results)
    return results


def _plots_and_report(ctx: RunContext, results: dict[str, Any], pred: pd.DataFrame, card: dict[str, Any]) -> list[str]:
    from nk import plots
    from nk.report import Figure, ReportDoc, Section, environment_table, reproducibility_record, write_reports
    from nk.report.run import document_option

    test = results["test"]
    if results["task"] == "classification":
        figure = "confusion_matrix.png"
        plots.plot_confusion_matrix(pred["truth"], pred["pred"], test["labels"], ctx.run_dir / figure,
                                    title=f"test: {results['summary']}")
    else:
        figure = "truth_vs_prediction.png"
        plots.plot_truth_vs_prediction(pred["truth"], pred["pred"].astype(float), ctx.run_dir / figure,
                                       title=f"test: {results['summary']}")
    primary = results["primary"]
    trained = card.get("test") or {}
    before = f"{primary.upper()} {trained['value']:.3f} on its own test split" if trained else "unknown"
    text = "\n".join([
        f"The saved model {results['model']} ({results['target']}, {results['task']}; trained on "
        f"{', '.join(card.get('trained_on') or ['?'])}) applied to every row of {results['evaluated_on'][12:]}.",
        "",
        f"Result: {results['summary']}. In training it scored {before}.",
        "",
        "- Nothing was fitted on these data: featurizers, preprocessing and the model come from the saved spec.",
        *(f"- {test[primary]['ci_note']}." for _ in [0] if test[primary].get("ci_note")),
    ])
    doc = ReportDoc(title=document_option(ctx.cfg, "title") or f"nk test: {results['name']}",
                    author=document_option(ctx.cfg, "author"), subtitle=results["summary"],
                    sections=[Section("Summary", text),
                              Section("Plots", figures=[Figure("The model on the new test data.", ctx.run_dir / figure)]),
                              Section("Model card", code=card.get("markdown"))],
                    metadata={"run folder": str(ctx.run_dir),
                              **environment_table(reproducibility_record(ctx.pm, ctx.cfg))})
    written = write_reports(doc, ctx.run_dir, pdf=document_option(ctx.cfg, "pdf", "auto"))
    return [figure, *(p.name for k, p in written.items() if k != "log")]


# --- nk demo ------------------------------------------------------------------------------------


def demo_files(inputs: list[str], listing: str | None) -> list[Path]:
    """Audio files from paths (files or folders, searched recursively) and a list file (one
    path a line, relative to the list's folder; ``#`` comments)."""
    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
            if not found:
                raise UserError(f"The folder {path} holds no audio files", allowed=", ".join(AUDIO_SUFFIXES))
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise UserError(f"No such file or folder: {path}", todo="check the path")
    if listing is not None:
        lst = Path(listing)
        if not lst.is_file():
            raise UserError(f"No list file {lst}", todo="pass a text file with one audio path a line")
        for n, line in enumerate(lst.read_text(encoding="utf-8").splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            path = Path(line) if Path(line).is_absolute() else lst.parent / line
            if not path.is_file():
                raise UserError(f"The list names a file that does not exist: {path}", where=f"{lst}, line {n}",
                                todo="fix or remove the line")
            files.append(path)
    return files


def microphone_library() -> Any:
    """The ``sounddevice`` module, or a UserError saying how to install it."""
    try:
        import sounddevice
    except (ImportError, OSError) as exc:  # OSError: the library is there, PortAudio is not
        raise UserError(f"Recording from the microphone needs the sounddevice package and PortAudio ({exc})",
                        todo="pip install sounddevice (Debian/Ubuntu also: apt-get install libportaudio2), "
                             "or record a file and pass its path") from None
    return sounddevice


def record_microphone(seconds: float, sampling_rate: int, folder: Path) -> Path:
    """Record ``seconds`` from the default microphone with ``sounddevice`` into a wav file."""
    sounddevice = microphone_library()
    import soundfile

    if not 0 < seconds <= 600:
        raise UserError(f"--mic takes a duration in seconds; got {seconds}", allowed="0 < seconds <= 600")
    try:
        audio = sounddevice.rec(int(seconds * sampling_rate), samplerate=sampling_rate, channels=1, dtype="float32")
        sounddevice.wait()
    except Exception as exc:  # no input device, permission denied …
        raise UserError(f"Cannot record from the microphone: {exc}", todo="check the input device") from None
    path = folder / "microphone.wav"
    soundfile.write(path, audio[:, 0], sampling_rate)
    return path


def demo_command(run: str, inputs: list[str], listing: str | None, mic: float | None, out: str | None,
                 app: App) -> pd.DataFrame:
    """Predict files with a run's (or a bundle's) model, print a table, optionally write a CSV."""
    from nk.bundle import model_folder
    from nk.inference import load_run

    if out is not None and Path(out).exists():
        raise UserError(f"{out} exists; nk demo does not overwrite it", todo="choose a new --out file")
    if mic is not None:
        microphone_library()  # before loading the model: a missing library is said at once
    folder = model_folder(Path(run))
    predictor = load_run(folder, app.pm, console=app.console)
    with tempfile.TemporaryDirectory(prefix="nk-demo-") as tmp:
        files = demo_files(inputs, listing)
        if mic is not None:
            app.console.print(f"Recording {mic:g} s from the microphone …", highlight=False)
            files.append(record_microphone(mic, int(predictor.spec["sampling_rate"]), Path(tmp)))
        if not files:
            raise UserError("nk demo needs audio", todo="pass files, a folder, --list FILE or --mic SECONDS")
        with app.console.status(f"Predicting {len(files)} files …"):
            pred = predictor.predict_files(files)
    print_predictions(pred, predictor, app)
    if out is not None:
        pred.to_csv(out)
        app.console.print(f"Predictions in [bold]{out}[/]", highlight=False)
    return pred


def print_predictions(pred: pd.DataFrame, predictor: Predictor, app: App) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"{predictor.target} ({predictor.task})", title_justify="left")
    names = list(pred.index.names)
    for name in names:
        table.add_column(str(name or "file"), overflow="fold")
    table.add_column("prediction", style="bold")
    proba = [c for c in pred.columns if c.startswith("proba.")]
    for col in proba:
        table.add_column(col.removeprefix("proba."), justify="right")
    for key, row in pred.iterrows():
        keys = key if isinstance(key, tuple) else (key,)
        shown = [Path(str(keys[0])).name, *(f"{k:.2f}" if isinstance(k, float) else str(k) for k in keys[1:])]
        value = row["pred"]
        table.add_row(*map(escape, shown), escape(f"{value:.3f}" if isinstance(value, float) else str(value)),
                      *(f"{row[c]:.3f}" for c in proba))
    app.console.print(table)


def predict_one(predictor: Predictor, path: Path) -> dict[str, Any]:
    """The JSON answer for one file: label (or value), probabilities, and per-segment rows when
    the model segments (the file's label is then the class with the highest mean probability)."""
    pred = predictor.predict_files([path])
    proba = [c for c in pred.columns if c.startswith("proba.")]
    if predictor.task == "regression":
        return {"value": float(pred["pred"].mean()), "label": f"{float(pred['pred'].mean()):.3f}",
                "probabilities": {}, "segments": len(pred)}
    if proba:
        mean = pred[proba].mean()
        probabilities = {c.removeprefix("proba."): float(mean[c]) for c in proba}
        label = max(probabilities, key=lambda k: probabilities[k])
    else:
        label, probabilities = str(pred["pred"].mode().iloc[0]), {}
    return {"label": json.loads(json.dumps(label, default=str)), "probabilities": probabilities,
            "segments": len(pred)}


__all__ = ["demo_command", "demo_files", "predict_one", "record_microphone", "test_command"]
