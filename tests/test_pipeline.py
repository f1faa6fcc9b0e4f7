"""The pipeline end to end on small synthetic data, with fake plugins for every stage."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from sklearn.base import BaseEstimator, ClassifierMixin

from nk import hookimpl
from nk.errors import ContractError, UserError
from nk.pipeline import run_experiment
from nk.registry import param
from nk.results import load_model

SMALL = ["data.demo.n_utterances=2", "feats=mfcc", "n_jobs=1"]


@pytest.fixture
def run(nk_experiment):
    return nk_experiment


def test_classification_run(run):
    results, _run_dir = run(SMALL)
    test = results["test"]
    assert results["task"] == "classification" and test["primary"] == "uar"
    assert set(test) >= {"uar", "accuracy", "macro_f1", "per_class", "confusion_matrix"}
    assert test["uar"]["ci_method"] == "rows_within_speakers"  # 4 test speakers < bootstrap.min_speakers
    assert results["data"]["rows"]["train"] + results["data"]["rows"]["test"] == 12 * 4 * 2
    assert results["model_selection"].startswith("none")


def test_regression_run(run):
    results, run_dir = run([*SMALL, "target=age", "model=svr"])
    assert results["task"] == "regression" and results["primary"] == "ccc"
    assert set(results["test"]) >= {"ccc", "pcc", "mae", "mse", "r2"}
    assert (run_dir / "truth_vs_prediction.png").stat().st_size > 1000


def test_auto_task_of_a_numeric_target_follows_the_model(run):
    """8 speakers: 8 ages, few enough to look like classes; a regression model decides."""
    few = [*SMALL, "data.demo.n_speakers=8", "target=age"]
    results, _ = run([*few, "model=svr"])
    assert results["task"] == "regression"
    results, _ = run([*few, "model=knn", "split.method=random"])  # ages per speaker: random rows
    assert results["task"] == "classification"


def test_detect_task():
    import pandas as pd

    from nk.data import detect_task

    few, many = pd.Series([20, 30, 40] * 10), pd.Series(range(100))
    assert detect_task(few) == "classification" and detect_task(many) == "regression"
    assert detect_task(few, lambda: "regression") == "regression"
    assert detect_task(many, lambda: "classification") == "classification"
    assert detect_task(many, lambda: None) == "regression"  # a model that does neither

    def never():
        raise AssertionError("the model is not asked about a text target")

    words = pd.Series(["a", "b"] * 50)
    assert detect_task(words, never) == "classification"  # a regression model: the model check objects


def test_same_seed_same_results_other_seed_other_split(run):
    a, _ = run(SMALL)
    b, _ = run(SMALL)
    c, _ = run([*SMALL, "seed=7"])
    assert a["test"] == b["test"]
    assert a["data"]["labels"] == b["data"]["labels"]
    assert a["test"]["confusion_matrix"] != c["test"]["confusion_matrix"] or a["data"] != c["data"]


def test_speaker_split_is_disjoint(run):
    _, run_dir = run(SMALL)
    pred = pd.read_csv(run_dir / "predictions.csv", index_col=0)
    test_speakers = {Path(f).parent.name for f in pred.index}
    assert len(test_speakers) == 4  # a third of 12 speakers, balanced over gender


def test_saved_model_reproduces_predictions_and_detects_tampering(run):
    _, run_dir = run(SMALL)
    bundle = load_model(run_dir / "model")
    assert bundle["target"] == "emotion" and bundle["features"][0].startswith("mfcc.")
    with open(run_dir / "model" / "model.skops", "ab") as fh:
        fh.write(b"tampered")
    with pytest.raises(UserError, match="does not match its manifest"):
        load_model(run_dir / "model")


@dataclass
class SpyConfig:
    """No parameters."""


class Spy(ClassifierMixin, BaseEstimator):
    """Predicts the majority class; records what fit() received."""

    def fit(self, X, y, X_dev=None, y_dev=None):
        self.n_train_ = len(X)
        self.n_dev_ = None if X_dev is None else len(X_dev)
        values, counts = np.unique(y, return_counts=True)
        self.classes_ = values
        self.majority_ = values[counts.argmax()]
        return self

    def predict(self, X):
        return np.full(len(X), self.majority_)


class SpyPlugin:
    @hookimpl
    def nk_register_learners(self, register):
        register("spy", Spy, SpyConfig, description="records what fit() receives")


def test_dev_split_is_passed_to_learners_that_select(run, nk_register_plugin):
    nk_register_plugin(SpyPlugin(), name="nk-spy")
    results, run_dir = run([*SMALL, "model=spy", "split.dev_size=0.25", "split.test_size=0.25"])
    spy = load_model(run_dir / "model")["model"]
    total = results["data"]["rows"]
    assert spy.n_train_ == total["train"] and spy.n_dev_ == total["dev"] > 0
    assert results["model_selection"].startswith("dev:") and results["dev"] is not None
    assert results["evaluated_on"] == "test"


@dataclass
class BrokenConfig:
    mode: str = param("nan", help="how to break")


class Broken:
    process_safe = False
    sampling_rate = None

    def __init__(self, *, mode: str) -> None:
        self.mode = mode

    def feature_names(self):
        return ["a", "b"]

    def extract(self, signal, rate):
        if self.mode == "nan":
            return np.array([np.nan, 1.0])
        if self.mode == "short":
            return np.array([1.0])
        raise RuntimeError("boom")


class BrokenPlugin:
    @hookimpl
    def nk_register_featurizers(self, register):
        register("broken", Broken, BrokenConfig, description="breaks the contract")


@pytest.mark.parametrize(("mode", "error", "match"), [
    pytest.param("nan", ContractError, r"broken: returned NaN", id="nan"),
    pytest.param("short", ContractError, r"returned 1 values but feature_names\(\) has 2", id="wrong-length"),
    pytest.param("raise", UserError, r"broken could not process 96 of 96 files: .*RuntimeError: boom", id="raises"),
])
def test_featurizer_contract_violations_name_the_component(run, nk_register_plugin, mode, error, match):
    nk_register_plugin(BrokenPlugin(), name="nk-broken")
    with pytest.raises(error, match=match):
        run(["data.demo.n_utterances=2", "feats=broken", f"feats.broken.mode={mode}"])


def test_segmenter_and_augmenter_stages(run, nk_register_plugin):
    @dataclass
    class HalvesConfig:
        pass

    class Halves:
        def segment(self, frame, ctx):
            rows = []
            for file, row in frame.iterrows():
                for start, end in ((0.0, 0.4), (0.4, None)):
                    rows.append({"file": file, "start": pd.Timedelta(seconds=start),
                                 "end": pd.NaT if end is None else pd.Timedelta(seconds=end), **row})
            return pd.DataFrame(rows).set_index(["file", "start", "end"])

    @dataclass
    class LouderConfig:
        gain: float = param(2.0, gt=0, help="amplitude factor")

    class Louder:
        def __init__(self, *, gain):
            self.gain = gain

        def augment(self, frame, ctx):
            import soundfile as sf

            out = []
            for (file, start, end), row in frame.iterrows():
                new = ctx.work_dir / f"{Path(file).stem}_{start.total_seconds()}_loud.wav"
                if not new.exists():
                    signal, rate = sf.read(file)
                    sf.write(new, np.clip(signal * self.gain, -1, 1), rate)
                out.append({"file": str(new), "start": start, "end": end, **row, "augmented_from": file})
            return pd.DataFrame(out).set_index(["file", "start", "end"])

    class Plugin:
        @hookimpl
        def nk_register_segmenters(self, register):
            register("halves", Halves, HalvesConfig, description="cuts each file at 0.4 s")

        @hookimpl
        def nk_register_augmenters(self, register):
            register("louder", Louder, LouderConfig, description="doubles the amplitude")

    nk_register_plugin(Plugin(), name="nk-stages")
    results, run_dir = run([*SMALL, "segment=halves", "augment=louder"])
    rows = results["data"]["rows"]
    assert rows["test"] == 2 * 32  # 4 test speakers × 4 emotions × 2 utterances × 2 segments
    assert rows["train"] == 2 * 2 * 64  # segments, doubled by augmentation
    assert results["components"]["segment"] == ["halves"] and results["components"]["augment"] == ["louder"]
    log = (run_dir / "nk.log").read_text()
    assert "stage segment" in log and "stage augment" in log


def test_parallel_and_serial_extraction_agree(nk_compose, nk_pm, tmp_path):
    results = []
    for jobs in (1, 2):
        cfg = nk_compose(["data.demo.n_utterances=2", "feats=mfcc", f"n_jobs={jobs}",
                          f"cache_dir={tmp_path / f'cache{jobs}'}"])
        (run_dir := tmp_path / f"run{jobs}").mkdir()
        results.append(run_experiment(cfg, nk_pm, run_dir, Console(quiet=True)))
    assert results[0]["test"] == results[1]["test"]
    a = pd.read_csv(tmp_path / "run1" / "predictions.csv", index_col=0)
    b = pd.read_csv(tmp_path / "run2" / "predictions.csv", index_col=0)
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))


def test_cache_reused_for_same_params_and_recomputed_for_new(run, tmp_path):
    run(SMALL)
    folder = tmp_path / "cache" / "features" / "mfcc"
    assert len([p for p in folder.iterdir() if p.is_dir()]) == 1
    _, run_dir = run(SMALL)
    assert "from the cache" in (run_dir / "nk.log").read_text()
    run([*SMALL, "feats.mfcc.n_mfcc=20"])
    specs = [p for p in folder.iterdir() if p.is_dir()]
    assert len(specs) == 2
    sidecar = json.loads((specs[0] / "spec.json").read_text())
    assert {"component", "provider", "version", "params", "sampling_rate"} <= set(json.dumps(sidecar) and sidecar.get("spec", sidecar))


def test_results_json_records_components_and_timing(run):
    _results, run_dir = run(SMALL)
    on_disk = json.loads((run_dir / "results.json").read_text())
    assert on_disk["components"]["feats"] == ["mfcc"] and on_disk["components"]["model"] == ["svm"]
    assert set(on_disk["timing"]) >= {"load", "featurize", "fit", "evaluate", "report"}
    assert "confusion_matrix.png" in on_disk["artefacts"]
