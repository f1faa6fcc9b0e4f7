"""nk-xgboost: contract suites, early stopping on dev, labels, class weights, determinism, a run."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from rich.console import Console
from sklearn.utils.estimator_checks import parametrize_with_checks

from nk.testing import LearnerContract
from nk_xgboost.estimators import XgbClassifier, XgbRegressor


class TestXgb(LearnerContract):
    name = "xgb"


class TestXgr(LearnerContract):
    name = "xgr"


def _noisy(n: int, seed: int, classes: tuple[str, ...] = ("neutral", "angry")) -> tuple[np.ndarray, np.ndarray]:
    """Labels weakly tied to one feature: boosting overfits long before 500 rounds."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 8)).astype(np.float32)
    score = X[:, 0] + 1.5 * rng.standard_normal(n)
    bins = np.quantile(score, np.linspace(0, 1, len(classes) + 1)[1:-1])
    return X, np.asarray(classes)[np.digitize(score, bins)]


def test_registered_learners_build_the_estimators(nk_pm):
    for name, cls in (("xgb", XgbClassifier), ("xgr", XgbRegressor)):
        comp = nk_pm.registry.get("model", name)
        model = comp.build(comp.defaults())
        assert type(model) is cls and model.random_state is None  # nk seeds it per run
        assert model.get_params()["early_stopping_rounds"] == 20


def test_early_stopping_stops_on_dev():
    X, y = _noisy(300, 0)
    X_dev, y_dev = _noisy(100, 1)
    model = XgbClassifier(n_estimators=500, learning_rate=0.3, early_stopping_rounds=10, random_state=0)
    model.fit(X, y, X_dev=X_dev, y_dev=y_dev)
    assert model.best_iteration_ < model.n_estimators - 1
    # it stopped 10 rounds after the best one, and kept the trees up to the best one
    assert model.n_rounds_trained_ == model.best_iteration_ + 11 < model.n_estimators
    assert model.booster_.num_boosted_rounds() == model.best_iteration_ + 1
    curve = model.evals_result_["logloss"]
    assert len(curve) == model.n_rounds_trained_
    assert model.best_score_ == pytest.approx(min(curve))


def test_regressor_stops_early_on_dev():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 6)).astype(np.float32)
    y = X[:, 0] + 2.0 * rng.standard_normal(400)
    model = XgbRegressor(n_estimators=500, learning_rate=0.3, early_stopping_rounds=10, random_state=0)
    model.fit(X[:300], y[:300], X_dev=X[300:], y_dev=y[300:])
    assert model.n_rounds_trained_ < 500 and model.best_iteration_ == model.n_rounds_trained_ - 11
    assert "rmse" in model.evals_result_


def test_without_dev_every_round_is_trained():
    X, y = _noisy(200, 0)
    model = XgbClassifier(n_estimators=40, early_stopping_rounds=5, random_state=0).fit(X, y)
    assert model.n_rounds_trained_ == 40 and model.best_iteration_ == 39
    assert model.evals_result_ == {} and model.best_score_ is None


def test_dev_without_early_stopping_is_only_monitored():
    X, y = _noisy(200, 0)
    X_dev, y_dev = _noisy(80, 1)
    model = XgbClassifier(n_estimators=60, early_stopping_rounds=None, random_state=0)
    model.fit(X, y, X_dev=X_dev, y_dev=y_dev)
    assert model.n_rounds_trained_ == 60 and len(model.evals_result_["logloss"]) == 60


