"""Parameter metadata: types, enums and bounds checked for every value that reaches a factory
(command line, config files, grid search), secret parameters kept out of every file and log,
cross-field rules checked once when a component is built."""

from __future__ import annotations

import enum
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from nk import hookimpl
from nk.errors import UserError
from nk.pipeline import run_experiment
from nk.registry import param

SMALL = ["data.demo.n_utterances=2", "n_jobs=1", "split.dev_size=0.25"]
SECRET = "SECRET123XYZ"


class Mode(enum.Enum):
    loud = "loud"
    quiet = "quiet"


@dataclass
class TokenFeatsConfig:
    token: str = param("", secret=True, help="an access token (never stored)")
    batch: int = param(1, ge=1, key=False, help="rows per call (does not change the values)")
    mode: Mode = param(Mode.loud, help="loud or quiet")
    low: float = param(0.0, help="lower edge")
    high: float = param(1.0, help="upper edge; must exceed low")

    def validate(self, path: str) -> None:
        if self.high <= self.low:
            raise UserError(f"{path}.high must exceed {path}.low", where=f"config keys of {path}")


class TokenFeats:
    process_safe = False
    sampling_rate = None

    def __init__(self, *, token: str, batch: int, mode: Mode, low: float, high: float) -> None:
        self.token, self.batch, self.mode, self.low, self.high = token, batch, mode, low, high

    def feature_names(self):
        return ["rms", "peak"]

    def extract(self, signal, sampling_rate):
        return np.array([np.sqrt(np.mean(signal**2)), np.abs(signal).max()], dtype=np.float32)


class TokenPlugin:
    @hookimpl
    def nk_register_featurizers(self, register):
        register("tokenfeats", TokenFeats, TokenFeatsConfig, description="needs a token")


@pytest.fixture
def token_plugin(nk_register_plugin):
    nk_register_plugin(TokenPlugin(), name="nk-token")


@pytest.fixture
def run(nk_compose, nk_pm, tmp_path):
    def _run(overrides):
        cfg = nk_compose(overrides)
        run_dir = tmp_path / "run"
        run_dir.mkdir()
        return run_experiment(cfg, nk_pm, run_dir, Console(quiet=True)), run_dir

    return _run


@pytest.mark.parametrize(("grid", "key", "shown"), [
    ("search.params={C:[abc,1]}", "model.C", "'abc'"),
    ("search.params={kernel:[linaer,rbf]}", "model.kernel", "'linaer'"),
    ("search.params={C:[-1,1]}", "model.C", "-1"),
    ("search.params={degree:[2.5]}", "model.degree", "2.5"),
], ids=["not-a-number", "enum-typo", "out-of-bounds", "float-for-int"])
def test_grid_search_values_are_checked_like_the_command_line(run, grid, key, shown):
    with pytest.raises(UserError) as err:
        run([*SMALL, "feats=mfcc", grid])
    text = str(err.value)
    assert f"config key {key}" in text and f"Got {shown} instead" in text
    if "kernel" in key:
        assert "one of linear, rbf, poly, sigmoid" in text


def test_grid_search_enum_names_reach_the_factory_as_members(nk_pm):
    from nk.builtin.learners import Kernel

    comp = nk_pm.registry.get("model", "svm")
    kwargs = comp.check_params({**comp.defaults(), "kernel": "linear", "C": "2"})
    assert kwargs["kernel"] is Kernel.linear and kwargs["C"] == 2.0


def test_cross_field_rules_are_checked_once_when_built(nk_pm, token_plugin, nk_compose):
    with pytest.raises(UserError, match=r"feats.tokenfeats.high must exceed feats.tokenfeats.low"):
        nk_compose(["feats=tokenfeats", "feats.tokenfeats.low=2"])


def test_a_bad_secret_value_is_not_echoed(nk_pm, token_plugin):
    comp = nk_pm.registry.get("feats", "tokenfeats")
    infos = {p.name: p for p in comp.params()}
    assert infos["token"].secret and not infos["token"].key and not infos["batch"].key
    with pytest.raises(UserError) as err:
        comp.check_params({"token": {"a": SECRET}})
    assert SECRET not in str(err.value) and "Got *** instead" in str(err.value)


def _grep(root: Path, text: str) -> list[str]:
    out = subprocess.run(["grep", "-rl", text, str(root)], capture_output=True, text=True)
    return out.stdout.split()


@pytest.mark.parametrize("how", ["value", "env"])
def test_secret_parameters_reach_no_file_or_log(run, token_plugin, tmp_path, monkeypatch, how):
    monkeypatch.setenv("NK_TEST_TOKEN", SECRET)
    value = SECRET if how == "value" else "${oc.env:NK_TEST_TOKEN}"
    results, run_dir = run([*SMALL, "feats=tokenfeats", f"feats.tokenfeats.token={value}"])
    assert results["test"]["uar"]["value"] >= 0
    assert (run_dir / "nk.log").exists() and (run_dir / "config.yaml").exists()
    assert "token: '***'" in (run_dir / "config.yaml").read_text()
    assert _grep(run_dir, SECRET) == [] and _grep(tmp_path / "cache", SECRET) == []
    assert list((tmp_path / "cache").rglob("spec.json")), "the features were cached"


def test_a_secret_a_component_logs_is_masked(run, token_plugin, nk_register_plugin):
    import logging

    class Chatty(TokenFeats):
        def extract(self, signal, sampling_rate):
            logging.getLogger("nk").warning("calling the service with token %s", self.token)
            return super().extract(signal, sampling_rate)

    class ChattyPlugin:
        @hookimpl
        def nk_register_featurizers(self, register):
            register("chatty", Chatty, TokenFeatsConfig, description="logs its token")

    nk_register_plugin(ChattyPlugin(), name="nk-chatty")
    _, run_dir = run([*SMALL, "feats=chatty", f"feats.chatty.token={SECRET}"])
    log = (run_dir / "nk.log").read_text()
    assert "calling the service with token ***" in log and SECRET not in log


def test_an_unknown_secret_looking_key_is_refused_without_echoing_it(nk_pm, nk_compose, tmp_path, capsys):
    from nk.cli import main

    nk_compose([])  # the fixture's empty working folder and cache
    code = main(["run", f"+hf_token={SECRET}", f"results_root={tmp_path / 'results'}"], pm=nk_pm)
    err = capsys.readouterr().err
    assert code == 2 and "hf_token" in err and SECRET not in err
    assert _grep(tmp_path, SECRET) == []
