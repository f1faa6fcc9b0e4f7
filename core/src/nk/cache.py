"""Content-addressed feature cache.

A featurizer's output for a set of rows is stored as parquet under
``<cache>/features/<component>/<key>.parquet`` with a JSON sidecar saying what the key was
made of. The key covers the component's name, provider and version, all its parameters, the
sampling rate, and every row's audio identity (path, size, mtime) and segment times, so a
changed parameter or file can never reuse stale features. Writes are atomic (temp + rename).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd


def cache_root(configured: str | None) -> Path:
    """The cache folder: the config's ``cache_dir``, else ``$NK_CACHE_DIR``, else ~/.cache/nk."""
    root = configured or os.environ.get("NK_CACHE_DIR") or "~/.cache/nk"
    path = Path(root).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def file_identity(path: str) -> list[Any]:
    st = os.stat(path)
    return [path, st.st_size, st.st_mtime_ns]


def feature_key(spec: dict[str, Any], index: pd.Index) -> tuple[str, dict[str, Any]]:
    """(hex key, sidecar) for a featurizer ``spec`` applied to the rows of ``index``."""
    digest = hashlib.sha256()
    digest.update(json.dumps(spec, sort_keys=True, default=str).encode())
    identities: dict[str, list[Any]] = {}
    for row in index:
        file, start, end = (row, None, None) if not isinstance(row, tuple) else row
        if file not in identities:
            identities[file] = file_identity(file)
        digest.update(json.dumps([identities[file], str(start), str(end)]).encode())
    sidecar = {**spec, "rows": len(index), "files": len(identities)}
    return digest.hexdigest()[:32], sidecar


class FeatureCache:
    """Reads and writes feature tables by key."""

    def __init__(self, root: Path) -> None:
        self.root = root / "features"

    def path(self, component: str, key: str) -> Path:
        return self.root / component / f"{key}.parquet"

    def load(self, component: str, key: str, index: pd.Index) -> pd.DataFrame | None:
        path = self.path(component, key)
        if not path.exists():
            return None
        try:
            frame = pd.read_parquet(path)
        except Exception:  # damaged file: recompute rather than fail
            path.unlink(missing_ok=True)
            return None
        if len(frame) != len(index):
            return None
        frame.index = index
        return frame

    def save(self, component: str, key: str, frame: pd.DataFrame, sidecar: dict[str, Any]) -> None:
        path = self.path(component, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        os.close(fd)
        try:
            frame.reset_index(drop=True).to_parquet(tmp)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        side = path.with_suffix(".json")
        side.write_text(json.dumps(sidecar, indent=1, sort_keys=True, default=str))
