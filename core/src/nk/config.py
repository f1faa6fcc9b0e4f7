"""Composing a run's config with Hydra from the registry, nk's schema and the user's ./conf.

nk uses Hydra's Compose API rather than ``@hydra.main`` so that it owns error reporting (one
paragraph, exit code 2), run directories and sweep ranking; the override grammar, config
groups, defaults lists and sweep syntax are Hydra's own.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import MISSING, DictConfig, OmegaConf

from nk.errors import UserError
from nk.kinds import CONFIG_GROUPS, KINDS, MULTI_SELECT_GROUPS, Kind
from nk.plugins import PluginManager
from nk.registry import Registry, Role, param

CONFIG_DIR = Path(__file__).parent / "conf"
"""Presets that ship with nk (``data/polish.yaml``, ``experiment/*.yaml``); the primary config
itself is generated from :data:`nk.kinds.KINDS` and the registry (:func:`primary_defaults`)."""
PRIMARY_CONFIG = "nk_config"
GROUPS = CONFIG_GROUPS
SECRET_WORDS = ("token", "password", "secret", "api_key", "apikey", "credential")


def as_enum(value: Any, cls: type[enum.Enum]) -> Any:
    """``value`` as a member of ``cls`` (composed configs hold members, plain dicts names)."""
    return value if isinstance(value, cls) else cls[str(value)]


class Task(enum.Enum):
    auto = "auto"
    classification = "classification"
    regression = "regression"


class SplitMethod(enum.Enum):
    speaker = "speaker"  # seeded, speaker-disjoint train/dev/test, stratified where speakers allow
    given = "given"  # the data's split column and the databases' roles
    random = "random"  # per sample (speakers overlap: a warning says so)
    balanced = "balanced"  # speaker-disjoint, chosen to balance target and covariates
    loso = "loso"  # cross-validation: leave one speaker out
    lsgo = "lsgo"  # cross-validation: leave one of n_folds speaker groups out
    kfold = "kfold"  # cross-validation: speaker-grouped stratified k-fold


CV_METHODS = (SplitMethod.loso, SplitMethod.lsgo, SplitMethod.kfold)


class Scaling(enum.Enum):
    none = "none"
    standard = "standard"
    robust = "robust"
    minmax = "minmax"
    maxabs = "maxabs"
    power = "power"  # Yeo-Johnson
    quantile = "quantile"  # to a normal distribution
    speaker = "speaker"  # each speaker's own mean and sd (uses no other speaker's data)


class Balancing(enum.Enum):
    none = "none"
    ros = "ros"  # random over-sampling
    rus = "rus"  # random under-sampling
    smote = "smote"
    adasyn = "adasyn"
    borderline_smote = "borderline_smote"
    svm_smote = "svm_smote"
    smoteenn = "smoteenn"
    smotetomek = "smotetomek"
    cluster_centroids = "cluster_centroids"
    tomek = "tomek"  # Tomek links (cleaning)
    enn = "enn"  # edited nearest neighbours (cleaning)


class MissingPolicy(enum.Enum):
    impute = "impute"  # train mean + a 0/1 indicator column per affected feature
    drop = "drop"  # drop rows with missing features (listed in the results)
    error = "error"  # stop with the list of rows


class BadFiles(enum.Enum):
    stop = "stop"  # stop with the list of all bad files
    skip = "skip"  # leave them out and list them in the results


class SelectScore(enum.Enum):
    anova = "anova"
    mutual_info = "mutual_info"


@dataclass
class SplitConfig:
    method: SplitMethod = param(SplitMethod.speaker, help="how rows are assigned to train/dev/test")
    test_size: float = param(0.33, ge=0, lt=1, help="share of speakers (rows for random) in test")
    dev_size: float = param(0.0, ge=0, lt=1, help="share of speakers in dev (carved from train)")
    stratify: list[str] = param(default_factory=lambda: ["gender"],
                                help="columns the speaker split balances over (besides the target)")
    balance_on: list[str] = param(default_factory=lambda: ["gender"],
                                  help="covariates the balanced split balances (besides the target)")
    n_folds: int = param(5, ge=2, help="folds for kfold and lsgo")
    merge_dev: bool = param(False, help="train on train+dev (no model selection data)")


class ExtractBackend(enum.Enum):
    local = "local"  # n_jobs worker processes on this machine
    ray = "ray"  # actors on a Ray cluster (a local one nk starts, or one to join: extract.address)


@dataclass
class ExtractConfig:
    backend: ExtractBackend = param(ExtractBackend.local, help="where featurizers run: local worker "
                                    "processes (n_jobs) or Ray actors (pip install 'nk[ray]')")
    address: str | None = param(None, help="Ray cluster to join ('auto', 'ray://head:10001'); None: "
                                "start a local one with n_jobs CPUs (or join the one this run is part of)")
    actors: int | None = param(None, ge=1, help="Ray actors, each holding one featurizer; None: as many as "
                               "the cluster's CPUs (GPUs with num_gpus > 0) allow")
    num_cpus: float = param(1.0, gt=0, help="CPUs each Ray actor reserves (and its BLAS threads)")
    num_gpus: float = param(0.0, ge=0, help="GPUs each Ray actor reserves (torch featurizers: e.g. 1, "
                            "or 0.5 to share a GPU between two actors)")


@dataclass
class AudioConfig:
    min_duration: float = param(0.0, ge=0, help="files shorter than this (s) count as bad")
    bad_files: BadFiles = param(BadFiles.stop, help="missing/unreadable/empty/short files: stop or skip")


@dataclass
class FilterConfig:
    min_duration: float | None = param(None, ge=0, help="drop rows shorter than this (s)")
    max_duration: float | None = param(None, gt=0, help="drop rows longer than this (s)")
    max_per_speaker: int | None = param(None, ge=1, help="keep at most this many rows per speaker (seeded)")
    max_samples: int | None = param(None, ge=1, help="keep at most this many rows in all (seeded)")
    values: Any = param(None, help="keep rows whose column has one of the values {column: [values]}")
    required: list[str] = param(default_factory=list, help="drop rows with an empty value in these columns")


@dataclass
class BinsConfig:
    edges: list[float] | None = param(None, help="bin a continuous target at these inner edges")
    quantiles: int | None = param(None, ge=2, help="bin a continuous target into this many quantiles")
    names: list[str] | None = param(None, help="class names of the bins (default: ranges)")


@dataclass
class SelectConfig:
    columns: list[str] = param(default_factory=list, help="keep features matching these names/globs")
    exclude: list[str] = param(default_factory=list, help="drop features matching these names/globs")
    k_best: int | None = param(None, ge=1, help="keep the k best features (fitted on train)")
    score: SelectScore = param(SelectScore.anova, help="k-best score: ANOVA F or mutual information")


@dataclass
class SearchConfig:
    params: Any = param(None, help="grid {parameter: [values]} of the model, chosen on dev (never test)")
    inner_folds: int = param(0, ge=0, help="with no dev split: score the model by k-fold cross-validation inside "
                                           "train, grouped by speaker (results.json inner_cv; 0: off; the Optuna "
                                           "sweeper sets 3 and chooses on it)")


class PdfMode(enum.Enum):
    auto = "auto"  # compile when a LaTeX engine is installed
    always = "always"  # error when none is installed
    never = "never"


@dataclass
class DocumentConfig:
    title: str | None = param(None, help="report title; None: from the experiment name")
    author: str | None = param(None, help="report author")
    pdf: PdfMode = param(PdfMode.auto, help="compile report.tex to PDF: auto, always, never")


class EvalLevel(enum.Enum):
    segment = "segment"  # every row is one prediction (a segment when the data is segmented)
    file = "file"  # the segments' predictions aggregated to one per file


class Aggregate(enum.Enum):
    mean = "mean"  # mean probability (classification; majority when the model has none) or mean value
    majority = "majority"  # most frequent label (ties: the first in sorted order) or median value


@dataclass
class EvaluateConfig:
    level: EvalLevel = param(EvalLevel.segment, help="segment: each row; file: segment predictions "
                             "aggregated per file (segmented data, e.g. segment=silero)")
    aggregate: Aggregate = param(Aggregate.mean, help="how level=file combines a file's segments: mean "
                                 "(probability / value) or majority (label / median)")


@dataclass
class BootstrapConfig:
    n_resamples: int = param(1000, ge=100, help="bootstrap resamples for the primary metric's CI")
    level: float = param(0.95, gt=0, lt=1, help="confidence level")
    # 10 = nk.metrics.MIN_SPEAKERS (not imported here: config stays cheap to import)
    min_speakers: int = param(10, ge=2, help="fewest test speakers for a speaker bootstrap; below it "
                              "rows are resampled within speakers (labelled)")


@dataclass
class NkConfig:
    """Top level of every run's config (nkululeko's [EXP], [DATA], [FEATS] keys map here)."""

    name: str | None = param(None, help="experiment name (results go to <results_root>/<name>/); "
                             "None: the databases' names")
    target: str | None = param(None, help="target column; None: the loader's default target")
    task: Task = param(Task.auto, help="classification or regression; auto: from the target")
    labels: list[str] | None = param(None, help="keep only these classes (after label_map)")
    bins: BinsConfig = field(default_factory=BinsConfig)
    seed: int = param(42, help="seed for splits, sampling, learners and bootstrap")
    results_root: str = param("results", help="folder that holds every run's folder")
    cache_dir: str | None = param(None, help="feature cache; None: $NK_CACHE_DIR or ~/.cache/nk")
    n_jobs: int = param(-1, help="worker processes for extraction; -1: all cores, -2: all but one")
    sampling_rate: int = param(16000, gt=0, help="audio is resampled to this rate (Hz)")
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    audio: AudioConfig = field(default_factory=AudioConfig)
    filter: FilterConfig = field(default_factory=FilterConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    missing: MissingPolicy = param(MissingPolicy.impute, help="features a featurizer could not compute")
    scale: Scaling = param(Scaling.standard, help="feature scaling, fitted on train only")
    select: SelectConfig = field(default_factory=SelectConfig)
    balance: Balancing = param(Balancing.none, help="re-sample the training set (imbalanced-learn)")
    search: SearchConfig = field(default_factory=SearchConfig)
    bootstrap: BootstrapConfig = field(default_factory=BootstrapConfig)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)
    document: DocumentConfig = field(default_factory=DocumentConfig)
    # The component groups (data, feats, model, …) come from nk.kinds.KINDS and the config
    # sections of commands (explore, …) from the nk_add_config_sections hook: see schema().


def _group_field(kind: Kind) -> tuple[str, Any, Any]:
    if kind.multi:
        return (str(kind.group), dict[str, Any], field(default_factory=dict))
    return (str(kind.group), Any, field(default=MISSING if kind.required else None))


def schema(pm: PluginManager) -> type:
    """The full config schema: :class:`NkConfig`, one field per component group, and the
    sections command plugins add (``explore``)."""
    reserved = {f.name for f in dataclasses.fields(NkConfig)} | set(GROUPS) | {"hydra", "experiment", "defaults"}
    sections = pm.config_sections(reserved)
    fields = [_group_field(kind) for kind in KINDS if kind.group is not None]
    fields += [(name, sec.config, field(default_factory=sec.config)) for name, sec in sections.items()]
    return dataclasses.make_dataclass("NkConfig", fields, bases=(NkConfig,))


def default_selection(kind: Kind, registry: Registry) -> Any:
    """What a group selects when the user selects nothing: the first component (by provider and
    name) that registered with ``default=True``, else the kind's core default."""
    group = str(kind.group)
    preferred = sorted((c for c in registry if c.group == group and c.preferred_default),
                       key=lambda c: (c.provider, c.name))
    if preferred:
        return [preferred[0].name] if kind.multi else preferred[0].name
    names = set(registry.names(group))
    if kind.multi:
        return [n for n in (kind.default or ()) if n in names]
    return kind.default if kind.default in names else None


def primary_defaults(registry: Registry) -> list[Any]:
    """The primary config's defaults list: the schema, each group's default, presets."""
    groups: list[Any] = []
    for kind in KINDS:
        if kind.group is None:
            continue
        groups.append({kind.group: default_selection(kind, registry)})
    return ["nk_schema", *groups, {"experiment": None}, "_self_"]


@dataclass(frozen=True)
class Database:
    """One selected database: its name (the key below ``data``), loader and options."""

    name: str
    loader: str
    params: dict[str, Any]
    role: Role
    rename: dict[str, str]
    label_map: dict[str, str]


def _mapping(value: Any, key: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UserError(f"{key} must be a mapping {{old: new}}; got {value!r}", where=f"config key {key}",
                        todo=f"write e.g. {key}={{old: new}}")
    return {str(k): str(v) for k, v in value.items()}


def databases(cfg: DictConfig) -> list[Database]:
    """The databases selected in ``cfg.data``, in order."""
    out = []
    for key, values in selected(cfg, "data"):
        values = dict(values)
        loader = str(values.pop("loader", key))
        role = values.pop("role", Role.all)
        out.append(Database(
            name=key, loader=loader,
            role=role if isinstance(role, Role) else Role(str(role)),
            rename=_mapping(values.pop("rename", None), f"data.{key}.rename"),
            label_map=_mapping(values.pop("label_map", None), f"data.{key}.label_map"),
            params=values,
        ))
    return out


def _sync_config_store(pm: PluginManager) -> None:
    """Write nk's schema and every registered component into Hydra's ConfigStore.

    The ConfigStore is Hydra's process-wide singleton; nk rebuilds its groups from the
    registry before every composition, so it never holds stale plugins.
    """
    from hydra.core.config_store import ConfigStore

    cs = ConfigStore.instance()
    for group in GROUPS:
        cs.repo.pop(group, None)
    cs.store(name="nk_schema", node=schema(pm))
    cs.store(name=PRIMARY_CONFIG, node={"defaults": primary_defaults(pm.registry)})
    for group, name, node, package in pm.registry.config_nodes():
        if group in GROUPS:  # other kinds (dataset recipes) are not config options
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
    overrides = quote_values(overrides)
    if user_conf is None and (Path.cwd() / "conf").is_dir():
        user_conf = Path.cwd() / "conf"
    # the user's ./conf is Hydra's primary config folder, so that its presets win over those
    # shipped with nk (conf/data/emodb.yaml of the user over nk's prepared-table preset)
    config_dir = CONFIG_DIR
    if user_conf is not None:
        config_dir = user_conf.resolve()
        overrides.append(f"hydra.searchpath=[file://{config_dir},file://{CONFIG_DIR}]")
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(config_dir), version_base="1.3", job_name="nk"):
            cfg = hydra_compose(config_name=PRIMARY_CONFIG, overrides=overrides)
    except Exception as exc:  # Hydra's and OmegaConf's errors → one user paragraph
        raise _translate(exc, overrides, pm) from None
    finally:
        GlobalHydra.instance().clear()
    resolve_interpolations(cfg)  # before the checks, which read resolved values
    _check_components(cfg, pm)
    if cfg.name is None:
        cfg.name = "+".join(str(k) for k in cfg.data)
    OmegaConf.set_readonly(cfg, True)
    return cfg


def quote_values(overrides: list[str]) -> list[str]:
    """Quote plain values with non-ASCII characters (paths such as 'zbiór danych/ćwiczenia.csv'),
    which Hydra's override grammar accepts only inside quotes."""
    out = []
    for item in overrides:
        key, sep, value = item.partition("=")
        plain = sep and value and value[0] not in "[{'\"" and not value.isascii() and "," not in value
        if plain:
            value = "'" + value.replace("'", "\\'") + "'"
        out.append(f"{key}{sep}{value}")
    return out


def _translate(exc: Exception, overrides: list[str], pm: PluginManager) -> UserError:
    import re

    from hydra.errors import MissingConfigException, OverrideParseException

    yaml_error = _yaml_error(exc, overrides)
    if yaml_error is not None:
        return yaml_error
    if isinstance(exc, MissingConfigException):
        text = str(exc)
        found = re.search(r"'([A-Za-z0-9_]+)/([^']+)'", text)
        group, given = (found.group(1), found.group(2)) if found else (None, text.splitlines()[0])
        options = sorted(set(pm.registry.names(group)) | set(exc.options or [])) if group else []
        blocked = _blocked_note(pm, given) if group else ""
        return UserError(
            (f"Unknown {group} {given!r}" if group else given) + blocked,
            where=f"config group {group}" if group else None,
            allowed=", ".join(options) if options else "none installed",
            todo=("choose one of the allowed presets, or write your own as "
                  f"./conf/experiment/{given}.yaml (README: 'Your own presets')")
            if group == "experiment" else
            "unblock the plugin (remove it from NK_BLOCK_PLUGINS)" if blocked else
            "choose one of the allowed options, or install the plugin that provides it "
            "(`nk plugins` lists what is installed)",
        )
    ambiguous = re.search(r"Ambiguous value for argument '([^=']+)=([^']*)'", str(exc))
    if ambiguous:
        key, value = ambiguous.groups()
        return UserError(
            f"The value of {key} contains a comma ({value!r}), which Hydra reads as a list or a sweep",
            where=f"the override {key}={value}",
            allowed=f"a quoted value \"{key}='{value}'\", a list {key}=[a,b], or a sweep with -m",
            todo=f"quote the value for the shell and for Hydra: \"{key}='{value}'\"",
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
    unselected = _unselected_component(str(key or ""), first, overrides, pm)
    if unselected is not None:
        return unselected
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

        allowed = "top-level keys: " + ", ".join(f.name for f in dataclasses.fields(schema(pm)))
    elif key:
        import dataclasses
        import typing

        section = str(key).split(".")[0]
        hints = typing.get_type_hints(schema(pm))
        cls = hints.get(section)
        if isinstance(cls, type) and dataclasses.is_dataclass(cls):
            allowed = f"keys of {section}: " + ", ".join(f.name for f in dataclasses.fields(cls))
    return UserError(
        f"Invalid configuration: {first}",
        where=f"config key {key}" if key else None,
        allowed=allowed,
        todo="check the key's spelling and value; `nk plugins NAME` lists a component's "
        "parameters, `nk run --cfg` prints the composed config",
    )


def _blocked_note(pm: PluginManager, given: str) -> str:
    """' — ... is blocked' when a plugin named like ``given`` is blocked (NK_BLOCK_PLUGINS)."""
    from importlib.metadata import entry_points

    blocked = sorted(getattr(pm, "blocked", set()) or set())
    if not blocked:
        return ""
    providers = []
    for ep in entry_points(group="nk"):
        dist = ep.dist.name if ep.dist is not None else ""
        if (ep.name in blocked or dist in blocked) and given.lower() in f"{ep.name} {dist}".lower():
            providers.append(ep.name if ep.name in blocked else dist)
    if providers:
        return (f": the plugin {providers[0]!r}, which provides it, is blocked by "
                f"NK_BLOCK_PLUGINS={','.join(blocked)}")
    return f" (NK_BLOCK_PLUGINS={','.join(blocked)} blocks plugins that may provide it)"


def _unselected_component(key: str, first: str, overrides: list[str], pm: PluginManager) -> UserError | None:
    """``data.csv.path=x`` without ``data=csv`` (or ``feats.praat.x`` without ``feats=praat``):
    say which selection is missing instead of OmegaConf's "Key 'csv' is not in struct"."""
    parts = key.split(".")
    if len(parts) != 2 or parts[0] not in MULTI_SELECT_GROUPS or "not in struct" not in first:
        return None
    group, name = parts
    conf = _user_conf(overrides)
    known = set(pm.registry.names(group)) | (
        {p.stem for p in (conf / group).glob("*.yaml")} if conf is not None and (conf / group).is_dir() else set())
    if name not in known:
        blocked = _blocked_note(pm, name)
        return UserError(
            f"{key}.… sets options of {group} {name!r}, which does not exist{blocked}",
            where=f"config key {key}",
            allowed=", ".join(sorted(known)) or "none installed",
            todo="unblock the plugin (remove it from NK_BLOCK_PLUGINS)" if blocked else
            f"fix the name, or install the plugin that provides it (`nk plugins` lists {group} options)",
        )
    chosen = [o.split("=", 1)[1] for o in overrides if o.split("=", 1)[0].lstrip("+") == group]
    now = chosen[-1] if chosen else "the default"
    return UserError(
        f"{key}.… sets options of {group} {name!r}, but {group} {name!r} is not selected ({group}: {now})",
        where=f"config key {key}",
        allowed=f"options of selected {group} entries only",
        todo=f"select it as well: {group}={name} (or '{group}=[{name},...]' for several)",
    )


def _user_conf(overrides: list[str]) -> Path | None:
    for item in overrides:
        if item.startswith("hydra.searchpath=[file://"):  # the user's folder comes first
            return Path(item[len("hydra.searchpath=[file://"):].rstrip("]").split(",file://")[0])
    return None


def _yaml_error(exc: BaseException, overrides: list[str]) -> UserError | None:
    """A YAML syntax error in a config file, with the file and line (Hydra names neither)."""
    import yaml

    chain: list[BaseException] = []
    node: BaseException | None = exc
    while node is not None and node not in chain:
        chain.append(node)
        node = node.__cause__ or node.__context__
    if not any(isinstance(e, yaml.YAMLError) for e in chain) and "while parsing" not in str(exc) \
            and "while scanning" not in str(exc):
        return None
    folders = [d for d in (_user_conf(overrides), CONFIG_DIR) if d is not None and d.is_dir()]
    for folder in folders:
        for path in sorted(folder.rglob("*.yaml")):
            try:
                yaml.safe_load(path.read_text(encoding="utf-8"))
            except yaml.YAMLError as err:
                mark = getattr(err, "problem_mark", None)
                line = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
                problem = getattr(err, "problem", None) or str(err).splitlines()[0]
                context = getattr(err, "context", None)
                return UserError(
                    f"The config file {path} is not valid YAML{line}: {problem}"
                    + (f" ({context})" if context else ""),
                    where=f"{path}{line}",
                    allowed="YAML (key: value, lists [a, b], nested mappings by indentation)",
                    todo="fix the syntax at that line (an unclosed bracket or quote, or a tab)",
                )
            except (OSError, UnicodeDecodeError):
                continue
    return None


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
        if group == "data":
            for db in databases(cfg):
                pm.registry.get("data", db.loader).check_params(db.params)
            continue
        for name, values in selected(cfg, group):
            pm.registry.get(group, name).check_params(values)
            if group == "model":
                search_candidates(cfg, pm.registry.get(group, name), values)
    if not cfg.data:
        raise UserError(
            "No database selected",
            where="config key data",
            allowed=", ".join(pm.registry.names("data")) + " or a database in ./conf/data",
            todo="select one or more, e.g. `data=demo` or `'data=[train_db,test_db]'`",
        )
    _check_top_level(cfg, pm)
    if not cfg.feats and not _model_takes_audio(cfg, pm):
        raise UserError(
            "No feature set selected",
            where="config key feats",
            allowed=", ".join(pm.registry.names("feats")),
            todo="select one or more, e.g. `feats=egemaps` or `'feats=[egemaps,praat]'`",
        )


def _model_takes_audio(cfg: DictConfig, pm: Any) -> bool:
    """Whether the selected model is a learner with ``input = "audio"`` (it needs no ``feats``)."""
    node = cfg.get("model")
    if node is None or "name" not in node:
        return False
    for name, values in selected(cfg, "model"):
        return getattr(pm.registry.get("model", name).build(values), "input", "features") == "audio"
    return False


def search_candidates(cfg: DictConfig, model: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
    """The parameter sets of ``search.params`` (``{C: [0.1, 1], kernel: [rbf, linear]}``), each
    checked like the command line (types, enums, bounds); ``[params]`` without a grid."""
    grid = cfg.search.params
    if not grid:
        return [params]
    if not hasattr(grid, "items"):
        raise UserError(f"search.params must be a mapping {{parameter: [values]}}; got {grid!r}",
                        where="config key search.params", todo="write e.g. search.params={C: [0.1, 1, 10]}")
    from itertools import product

    keys = [str(k) for k in grid]
    values = [list(v) if not isinstance(v, (str, int, float, bool)) else [v] for v in grid.values()]
    out = []
    for combo in product(*values):
        candidate = {**params, **dict(zip(keys, combo, strict=True))}
        model.check_params(candidate)
        out.append(candidate)
    return out


def resolve_interpolations(cfg: DictConfig) -> None:
    """Resolve ``${...}`` in place; a failure names the key, the interpolation and the fix."""
    from omegaconf.errors import InterpolationResolutionError, OmegaConfBaseException

    try:
        OmegaConf.resolve(cfg)
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None) or _failing_key(cfg)
        cause = exc.__cause__ or exc.__context__
        reason = str(cause) if cause is not None else str(exc).splitlines()[0]
        import re

        env = re.search(r"Environment variable '([^']+)' not found", reason)
        if env:
            todo = (f"set the environment variable {env.group(1)} before running nk (export "
                    f"{env.group(1)}=...), give a default with ${{oc.env:{env.group(1)},DEFAULT}}, "
                    "or write the value itself")
        else:
            todo = "fix or remove the interpolation; `nk run --cfg` prints the composed config"
        reason = reason.strip().strip('"').rstrip(".")
        raise UserError(
            f"Cannot resolve the interpolation of {key or 'a config value'}: {reason}"
            + ("" if isinstance(exc, InterpolationResolutionError) else f" ({type(exc).__name__})"),
            where=f"config key {key}" if key else "the config",
            allowed="${oc.env:NAME}, ${oc.env:NAME,DEFAULT}, ${other.key}",
            todo=todo,
        ) from None


def _failing_key(cfg: DictConfig) -> str | None:
    """The first key whose interpolation does not resolve (OmegaConf.resolve does not say)."""
    from omegaconf import ListConfig

    def walk(node: Any, prefix: str) -> str | None:
        keys = node.keys() if isinstance(node, DictConfig) else range(len(node))
        for key in keys:
            full = f"{prefix}{key!s}"
            try:
                value = node[key]
            except Exception:
                return full
            if isinstance(value, (DictConfig, ListConfig)):
                found = walk(value, f"{full}.")
                if found:
                    return found
        return None

    return walk(cfg, "")


SEED_KEYS = ("seed", "random_state")


def check_unknown_keys(cfg: DictConfig, pm: PluginManager) -> None:
    """Every key of nk's own sections must be declared: ``+seeed=3`` or ``+split.test_sise=0.5``
    (Hydra adds ``+`` keys to any node) are typos, never silently kept. Component groups are
    checked against their components' parameters elsewhere."""
    import dataclasses
    import difflib
    import typing

    def walk(node: Any, cls: type, prefix: str) -> None:
        hints = typing.get_type_hints(cls)
        names = [f.name for f in dataclasses.fields(cls)]
        for key in node.keys() if isinstance(node, DictConfig) else []:
            full = f"{prefix}{key!s}"
            if key not in names:
                close = difflib.get_close_matches(str(key), names, n=1, cutoff=0.6)
                raise UserError(
                    f"nk has no config key {full!r}"
                    + (f" (did you mean {prefix}{close[0]}?)" if close else ""),
                    where=f"config key {full}",
                    allowed=(f"keys of {prefix.rstrip('.')}: " if prefix else "top-level keys: ")
                    + ", ".join(names),
                    todo="fix the spelling (a leading + adds a key, it does not make an unknown one "
                    "valid); `nk run --cfg` prints the composed config",
                )
            sub = hints.get(str(key))
            if isinstance(sub, type) and dataclasses.is_dataclass(sub) and isinstance(node[key], DictConfig):
                walk(node[key], sub, f"{full}.")

    walk(cfg, schema(pm), "")


def _check_seeds(node: Any, prefix: str = "") -> None:
    """Seeds anywhere in the config (``seed``, ``data.demo.seed``, ``model.random_state``) are
    non-negative integers: numpy refuses others deep inside a run."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, value in items:
        full = f"{prefix}{key}"
        if str(key) in SEED_KEYS and value is not None and not isinstance(value, bool) and (
                not isinstance(value, int) or value < 0 or value >= 2**32):
            raise UserError(
                f"The seed {full}={value!r} is not a non-negative integer",
                where=f"config key {full}",
                allowed="an integer from 0 to 4294967295",
                todo=f"set {full} to e.g. 0 or 42",
            )
        _check_seeds(value, f"{full}.")


def _check_paths(cfg: DictConfig) -> None:
    """The experiment name and the folders nk writes to, before anything is written."""
    import os

    from nk.paths import check_name, check_output_folder

    if cfg.get("name") is not None:
        check_name(str(cfg.name))
    check_output_folder(str(cfg.results_root), "results_root", create=False)
    if cfg.get("cache_dir"):
        check_output_folder(str(cfg.cache_dir), "cache_dir", create=False)
    elif os.environ.get("NK_CACHE_DIR"):
        check_output_folder(os.environ["NK_CACHE_DIR"], "NK_CACHE_DIR (environment)", create=False)


def _check_top_level(cfg: DictConfig, pm: PluginManager) -> None:
    """Bounds of nk's own config sections (declared with param() like components' fields)."""
    import dataclasses
    import typing

    from nk.registry import dataclass_params

    check_unknown_keys(cfg, pm)
    _check_seeds(OmegaConf.to_container(cfg, resolve=True))
    _check_paths(cfg)
    full = schema(pm)
    hints = typing.get_type_hints(full)
    sections: dict[str, type] = {"": full}
    sections.update({name: tp for name, tp in hints.items()
                     if isinstance(tp, type) and dataclasses.is_dataclass(tp)})
    for prefix, cls in sections.items():
        node = cfg if not prefix else cfg[prefix]
        for info in dataclass_params(cls):
            value = node.get(info.name) if info.name in node else None
            if not info.within_bounds(value):
                key = f"{prefix}.{info.name}" if prefix else info.name
                raise UserError(
                    f"The value of {key} must be {info.allowed()}. Got {value!r} instead",
                    where=f"config key {key}",
                    allowed=f"{info.allowed()} ({info.help})",
                    todo=f"set {key} to an allowed value",
                )
    if cfg.n_jobs == 0:
        raise UserError("n_jobs=0 would extract with no process", where="config key n_jobs",
                        allowed="a positive number of processes, or -1 for all cores (-2: all but one)",
                        todo="set n_jobs=-1 (the default) or n_jobs=1")
    bins = cfg.bins
    if bins.edges is not None and bins.quantiles is not None:
        raise UserError("bins.edges and bins.quantiles are both set", where="config key bins",
                        todo="set only one of them")
    if (bins.edges is not None or bins.quantiles is not None) and as_enum(cfg.task, Task) is Task.regression:
        raise UserError("bins turn the target into classes, but task=regression asks for numbers",
                        where="config keys bins and task",
                        todo="remove the bins.* keys to regress, or set task=classification (or auto) to "
                        "classify the bins")
    if cfg.labels is not None and len(cfg.labels) == 0:
        raise UserError("labels=[] keeps no class", where="config key labels",
                        allowed="a list of the target's classes, e.g. labels=[a,b]; or null for all",
                        todo="list the classes to keep, or remove labels= (labels=null keeps all)")
    if cfg.labels is not None and as_enum(cfg.task, Task) is Task.regression:
        raise UserError("labels= keeps classes, but task=regression regresses the target",
                        where="config keys labels and task",
                        todo="remove labels= (filter.values={COLUMN: [...]} keeps rows by value), or "
                        "set task=classification")


def secret_paths(cfg: DictConfig, pm: PluginManager | None) -> set[tuple[str, ...]]:
    """Config paths of the selected components' ``secret`` parameters (``feats.hf.token``)."""
    if pm is None:
        return set()
    out: set[tuple[str, ...]] = set()
    for group in GROUPS:
        if cfg.get(group) is None:
            continue
        if group == "data":
            chosen = [(db.name, db.loader) for db in databases(cfg)]
        else:
            chosen = [(name, name) for name, _ in selected(cfg, group)]
        for key, name in chosen:
            try:
                comp = pm.registry.get(group, name)
            except UserError:
                continue
            prefix = (group, key) if group in MULTI_SELECT_GROUPS else (group,)
            out |= {(*prefix, p) for p in comp.secret_params()}
    return out


def secret_values(cfg: DictConfig, pm: PluginManager | None) -> list[str]:
    """The values of every secret in ``cfg`` (to keep them out of messages and logs)."""
    plain = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    found: list[str] = []
    paths = secret_paths(cfg, pm)

    def walk(node: Any, path: tuple[str, ...]) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                child = (*path, str(k))
                if _is_secret(child, paths, v) and v not in (None, ""):
                    found.append(str(v))
                else:
                    walk(v, child)
        elif isinstance(node, list):
            for v in node:
                walk(v, path)

    walk(plain, ())
    return found


def _is_secret(path: tuple[str, ...], paths: set[tuple[str, ...]], value: Any) -> bool:
    """A secret parameter's path, or a secret-looking key (token, password…) holding a value."""
    if path in paths:
        return True
    return not isinstance(value, (dict, list)) and any(w in path[-1].lower() for w in SECRET_WORDS)


def redacted(cfg: DictConfig, pm: PluginManager | None = None) -> dict[str, Any]:
    """The config as plain data with secrets replaced by ``***``: the selected components'
    ``secret`` parameters (with ``pm``) and the values of secret-looking keys (token,
    password, …) anywhere."""
    paths = secret_paths(cfg, pm)

    def walk(node: Any, path: tuple[str, ...]) -> Any:
        if isinstance(node, dict):
            return {k: "***" if _is_secret((*path, str(k)), paths, v) and v is not None else walk(v, (*path, str(k)))
                    for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, path) for v in node]
        return node

    return walk(OmegaConf.to_container(cfg, resolve=True, enum_to_str=True), ())
