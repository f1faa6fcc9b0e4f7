"""Running a sweep's runs through a Hydra launcher plugin (``hydra/launcher=joblib|ray|submitit_*``).

nk composes and checks every run's config itself (:mod:`nk.runner`), creates the sweep folder
and each run's ``NNN_label`` folder, and then hands the runs to the launcher that the
``hydra/launcher=…`` override names. The launcher gets a one-key config (``job``: the run's
index) and :class:`SweepTask` as its task function; each launched job composes its run's config
again from the same overrides (in its own process, on its own machine for SLURM), runs it into
its folder and returns the run's ``results`` — so the ranking and the sweep report are those of
the in-process sweep.

Features are shared through the feature cache. Parallel runs that need the same feature set
extract it once: the first run that misses rows holds the cache entry's extraction lock
(:meth:`nk.cache.CacheEntry.extracting`) while it extracts; the others wait for it and then read
the rows from the cache ("lock per spec"; see CONTRIBUTING.md).

Without ``hydra/launcher`` nk runs the sweep in its own process (faster for small sweeps: runs
share imports and loaded plugins).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nk.errors import UserError

if TYPE_CHECKING:
    from nk.cli import App

LAUNCH_CONFIG = "nk_launch"
"""Name of the launcher's primary config in Hydra's ConfigStore (one key: the run's index)."""

EXTRAS = {"joblib": "nk[parallel]", "ray": "nk[ray]", "submitit_local": "nk[slurm]",
          "submitit_slurm": "nk[slurm]"}
"""The pip extra that installs each launcher nk documents."""


def available_cores() -> int:
    """CPU cores this process may use (its affinity mask: a SLURM allocation, taskset), else all."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def _key(override: str) -> str:
    return override.lstrip("+~").split("=", 1)[0]


def split_launcher_overrides(overrides: Sequence[str]) -> tuple[list[str], list[str]]:
    """``(nk's overrides, the launcher's overrides)``: ``hydra/launcher=…`` and
    ``hydra.launcher.*`` go to the launcher, everything else is the runs'."""
    runs: list[str] = []
    launcher: list[str] = []
    for item in overrides:
        key = _key(item)
        (launcher if key == "hydra/launcher" or key.startswith("hydra.launcher.") else runs).append(item)
    return runs, launcher


def launcher_name(launcher_overrides: Sequence[str]) -> str | None:
    """The launcher the overrides select (``joblib``), or None."""
    for item in launcher_overrides:
        if _key(item) == "hydra/launcher":
            return item.split("=", 1)[1].strip() or None
    return None


def _given(launcher_overrides: Sequence[str], key: str) -> str | None:
    for item in launcher_overrides:
        if _key(item) == key:
            return item.split("=", 1)[1]
    return None


@dataclass(frozen=True)
class Plan:
    """How a sweep's runs share the machine: the launcher overrides nk adds, and the extraction
    workers (``n_jobs``) each run gets when the user set none."""

    launcher_overrides: list[str]
    run_n_jobs: int | None
    concurrent: int
    notes: list[str] = field(default_factory=list)


def plan(launcher_overrides: Sequence[str], n_runs: int, *, user_set_n_jobs: bool,
         cores: int | None = None) -> Plan:
    """Defaults so that ``concurrent runs × extraction workers`` does not exceed the cores.

    - joblib: ``hydra.launcher.n_jobs`` defaults to ``min(runs, cores)`` (joblib's own default,
      all cores, would start that many runs each with a worker per core);
    - ray: each run reserves ``hydra.launcher.ray.remote.num_cpus`` (Ray's default 1) and
      extracts with that many workers; a local cluster nk starts gets no dashboard;
    - submitit_local: every run starts at once, so runs share the cores;
    - submitit_slurm: each job has its own allocation (``cpus_per_task``), used whole
      (``n_jobs=-1`` counts the cores of the allocation, not of the node).

    The user's own ``n_jobs`` or launcher settings are never changed.
    """
    cores = cores or available_cores()
    name = launcher_name(launcher_overrides) or ""
    added: list[str] = []
    notes: list[str] = []
    concurrent = n_runs
    run_n_jobs: int | None = None
    if name == "joblib":
        given = _given(launcher_overrides, "hydra.launcher.n_jobs")
        if given is None:
            concurrent = max(1, min(n_runs, cores))
            added.append(f"hydra.launcher.n_jobs={concurrent}")
        else:
            value = int(given) if given.lstrip("-").isdigit() else cores
            concurrent = max(1, min(n_runs, value if value > 0 else cores + 1 + value))
        run_n_jobs = max(1, cores // concurrent)
    elif name == "ray":
        given = _given(launcher_overrides, "hydra.launcher.ray.remote.num_cpus")
        run_n_jobs = max(1, int(float(given))) if given and given.replace(".", "").isdigit() else 1
        address = _given(launcher_overrides, "hydra.launcher.ray.init.address")
        if (address in (None, "null") and _given(launcher_overrides, "hydra.launcher.ray.init.include_dashboard")
                is None):
            added.append("+hydra.launcher.ray.init.include_dashboard=false")
        concurrent = max(1, min(n_runs, cores // run_n_jobs))
    elif name == "submitit_local":
        concurrent = n_runs
        run_n_jobs = max(1, cores // max(1, n_runs))
    if run_n_jobs is not None and not user_set_n_jobs:
        notes.append(f"{concurrent} runs at a time, each extracting with n_jobs={run_n_jobs} "
                     f"({cores} cores)")
    return Plan(added, None if user_set_n_jobs else run_n_jobs, concurrent, notes)


@dataclass
class SweepTask:
    """The task function the launcher runs for each job: run number ``cfg.job`` of the sweep.

    Picklable (joblib/loky, Ray and submitit pickle it into their workers): it holds override
    lists and paths, not composed configs or the plugin manager; a worker builds the parent's
    plugin manager again from its :meth:`~nk.plugins.PluginManager.recipe` (entry points,
    blocked plugins, plugin modules registered by import name) and composes its run's config
    again in the parent's working directory (so ``./conf`` and relative paths mean the same).
    """

    jobs: list[list[str]]
    run_dirs: list[str]
    cwd: str
    plugins: dict[str, Any]
    provenance: dict[str, Any] | None = None

    def __call__(self, cfg: Any) -> dict[str, Any]:
        from rich.console import Console

        from nk.cli import App
        from nk.config import compose
        from nk.nkululeko import with_provenance
        from nk.plugins import PluginManager
        from nk.runner import _print_summary, _run_one

        index = int(cfg.job)
        os.chdir(self.cwd)
        pm = PluginManager.recreate(self.plugins)
        app = App(pm=pm, console=Console(), err_console=Console(stderr=True))
        run_cfg = with_provenance(compose(list(self.jobs[index]), pm), self.provenance)
        try:
            results = _run_one(run_cfg, app, Path(self.run_dirs[index]))
        except UserError as exc:  # travels back as text: the parent reports it with the run
            return {"error": exc.message}
        _print_summary(results, app)
        return results


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _launcher_config(launcher_overrides: list[str], sweep_dir: Path) -> tuple[Any, Any]:
    """Compose Hydra's config for the launcher: ``(config_loader, config)``."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra._internal.utils import create_config_search_path
    from hydra.core.config_store import ConfigStore
    from hydra.core.plugins import Plugins
    from hydra.errors import HydraException
    from hydra.types import RunMode
    from omegaconf.errors import OmegaConfBaseException

    Plugins.instance()  # scans hydra_plugins: the launchers register their configs
    ConfigStore.instance().store(name=LAUNCH_CONFIG, node={"job": 0, "run": ""})
    loader = ConfigLoaderImpl(config_search_path=create_config_search_path(None))
    fixed = [
        f"hydra.sweep.dir={_quote(str(sweep_dir))}",
        "hydra.sweep.subdir=${run}",  # the run's own NNN_label folder
        "hydra.output_subdir=null",  # nk writes each run's config.yaml itself
        "hydra.job.chdir=false",
        "hydra.job.name=nk",
        "hydra/job_logging=none",  # each run logs to its nk.log and the console
        "hydra/hydra_logging=none",
    ]
    try:
        cfg = loader.load_configuration(config_name=LAUNCH_CONFIG, overrides=fixed + launcher_overrides,
                                        run_mode=RunMode.MULTIRUN)
    except (HydraException, OmegaConfBaseException) as exc:
        options = sorted(loader.get_group_options("hydra/launcher"))
        name = launcher_name(launcher_overrides)
        hint = "; ".join(f"{n}: pip install '{e}'" for n, e in EXTRAS.items() if n not in options)
        raise UserError(
            f"Cannot set up the launcher {name!r}: {str(exc).splitlines()[0]}",
            where="the hydra/launcher and hydra.launcher.* overrides",
            allowed=f"hydra/launcher={', '.join(options)} (installed)" + (f"; not installed: {hint}" if hint else "")
            + "; launcher settings as hydra.launcher.KEY=VALUE (Ray's: +hydra.launcher.ray.init.KEY=VALUE)",
            todo="check the launcher's name and settings (README: Large experiments)",
        ) from None
    return loader, cfg


def check_launcher(launcher_overrides: list[str]) -> None:
    """Raise :class:`UserError` when the launcher overrides do not compose (unknown launcher,
    misspelled setting, launcher not installed)."""
    _launcher_config(launcher_overrides, Path.cwd() / "sweep")


def launch_runs(jobs: list[list[str]], run_dirs: list[Path], launcher_overrides: list[str], app: App,
                *, provenance: dict[str, Any] | None = None) -> list[dict[str, Any] | None]:
    """Run ``jobs`` (each one run's overrides) through the launcher; returns each run's results in
    job order, or ``None`` for a run that failed (after printing why)."""
    from hydra._internal.callbacks import Callbacks
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.plugins import Plugins
    from hydra.types import HydraContext

    sweep_dir = run_dirs[0].parent
    loader, cfg = _launcher_config(launcher_overrides, sweep_dir)
    task = SweepTask(jobs=[list(j) for j in jobs], run_dirs=[str(p) for p in run_dirs], cwd=os.getcwd(),
                     plugins=app.pm.recipe(), provenance=provenance)
    context = HydraContext(config_loader=loader, callbacks=Callbacks(cfg))
    HydraConfig.instance().set_config(cfg)
    started_ray = _ray_started_here(cfg)
    try:
        launcher = Plugins.instance().instantiate_launcher(hydra_context=context, task_function=task, config=cfg)
        returns = launcher.launch([[f"job={i}", f"run={_quote(p.name)}"] for i, p in enumerate(run_dirs)],
                                  initial_job_idx=0)
    finally:
        if started_ray:
            import ray

            ray.shutdown()
    out: list[dict[str, Any] | None] = []
    for i, ret in enumerate(returns):
        label = " ".join(jobs[i]) or "defaults"
        try:
            value = ret.return_value  # raises the job's exception (a bug in a run: its traceback)
        except UserError as exc:
            value = {"error": exc.message}
        if isinstance(value, dict) and "error" in value and len(value) == 1:
            app.err_console.print(f"Run {i + 1} ({label}) failed: {value['error']}", highlight=False,
                                  markup=False, soft_wrap=True)
            out.append(None)
            continue
        out.append(value)
    return out


def _ray_started_here(cfg: Any) -> bool:
    """Whether the Ray launcher will start a local cluster in this process (nk then stops it)."""
    target = str(cfg.hydra.launcher.get("_target_", ""))
    if "hydra_ray_launcher" not in target:
        return False
    import ray

    return not ray.is_initialized()


def describe(plan_: Plan, name: str, n_runs: int) -> str:
    notes = f" ({'; '.join(plan_.notes)})" if plan_.notes else ""
    return f"launcher {name}: {n_runs} runs{notes}"


__all__ = ["EXTRAS", "Plan", "SweepTask", "available_cores", "check_launcher", "launch_runs", "launcher_name", "plan",
           "split_launcher_overrides"]
