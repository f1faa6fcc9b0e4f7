"""Preprocessing fitted on train: missing-value policy, scaling, feature selection, balancing."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from nk import hookimpl
from nk.config import MissingPolicy, Scaling, SelectScore
from nk.errors import ContractError, UserError
from nk.pipeline import run_experiment
from nk.preprocess import Preprocessor, handle_missing, sampler, speaker_normalise
from nk.registry import param

SMALL = ["data.demo.n_utterances=2", "n_jobs=1"]


@dataclass
class GappyConfig:
    every: int = param(5, ge=2, help="every n-th file gets an undefined value")


class Gappy:
    """Pitch-like feature that is undefined (NaN) for some files, as Praat's F0 is for unvoiced input."""

    process_safe = False
    sampling_rate = None
    may_return_nan = True

    def __init__(self, *, every: int) -> None:
        self.every = every

    def feature_names(self):
        return ["rms", "f0"]

    def extract(self, signal, rate):
        rms = float(np.sqrt(np.mean(signal**2)))
        undefined = int(rms * 1e6) % self.every == 0
        return np.array([rms, np.nan if undefined else rms * 2], dtype=np.float32)


class Strict(Gappy):
    may_return_nan = False


class GappyPlugin:
    @hookimpl
    def nk_register_featurizers(self, register):
        register("gappy", Gappy, GappyConfig, description="sometimes undefined")
        register("strict", Strict, GappyConfig, description="returns NaN without declaring it")


@pytest.fixture
def run(nk_compose, nk_pm, nk_register_plugin, tmp_path):
    nk_register_plugin(GappyPlugin(), name="nk-gappy")
    counter = iter(range(100))

    def _run(overrides):
        run_dir = tmp_path / f"r{next(counter)}"
        run_dir.mkdir()
        return run_experiment(nk_compose([*SMALL, *overrides]), nk_pm, run_dir, Console(quiet=True))

    return _run


def test_missing_impute_adds_indicators_and_reports(run):
    results = run(["feats=gappy"])
    report = results["missing"]
    assert report["policy"] == "impute" and report["rows_with_missing"] > 0
    assert list(report["features_with_missing"]) == ["gappy.f0"]
    assert results["n_features"] == 3  # rms, f0, f0.missing


def test_missing_values_are_summarised_on_the_console(nk_pm, nk_register_plugin, tmp_path, monkeypatch, capsys):
    from nk.cli import main

    nk_register_plugin(GappyPlugin(), name="nk-gappy")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NK_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["run", *SMALL, "feats=gappy", "document.pdf=never"], pm=nk_pm) == 0
    results = json.loads(next(tmp_path.glob("results/*/*/results.json")).read_text())
    n = results["missing"]["rows_with_missing"]
    out = " ".join(capsys.readouterr().out.split())  # undo the console's line wrapping
    assert f"Undefined features in {n} of 96 rows (gappy.f0 {n}): filled with train means" in out


def test_missing_drop_removes_rows_and_lists_them(run):
    results = run(["feats=gappy", "missing=drop"])
    dropped = results["missing"]["dropped_rows"]
    assert dropped and sum(results["data"]["rows"].values()) == 96 - len(dropped)


def test_missing_error_stops_with_the_rows(run):
    with pytest.raises(UserError, match=r"rows have features that could not be computed \(gappy.f0\)"):
        run(["feats=gappy", "missing=error"])


def test_undeclared_nan_is_a_contract_error(run):
    with pytest.raises(ContractError, match="does not declare may_return_nan"):
        run(["feats=strict"])


def test_imputation_uses_train_means_only():
    X = pd.DataFrame({"f.a": [1.0, 3.0, np.nan, 100.0]})
    prep = Preprocessor(scale=Scaling.none, columns=[], exclude=[], k_best=None,
                        score=SelectScore.anova, task="classification", seed=0)
    prep.fit(X.iloc[:3], np.array(["x", "y", "x"]))  # the 100 is a test row
    np.testing.assert_allclose(prep.transform(X)[:, 0], [1, 3, 2, 100])


def test_handle_missing_without_nan_is_a_no_op():
    frame = pd.DataFrame({"f.a": [1.0, 2.0]})
    out, report = handle_missing(frame, MissingPolicy.impute, None)
    assert out is frame and report["rows_with_missing"] == 0


@pytest.mark.parametrize("scale", [s.value for s in Scaling])
@pytest.mark.filterwarnings("error:n_quantiles:UserWarning")  # quantile: no more quantiles than rows
def test_every_scaling_runs(run, scale):
    results = run(["feats=mfcc", f"scale={scale}"])
    assert results["preprocessing"]["scale"] == scale
    assert 0 <= results["test"]["uar"]["value"] <= 1


def test_scalers_fit_on_train_only():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"f.a": rng.normal(0, 1, 100)})
    X.iloc[80:, 0] += 50  # test rows far away
    prep = Preprocessor(scale=Scaling.standard, columns=[], exclude=[], k_best=None,
                        score=SelectScore.anova, task="classification", seed=0).fit(X.iloc[:80], np.zeros(80))
    out = prep.transform(X)
    assert abs(out[:80].mean()) < 1e-5 and out[80:].mean() > 20


def test_speaker_normalisation_uses_each_speakers_own_statistics():
    values = np.array([[1.0], [3.0], [10.0], [30.0]])
    out = speaker_normalise(values, np.array(["a", "a", "b", "b"]))
    np.testing.assert_allclose(out[:, 0], [-1, 1, -1, 1])


