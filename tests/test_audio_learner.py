"""Learners that take audio (``input = "audio"``): audio rows instead of features, dev but never
test in fit, no feature extraction, clear errors for feature options, reporters get the model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from nk import hookimpl
from nk.errors import UserError
from nk.registry import param
from nk.stages import audio_rows

SMALL = ["data.demo.n_utterances=2", "n_jobs=1"]
SEEN: dict[str, Any] = {}  # what the fake learner and reporter were given (reset per test)


def _energy(rows: pd.DataFrame) -> np.ndarray:
    from nk.audio import read

    out = []
    for row in rows.itertuples():
        signal, _ = read(row.file, sampling_rate=int(row.sampling_rate),
                         start=None if np.isnan(row.start) else row.start,
                         end=None if np.isnan(row.end) else row.end)
        out.append(float(np.mean(signal.astype(np.float64) ** 2)))
    return np.log(np.asarray(out) + 1e-12)


class EnergyLearner(ClassifierMixin, BaseEstimator):
    """Predicts the class whose mean log energy is nearest to the row's."""

    input: ClassVar[str] = "audio"

    def __init__(self, shift: float = 0.0) -> None:
        self.shift = shift

    def fit(self, X: pd.DataFrame, y: Any, X_dev: pd.DataFrame | None = None, y_dev: Any = None) -> EnergyLearner:
        SEEN.setdefault("fit", []).append({"X": X.copy(), "X_dev": None if X_dev is None else X_dev.copy()})
        energy = _energy(X)
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        self.centres_ = np.array([energy[y == c].mean() for c in self.classes_])
        return self

    def _distances(self, X: pd.DataFrame) -> np.ndarray:
        return np.abs(_energy(X)[:, None] + self.shift - self.centres_[None, :])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        SEEN.setdefault("predict", []).append(X.copy())
        return self.classes_[self._distances(X).argmin(axis=1)]

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        weights = np.exp(-self._distances(X))
        return weights / weights.sum(axis=1, keepdims=True)


@dataclass
class EnergyConfig:
    shift: float = param(0.0, help="added to each row's log energy")


@dataclass
class SpyConfig:
    pass


class SpyReporter:
    def report(self, result: dict[str, Any], ctx: Any) -> list[Any]:
        SEEN["report"] = result
        return []


class AudioPlugin:
    @hookimpl
    def nk_register_learners(self, register):
        register("energy", lambda shift: EnergyLearner(shift=shift), EnergyConfig,
                 description="nearest class mean of the log energy (reads audio)")

    @hookimpl
    def nk_register_reporters(self, register):
        register("spy", SpyReporter, SpyConfig, description="keeps what it was given")


@pytest.fixture
def run(nk_experiment, nk_register_plugin):
    nk_register_plugin(AudioPlugin(), name="nk-audio-test")
    SEEN.clear()
    return nk_experiment


def test_an_audio_learner_gets_audio_rows_and_never_test(run, tmp_path):
    results, run_dir = run([*SMALL, "model=energy", "report=[plots,spy]", "split.dev_size=0.25",
                            "split.test_size=0.25", "sampling_rate=8000"])
    assert results["model_input"] == "audio" and results["n_features"] == 0
    assert "featurize" not in results["timing"]  # no features were extracted ...
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.parquet"))  # ... or cached
    (fitted,) = SEEN["fit"]
    X, X_dev = fitted["X"], fitted["X_dev"]
    assert list(X.columns) == ["file", "start", "end", "sampling_rate"]
    assert X["start"].isna().all() and X["end"].isna().all() and (X["sampling_rate"] == 8000).all()
    predictions = pd.read_csv(run_dir / "predictions.csv", index_col=0)
    test_files = set(predictions.index)
    assert test_files and not test_files & set(X["file"])  # test rows never reach fit
    assert X_dev is not None and not test_files & set(X_dev["file"]) and not set(X_dev["file"]) & set(X["file"])
    assert results["data"]["rows"]["train"] == len(X) and results["data"]["rows"]["dev"] == len(X_dev)
    assert set(SEEN["predict"][-1]["file"]) == test_files  # predict gets audio rows too
    assert {c for c in predictions.columns if c.startswith("proba.")}  # probabilities are kept
    report = SEEN["report"]
    assert isinstance(report["model"], EnergyLearner) and hasattr(report["model"], "centres_")  # the fitted model
    assert report["learner"] == "energy"


def test_grid_search_with_an_audio_learner_chooses_on_dev(run):
    results, _ = run([*SMALL, "model=energy", "split.dev_size=0.25", "split.test_size=0.25",
                      "search.params={shift:[0.0,50.0]}"])
    trials = results["search"]["trials"]
    assert [t["params"]["shift"] for t in trials] == [0.0, 50.0]
    assert results["search"]["chosen"]["shift"] == 0.0  # a huge shift predicts one class only


@pytest.mark.parametrize("option", ["scale=robust", "select.k_best=3", "balance=ros", "select.exclude=[x*]"])
def test_feature_options_with_an_audio_learner_are_errors(run, option):
    with pytest.raises(UserError, match=r"takes audio, not features.*nothing to act on") as info:
        run([*SMALL, "model=energy", option])
    assert option.split("=")[0] in info.value.where


def test_audio_rows_of_segments():
    index = pd.MultiIndex.from_arrays(
        [["a.wav", "a.wav", "b.wav"], pd.to_timedelta([0.0, 1.5, 0.0], unit="s"),
         pd.to_timedelta([1.5, 3.0, np.nan], unit="s")], names=["file", "start", "end"])
    rows = audio_rows(pd.DataFrame({"emotion": ["x", "y", "z"]}, index=index), 16000)
    assert rows["file"].tolist() == ["a.wav", "a.wav", "b.wav"]
    assert rows["start"].tolist() == [0.0, 1.5, 0.0]
    assert rows["end"].tolist()[:2] == [1.5, 3.0] and np.isnan(rows["end"].iloc[2])
    assert rows.index.equals(index) and (rows["sampling_rate"] == 16000).all()


def test_a_saved_audio_learner_predicts_new_audio_through_load_run(run):
    from nk.inference import load_run

    _, run_dir = run([*SMALL, "model=energy"])
    predictor = load_run(run_dir)  # the fake learner's class is in this module: skops trusts it
    assert predictor.preprocessor is None and predictor.spec["input"] == "audio"
    assert predictor.spec["featurizers"] == []  # an audio learner's run needs no featurizer
    expected = pd.read_csv(run_dir / "predictions.csv", index_col=0)
    got = predictor.predict_files(list(expected.index))
    assert got["pred"].tolist() == expected["pred"].tolist()
    np.testing.assert_array_equal(got.filter(like="proba.").to_numpy(), expected.filter(like="proba.").to_numpy())
