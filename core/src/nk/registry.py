"""Component registry: name → factory + config dataclass, fed into Hydra's ConfigStore.

Plugins never touch Hydra. A registration hook receives a :class:`Register` bound to one config
group and one providing distribution; calling it validates the component and records it. The
:class:`Registry` later writes every component's config dataclass into Hydra's ConfigStore, so
that ``nk run model=svm`` selects it and a typo gets the list of available options.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import re
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from nk.errors import ContractError, PluginError, UserError
from nk.kinds import MULTI_SELECT_GROUPS, kind_of

__all__ = ["MULTI_SELECT_GROUPS", "AddSection", "Component", "ParamInfo", "Register", "Registry",
           "dataclass_params", "param"]

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")

class Role(enum.Enum):
    """Which split a database's rows go to."""

    all = "all"  # split by split.method
    train = "train"
    dev = "dev"
    test = "test"


@dataclass
class DatabaseOptions:
    """Options every database has, whatever its loader (applied by nk, not by the loader)."""

    role: Role = field(default=Role.all, metadata={"help": "all: split by split.method; or train/dev/test"})
    # Any = None (not dict = {}) so that `data.db.rename={a: b}` assigns a mapping instead of
    # merging into a struct node (OmegaConf cannot merge into a None Optional[Dict] either)
    rename: Any = field(default=None, metadata={"help": "column renames {old: new}"})
    label_map: Any = field(default=None, metadata={"help": "target value renames/merges {old: new}"})


DATABASE_FIELDS = ("loader", *(f.name for f in dataclasses.fields(DatabaseOptions)))


def _database_fields() -> list[tuple[str, Any, Any]]:
    """Fresh (name, resolved type, field) triples of DatabaseOptions for make_dataclass."""
    hints = typing.get_type_hints(DatabaseOptions)
    out = []
    for f in dataclasses.fields(DatabaseOptions):
        if f.default_factory is not dataclasses.MISSING:
            new = field(default_factory=f.default_factory, metadata=f.metadata)
        else:
            new = field(default=f.default, metadata=f.metadata)
        out.append((f.name, hints[f.name], new))
    return out