@pytest.mark.parametrize("balance", ["ros", "rus", "smote", "adasyn", "borderline_smote", "svm_smote",
                                     "smoteenn", "smotetomek", "cluster_centroids", "tomek", "enn"])
def test_every_balancing_method(balance):
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (60, 3)), rng.normal(1.5, 1, (15, 3))])
    y = np.array(["major"] * 60 + ["minor"] * 15)
    from nk.config import Balancing

    _Xr, yr = sampler(Balancing(balance), 0).fit_resample(X, y)
    counts = pd.Series(yr).value_counts()
    if balance in ("ros", "rus", "smote", "adasyn", "borderline_smote", "svm_smote", "cluster_centroids"):
        assert abs(counts["major"] - counts["minor"]) <= max(3, 0.1 * counts.max())
    else:  # cleaning methods remove majority rows near the border
        assert counts["major"] <= 60 and counts["minor"] >= 1


def test_balancing_applies_to_train_only(run):
    results = run(["feats=mfcc", "balance=ros", "data.demo.confound=0.6"])
    assert results["preprocessing"]["balance"] == "ros"
    test_rows = sum(results["test"]["per_class"][c]["support"] for c in results["test"]["per_class"])
    assert test_rows == results["data"]["rows"]["test"]  # test is never re-sampled


def test_balancing_that_removes_a_class_is_a_user_error(nk_context, caplog):
    from nk.fit import check_balanced

    before = np.array(["a"] * 5 + ["b"] * 5 + ["c"] * 2)
    with pytest.raises(UserError, match=r"removed every training row of \['c'\].*c 2→0"):
        check_balanced(nk_context, before, np.array(["a"] * 5 + ["b"] * 2), "speaker")
    with caplog.at_level("INFO", logger=nk_context.log.name):
        check_balanced(nk_context, before, np.array(["a"] * 2 + ["b"] * 2 + ["c"] * 2), "speaker")
    assert "a 5→2, b 5→2, c 2→2" in caplog.text  # the counts are logged


@pytest.mark.filterwarnings("error")  # scikit-learn would warn about folds lacking a class
def test_svm_calibration_folds_follow_the_smallest_class():
    from nk.builtin.learners import svm

    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (20, 3)), rng.normal(4, 1, (20, 3)), rng.normal(-4, 1, (3, 3))])
    y = np.array(["a"] * 20 + ["b"] * 20 + ["c"] * 3)
    model = svm(C=1.0, kernel="rbf", gamma=None, degree=3, class_weight=False).fit(X, y)
    assert model.cv is None  # the parameter is unchanged; 3 folds were used
    assert len(model.calibrated_classifiers_) == 1 and model.predict_proba(X).shape == (43, 3)
    assert (model.predict(X) == y).mean() > 0.9
    with pytest.raises(UserError, match=r"at least 2 training rows per class; \['c'\] has 1"):
        svm(C=1.0, kernel="rbf", gamma=None, degree=3, class_weight=False).fit(X[:41], y[:41])


def test_balancing_a_regression_target_is_a_user_error(run):
    with pytest.raises(UserError, match="needs a classification target"):
        run(["feats=mfcc", "target=age", "model=svr", "balance=smote"])


def test_feature_selection_by_name_and_k_best(run):
    results = run(["feats=mfcc", "select.columns=[mfcc*_mean]", "select.exclude=[mfcc.delta*]"])
    assert results["preprocessing"]["selected_features"] == 13
    results = run(["feats=mfcc", "select.k_best=5", "select.score=mutual_info"])
    assert results["preprocessing"]["selected_features"] == 5 and results["n_model_inputs"] == 5


def test_feature_selection_matching_nothing_is_a_user_error(run):
    with pytest.raises(UserError, match=r"select.columns=\['nothing\*'\] matches no feature"):
        run(["feats=mfcc", "select.columns=[nothing*]"])


def test_grid_search_chooses_on_dev_never_on_test(run):
    results = run(["feats=mfcc", "model=knn", "search.params={n_neighbors: [1, 5, 15]}",
                   "split.dev_size=0.25", "split.test_size=0.25"])
    search = results["search"]
    assert [t["params"]["n_neighbors"] for t in search["trials"]] == [1, 5, 15]
    best = max(search["trials"], key=lambda t: t["dev_score"])
    assert search["chosen"] == {"n_neighbors": best["params"]["n_neighbors"]}
    assert results["model_selection"].startswith("dev: grid search over n_neighbors")


def test_grid_search_without_dev_is_a_user_error(run):
    with pytest.raises(UserError, match="needs a dev split"):
        run(["feats=mfcc", "model=knn", "search.params={n_neighbors: [1, 5]}"])


def test_grid_search_values_are_validated(run):
    with pytest.raises(UserError, match="'n_neighbors' parameter of model 'knn'"):
        run(["feats=mfcc", "model=knn", "search.params={n_neighbors: [0, 5]}", "split.dev_size=0.25"])


def test_grid_search_in_cross_validation(run):
    results = run(["feats=mfcc", "model=knn", "search.params={n_neighbors: [1, 9]}",
                   "split.method=lsgo", "split.n_folds=3", "split.dev_size=0.2"])
    assert len(results["search"]["trials"]) == 3  # one per fold, each chosen on that fold's dev
