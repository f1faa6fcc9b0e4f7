"""Run folders, the saved model (skops or the learner's own format, no pickles) with its sha256
manifest, and the results files."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from nk.errors import UserError
from nk.fsutil import sha256_file

FAILED_FILE = "FAILED"


def failure_text(exc: BaseException) -> str:
    """One paragraph on why a run stopped, as the console says it (no traceback)."""
    if isinstance(exc, UserError):
        return exc.message
    if isinstance(exc, KeyboardInterrupt):
        return "Interrupted (Ctrl-C)."
    if isinstance(exc, OSError):
        from nk.paths import os_error

        err = os_error(exc)
        if err is not None:
            return err.message
    return f"{type(exc).__name__}: {exc} (an error inside nk or a plugin; nk.log has the traceback)"


def mark_failed(run_dir: Path, exc: BaseException, secrets: Sequence[str] = ()) -> None:
    """Write ``run_dir/FAILED`` with the reason, so that neither users nor nk take the folder for
    a result (a failed run keeps only config.yaml and nk.log). Best effort: a full disk may
    refuse even this. The values in ``secrets`` are replaced by ``***``."""
    from nk.errors import mask_secrets
    from nk.fsutil import atomic_write_text

    text = mask_secrets(failure_text(exc), secrets)
    with contextlib.suppress(OSError):
        atomic_write_text(run_dir / FAILED_FILE, f"This run failed; it holds no results.\n{text}\n")


def is_failed(run_dir: Path) -> bool:
    """Whether ``run_dir`` is the folder of a failed run (see :func:`mark_failed`)."""
    return (Path(run_dir) / FAILED_FILE).exists()



MODEL_FORMAT = "nk-model/2"
MODEL_FILE = "model.skops"
PREPROCESSOR_FILE = "preprocessor.skops"
LEARNER_DIR = "learner"
SPEC_FILE = "spec.json"
MANIFEST_FILE = "manifest.json"


def new_run_dir(root: Path, name: str, *, label: str | None = None) -> Path:
    """Create and return a fresh folder ``root/name/<timestamp>[-label]``; never reuses one."""
    base = root / name
    base.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    suffix = f"-{label}" if label else ""
    for n in range(1000):  # the counter before the label: ``*-label`` globs find every run
        path = base / (f"{stamp}{suffix}" if n == 0 else f"{stamp}_{n}{suffix}")
        try:
            path.mkdir()  # atomic: fails when another run took the name
            return path
        except FileExistsError:
            continue
    raise UserError(f"Cannot create a new run folder below {base}", todo="clean up old runs")


def save_model(folder: Path, *, model: Any, preprocessor: Any, spec: dict[str, Any]) -> list[Path]:
    """Save a fitted model without pickles; returns the files written.

    - ``spec.json``: what :mod:`nk.inference` needs to rebuild the run's path from audio to
      prediction (featurizers and learner with their non-secret parameters, feature names,
      target, task, labels, the redacted config);
    - ``preprocessor.skops`` (features only) and ``model.skops``: scikit-learn objects in skops'
      format, or, for a learner with ``save_model(folder)``/``load_model(folder)`` methods, the
      files it writes into ``learner/`` (its own safe format, e.g. XGBoost's JSON);
    - ``manifest.json``: the sha256 of every file and, per skops file, the types it may load
      (computed now; loading refuses any other).
    """
    import skops.io as sio

    folder.mkdir(parents=True, exist_ok=True)
    trusted: dict[str, list[str]] = {}
    written: list[Path] = []

    def dump(obj: Any, name: str) -> None:
        data = sio.dumps(obj)
        (folder / name).write_bytes(data)
        trusted[name] = sorted(sio.get_untrusted_types(data=data))
        written.append(folder / name)

    if preprocessor is not None:
        dump(preprocessor, PREPROCESSOR_FILE)
    own = callable(getattr(model, "save_model", None)) and callable(getattr(model, "load_model", None))
    if own:
        learner_dir = folder / LEARNER_DIR
        learner_dir.mkdir()
        model.save_model(learner_dir)
        written += sorted(p for p in learner_dir.rglob("*") if p.is_file())
    else:
        dump(model, MODEL_FILE)
    spec = {**spec, "model_format": "learner" if own else "skops"}
    (folder / SPEC_FILE).write_text(json.dumps(spec, indent=1, default=_plain), encoding="utf-8")
    written.append(folder / SPEC_FILE)
    manifest = {"format": MODEL_FORMAT, "files": {str(p.relative_to(folder)): sha256_file(p) for p in written},
                "trusted_types": trusted}
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return [*written, folder / MANIFEST_FILE]


def _plain(value: Any) -> Any:
    """JSON for enum values and numpy scalars in a spec."""
    import enum

    if isinstance(value, enum.Enum):
        return value.value
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def load_model(folder: Path, *, pm: Any = None, secrets: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Load what :func:`save_model` wrote, after checking every file's sha256 against the
    manifest and each skops file's types against the types the manifest trusts.

    Returns the spec's keys plus ``model`` and ``preprocessor`` (None for audio learners). A
    learner saved in its own format is rebuilt through the registry of ``pm`` (a fresh
    :class:`~nk.plugins.PluginManager` when None), its secret parameters from ``secrets``.
    """
    import skops.io as sio

    manifest_path = folder / MANIFEST_FILE
    if (folder / "model.joblib").exists() and not (folder / SPEC_FILE).exists():
        raise UserError(f"The model in {folder} was saved by an older nk as a pickle, which nk no "
                        "longer loads (a pickle runs code when loaded)",
                        todo="re-run the experiment to save the model in the safe format")
    if not manifest_path.exists():
        for run_dir in (folder, folder.parent):
            if (run_dir / FAILED_FILE).is_file():  # the run stopped early
                reason = " ".join((run_dir / "FAILED").read_text(encoding="utf-8", errors="replace").split())
                raise UserError(f"{run_dir} is the folder of a failed run, with no model: {reason}",
                                todo="point to a run that finished (it has results.json), or re-run")
        raise UserError(f"No model manifest in {folder}", todo="point to a run's model folder")
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("format") != MODEL_FORMAT:
        raise UserError(f"The model in {folder} has the format {manifest.get('format')!r}; this nk reads "
                        f"{MODEL_FORMAT!r}", todo="re-run the experiment with this nk version")
    for file, expected in manifest["files"].items():
        path = folder / file
        if not path.is_file() or sha256_file(path) != expected:
            raise UserError(
                f"The model file {path} does not match its manifest checksum",
                todo="it was modified after the run; re-run the experiment instead of loading it",
            )
    trusted: dict[str, list[str]] = manifest.get("trusted_types", {})

    def load(name: str) -> Any:
        path = folder / name
        allowed = trusted.get(name, [])
        unexpected = sorted(set(sio.get_untrusted_types(file=path)) - set(allowed))
        if unexpected:
            raise UserError(f"The model file {path} holds types its manifest does not trust: {unexpected}",
                            todo="re-run the experiment instead of loading this file")
        return sio.load(path, trusted=allowed)

    spec = json.loads((folder / SPEC_FILE).read_text(encoding="utf-8"))
    preprocessor = load(PREPROCESSOR_FILE) if PREPROCESSOR_FILE in manifest["files"] else None
    if spec["model_format"] == "learner":
        if pm is None:
            from nk.plugins import PluginManager

            pm = PluginManager()
        learner = spec["learner"]
        comp = pm.registry.get("model", learner["name"])
        model = comp.build(with_secrets(comp, learner["params"], secrets, learner.get("secret_params")))
        if learner.get("random_state") is not None and "random_state" in model.get_params():
            model.set_params(random_state=learner["random_state"])  # as fitted
        model.load_model(folder / LEARNER_DIR)
    else:
        model = load(MODEL_FILE)
    return {**spec, "model": model, "preprocessor": preprocessor}


def with_secrets(component: Any, params: Mapping[str, Any], secrets: Mapping[str, Any] | None,
                 needed: Sequence[str] | None = None) -> dict[str, Any]:
    """``params`` (saved without secrets) plus each secret parameter of ``component``: from
    ``secrets`` (key ``<param>`` or ``<component>.<param>``), else the environment variable
    ``NK_SECRET_<PARAM>``; a missing one is a :class:`~nk.errors.UserError` naming it.

    :param needed: the secret parameters that were set when the model was trained (the spec's
        ``secret_params``); the others keep their defaults unless given. None: all of them."""
    out = dict(params)
    given = dict(secrets or {})
    required = set(component.secret_params() if needed is None else needed)
    for name in sorted(component.secret_params()):
        for key in (f"{component.name}.{name}", name):
            if key in given:
                out[name] = given[key]
                break
        else:
            env = f"NK_SECRET_{name.upper()}"
            if env in os.environ:
                out[name] = os.environ[env]
            elif name not in required:
                out[name] = component.defaults()[name]  # not set at training: its default
            else:
                raise UserError(
                    f"The saved model needs the secret parameter {name!r} of {component.group} "
                    f"{component.name!r}, which is never saved",
                    where=f"{component.path}.{name}",
                    todo=f"pass secrets={{'{name}': ...}} to load_run, or set the environment variable {env}",
                )
    return out


def write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, path)
