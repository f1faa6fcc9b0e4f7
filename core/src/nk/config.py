"""Composing a run's config with Hydra from the registry, nk's schema and the user's ./conf.

nk uses Hydra's Compose API rather than ``@hydra.main`` so that it owns error reporting (one
paragraph, exit code 2), run directories and sweep ranking; the override grammar, config
groups, defaults lists and sweep syntax are Hydra's own.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import MISSING, DictConfig, OmegaConf

from nk.errors import UserError
from nk.plugins import PluginManager
from nk.registry import MULTI_SELECT_GROUPS, param

CONFIG_DIR = Path(__file__).parent / "conf"
GROUPS = ("data", "feats", "model", "segment", "augment", "predict", "ensemble", "report")
SECRET_WORDS = ("token", "password", "secret", "api_key", "apikey", "credential")


class Task(enum.Enum):
    auto = "auto"
    classification = "classification"
    regression = "regression"


class SplitMethod(enum.Enum):
    speaker = "speaker"  # seeded, speaker-disjoint; keeps a split column the loader provides
    given = "given"  # use the loader's split column as it is


class Scaling(enum.Enum):
    none = "none"
    standard = "standard"
    robust = "robust"
    minmax = "minmax"


@dataclass
class SplitConfig:
    method: SplitMethod = param(SplitMethod.speaker, help="how rows are assigned to train/dev/test")
    test_size: float = param(0.33, ge=0, lt=1, help="share of speakers in test")
    dev_size: float = param(0.0, ge=0, lt=1, help="share of speakers in dev")
    stratify: list[str] = param(default_factory=lambda: ["gender"], help="columns to balance splits over")


@dataclass
class BootstrapConfig:
    n_resamples: int = param(1000, ge=100, help="bootstrap resamples for the primary metric's CI")
    level: float = param(0.95, gt=0, lt=1, help="confidence level")


@dataclass
class NkConfig:
    """Top level of every run's config (nkululeko's [EXP], [DATA], [FEATS] keys map here)."""

    name: str = param("demo", help="experiment name: results go to <results_root>/<name>/")
    target: str | None = param(None, help="target column; None: the loader's default target")
    task: Task = param(Task.auto, help="classification or regression; auto: from the target")
    seed: int = param(42, help="seed for splits, learners and bootstrap")
    results_root: str = param("results", help="folder that holds every run's folder")
    cache_dir: str | None = param(None, help="feature cache; None: $NK_CACHE_DIR or ~/.cache/nk")
    n_jobs: int = param(-1, help="worker processes for extraction; -1: all cores")
    sampling_rate: int = param(16000, gt=0, help="audio is resampled to this rate (Hz)")
    scale: Scaling = param(Scaling.standard, help="feature scaling, fitted on train only")
    split: SplitConfig = field(default_factory=SplitConfig)
    bootstrap: BootstrapConfig = field(default_factory=BootstrapConfig)
    data: Any = MISSING
    feats: dict[str, Any] = field(default_factory=dict)
    model: Any = MISSING
    segment: Any = None
    augment: Any = None
    report: dict[str, Any] = field(default_factory=dict)
    predict: Any = None  # used by `nk predict`
    ensemble: Any = None  # used by `nk ensemble`


def _sync_config_store(pm: PluginManager) -> None:
    """Write nk's schema and every registered component into Hydra's ConfigStore.

    The ConfigStore is Hydra's process-wide singleton; nk rebuilds its groups from the
    registry before every composition, so it never holds stale plugins.
    """
    from hydra.core.config_store import ConfigStore

    cs = ConfigStore.instance()
    for group in GROUPS:
        cs.repo.pop(group, None)
    cs.store(name="nk_schema", node=NkConfig)
    for group, name, node, package in pm.registry.config_nodes():
        cs.store(group=group, name=name, node=node, package=package)


def compose(
    overrides: list[str],
    pm: PluginManager,
    *,
    user_conf: Path | None = None,
) -> DictConfig:
    """Compose, validate and resolve the config for ``overrides`` (Hydra's override syntax)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    _sync_config_store(pm)
    overrides = list(overrides)
    if user_conf is None and (Path.cwd() / "conf").is_dir():
        user_conf = Path.cwd() / "conf"
    if user_conf is not None:
        overrides.append(f"hydra.searchpath=[file://{user_conf.resolve()}]")
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3", job_name="nk"):
            cfg = hydra_compose(config_name="config", overrides=overrides)
    except Exception as exc:  # Hydra's and OmegaConf's errors → one user paragraph
        raise _translate(exc, overrides, pm) from None
    finally:
        GlobalHydra.instance().clear()
    _check_components(cfg, pm)
    try:
        OmegaConf.resolve(cfg)
    except Exception as exc:
        raise UserError(f"Cannot resolve an interpolation in the config: {exc}") from None
    OmegaConf.set_readonly(cfg, True)
    return cfg


def _translate(exc: Exception, overrides: list[str], pm: PluginManager) -> UserError:
    import re

    from hydra.errors import MissingConfigException, OverrideParseException

    if isinstance(exc, MissingConfigException):
        text = str(exc)
        found = re.search(r"'([A-Za-z0-9_]+)/([^']+)'", text)
        group, given = (found.group(1), found.group(2)) if found else (None, text.splitlines()[0])
        options = sorted(set(pm.registry.names(group)) | set(exc.options or [])) if group else []
        return UserError(
            f"Unknown {group} {given!r}" if group else given,
            where=f"config group {group}" if group else None,
            allowed=", ".join(options) if options else "none installed",
            todo="choose one of the allowed options, or install the plugin that provides it "
            "(`nk plugins` lists what is installed)",
        )
    if isinstance(exc, OverrideParseException):
        return UserError(
            f"Cannot parse the override: {str(exc).splitlines()[0]}",
            allowed="key=value, group=option, 'group=[a,b]', +key=value, ~key",
            todo="check the command line syntax (quote lists and spaces for the shell)",
        )
    cause = exc.__cause__ or exc.__context__ or exc
    first = (str(cause).splitlines() or [type(cause).__name__])[0]
    key = getattr(cause, "full_key", None) or None
    component = _component_of(getattr(cause, "object_type", None), pm)
    allowed = None
    if component is not None:
        leaf = str(key).rsplit(".", 1)[-1] if key else ""
        infos = {p.name: p for p in component.params()}
        if leaf in infos:
            allowed = infos[leaf].allowed()
        else:
            allowed = f"parameters of {component.group} {component.name!r}: " + (
                ", ".join(infos) or "none")
    elif key and "." not in str(key):
        import dataclasses

        allowed = "top-level keys: " + ", ".join(f.name for f in dataclasses.fields(NkConfig))
    return UserError(
        f"Invalid configuration: {first}",
        where=f"config key {key}" if key else None,
        allowed=allowed,
        todo="check the key's spelling and value; `nk plugins NAME` lists a component's "
        "parameters, `nk run --cfg` prints the composed config",
    )


def _component_of(object_type: Any, pm: PluginManager) -> Any:
    if not isinstance(object_type, type):
        return None
    for comp in pm.registry:
        if issubclass(object_type, comp.config) and object_type.__name__ == comp.config.__name__:
            return comp
    return None


def selected(cfg: DictConfig, group: str) -> list[tuple[str, dict[str, Any]]]:
    """(component name, parameters) chosen in ``group``; empty when the group is null."""
    node = cfg.get(group)
    if node is None:
        return []
    if group in MULTI_SELECT_GROUPS:
        return [(str(k), dict(OmegaConf.to_container(v, resolve=True) or {}))  # type: ignore[arg-type]
                for k, v in node.items()]
    values = dict(OmegaConf.to_container(node, resolve=True))  # type: ignore[arg-type]
    name = str(values.pop("name"))
    return [(name, values)]


def _check_components(cfg: DictConfig, pm: PluginManager) -> None:
    for group in GROUPS:
        if group not in cfg:
            continue
        node = cfg.get(group)
        if node is not None and group not in MULTI_SELECT_GROUPS and "name" not in node:
            raise UserError(
                f"The config group {group!r} has no component selected",
                where=f"config key {group}",
                allowed=", ".join(pm.registry.names(group)),
                todo=f"select one, e.g. `{group}=NAME`",
            )
        for name, values in selected(cfg, group):
            values = {k: (v.value if isinstance(v, enum.Enum) else v) for k, v in values.items()}
            pm.registry.get(group, name).check_params(values)
    if not cfg.feats:
        raise UserError(
            "No feature set selected",
            where="config key feats",
            allowed=", ".join(pm.registry.names("feats")),
            todo="select one or more, e.g. `feats=egemaps` or `'feats=[egemaps,praat]'`",
        )


def redacted(cfg: DictConfig) -> dict[str, Any]:
    """The config as plain data with the values of secret-looking keys replaced."""

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: "***" if any(w in str(k).lower() for w in SECRET_WORDS) and v is not None else walk(v)
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(OmegaConf.to_container(cfg, resolve=True, enum_to_str=True))
