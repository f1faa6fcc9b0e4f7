"""Run folders, the saved model with its sha256 manifest, and the results files."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from nk.errors import UserError

MODEL_FILE = "model.joblib"
MANIFEST_FILE = "manifest.json"


def new_run_dir(root: Path, name: str, *, label: str | None = None) -> Path:
    """Create and return a fresh folder ``root/name/<timestamp>[-label]``; never reuses one."""
    base = root / name
    base.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    stem = f"{stamp}-{label}" if label else stamp
    for n in range(1000):
        path = base / (stem if n == 0 else f"{stem}_{n}")
        try:
            path.mkdir()  # atomic: fails when another run took the name
            return path
        except FileExistsError:
            continue
    raise UserError(f"Cannot create a new run folder below {base}", todo="clean up old runs")


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's content, read in blocks of 1 MiB (memory stays flat)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_model(folder: Path, bundle: dict[str, Any]) -> Path:
    """Save the fitted pipeline pieces (model, scaler, feature names, labels) with a manifest."""
    import joblib

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / MODEL_FILE
    joblib.dump(bundle, path)
    manifest = {"files": {MODEL_FILE: sha256_file(path)}, "keys": sorted(bundle)}
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1))
    return path


def load_model(folder: Path) -> dict[str, Any]:
    """Load a saved model after checking its sha256 against the manifest (joblib runs code)."""
    import joblib

    manifest_path = folder / MANIFEST_FILE
    if not manifest_path.exists():
        for run_dir in (folder, folder.parent):
            if (run_dir / "FAILED").is_file():  # nk.runner.FAILED_FILE: the run stopped early
                reason = " ".join((run_dir / "FAILED").read_text(encoding="utf-8", errors="replace").split())
                raise UserError(f"{run_dir} is the folder of a failed run, with no model: {reason}",
                                todo="point to a run that finished (it has results.json), or re-run")
        raise UserError(f"No model manifest in {folder}", todo="point to a run's model folder")
    manifest = json.loads(manifest_path.read_text())
    for file, expected in manifest["files"].items():
        if sha256_file(folder / file) != expected:
            raise UserError(
                f"The model file {folder / file} does not match its manifest checksum",
                todo="it was modified after the run; re-run the experiment instead of loading it",
            )
    return joblib.load(folder / MODEL_FILE)


def write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, path)