def param(
    default: Any = dataclasses.MISSING,
    *,
    help: str = "",
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    secret: bool = False,
    key: bool = True,
    default_factory: Callable[[], Any] | Any = dataclasses.MISSING,
) -> Any:
    """A config field with a help text and optional numeric bounds, checked before building.

    :param secret: the value is never written anywhere (``config.yaml``, ``nk.log``, the
        cache's ``spec.json``, reports, error messages, saved model specs); it is supplied again
        when a saved model is loaded.
    :param key: whether the value enters the feature cache key. Parameters that change how,
        not what, is computed (device, batch size, worker counts, tokens) say ``key=False``.
        A secret is never part of the key.

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class SvmConfig:
    ...     C: float = param(1.0, gt=0, help="inverse regularisation strength")
    """
    meta = {"help": help, "ge": ge, "gt": gt, "le": le, "lt": lt, "secret": secret,
            "key": key and not secret}
    if default_factory is not dataclasses.MISSING:
        return field(default_factory=default_factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class ParamInfo:
    """One parameter of a component, as shown by ``nk plugins`` and used for validation."""

    name: str
    type: str
    default: Any
    help: str
    bounds: dict[str, float]
    secret: bool = False
    key: bool = True

    def within_bounds(self, value: Any) -> bool:
        """Whether a number respects the declared bounds (None and non-numbers always do)."""
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            return True
        return all({"ge": value >= limit, "gt": value > limit, "le": value <= limit,
                    "lt": value < limit}[bound] for bound, limit in self.bounds.items())

    def allowed(self) -> str:
        words = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
        text = self.type if self.type.startswith("one of") else f"{self.type} value"
        if self.bounds:
            text += ", " + " and ".join(f"{words[k]} {v}" for k, v in self.bounds.items())
        return text


def _type_name(tp: Any) -> str:
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if len(args) == 1 and type(None) in typing.get_args(tp):
        return _type_name(args[0]) + " or None"
    if isinstance(tp, type):
        if issubclass(tp, enum.Enum):
            return "one of " + ", ".join(m.name for m in tp)
        return tp.__name__
    return str(tp).replace("typing.", "")


@dataclass(frozen=True)
class Component:
    """A registered component."""

    group: str
    name: str
    factory: Callable[..., Any]
    config: type
    description: str
    provider: str
    version: str
    plugin: str = ""
    preferred_default: bool = False

    def params(self) -> list[ParamInfo]:
        return dataclass_params(self.config)

    @property
    def path(self) -> str:
        """Where this component's parameters live in the config (``model`` or ``feats.egemaps``)."""
        return f"{self.group}.{self.name}" if self.group in MULTI_SELECT_GROUPS else self.group

    def check_params(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Validate parameter values as the command line does: known names, types and enums
        (by OmegaConf, against the config dataclass), ``param()`` bounds and the config's own
        cross-field ``validate()``; return the factory's keyword arguments.

        Values come from a composed config, a grid search (``search.params``) or code; a
        secret parameter's value never appears in an error message.
        """
        infos = {p.name: p for p in self.params()}
        unknown = sorted(set(values) - set(infos))
        if unknown:
            raise UserError(
                f"Unknown parameter {unknown[0]!r} for {self.group} {self.name!r}",
                where=f"config key {self.path}.{unknown[0]}",
                allowed=", ".join(sorted(infos)) or "no parameters",
                todo=f"check the spelling; `nk plugins {self.name}` lists the parameters",
            )
        for key, value in values.items():
            if isinstance(value, str) and value == "???":
                info = infos[key]
                raise UserError(
                    f"The {key!r} parameter of {self.group} {self.name!r} must be set",
                    where=f"config key {self.path}.{key}",
                    allowed=info.allowed() + (f" ({info.help})" if info.help else ""),
                    todo=f"set {self.path}.{key}=... on the command line or in a config file",
                )
        kwargs = self._typed(values, infos)
        for key, value in kwargs.items():
            if not infos[key].within_bounds(value):
                raise self._bad_value(infos[key], values[key])
        validate = getattr(self.config, "validate", None)
        if callable(validate):  # cross-field rules, once per build (not once per file)
            validate(self.config(**{**self.defaults(), **kwargs}), self.path)
        return kwargs

    def _bad_value(self, info: ParamInfo, value: Any) -> UserError:
        shown = "***" if info.secret else repr(value.name if isinstance(value, enum.Enum) else value)
        return UserError(
            f"The {info.name!r} parameter of {self.group} {self.name!r} must be "
            f"{info.allowed()}. Got {shown} instead",
            where=f"config key {self.path}.{info.name}",
            allowed=info.allowed() + (f" ({info.help})" if info.help else ""),
            todo=f"set {self.path}.{info.name} to an allowed value",
        )

    def _typed(self, values: Mapping[str, Any], infos: Mapping[str, ParamInfo]) -> dict[str, Any]:
        """``values`` checked and converted by OmegaConf against the config dataclass, one at a
        time so that the error names the parameter (enum names become members, "3" an int)."""
        from omegaconf import OmegaConf
        from omegaconf.errors import OmegaConfBaseException

        schema = OmegaConf.structured(self.config)
        out: dict[str, Any] = {}
        for key, value in values.items():
            try:
                schema[key] = value
            except OmegaConfBaseException:
                raise self._bad_value(infos[key], value) from None
            node = schema._get_node(key)
            out[key] = OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) \
                else node._value()
        return out

    def secret_params(self) -> frozenset[str]:
        """Names of the parameters marked ``secret`` (never persisted or logged)."""
        return frozenset(p.name for p in self.params() if p.secret)

    def key_params(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The part of ``values`` that identifies what is computed (the feature cache key):
        without ``key=False`` and secret parameters."""
        drop = {p.name for p in self.params() if not p.key or p.secret}
        return {k: v for k, v in values.items() if k not in drop}

    def defaults(self) -> dict[str, Any]:
        """The config dataclass's default values (as the factory takes them)."""
        inst = self.config()
        return {f.name: getattr(inst, f.name) for f in dataclasses.fields(self.config)}

    def build(self, values: Mapping[str, Any]) -> Any:
        """Validate ``values``, call the factory with them and check the result's interface."""
        built = self.factory(**self.check_params(values))
        self.check_interface(built)
        return built

    def check_interface(self, built: Any) -> None:
        """The built object must satisfy its kind's Protocol (:mod:`nk.api`)."""
        protocol = kind_of(self.group).protocol
        if isinstance(built, protocol):
            return
        missing = [m for m in protocol_members(protocol) if not hasattr(built, m)]
        raise ContractError(
            f"{kind_of(self.group).noun} {self.name!r} from {self.provider} {self.version}: its factory "
            f"returned a {type(built).__qualname__}, which lacks {', '.join(missing) or 'members'} of "
            f"nk.api.{protocol.__name__}"
        )


def protocol_members(protocol: type) -> list[str]:
    """The attributes and methods a runtime-checkable Protocol asks for."""
    names = set(getattr(protocol, "__annotations__", {}))
    names |= {n for n, v in vars(protocol).items() if callable(v) and not n.startswith("_")}
    return sorted(names)


def dataclass_params(config: type) -> list[ParamInfo]:
    """The documented, bounded fields of a config dataclass (components' and nk's own)."""
    hints = typing.get_type_hints(config)
    out = []
    for f in dataclasses.fields(config):
        default = f.default
        if f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        if isinstance(default, enum.Enum):
            default = default.name
        bounds = {k: f.metadata[k] for k in ("ge", "gt", "le", "lt") if f.metadata.get(k) is not None}
        out.append(ParamInfo(f.name, _type_name(hints.get(f.name, f.type)), default,
                             f.metadata.get("help", ""), bounds,
                             secret=bool(f.metadata.get("secret", False)),
                             key=bool(f.metadata.get("key", True))))
    return out


def _factory_params(factory: Callable[..., Any]) -> set[str] | None:
    """Keyword parameters of ``factory``; None when it takes ``**kwargs``."""
    target = factory.__init__ if inspect.isclass(factory) else factory
    sig = inspect.signature(target)
    names = set()
    for p in sig.parameters.values():
        if p.kind is p.VAR_KEYWORD:
            return None
        if p.name != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD):
            names.add(p.name)
    return names


class Register:
    """The callable handed to a registration hook, bound to one group and one provider."""

    def __init__(
        self, registry: Registry, group: str, provider: str, version: str, plugin: str = ""
    ) -> None:
        self._registry = registry
        self.group = group
        self.provider = provider
        self.version = version
        self.plugin = plugin

    def __call__(
        self,
        name: str,
        factory: Callable[..., Any],
        config: type,
        *,
        description: str = "",
        default: bool = False,
    ) -> None:
        """Register ``factory`` under ``name``; ``config`` declares its keyword parameters.

        :param default: ask to be selected when the user selects nothing in this group
            (nk-opensmile's ``egemaps`` for ``feats``); core's own default is used otherwise.
        """
        where = f"plugin {self.provider!r}, {self.group} {name!r}"
        if not NAME_RE.match(name):
            raise PluginError(
                f"Invalid component name {name!r}",
                where=where,
                allowed="lower-case letters, digits and _ starting with a letter",
            )
        if not dataclasses.is_dataclass(config) or not isinstance(config, type):
            raise PluginError(f"The config of {name!r} must be a dataclass type", where=where)
        fields = {f.name for f in dataclasses.fields(config)}
        reserved = {"name"} if self.group not in MULTI_SELECT_GROUPS else set()
        if self.group == "data":
            reserved = set(DATABASE_FIELDS)
        clash = sorted(fields & reserved)
        if clash:
            raise PluginError(
                f"The config of {name!r} has a field called {clash[0]!r}, which nk reserves "
                f"in the {self.group} group",
                where=where,
                todo="rename the field",
            )
        accepted = _factory_params(factory)
        if accepted is not None and accepted != fields:
            raise PluginError(
                f"The config fields of {name!r} ({', '.join(sorted(fields)) or 'none'}) differ "
                f"from its factory's keyword parameters ({', '.join(sorted(accepted)) or 'none'})",
                where=where,
                todo="make the config dataclass declare exactly the factory's parameters",
            )
        self._registry.add(
            Component(
                self.group, name, factory, config, description, self.provider, self.version,
                self.plugin, preferred_default=default,
            )
        )


class Registry:
    """All components of one plugin manager, by group and name."""

    def __init__(self) -> None:
        self._by_group: dict[str, dict[str, Component]] = {}

    def add(self, component: Component) -> None:
        group = self._by_group.setdefault(component.group, {})
        other = group.get(component.name)
        if other is not None:
            raise PluginError(
                f"Two plugins register the {component.group} {component.name!r}: "
                f"{other.provider!r} and {component.provider!r}",
                todo=f"uninstall one of them, or block one with NK_BLOCK_PLUGINS={component.provider}",
            )
        group[component.name] = component

    def names(self, group: str) -> list[str]:
        return sorted(self._by_group.get(group, {}))

    def groups(self) -> list[str]:
        return sorted(self._by_group)

    def __iter__(self) -> Iterator[Component]:
        for group in sorted(self._by_group):
            yield from (self._by_group[group][n] for n in sorted(self._by_group[group]))

    def get(self, group: str, name: str) -> Component:
        try:
            return self._by_group[group][name]
        except KeyError:
            available = ", ".join(self.names(group)) or "none installed"
            raise UserError(
                f"Unknown {group} {name!r}",
                where=f"config group {group}",
                allowed=available,
                todo="check the spelling, or install the plugin that provides it (`nk plugins`)",
            ) from None

    def config_nodes(self) -> Iterator[tuple[str, str, type, str]]:
        """(group, option name, node dataclass, package) for Hydra's ConfigStore."""
        for comp in self:
            if comp.group == "data":
                node = dataclasses.make_dataclass(
                    comp.config.__name__,
                    [("loader", str, field(default=comp.name)), *_database_fields()],
                    bases=(comp.config,),
                )
                yield comp.group, comp.name, node, f"{comp.group}.{comp.name}"
            elif comp.group in MULTI_SELECT_GROUPS:
                yield comp.group, comp.name, comp.config, f"{comp.group}.{comp.name}"
            else:
                node = dataclasses.make_dataclass(
                    comp.config.__name__,
                    [("name", str, field(default=comp.name))],
                    bases=(comp.config,),
                )
                yield comp.group, comp.name, node, comp.group


@dataclass(frozen=True)
class Section:
    """A config section added by a command plugin (``explore``)."""

    name: str
    config: type
    help: str
    provider: str


class AddSection:
    """The callable handed to ``nk_add_config_sections``, bound to one providing distribution."""

    def __init__(self, sections: dict[str, Section], provider: str, reserved: set[str]) -> None:
        self._sections = sections
        self.provider = provider
        self._reserved = reserved

    def __call__(self, name: str, config: type, *, help: str = "") -> None:
        where = f"plugin {self.provider!r}, config section {name!r}"
        if not NAME_RE.match(name):
            raise PluginError(f"Invalid config section name {name!r}", where=where,
                              allowed="lower-case letters, digits and _ starting with a letter")
        if not dataclasses.is_dataclass(config) or not isinstance(config, type):
            raise PluginError(f"The config of section {name!r} must be a dataclass type", where=where)
        if name in self._reserved:
            raise PluginError(f"The config section {name!r} clashes with a key of nk's own config",
                              where=where, todo="choose another section name")
        other = self._sections.get(name)
        if other is not None:
            raise PluginError(f"Two plugins add the config section {name!r}: {other.provider!r} "
                              f"and {self.provider!r}", where=where,
                              todo=f"uninstall one of them, or block one with NK_BLOCK_PLUGINS={self.provider}")
        self._sections[name] = Section(name, config, help, self.provider)
