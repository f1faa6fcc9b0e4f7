"""Per-run state, handed to stages, components and lifecycle hooks (no module globals)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from omegaconf import DictConfig
    from rich.console import Console

    from nk.plugins import PluginManager


@dataclass
class RunContext:
    """Everything a run needs besides its data.

    :param cfg: the resolved config.
    :param run_dir: the run's own results folder.
    :param pm: the plugin manager (``pm.registry`` holds the components).
    :param log: the run's logger (writes to the console and to ``run_dir/nk.log``).
    :param console: rich console for tables and progress bars.
    :param stash: free space for plugins to share per-run state, keyed by plugin name.
    """

    cfg: DictConfig
    run_dir: Path
    pm: PluginManager
    log: logging.Logger
    console: Console
    stash: dict[str, Any] = field(default_factory=dict)

    @property
    def seed(self) -> int:
        return int(self.cfg.seed)

    @property
    def work_dir(self) -> Path:
        """Scratch space inside the run folder (augmented audio, temporary files)."""
        path = self.run_dir / "work"
        path.mkdir(exist_ok=True)
        return path

    @property
    def cache_dir(self) -> Path:
        from nk.cache import cache_root

        return cache_root(self.cfg.get("cache_dir"))

    @property
    def n_jobs(self) -> int:
        """``n_jobs`` as a count: -1 is every core this process may use (its affinity mask, so a
        SLURM job counts its allocation, not the node's cores), -2 all but one."""
        from nk.launch import available_cores

        n = int(self.cfg.n_jobs)
        return max(1, available_cores() + 1 + n) if n < 0 else max(1, n)
