"""``nk run -m hydra/sweeper=optuna …``: a hyperparameter search with Optuna, chosen on dev.

nk registers a sweeper of its own under Hydra's name ``optuna`` (the published
hydra-optuna-sweeper needs optuna < 3; see CONTRIBUTING.md). The search space is written in
Hydra's sweep syntax and read with Hydra's override parser:

* ``model.C=interval(0.01,100)`` → a float between the bounds (``tag(log, interval(…))``: on a
  log scale; ``tag(int, interval(1,50))``: an integer);
* ``model.n_neighbors=range(1,20)`` → an integer range (a float range: its values as choices);
* ``model=svm,knn`` / ``model.kernel=choice(rbf,linear)`` → a categorical choice;
* ``hydra.sweeper.params.<key>=<sweep>`` is the same as ``<key>=<sweep>``.

Settings: ``hydra.sweeper.n_trials`` (default 20), ``hydra.sweeper.sampler.seed`` (the TPE
sampler's seed; default: the config's ``seed``) and ``hydra.sweeper.direction`` (derived from
the primary metric — UAR and CCC are maximised; giving the other direction is an error).

Each trial is a normal run in the sweep folder (``NNN_<overrides>``), so the sweep ranking,
the significance tests and the sweep report apply. The objective is the primary metric on the
**dev** split — with no dev split, the mean over ``search.inner_folds`` speaker-grouped folds of
train (inner cross-validation) — and never reads test. The console prints each trial's
objective; the chosen configuration's test score is printed once, at the end (the ranking's
"Chosen on dev"). ``search.json`` and the report's "Search" section hold the history.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nk.errors import UserError

if TYPE_CHECKING:
    from nk.cli import App

SWEEPERS = ("basic", "optuna")
"""The sweepers ``hydra/sweeper=`` accepts: Hydra's basic (grid) sweep, and nk's Optuna search."""

SETTINGS = ("n_trials", "direction", "sampler.seed")
"""The ``hydra.sweeper.*`` keys of the Optuna sweeper (``params.<key>`` adds to the space)."""

DEFAULT_TRIALS = 20  # as hydra-optuna-sweeper's default
DEFAULT_INNER_FOLDS = 3  # inner cross-validation on train when the trials have no dev split


def split_sweeper(overrides: list[str]) -> tuple[str | None, dict[str, str], list[str]]:
    """(``hydra/sweeper`` name or None, the ``hydra.sweeper.*`` settings, the other overrides).

    An unknown sweeper name, or ``hydra.sweeper.*`` settings without ``hydra/sweeper=optuna``,
    is a :class:`UserError`."""
    name: str | None = None
    settings: dict[str, str] = {}
    rest = []
    for item in overrides:
        key, eq, value = item.partition("=")
        if eq and key.lstrip("+") == "hydra/sweeper":
            name = value.strip()
        elif eq and key.lstrip("+").startswith("hydra.sweeper."):
            settings[key.lstrip("+").removeprefix("hydra.sweeper.")] = value
        else:
            rest.append(item)
    if name is not None and name not in SWEEPERS:
        raise UserError(f"Unknown sweeper hydra/sweeper={name!r}", where="the command line",
                        allowed=", ".join(SWEEPERS), todo="write hydra/sweeper=optuna for a hyperparameter search")
    if settings and name != "optuna":
        raise UserError(f"hydra.sweeper.{next(iter(settings))} is a setting of the Optuna sweeper, but "
                        f"hydra/sweeper={name or 'basic'} is selected", where="the command line",
                        todo="add hydra/sweeper=optuna, or drop the hydra.sweeper.* settings")
    return name, settings, rest


def _setting_error(key: str, value: str, allowed: str) -> UserError:
    return UserError(f"hydra.sweeper.{key}={value!r} is not valid", where="the command line", allowed=allowed,
                     todo=f"write e.g. hydra.sweeper.{key}={allowed.split(',')[0].split()[-1]}")


def parse_settings(settings: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """({n_trials, seed, direction}; None where not given), the ``params.<key>=<sweep>`` entries
    as overrides)."""
    out: dict[str, Any] = {"n_trials": DEFAULT_TRIALS, "seed": None, "direction": None}
    space = []
    for key, value in settings.items():
        if key.startswith("params."):
            space.append(f"{key.removeprefix('params.')}={value}")
        elif key == "n_trials":
            if not value.strip().isdigit() or int(value) < 1:
                raise _setting_error(key, value, "a whole number >= 1, e.g. 10")
            out["n_trials"] = int(value)
        elif key == "sampler.seed":
            if not value.strip().lstrip("-").isdigit():
                raise _setting_error(key, value, "a whole number, e.g. 0")
            out["seed"] = int(value)
        elif key == "direction":
            if value.strip() not in ("maximize", "minimize"):
                raise _setting_error(key, value, "maximize, minimize")
            out["direction"] = value.strip()
        else:
            raise UserError(f"Unknown setting hydra.sweeper.{key}", where="the command line",
                            allowed=", ".join(f"hydra.sweeper.{k}" for k in (*SETTINGS, "params.<key>")),
                            todo="check the spelling")
    return out, space


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise UserError("hydra/sweeper=optuna needs the optuna package, which is not installed",
                        todo="pip install 'nk[optuna]' (or pip install optuna)") from None
    return optuna


def search_space(overrides: list[str]) -> tuple[list[str], dict[str, Any], dict[str, str]]:
    """(the fixed overrides, ``{key: optuna distribution}``, ``{key: the sweep as written}``)."""
    optuna = _optuna()
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, RangeSweep
    from hydra.errors import HydraException

    from nk.config import quote_values

    try:
        parsed = OverridesParser.create().parse_overrides(quote_values(overrides))
    except HydraException as exc:
        raise UserError(f"Cannot read the search space: {str(exc).splitlines()[0]}", where="the command line",
                        allowed="interval(low,high), tag(log,interval(…)), tag(int,interval(…)), range(a,b[,step]), "
                                "choice(a,b) or a,b",
                        todo="check the brackets and commas") from None
    fixed: list[str] = []
    space: dict[str, Any] = {}
    written: dict[str, str] = {}
    for item, override in zip(overrides, parsed, strict=True):
        if not override.is_sweep_override():
            fixed.append(item)
            continue
        key = override.get_key_element()
        value = override.value()
        where = f"the override {item!r}"
        if isinstance(value, IntervalSweep):
            low, high = float(value.start), float(value.end)  # type: ignore[arg-type]
            tags = set(value.tags or ())
            if not low < high:
                raise UserError(f"The interval of {key} is empty: low {low:g} is not below high {high:g}",
                                where=where, todo=f"write {key}=interval(low,high) with low < high")
            if "log" in tags and low <= 0:
                raise UserError(f"A log-scale interval of {key} must be above 0 (got low {low:g})", where=where,
                                todo="raise the lower bound, or drop tag(log, …)")
            unknown = tags - {"log", "int"}
            if unknown:
                raise UserError(f"Unknown tag {sorted(unknown)[0]!r} on the interval of {key}", where=where,
                                allowed="log, int", todo="write e.g. tag(log, interval(0.01, 100))")
            if "int" in tags:
                if low != int(low) or high != int(high):
                    raise UserError(f"An integer interval of {key} needs whole bounds (got {low:g}, {high:g})",
                                    where=where, todo="write e.g. tag(int, interval(1, 50))")
                space[key] = optuna.distributions.IntDistribution(int(low), int(high), log="log" in tags)
            else:
                space[key] = optuna.distributions.FloatDistribution(low, high, log="log" in tags)
        elif isinstance(value, RangeSweep):
            steps = [value.start, value.stop, value.step]
            if all(isinstance(v, int) for v in steps) and (value.step or 1) > 0:
                last = list(range(int(value.start), int(value.stop), int(value.step or 1)))  # type: ignore[arg-type]
                if not last:
                    raise UserError(f"The range of {key} is empty", where=where, todo="write e.g. range(1,10)")
                space[key] = optuna.distributions.IntDistribution(last[0], last[-1], step=int(value.step or 1))
            else:
                space[key] = optuna.distributions.CategoricalDistribution(_choices(override))
        elif isinstance(value, ChoiceSweep):
            space[key] = optuna.distributions.CategoricalDistribution(_choices(override))
        else:  # glob(...)
            raise UserError(f"{key}: a glob cannot be searched by Optuna", where=where,
                            allowed="interval(…), range(…), choice(…) or a,b", todo="list the options instead")
        written[key] = item.partition("=")[2]
    if not space:
        raise UserError("hydra/sweeper=optuna has nothing to search", where="the command line",
                        todo="give a search space, e.g. 'model.C=interval(0.01,100)' or model=svm,knn")
    return fixed, space, written


def _choices(override: Any) -> list[Any]:
    """The options of a choice or range sweep, as strings Hydra reads back unchanged."""
    from hydra.core.override_parser.types import Transformer

    value = override.value()
    if hasattr(value, "list"):  # ChoiceSweep: encode each element as it is written in an override
        return [Transformer.encode(v) for v in value.list]
    return [Transformer.encode(v) for v in override.sweep_iterator(transformer=Transformer.identity)]


def trial_overrides(fixed: list[str], params: Mapping[str, Any]) -> list[str]:
    """The trial's overrides: its sampled values (first, so folder names start with them), then
    the fixed ones."""
    return [*(f"{k}={_encode(v)}" for k, v in params.items()), *fixed]


def _encode(value: Any) -> str:
    if isinstance(value, float):
        return repr(float(f"{value:.6g}"))  # short, and the same value Hydra reads back
    return str(value)


def objective_value(results: Mapping[str, Any]) -> tuple[float, str]:
    """The search objective of a finished trial: the primary metric on dev, else the inner
    cross-validation on train; never the test split. Returns (value, what it is)."""
    primary = str(results["primary"])
    dev = results.get("dev")
    if dev:
        return float(dev[primary]["value"]), "dev"
    inner = results.get("inner_cv")
    if inner:
        return float(inner["mean"]), f"inner {inner['n_folds']}-fold CV on train"
    raise UserError("hydra/sweeper=optuna needs a dev split or inner cross-validation to choose on (never the test "
                    "split), and this trial had neither", where=str(results.get("run_dir", "the trial")),
                    todo="set split.dev_size (e.g. 0.25), or search.inner_folds (e.g. 3)")


def _check_bounds(fixed: list[str], space: Mapping[str, Any], app: App) -> None:
    """Compose with each bound of every interval (the others at their low end) and each choice,
    so that a value the model does not accept fails now, not in trial 7."""
    optuna = _optuna()

    from nk.config import compose

    corner = {k: (d.low if not isinstance(d, optuna.distributions.CategoricalDistribution) else d.choices[0])
              for k, d in space.items()}
    seen = set()
    for key, dist in space.items():
        values = list(dist.choices) if isinstance(dist, optuna.distributions.CategoricalDistribution) \
            else [dist.low, dist.high]
        for v in values:
            job = trial_overrides(fixed, {**corner, key: v})
            if tuple(job) in seen:
                continue
            seen.add(tuple(job))
            try:
                compose(job, app.pm)
            except UserError as exc:
                raise UserError(f"The search space of {key} reaches a value the config does not accept "
                                f"({key}={_encode(v)}): {exc.what}", where=exc.where, allowed=exc.allowed,
                                todo="narrow the interval or the choices") from None


def search_command(overrides: list[str], settings: Mapping[str, str], app: App, *, show_cfg: bool,
                   provenance: dict[str, Any] | None = None) -> int:
    """Run the Optuna search of ``nk run -m hydra/sweeper=optuna …``."""
    import logging
    import time

    from omegaconf import OmegaConf
    from rich.markup import escape

    from nk.config import compose
    from nk.nkululeko import with_provenance
    from nk.pipeline import run_experiment
    from nk.results import new_run_dir

    options, extra_space = parse_settings(settings)
    fixed, space, written = search_space([*overrides, *extra_space])
    first_job = trial_overrides(fixed, {k: (d.choices[0] if hasattr(d, "choices") else d.low)
                                        for k, d in space.items()})
    if options["direction"] == "minimize":  # nk's primary metrics (UAR, CCC) are higher-is-better
        raise _setting_error("direction", "minimize", "maximize (nk's primary metrics UAR and CCC are maximised; "
                             "leave hydra.sweeper.direction out)")
    _check_bounds(fixed, space, app)
    first = with_provenance(compose(first_job, app.pm), provenance)
    if show_cfg:
        app.console.print(OmegaConf.to_yaml(first), highlight=False, markup=False)
        return 0
    if options["seed"] is None:
        options["seed"] = int(first.seed)
    if not any(o.partition("=")[0].lstrip("+") == "search.inner_folds" for o in fixed):
        fixed = [*fixed, f"search.inner_folds={DEFAULT_INNER_FOLDS}"]  # used only by runs without a dev split
    optuna = _optuna()
    optuna.logging.set_verbosity(logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=options["seed"])
    study = optuna.create_study(direction="maximize", sampler=sampler)
    sweep_dir = new_run_dir(Path(first.results_root).resolve(), str(first.name), label="sweep")
    app.console.print(f"[bold]nk search[/] (optuna, TPE, seed {options['seed']}) of {options['n_trials']} trials "
                      f"→ {sweep_dir}", highlight=False)
    jobs: list[list[str]] = []
    all_results: list[dict[str, Any]] = []
    trials: list[dict[str, Any]] = []
    objective = ""
    for number in range(options["n_trials"]):
        trial = study.ask(dict(space))
        job = trial_overrides(fixed, trial.params)
        cfg = with_provenance(compose(job, app.pm), provenance)
        own = " ".join(job[:len(space)])
        run_dir = sweep_dir / f"{number:03d}_{_label(job)}"
        run_dir.mkdir()
        app.console.rule(escape(f"trial {number + 1}/{options['n_trials']}: {own}"))
        started = time.perf_counter()
        results = run_experiment(cfg, app.pm, run_dir, app.console)
        results["wall_seconds"] = round(time.perf_counter() - started, 2)
        value, objective = objective_value(results)
        study.tell(trial, value)
        best = max(t["value"] for t in [*trials, {"value": value}])
        trials.append({"number": number, "params": {k: _as_run(v) for k, v in trial.params.items()}, "value": value,
                       "best_so_far": best, "run_dir": run_dir.name})
        app.console.print(f"trial {number + 1}: {own} → {str(results['primary']).upper()} {value:.3f} on "
                          f"{objective} (best so far {best:.3f})", highlight=False, markup=False)
        jobs.append(job)
        all_results.append(results)
    top = max(trials, key=lambda t: t["value"])  # the first of equal values, as the ranking
    record = {"sweeper": "optuna", "optuna_version": optuna.__version__, "sampler": type(sampler).__name__,
              "seed": options["seed"], "direction": "maximize", "n_trials": options["n_trials"],
              "objective": objective, "space": written, "trials": trials, "best": top}
    (sweep_dir / "search.json").write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
    from nk.report.sweep import write_sweep_report
    from nk.runner import _print_ranking

    ranking = _print_ranking(all_results, jobs, sweep_dir, app)
    reports = write_sweep_report(sweep_dir, ranking, all_results, first, app.pm, search=record)
    if "html" in reports:
        app.console.print(f"Report: [bold]{reports['html']}[/]" + (" (and .pdf)" if "pdf" in reports else ""),
                          highlight=False)
    return 0


def _as_run(value: Any) -> Any:
    """A sampled value as the trial ran with it (floats are passed rounded, :func:`_encode`)."""
    if isinstance(value, float):
        return float(_encode(value))
    return value if isinstance(value, (int, str, bool)) or value is None else str(value)


def _label(job: list[str]) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9_.,=+-]+", "_", ",".join(job) or "defaults")[:120]


__all__ = ["SETTINGS", "SWEEPERS", "objective_value", "parse_settings", "search_command", "search_space",
           "split_sweeper", "trial_overrides"]
