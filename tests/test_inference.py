"""Safe model files and the inference path: a run's model, loaded in a fresh plugin manager
without the run's context, predicts its test files exactly as the run did."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from nk import hookimpl
from nk.errors import UserError
from nk.inference import load_run
from nk.plugins import PluginManager
from nk.registry import param

SMALL = ["data.demo.n_utterances=2", "feats=mfcc", "n_jobs=1"]


@pytest.fixture
def run(nk_experiment):
    return nk_experiment


def _same_predictions(predictor, run_dir):
    expected = pd.read_csv(run_dir / "predictions.csv", index_col=0)
    got = predictor.predict_files(list(expected.index))
    assert list(got.index) == list(expected.index)
    assert got["pred"].astype(str).tolist() == expected["pred"].astype(str).tolist()
    proba = [c for c in expected.columns if c.startswith("proba.")]
    assert [c for c in got.columns if c.startswith("proba.")] == proba
    np.testing.assert_array_equal(got[proba].to_numpy(), expected[proba].to_numpy())
    return got


def test_a_loaded_run_predicts_its_test_files_exactly(run):
    results, run_dir = run(SMALL)
    files = {p.name for p in (run_dir / "model").iterdir()}
    assert files == {"model.skops", "preprocessor.skops", "spec.json", "manifest.json"}  # no pickle
    assert not list(run_dir.rglob("*.joblib")) and not list(run_dir.rglob("*.pkl"))
    predictor = load_run(run_dir, pm=PluginManager())  # a fresh manager: nothing from the run
    assert predictor.target == "emotion" and predictor.task == "classification"
    assert predictor.labels == sorted(results["test"]["per_class"])
    _same_predictions(predictor, run_dir)
    assert load_run(run_dir / "model").spec["features"] == predictor.spec["features"]  # the bundle too


def test_a_loaded_regression_run_predicts_exactly(run):
    _, run_dir = run([*SMALL, "target=age", "model=svr", "scale=robust", "select.k_best=10"])
    predictor = load_run(run_dir)
    assert predictor.labels is None and len(predictor.preprocessor.feature_names()) == 10
    got = predictor.predict_files(pd.read_csv(run_dir / "predictions.csv", index_col=0).index)
    expected = pd.read_csv(run_dir / "predictions.csv", index_col=0)
    np.testing.assert_array_equal(got["pred"].to_numpy(), expected["pred"].to_numpy())


def test_model_files_list_and_check_their_trusted_types(run):
    _, run_dir = run(SMALL)
    manifest_path = run_dir / "model" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    assert "nk.builtin._svm.CalibratedSVC" in manifest["trusted_types"]["model.skops"]
    assert "nk.preprocess.Preprocessor" in manifest["trusted_types"]["preprocessor.skops"]
    manifest["trusted_types"]["model.skops"] = []  # a file naming types nobody trusted
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(UserError, match=r"holds types its manifest does not trust: \[.*CalibratedSVC"):
        load_run(run_dir)


def test_a_pickled_model_of_an_older_nk_is_refused(run):
    _, run_dir = run(SMALL)
    for p in (run_dir / "model").iterdir():
        p.unlink()
    (run_dir / "model" / "model.joblib").write_bytes(b"pickle")
    with pytest.raises(UserError, match="older nk as a pickle"):
        load_run(run_dir)


@dataclass
class LoudConfig:
    gain: float = param(1.0, gt=0, help="multiplies the features")
    token: str | None = param(None, secret=True, help="an access token (never saved)")


class Loud:
    process_safe: ClassVar[bool] = False
    sampling_rate = 16000

    def __init__(self, *, gain: float, token: str | None) -> None:
        self.gain = gain
        self.token = token

    def feature_names(self):
        return ["rms", "peak"]

    def extract(self, signal, sampling_rate):
        if self.token is None:
            raise RuntimeError("no token")
        return self.gain * np.array([np.sqrt(np.mean(signal ** 2)), np.abs(signal).max()], dtype=np.float32)


class LoudPlugin:
    @hookimpl
    def nk_register_featurizers(self, register):
        register("loud", Loud, LoudConfig, description="loudness with a secret token")


def test_secret_parameters_are_not_saved_and_are_asked_for_at_load(run, nk_register_plugin, monkeypatch):
    nk_register_plugin(LoudPlugin(), name="nk-loud")
    _, run_dir = run(["data.demo.n_utterances=2", "feats=loud", "feats.loud.token=SECRET123XYZ",
                      "feats.loud.gain=2.0", "n_jobs=1"])
    for path in (run_dir / "model").iterdir():
        assert b"SECRET123XYZ" not in path.read_bytes(), path
    spec = json.loads((run_dir / "model" / "spec.json").read_text())
    assert spec["featurizers"] == [{"name": "loud", "provider": "nk-loud", "version": spec["featurizers"][0]["version"],
                                    "params": {"gain": 2.0}, "secret_params": ["token"]}]
    monkeypatch.delenv("NK_SECRET_TOKEN", raising=False)

    def pm_with_loud():
        fresh = PluginManager()
        fresh.register(LoudPlugin(), name="nk-loud", distribution="nk-loud")
        return fresh

    with pytest.raises(UserError, match=r"secret parameter 'token' of feats 'loud'.*NK_SECRET_TOKEN") as info:
        load_run(run_dir, pm=pm_with_loud())
    assert "SECRET123XYZ" not in str(info.value)
    _same_predictions(load_run(run_dir, pm=pm_with_loud(), secrets={"loud.token": "other"}), run_dir)
    monkeypatch.setenv("NK_SECRET_TOKEN", "from-env")
    predictor = load_run(run_dir, pm=pm_with_loud())
    assert predictor.featurizers[0][1].token == "from-env"


class OptionalToken(Loud):
    """Uses its token only when one is given (e.g. a model that may be private)."""

    def extract(self, signal, sampling_rate):
        return self.gain * np.array([np.sqrt(np.mean(signal ** 2)), np.abs(signal).max()], dtype=np.float32)


class OptionalTokenPlugin:
    @hookimpl
    def nk_register_featurizers(self, register):
        register("optional", OptionalToken, LoudConfig, description="a token only when needed")


def test_a_secret_left_unset_at_training_is_not_asked_for(run, nk_register_plugin, monkeypatch):
    nk_register_plugin(OptionalTokenPlugin(), name="nk-optional")
    _, run_dir = run(["data.demo.n_utterances=2", "feats=optional", "feats.optional.gain=2.0", "n_jobs=1"])
    spec = json.loads((run_dir / "model" / "spec.json").read_text())
    assert spec["featurizers"][0]["secret_params"] == []
    monkeypatch.delenv("NK_SECRET_TOKEN", raising=False)
    fresh = PluginManager()
    fresh.register(OptionalTokenPlugin(), name="nk-optional", distribution="nk-optional")
    predictor = load_run(run_dir, pm=fresh)
    assert predictor.featurizers[0][1].token is None
    _same_predictions(predictor, run_dir)


def test_a_run_folder_without_a_model_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="No model manifest"):
        load_run(tmp_path)
