"""Shared fixtures for nk's own tests (nk.testing's fixtures come via the pytest11 plugin)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

NK = [sys.executable, "-m", "nk.cli"]


@pytest.fixture
def run_nk(tmp_path: Path):
    """Run the ``nk`` command in a subprocess inside tmp_path; returns the CompletedProcess."""
    env = {**os.environ, "NK_CACHE_DIR": str(tmp_path / "cache"), "COLUMNS": "200"}

    def run(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([*NK, *args], cwd=cwd or tmp_path, env=env, capture_output=True,
                              text=True, timeout=timeout)

    return run
