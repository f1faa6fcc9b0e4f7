"""The plugin manager: built-ins plus every installed distribution's ``nk`` entry points.

Environment:

``NK_DISABLE_PLUGIN_AUTOLOAD``
    When on (``1``/``true``/``yes``/``on``; ``0``/``false``/``no``/``off`` or empty mean off),
    no entry points are loaded: only nk's built-ins and plugins registered explicitly.
``NK_BLOCK_PLUGINS``
    Comma-separated entry-point or distribution names that are never loaded.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any

import pluggy

from nk import __version__, hookspecs
from nk.env import env_flag
from nk.errors import PluginError
from nk.registry import AddSection, Register, Registry, Section

ENTRY_POINT_GROUP = "nk"
BUILTIN_PLUGINS = (
    "nk.builtin.loaders",
    "nk.builtin.learners",
    "nk.builtin.featurizers",
    "nk.builtin.reporters",
    "nk.builtin.commands",
    "nk.builtin.cache_commands",
    "nk.builtin.crossdb_command",
    "nk.builtin.explore_command",
    "nk.builtin.predict_command",
    "nk.builtin.segment_command",
    "nk.builtin.augment_command",
    "nk.builtin.spotlight_command",
    "nk.builtin.datasets",
    "nk.builtin.ensemblers",
    "nk.builtin.ensemble_command",
    "nk.builtin.model_commands",
)


@dataclass
class PluginInfo:
    """What ``nk plugins`` shows about one plugin."""

    name: str
    distribution: str
    version: str
    hooks: list[str]
    components: dict[str, list[str]] = field(default_factory=dict)


class PluginManager:
    """nk's plugin manager: a pluggy manager plus the component registry built from it."""

    def __init__(
        self,
        *,
        autoload: bool | None = None,
        blocked: Iterable[str] | None = None,
        load_builtins: bool = True,
    ) -> None:
        self.pm = pluggy.PluginManager("nk")
        self.pm.add_hookspecs(hookspecs)
        self._dist: dict[str, tuple[str, str]] = {}  # plugin name → (distribution, version)
        self._registry: Registry | None = None
        self._sections: dict[str, Section] | None = None
        if blocked is None:
            blocked = [b.strip() for b in os.environ.get("NK_BLOCK_PLUGINS", "").split(",")]
        self.blocked = {b for b in blocked if b}
        self._loading = True  # plugins registered while True come back by themselves in recreate()
        self._added: dict[str, tuple[str, str | None, str | None]] = {}
        if load_builtins:
            for modname in BUILTIN_PLUGINS:
                self.register(importlib.import_module(modname), name=modname)
        if autoload is None:
            autoload = not env_flag("NK_DISABLE_PLUGIN_AUTOLOAD")
        if autoload:
            self._load_entry_points()
        self._loading = False
        self._options = (autoload, load_builtins)
        self.check_pending()

    def recipe(self) -> dict[str, Any]:
        """A picklable description of this manager, from which :meth:`recreate` builds an equal
        one in another process (the workers of a Hydra launcher): its options, and the plugin
        modules registered after construction (by import name; plugin objects that are not
        modules cannot travel and are left out)."""
        autoload, load_builtins = self._options
        return {"autoload": autoload, "load_builtins": load_builtins, "blocked": sorted(self.blocked),
                "modules": [(name, *spec) for name, spec in self._added.items()
                            if self.pm.get_plugin(name) is not None]}

    @classmethod
    def recreate(cls, recipe: dict[str, Any]) -> PluginManager:
        """The plugin manager a :meth:`recipe` describes."""
        pm = cls(autoload=recipe["autoload"], blocked=recipe["blocked"], load_builtins=recipe["load_builtins"])
        for name, modname, distribution, version in recipe["modules"]:
            pm.register(importlib.import_module(modname), name=name, distribution=distribution, version=version)
        pm.check_pending()
        return pm

    # --- plugins ---------------------------------------------------------------------------

    def _load_entry_points(self) -> None:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            dist = ep.dist.name if ep.dist is not None else "?"
            version = ep.dist.version if ep.dist is not None else "?"
            if ep.name in self.blocked or dist in self.blocked or self.pm.get_plugin(ep.name):
                continue
            try:
                plugin = ep.load()
            except ImportError as exc:
                raise PluginError(
                    f"The nk plugin {ep.name!r} from {dist} {version} cannot be imported: {exc}",
                    todo=f"reinstall it, or skip it with NK_BLOCK_PLUGINS={ep.name}",
                ) from exc
            self.register(plugin, name=ep.name, distribution=dist, version=version)

    def register(
        self,
        plugin: ModuleType | object,
        *,
        name: str | None = None,
        distribution: str | None = None,
        version: str | None = None,
    ) -> str:
        """Register a plugin object or module; returns its name."""
        name = name or getattr(plugin, "__name__", None) or repr(plugin)
        if name in self.blocked:
            return name
        registered = self.pm.register(plugin, name=name)
        if registered is None:
            raise PluginError(f"The plugin {name!r} is already registered or blocked")
        self._dist[name] = (distribution or "nk", version or __version__)
        if not self._loading and isinstance(plugin, ModuleType):
            self._added[name] = (plugin.__name__, distribution, version)
        self._registry = None
        self._sections = None
        return name

    def unregister(self, plugin: ModuleType | object | None = None, *, name: str | None = None) -> None:
        removed = self.pm.unregister(plugin=plugin, name=name)
        if removed is not None:
            self._dist.pop(self.pm.get_name(removed) or name or "", None)
        self._registry = None
        self._sections = None

    def check_pending(self) -> None:
        """Every ``nk_*`` function of a plugin must match a hook spec (catches misspellings)."""
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            raise PluginError(
                f"Plugin {exc.plugin!r} implements a hook nk does not know: {exc}",
                allowed=", ".join(sorted(h for h in dir(hookspecs) if h.startswith("nk_"))),
                todo="fix the hook's name in the plugin",
            ) from exc

    @property
    def hook(self) -> Any:
        return self.pm.hook

    # --- registry --------------------------------------------------------------------------

    @property
    def registry(self) -> Registry:
        """Components of all registered plugins (rebuilt when plugins change)."""
        if self._registry is None:
            registry = Registry()
            for hook_name, group in hookspecs.REGISTRATION_HOOKS.items():
                caller = getattr(self.pm.hook, hook_name)
                # Each implementation gets its own Register so that duplicates can name both
                # providers; registration hooks are broadcast, so calling them one by one is
                # equivalent to pluggy's call.
                for impl in caller.get_hookimpls():
                    plugin_name = impl.plugin_name
                    dist, version = self._dist.get(plugin_name, (plugin_name, "?"))
                    register = Register(registry, group, dist, version, plugin_name)
                    kwargs = {"register": register} if "register" in impl.argnames else {}
                    impl.function(**kwargs)
            self._registry = registry
        return self._registry

    def config_sections(self, reserved: set[str]) -> dict[str, Section]:
        """Config sections that command plugins add (``nk_add_config_sections``), by name.

        :param reserved: names nk's own config uses (top-level keys and config groups).
        """
        if self._sections is None:
            sections: dict[str, Section] = {}
            for impl in self.pm.hook.nk_add_config_sections.get_hookimpls():
                dist, _ = self._dist.get(impl.plugin_name, (impl.plugin_name, "?"))
                impl.function(add=AddSection(sections, dist, reserved))
            self._sections = dict(sorted(sections.items()))
        return self._sections

    def plugin_infos(self) -> list[PluginInfo]:
        infos: dict[str, PluginInfo] = {}
        for plugin_name, plugin in self.pm.list_name_plugin():
            dist, version = self._dist.get(plugin_name, (plugin_name, "?"))
            hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])
            infos[plugin_name] = PluginInfo(plugin_name, dist, version, hooks)
        for comp in self.registry:
            if comp.plugin in infos:
                infos[comp.plugin].components.setdefault(comp.group, []).append(comp.name)
        return sorted(infos.values(), key=lambda i: (i.distribution != "nk", i.distribution, i.name))
