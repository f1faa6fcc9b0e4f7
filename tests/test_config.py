"""Config composition: groups from the registry, multi-select feats, ./conf, redaction."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from nk.config import redacted, selected
from nk.errors import UserError


def test_defaults(nk_compose, nk_pm):
    cfg = nk_compose()
    assert selected(cfg, "data")[0][0] == "demo"
    # nk-opensmile asks to be the default (register(..., default=True)); core's own is mfcc
    expected = "egemaps" if "egemaps" in nk_pm.registry.names("feats") else "mfcc"
    assert [n for n, _ in selected(cfg, "feats")] == [expected]
    assert selected(cfg, "model")[0][0] == "svm"
    assert selected(cfg, "segment") == [] and selected(cfg, "augment") == []
    assert selected(cfg, "predict") == [] and selected(cfg, "ensemble") == []


def test_core_alone_defaults_to_its_own_feature_set(monkeypatch, tmp_path):
    from nk.config import compose
    from nk.plugins import PluginManager

    monkeypatch.chdir(tmp_path)
    pm = PluginManager(autoload=False)
    cfg = compose([], pm)
    assert [n for n, _ in selected(cfg, "feats")] == ["mfcc"]
    with pytest.raises(UserError, match=r"Unknown feats 'egemaps'"):
        compose(["feats=egemaps"], pm)


def test_core_alone_runs_the_demo_corpus(tmp_path):
    """`nk run` with every plugin blocked (as with core installed alone) runs the demo corpus."""
    import os
    import subprocess
    import sys
    from importlib.metadata import entry_points

    plugins = ",".join(sorted({ep.name for ep in entry_points(group="nk")}))
    env = {**os.environ, "NK_BLOCK_PLUGINS": plugins, "NK_CACHE_DIR": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, "-m", "nk.cli", "run", "data.demo.n_utterances=2", "n_jobs=1",
                          "document.pdf=never"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "mfcc" in (next((tmp_path / "results").glob("*/*/config.yaml"))).read_text()


def test_single_and_multiple_feature_sets(nk_compose):
    assert [n for n, _ in selected(nk_compose(["feats=mfcc"]), "feats")] == ["mfcc"]
    cfg = nk_compose(["feats=[egemaps,mfcc]", "feats.mfcc.n_mfcc=20"])
    assert [n for n, _ in selected(cfg, "feats")] == ["egemaps", "mfcc"]
    assert cfg.feats.mfcc.n_mfcc == 20


def test_component_parameters_are_typed(nk_compose):
    cfg = nk_compose(["model=knn", "model.n_neighbors=7"])
    name, params = selected(cfg, "model")[0]
    assert name == "knn" and params["n_neighbors"] == 7


def test_config_is_read_only(nk_compose):
    cfg = nk_compose()
    with pytest.raises(Exception, match="read-only"):
        cfg.seed = 3


def test_user_conf_folder_joins_the_search_path(nk_compose, tmp_path):
    conf = tmp_path / "myconf"
    (conf / "experiment").mkdir(parents=True)
    (conf / "experiment" / "quick.yaml").write_text(
        "# @package _global_\n"
        "defaults:\n  - override /feats: [mfcc]\n  - override /model: knn\n"
        "name: quick\nseed: 7\nmodel:\n  n_neighbors: 3\n"
    )
    cfg = nk_compose(["experiment=quick"], user_conf=conf)
    assert cfg.name == "quick" and cfg.seed == 7
    assert selected(cfg, "model") == [("knn", {"n_neighbors": 3, "weights": selected(cfg, "model")[0][1]["weights"]})]
    assert [n for n, _ in selected(cfg, "feats")] == ["mfcc"]


def test_unknown_experiment_is_a_user_error(nk_compose, tmp_path):
    (tmp_path / "c" / "experiment").mkdir(parents=True)
    (tmp_path / "c" / "experiment" / "one.yaml").write_text("# @package _global_\nseed: 1\n")
    with pytest.raises(UserError, match=r"Unknown experiment 'two'.*Allowed: one"):
        nk_compose(["experiment=two"], user_conf=tmp_path / "c")


def test_no_feature_set_is_a_user_error(nk_compose):
    with pytest.raises(UserError, match="No feature set selected"):
        nk_compose(["feats=[]"])


def test_secrets_are_redacted():
    cfg = OmegaConf.create({"model": {"hf_token": "abc", "C": 1}, "db": {"password": "pw"},
                            "api_key": None, "nested": [{"secret_key": "s"}]})
    out = redacted(cfg)
    assert out["model"] == {"hf_token": "***", "C": 1}
    assert out["db"]["password"] == "***" and out["api_key"] is None
    assert out["nested"][0]["secret_key"] == "***"
