"""pytest plugin (entry point ``pytest11``): fixtures for testing nk and its plugins."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest


@pytest.fixture
def nk_pm() -> Any:
    """A fresh plugin manager with nk's built-ins and every installed plugin."""
    from nk.plugins import PluginManager

    return PluginManager()


@pytest.fixture
def nk_register_plugin(nk_pm: Any) -> Iterator[Callable[..., str]]:
    """``register(plugin, name=...)`` adds a plugin to ``nk_pm``; it is removed after the test."""
    names: list[str] = []

    def register(plugin: object, name: str | None = None) -> str:
        registered = nk_pm.register(plugin, name=name, distribution=name or "test-plugin")
        nk_pm.check_pending()
        names.append(registered)
        return registered

    yield register
    for name in names:
        nk_pm.unregister(name=name)


@pytest.fixture
def tiny_corpus(tmp_path: Path) -> pd.DataFrame:
    """12 speakers' worth of short synthetic tones in two classes (written below tmp_path)."""
    from nk.testing.audio import write_tiny_corpus

    return write_tiny_corpus(tmp_path / "tiny")


@pytest.fixture
def nk_compose(nk_pm: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """``compose(overrides)`` → the resolved config, as ``nk run`` would build it.

    Runs in an empty working directory (no ./conf) with the cache and results below tmp_path.
    """
    from nk.config import compose

    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    monkeypatch.chdir(work)
    monkeypatch.setenv("NK_CACHE_DIR", str(tmp_path / "cache"))

    def _compose(overrides: list[str] | None = None, user_conf: Path | None = None) -> Any:
        return compose(list(overrides or []), nk_pm, user_conf=user_conf)

    return _compose


@pytest.fixture
def nk_context(nk_pm: Any, nk_compose: Callable[..., Any], tmp_path: Path) -> Any:
    """A RunContext with a run folder and cache below tmp_path."""
    import logging

    from rich.console import Console

    from nk.context import RunContext

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    cfg = nk_compose([f"cache_dir={tmp_path / 'cache'}", "feats=mfcc"])
    return RunContext(cfg=cfg, run_dir=run_dir, pm=nk_pm, log=logging.getLogger("nk.test"),
                      console=Console(quiet=True))


@pytest.fixture
def nk_experiment(nk_pm: Any, nk_compose: Callable[..., Any], tmp_path: Path) -> Callable[..., Any]:
    """``experiment(overrides)`` → ``(results, run_dir)``: ``nk run``'s pipeline on the composed
    config, each call in a fresh run folder below tmp_path, console quiet. Register test plugins
    with ``nk_register_plugin`` before the first call."""
    from rich.console import Console

    from nk.pipeline import run_experiment

    counter = iter(range(10_000))

    def _experiment(overrides: list[str]) -> tuple[dict[str, Any], Path]:
        cfg = nk_compose(overrides)
        run_dir = tmp_path / f"run{next(counter)}"
        run_dir.mkdir()
        return run_experiment(cfg, nk_pm, run_dir, Console(quiet=True)), run_dir

    return _experiment