def test_string_labels_round_trip():
    X, y = _noisy(240, 0, classes=("sad", "happy", "angry"))
    model = XgbClassifier(n_estimators=30, random_state=0).fit(X, y)
    assert list(model.classes_) == ["angry", "happy", "sad"]
    pred = model.predict(X)
    assert pred.dtype == y.dtype and set(pred) <= set(y)
    proba = model.predict_proba(X)
    assert proba.shape == (240, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(model.classes_[proba.argmax(axis=1)], pred)
    assert (pred == y).mean() > 0.5  # chance is 1/3


def test_dev_labels_unseen_in_training_are_refused():
    X, y = _noisy(100, 0)
    with pytest.raises(ValueError, match="labels that y lacks"):
        XgbClassifier(n_estimators=5).fit(X, y, X_dev=X[:4], y_dev=["neutral", "bored", "angry", "angry"])


def test_class_weight_changes_predictions_on_imbalanced_data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 5)).astype(np.float32)
    y = np.where(X[:, 0] + 1.2 * rng.standard_normal(400) > 1.6, "rare", "common")
    assert (y == "rare").mean() < 0.15
    kwargs = {"n_estimators": 50, "max_depth": 2, "random_state": 0}
    plain = XgbClassifier(**kwargs).fit(X, y)
    balanced = XgbClassifier(class_weight=True, **kwargs).fit(X, y)
    X_new = rng.standard_normal((400, 5)).astype(np.float32)
    assert (balanced.predict(X_new) == "rare").sum() > 2 * (plain.predict(X_new) == "rare").sum()
    assert balanced.predict_proba(X_new)[:, 1].mean() > plain.predict_proba(X_new)[:, 1].mean()


def test_fixed_random_state_is_deterministic_and_seed_matters():
    X, y = _noisy(300, 0)
    X_dev, y_dev = _noisy(100, 1)

    def proba(seed: int) -> np.ndarray:
        model = XgbClassifier(n_estimators=60, subsample=0.7, colsample_bytree=0.6, n_jobs=2, random_state=seed)
        return model.fit(X, y, X_dev=X_dev, y_dev=y_dev).predict_proba(X_dev)

    np.testing.assert_array_equal(proba(3), proba(3))
    assert not np.array_equal(proba(3), proba(4))


def test_fitted_model_pickles_and_missing_values_are_allowed():
    X, y = _noisy(200, 0)
    X[::7, 1] = np.nan
    model = XgbClassifier(n_estimators=20, random_state=0).fit(X, y)
    clone = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(clone.predict_proba(X), model.predict_proba(X))


def test_predict_checks_the_number_of_features():
    X, y = _noisy(100, 0)
    model = XgbClassifier(n_estimators=5).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        model.predict(X[:, :3])


def test_scikit_learn_tools_accept_the_estimators():
    from sklearn.base import clone, is_classifier, is_regressor
    from sklearn.model_selection import cross_val_score

    X, y = _noisy(120, 0)
    assert is_classifier(XgbClassifier()) and is_regressor(XgbRegressor())
    scores = cross_val_score(XgbClassifier(n_estimators=20, random_state=0), X, y, cv=3)
    assert scores.shape == (3,)
    assert clone(XgbClassifier(max_depth=2)).get_params()["max_depth"] == 2


def test_classifier_parameters_are_the_regressors_plus_class_weight():
    import inspect

    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV

    shared = set(XgbRegressor().get_params())
    assert set(XgbClassifier().get_params()) == shared | {"class_weight"}
    signature = inspect.signature(XgbClassifier.__init__).parameters
    assert {name: p.default for name, p in signature.items() if name != "self"} == {
        **XgbRegressor().get_params(), "class_weight": False}
    model = XgbClassifier(max_depth=2, class_weight=True)
    assert repr(model) == "XgbClassifier(class_weight=True, max_depth=2)"  # only what differs
    copy = clone(model.set_params(reg_alpha=0.5, class_weight=False))
    assert copy.get_params() == {**XgbClassifier().get_params(), "max_depth": 2, "reg_alpha": 0.5}
    with pytest.raises(TypeError, match="max_dept"):
        XgbClassifier(max_dept=2)
    with pytest.raises(ValueError, match="max_dept"):
        XgbClassifier().set_params(max_dept=2)
    X, y = _noisy(120, 0)
    search = GridSearchCV(XgbClassifier(n_estimators=5, n_jobs=1, random_state=0),
                          {"max_depth": [1, 2], "class_weight": [False, True]}, cv=2).fit(X, y)
    assert set(search.best_params_) == {"max_depth", "class_weight"}
    assert search.best_estimator_.get_params()["max_depth"] == search.best_params_["max_depth"]


def _expected_failures(estimator):
    if isinstance(estimator, XgbClassifier):
        # class_weight is a switch (balanced or not), as in nk's other learners, not a dict
        return {"check_class_weight_classifiers": "class_weight is a bool, not a dict"}
    return {}


