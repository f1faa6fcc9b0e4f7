"""Portable model bundles: ``nk export RUN OUT`` and their checks on load.

A bundle is one folder that holds everything :func:`nk.inference.load_run` needs and nothing of
the run's context:

- the run's ``model/`` files: ``spec.json`` (featurizers, preprocessing, learner, labels; no
  secret parameter; the feature-cache folder of the training machine removed), the model in
  skops' format or the learner's own format (e.g. XGBoost JSON) — never a pickle — and
  ``manifest.json`` with their sha256 and the types each skops file may load;
- ``MODEL_CARD.md``: what the model predicts, what it was trained on, its test score with CI;
- ``bundle.json``: format, nk version, source run, the test metrics, the reproducibility record
  (versions) and the sha256 of every other file.

:func:`check_bundle` refuses a bundle whose files do not match their hashes or that an
incompatible nk version made (a different major version, or for 0.x a different minor one).
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

from nk.errors import UserError

BUNDLE_FORMAT = "nk-bundle/1"
BUNDLE_FILE = "bundle.json"
CARD_FILE = "MODEL_CARD.md"


def _compatible(made_by: str, running: str) -> bool:
    """Same major version (for 0.x: the same minor version)."""
    a, b = made_by.split(".")[:2], running.split(".")[:2]
    return a == b if a[0] == "0" else a[0] == b[0]


def model_folder(run_or_bundle: Path | str, results_root: Path | str = "results") -> Path:
    """The folder with ``manifest.json``: a bundle, a run's ``model/``, or a run folder's; a name
    that is no folder is an experiment below ``results_root`` (its latest finished run)."""
    from nk.results import MANIFEST_FILE

    folder = Path(run_or_bundle)
    if not folder.exists():
        from nk.ensemble import resolve_run

        folder = resolve_run(str(run_or_bundle), Path(results_root))
    if not (folder / MANIFEST_FILE).exists() and (folder / "model").is_dir():
        folder = folder / "model"
    return folder


def check_bundle(folder: Path) -> dict[str, Any]:
    """Check a bundle's format, nk version and file hashes; return its ``bundle.json``."""
    from nk import __version__
    from nk.results import sha256_file

    path = folder / BUNDLE_FILE
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"Cannot read the bundle description {path}: {exc}", todo="export the run again") from None
    if meta.get("format") != BUNDLE_FORMAT:
        raise UserError(f"{folder} is a bundle of format {meta.get('format')!r}; this nk reads {BUNDLE_FORMAT!r}",
                        todo="export the run again with this nk version")
    made_by = str(meta.get("nk_version", "?"))
    if not _compatible(made_by, __version__):
        raise UserError(f"The bundle {folder} was made by nk {made_by}, which this nk ({__version__}) cannot load",
                        allowed=f"bundles made by nk {'.'.join(__version__.split('.')[:2])}.x",
                        todo=f"install nk {made_by} to use it, or export the run again with this nk")
    for name, expected in meta.get("files", {}).items():
        file = folder / name
        if not file.is_file():
            raise UserError(f"The bundle file {file} is missing", todo="copy the whole bundle folder")
        if sha256_file(file) != expected:
            raise UserError(f"The bundle file {file} does not match its sha256 in {BUNDLE_FILE}",
                            todo="it was modified or damaged; export the run again")
    return meta


def model_card(results: dict[str, Any], spec: dict[str, Any], source: str) -> str:
    """The Markdown model card of a run: task, data, features, learner, scores with CIs, caveats."""
    from nk.metrics import ci_method_text

    primary = results.get("primary", "uar")
    comps = results.get("components", {})
    test = (results.get("test") or {}).get(primary, {})
    dev = (results.get("dev") or {}).get(primary)
    data = results.get("data") or {}
    rows = data.get("rows", {})
    speakers = data.get("speakers", {})
    lines = [
        f"# Model card: {results.get('target')} ({results.get('task')})",
        "",
        f"- **Predicts**: `{spec['target']}` ({spec['task']})"
        + (f"; classes: {', '.join(map(str, spec['labels']))}" if spec.get("labels") else ""),
        f"- **Trained on**: {', '.join(comps.get('data') or ['?'])} "
        f"({', '.join(f'{k} {v} rows' for k, v in rows.items())}"
        + (f"; speakers: {', '.join(f'{k} {v}' for k, v in speakers.items())}" if speakers else "") + ")",
        f"- **Features**: {' + '.join(f['name'] for f in spec.get('featurizers', [])) or 'audio (the model takes audio)'}"
        + (f", segmented by {spec['segmenter']['name']}" if spec.get("segmenter") else ""),
        f"- **Model**: {spec['learner']['name']} ({spec['learner']['provider']} {spec['learner']['version']}), "
        f"scaling {spec.get('scale')}, missing features: {spec.get('missing')}",
        f"- **Sampling rate**: {spec['sampling_rate']} Hz (other rates are resampled)",
    ]
    if test:
        score = f"{primary.upper()} {test['value']:.3f}"
        if "ci" in test:
            score += (f", {round(test['ci_level'] * 100)} % CI [{test['ci'][0]:.3f}, {test['ci'][1]:.3f}] "
                      f"({ci_method_text(test)})")
        lines.append(f"- **Test score**: {score}, on {results.get('evaluated_on', 'test')}")
        if test.get("ci_note"):
            lines.append(f"- **Caveat**: {test['ci_note']}")
    if dev:
        lines.append(f"- **Dev score** (model selection): {primary.upper()} {dev['value']:.3f}")
    lines += [f"- **Source run**: {source}", f"- **nk version**: {spec.get('nk_version')}", "",
              "Scores hold for data like the training data (speakers, recording conditions, language); "
              "test on your own data (`nk test`) before relying on the model.", ""]
    return "\n".join(lines)


