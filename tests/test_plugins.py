"""Plugin manager and registry: built-ins, entry points, duplicates, blocking, validation."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from nk import hookimpl
from nk.errors import PluginError, UserError
from nk.plugins import PluginManager
from nk.registry import param


@dataclass
class FakeConfig:
    size: int = param(3, ge=1, help="a size")


class Fake:
    process_safe = True
    sampling_rate = None

    def __init__(self, *, size: int) -> None:
        self.size = size

    def feature_names(self):
        return [f"f{i}" for i in range(self.size)]

    def extract(self, signal, sampling_rate):
        return signal[: self.size]


def featurizer_plugin(name: str = "fake"):
    class Plugin:
        @hookimpl
        def nk_register_featurizers(self, register):
            register(name, Fake, FakeConfig, description="a fake featurizer")

    return Plugin()


def test_builtins_are_registered_through_hooks(nk_pm):
    registry = nk_pm.registry
    assert {"svm", "svr", "knn", "knn_reg", "tree", "tree_reg", "log_reg", "lin_reg", "bayes"} <= set(
        registry.names("model"))
    assert "demo" in registry.names("data")
    assert registry.get("model", "svm").provider == "nk"


def test_installed_plugins_are_loaded_from_entry_points(nk_pm):
    assert nk_pm.registry.get("feats", "egemaps").provider == "nk-opensmile"


def test_registered_plugin_is_removed_after_the_test(nk_pm, nk_register_plugin):
    nk_register_plugin(featurizer_plugin(), name="nk-fake")
    comp = nk_pm.registry.get("feats", "fake")
    assert comp.provider == "nk-fake" and comp.build({"size": 4}).size == 4


def test_duplicate_component_names_both_providers(nk_pm, nk_register_plugin):
    nk_register_plugin(featurizer_plugin("dup"), name="nk-first")
    nk_register_plugin(featurizer_plugin("dup"), name="nk-second")
    with pytest.raises(PluginError, match=r"'nk-first' and 'nk-second'"):
        nk_pm.registry  # noqa: B018 - building the registry raises


def test_duplicate_of_a_builtin_is_an_error(nk_pm, nk_register_plugin):
    nk_register_plugin(featurizer_plugin("mfcc"), name="nk-shadow")
    with pytest.raises(PluginError, match=r"Two plugins register the feats 'mfcc': 'nk' and 'nk-shadow'"):
        nk_pm.registry  # noqa: B018


def test_misspelled_hook_is_reported(nk_pm):
    class Typo:
        @hookimpl
        def nk_register_featurizer(self, register):  # missing "s"
            pass

    nk_pm.register(Typo(), name="nk-typo")
    with pytest.raises(PluginError, match="nk_register_featurizer"):
        nk_pm.check_pending()


def test_autoload_can_be_disabled(monkeypatch):
    monkeypatch.setenv("NK_DISABLE_PLUGIN_AUTOLOAD", "1")
    pm = PluginManager()
    assert "egemaps" not in pm.registry.names("feats")
    assert "svm" in pm.registry.names("model")  # built-ins stay


@pytest.mark.parametrize("blocked", ["opensmile", "nk-opensmile"], ids=["entry-point", "distribution"])
def test_plugins_can_be_blocked(monkeypatch, blocked):
    monkeypatch.setenv("NK_BLOCK_PLUGINS", f"something-else, {blocked}")
    assert "egemaps" not in PluginManager().registry.names("feats")


@pytest.mark.parametrize(
    ("name", "factory", "config", "match"),
    [
        pytest.param("Bad-Name", Fake, FakeConfig, "Invalid component name", id="bad-name"),
        pytest.param("ok", Fake, dict, "must be a dataclass", id="not-dataclass"),
        pytest.param("ok", lambda *, other: None, FakeConfig, r"config fields.*\(size\).*\(other\)",
                     id="fields-differ-from-factory"),
    ],
)
def test_register_validates(nk_pm, nk_register_plugin, name, factory, config, match):
    class Plugin:
        @hookimpl
        def nk_register_featurizers(self, register):
            register(name, factory, config)

    nk_register_plugin(Plugin(), name="nk-bad")
    with pytest.raises(PluginError, match=match):
        nk_pm.registry  # noqa: B018


def test_name_field_is_reserved_in_single_select_groups(nk_pm, nk_register_plugin):
    @dataclass
    class Named:
        name: str = param("x", help="clashes")

    class Plugin:
        @hookimpl
        def nk_register_learners(self, register):
            register("named", lambda *, name: None, Named)

    nk_register_plugin(Plugin(), name="nk-named")
    with pytest.raises(PluginError, match="reserves"):
        nk_pm.registry  # noqa: B018


def test_unknown_component_lists_available(nk_pm):
    with pytest.raises(UserError, match=r"Unknown model 'svn'.*Allowed: bayes, .*svm"):
        nk_pm.registry.get("model", "svn")


def test_bounds_are_checked_with_a_clear_message(nk_pm):
    comp = nk_pm.registry.get("model", "svm")
    with pytest.raises(UserError, match=r"The 'C' parameter of model 'svm' must be float value, > 0. Got -1"):
        comp.check_params({"C": -1})


def test_plugin_infos_list_hooks_and_components(nk_pm):
    infos = {i.name: i for i in nk_pm.plugin_infos()}
    smile = infos["opensmile"]
    assert smile.distribution == "nk-opensmile"
    assert {"compare", "egemaps", "gemaps"} <= set(smile.components["feats"])
    assert "nk_register_featurizers" in smile.hooks


def test_lifecycle_hooks_receive_the_run(nk_pm, nk_register_plugin, nk_compose, tmp_path):
    from rich.console import Console

    from nk.pipeline import run_experiment

    calls = []

    class Observer:
        @hookimpl
        def nk_run_start(self, ctx):
            calls.append(("start", ctx.run_dir))

        @hookimpl
        def nk_stage_end(self, ctx, stage, info):
            calls.append(("stage", stage))

        @hookimpl
        def nk_run_end(self, ctx, results):
            calls.append(("end", results["primary"]))

        @hookimpl
        def nk_run_error(self, ctx, error):
            calls.append(("error", type(error).__name__))

    nk_register_plugin(Observer(), name="nk-observer")
    cfg = nk_compose(["feats=mfcc", "data.demo.n_utterances=1", "n_jobs=1"])
    run_dir = tmp_path / "r1"
    run_dir.mkdir()
    run_experiment(cfg, nk_pm, run_dir, Console(quiet=True))
    stages = [c[1] for c in calls if c[0] == "stage"]
    assert calls[0] == ("start", run_dir) and calls[-1] == ("end", "uar")
    assert stages == ["load", "split", "featurize", "scale", "fit", "predict", "evaluate", "report"]

    calls.clear()
    bad = nk_compose(["feats=mfcc", "data.demo.n_utterances=1", "target=nope"])
    run_dir = tmp_path / "r2"
    run_dir.mkdir()
    with pytest.raises(UserError):
        run_experiment(bad, nk_pm, run_dir, Console(quiet=True))
    assert calls == [("start", run_dir), ("error", "UserError")]


def test_hook_called_via_pluggy_semantics(nk_pm):
    # the registration hooks are broadcast: one Register per implementation
    seen = []
    ns = SimpleNamespace()
    for impl in nk_pm.hook.nk_register_learners.get_hookimpls():
        seen.append(impl.plugin_name)
    assert "nk.builtin.learners" in seen and ns is not None