@parametrize_with_checks(
    [XgbClassifier(n_estimators=10, subsample=1.0, colsample_bytree=1.0, n_jobs=1),
     XgbRegressor(n_estimators=10, subsample=1.0, colsample_bytree=1.0, n_jobs=1)],
    expected_failed_checks=_expected_failures,
)
def test_scikit_learn_estimator_checks(estimator, check):
    """scikit-learn's own API checks (row/column subsampling off: sample-weight equivalence
    holds only without random sampling)."""
    check(estimator)


@pytest.mark.parametrize(("model", "extra", "metric"), [("xgb", [], "mlogloss"), ("xgr", ["target=age"], "rmse")])
def test_experiment_selects_on_dev(nk_compose, nk_pm, tmp_path, model, extra, metric):
    from nk.pipeline import run_experiment
    from nk.results import load_model

    cfg = nk_compose(["feats=mfcc", f"model={model}", "data.demo.n_utterances=2", "n_jobs=1",
                      "split.dev_size=0.25", "split.test_size=0.25", *extra])
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    results = run_experiment(cfg, nk_pm, run_dir, Console(quiet=True))
    assert results["model_selection"].split(":")[0] == "dev" and results["dev"] is not None  # "dev: <why>"
    assert results["components"]["model"] == [model]
    fitted = load_model(run_dir / "model")["model"]
    assert fitted.random_state == cfg.seed  # the pipeline seeded it
    assert fitted.evals_result_[metric]  # it saw the dev split
    assert 0 <= fitted.best_iteration_ < fitted.n_rounds_trained_ <= fitted.n_estimators


def test_explore_finds_the_tree_model_through_the_registry(nk_pm):
    """explore.tree_model=[xgb, xgr]: the first learner doing the task, with generic limits; its
    gain importance comes through feature_importances_ (core names no component)."""
    from nk.explore.features import _shap, _tree_importance, tree_model

    name, model = tree_model(["xgb", "xgr"], "regression", nk_pm.registry, 7)
    assert name == "xgr" and model.n_jobs == 1 and model.n_estimators == 100 and model.random_state == 7
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    y = 3 * X[:, 1] + rng.normal(scale=0.1, size=80)
    importances = _tree_importance(name, model.fit(X, y), 3)
    assert importances.argmax() == 1 and importances.sum() == pytest.approx(1.0)
    assert model.shap_model() is model.booster_
    pytest.importorskip("shap")
    assert _shap(model, X[:10]).argmax() == 1


@pytest.mark.parametrize(("model", "extra"), [("xgb", []), ("xgr", ["target=age"])])
def test_saved_in_xgboost_json_and_reloaded_exactly(nk_compose, nk_pm, tmp_path, model, extra):
    """The learner's save_model/load_model hook: XGBoost's JSON, no skops file, no pickle;
    nk.inference.load_run reproduces the run's predictions."""
    import pandas as pd

    from nk.inference import load_run
    from nk.pipeline import run_experiment
    from nk.plugins import PluginManager

    cfg = nk_compose(["feats=mfcc", f"model={model}", "data.demo.n_utterances=2", "n_jobs=1",
                      "split.dev_size=0.25", "split.test_size=0.25", *extra])
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    run_experiment(cfg, nk_pm, run_dir, Console(quiet=True))
    files = {str(p.relative_to(run_dir / "model")) for p in (run_dir / "model").rglob("*") if p.is_file()}
    assert files == {"learner/booster.json", "learner/estimator.json", "preprocessor.skops", "spec.json",
                     "manifest.json"}
    predictor = load_run(run_dir, pm=PluginManager())
    assert predictor.model.random_state == cfg.seed and predictor.model.best_iteration_ >= 0
    expected = pd.read_csv(run_dir / "predictions.csv", index_col=0)
    got = predictor.predict_files(list(expected.index))
    if model == "xgb":
        assert got["pred"].tolist() == expected["pred"].tolist()
        np.testing.assert_allclose(got.filter(like="proba.").to_numpy(), expected.filter(like="proba.").to_numpy(),
                                   rtol=0, atol=1e-7)
    else:
        np.testing.assert_allclose(got["pred"].to_numpy(), expected["pred"].to_numpy(), rtol=0, atol=1e-6)