def export_bundle(run: Path, out: Path, pm: Any = None) -> Path:
    """Write the bundle of a finished run's model into ``out`` (new or empty); returns ``out``."""
    from nk import __version__
    from nk.report import reproducibility_record
    from nk.results import MANIFEST_FILE, SPEC_FILE, load_model, sha256_file, write_json

    run = Path(run).resolve()
    source = model_folder(run)
    if not (source / MANIFEST_FILE).is_file():
        raise UserError(f"No saved model in {run}", todo="point to a finished run's folder (or its model/)")
    if (source / BUNDLE_FILE).exists():
        raise UserError(f"{run} is already a bundle", todo="copy the folder instead")
    run_dir = source.parent
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"The bundle folder {out} exists and is not empty", todo="choose a new folder; nothing "
                        "was overwritten")
    load_model(source)  # checks every hash and trusted type before anything is copied
    results_path = run_dir / "results.json"
    results = json.loads(results_path.read_text(encoding="utf-8")) if results_path.is_file() else {}
    out.mkdir(parents=True, exist_ok=True)
    for file in sorted(source.rglob("*")):
        if file.is_file():
            target = out / file.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, target)
    spec = json.loads((out / SPEC_FILE).read_text(encoding="utf-8"))
    if isinstance(spec.get("config"), dict):  # the training machine's cache folder means nothing elsewhere
        spec["config"]["cache_dir"] = None
    (out / SPEC_FILE).write_text(json.dumps(spec, indent=1), encoding="utf-8")
    manifest = json.loads((out / MANIFEST_FILE).read_text(encoding="utf-8"))
    manifest["files"][SPEC_FILE] = sha256_file(out / SPEC_FILE)
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    (out / CARD_FILE).write_text(model_card(results, spec, str(run_dir)), encoding="utf-8")
    files = {str(p.relative_to(out)): sha256_file(p) for p in sorted(out.rglob("*")) if p.is_file()}
    primary = results.get("primary")
    write_json(out / BUNDLE_FILE, {
        "format": BUNDLE_FORMAT,
        "nk_version": __version__,
        "created": datetime.now().astimezone().isoformat(timespec="seconds"),
        "source_run": str(run_dir),
        "target": spec["target"], "task": spec["task"], "labels": spec.get("labels"),
        "primary": primary,
        "test": (results.get("test") or {}).get(primary) if primary else None,
        "dev": (results.get("dev") or {}).get(primary) if primary else None,
        "trained_on": (results.get("components") or {}).get("data"),
        "versions": results.get("environment") or reproducibility_record(pm if pm is not None else _pm()),
        "files": files,
    })
    return out


def _pm() -> Any:
    from nk.plugins import PluginManager

    return PluginManager()


def card_of(folder: Path) -> dict[str, Any]:
    """What a page or a console shows about a loaded model (bundle or run): target, classes,
    training data, test score and the Markdown card."""
    from nk.results import SPEC_FILE

    folder = model_folder(folder)
    spec = json.loads((folder / SPEC_FILE).read_text(encoding="utf-8"))
    if (folder / BUNDLE_FILE).is_file():
        meta = json.loads((folder / BUNDLE_FILE).read_text(encoding="utf-8"))
        card = (folder / CARD_FILE).read_text(encoding="utf-8")
        return {"target": spec["target"], "task": spec["task"], "labels": spec.get("labels"),
                "trained_on": meta.get("trained_on"), "primary": meta.get("primary"), "test": meta.get("test"),
                "markdown": card}
    results_path = folder.parent / "results.json"
    results = json.loads(results_path.read_text(encoding="utf-8")) if results_path.is_file() else {}
    primary = results.get("primary")
    return {"target": spec["target"], "task": spec["task"], "labels": spec.get("labels"),
            "trained_on": (results.get("components") or {}).get("data"), "primary": primary,
            "test": (results.get("test") or {}).get(primary) if primary else None,
            "markdown": model_card(results, spec, str(folder.parent))}


__all__ = ["BUNDLE_FILE", "BUNDLE_FORMAT", "CARD_FILE", "card_of", "check_bundle", "export_bundle", "model_card"]
