"""Contract suites every component must pass. Subclass one and set ``name`` (and ``params``).

The suites use the fixtures of :mod:`nk.testing.plugin` and build the component through the
registry, exactly as ``nk run`` does, so they test the registration too.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from nk.data import check_corpus, check_index

HEAVY_MODULES = ("torch", "transformers", "opensmile", "tensorflow", "parselmouth", "xgboost")


class _Contract:
    group: ClassVar[str] = ""
    name: ClassVar[str] = ""  # the registered component name
    params: ClassVar[dict[str, Any]] = {}  # overrides of the config defaults
    plugin: ClassVar[object | None] = None  # registered for each test when not installed

    @pytest.fixture(autouse=True)
    def _contract_plugin(self, nk_pm: Any, nk_register_plugin: Any) -> None:
        if self.plugin is not None:
            nk_register_plugin(self.plugin, name=f"contract-{self.name}")

    def component(self, pm: Any) -> Any:
        return pm.registry.get(self.group, self.name)

    def build(self, pm: Any) -> Any:
        comp = self.component(pm)
        return comp.build({**comp.defaults(), **self.params})

    def test_registered_with_description(self, nk_pm: Any) -> None:
        comp = self.component(nk_pm)
        assert comp.description, f"{self.group} {self.name!r} has no description"

    def test_every_parameter_documented(self, nk_pm: Any) -> None:
        undocumented = [p.name for p in self.component(nk_pm).params() if not p.help]
        assert not undocumented, f"parameters without help text: {undocumented}"

    def test_entry_module_imports_nothing_heavy(self, nk_pm: Any) -> None:
        module = self.component(nk_pm).factory.__module__
        code = (f"import sys, {module}; "
                f"print(','.join(m for m in {HEAVY_MODULES!r} if m in sys.modules))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert out.stdout.strip() == "", f"importing {module} imports {out.stdout.strip()}"


class FeaturizerContract(_Contract):
    """Featurizers: vector shape and dtype, names, determinism, picklability."""

    group = "feats"

    @pytest.fixture
    def signal(self) -> np.ndarray:
        t = np.arange(16000) / 16000
        rng = np.random.default_rng(0)
        tone = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 6))
        return (0.2 * tone * np.hanning(len(t)) + 0.005 * rng.standard_normal(len(t))).astype(np.float32)

    def test_extract_matches_feature_names(self, nk_pm: Any, signal: np.ndarray) -> None:
        featurizer = self.build(nk_pm)
        names = list(featurizer.feature_names())
        values = np.asarray(featurizer.extract(signal, 16000))
        assert values.ndim == 1 and len(values) == len(names) > 0
        assert len(set(names)) == len(names), "feature names must be unique"
        assert np.isfinite(values).all()

    def test_extract_is_deterministic(self, nk_pm: Any, signal: np.ndarray) -> None:
        featurizer = self.build(nk_pm)
        np.testing.assert_array_equal(featurizer.extract(signal, 16000), featurizer.extract(signal, 16000))

    def test_cache_dependencies_are_installed(self, nk_pm: Any) -> None:
        from nk.featurize import library_versions

        # raises a UserError naming the missing distribution, as `nk run` would
        library_versions(self.build(nk_pm), self.component(nk_pm))

    def test_process_safe_featurizer_pickles(self, nk_pm: Any, signal: np.ndarray) -> None:
        featurizer = self.build(nk_pm)
        if not getattr(featurizer, "process_safe", False):
            pytest.skip("not process-safe: runs in the main process only")
        prepare = getattr(featurizer, "prepare", None)
        if prepare is not None:  # nk calls it in the parent before pickling to the workers
            assert callable(prepare), "prepare must be a method taking no arguments"
            prepare()
        featurizer.extract(signal, 16000)  # lazily created state must not break pickling
        clone = pickle.loads(pickle.dumps(featurizer))
        np.testing.assert_allclose(clone.extract(signal, 16000), featurizer.extract(signal, 16000))


    batch_tolerance: ClassVar[float] = 1e-4  # relative: batched vs per-file values

    def test_batched_values_equal_per_file_values(self, nk_pm: Any, signal: np.ndarray) -> None:
        featurizer = self.build(nk_pm)
        if not callable(getattr(featurizer, "extract_batch", None)):
            pytest.skip("no extract_batch: nk extracts one file at a time")
        signals = [signal, signal[: len(signal) // 2].copy(), (0.5 * signal).astype(np.float32)]
        batched = featurizer.extract_batch(signals, 16000)
        assert len(batched) == len(signals), "extract_batch must return one vector per signal"
        for one, many in zip(signals, batched, strict=True):
            expected = np.asarray(featurizer.extract(one, 16000), dtype=np.float64)
            np.testing.assert_allclose(np.asarray(many, dtype=np.float64), expected,
                                       rtol=self.batch_tolerance, atol=self.batch_tolerance)
        assert float(getattr(featurizer, "batch_seconds", 1.0)) > 0, "batch_seconds must be positive"

    def test_view_selects_from_the_stored_vector(self, nk_pm: Any, signal: np.ndarray) -> None:
        featurizer = self.build(nk_pm)
        views = tuple(getattr(featurizer, "view_params", ()))
        if not views:
            pytest.skip("no view_params: the stored vector is the feature vector")
        comp = self.component(nk_pm)
        assert set(views) <= {p.name for p in comp.params()}, "view_params must name parameters"
        names = list(featurizer.feature_names())
        stored = np.vstack([featurizer.extract(signal, 16000), featurizer.extract(0.5 * signal, 16000)])
        values, view_names = featurizer.view(stored.astype(np.float32), names)
        assert np.asarray(values).shape == (2, len(view_names)) and len(view_names) > 0
        assert len(set(view_names)) == len(view_names), "view feature names must be unique"


class LearnerContract(_Contract):
    """Learners: scikit-learn API (clone, get/set_params, fit returns self, predict shape)."""

    group = "model"

    def _data(self, learner: Any) -> tuple[np.ndarray, np.ndarray]:
        from sklearn.base import is_regressor

        rng = np.random.default_rng(0)
        X = rng.standard_normal((60, 5)).astype(np.float32)
        if is_regressor(learner):
            return X, X[:, 0] * 2 + rng.standard_normal(60) * 0.1
        return X, np.where(X[:, 0] > 0, "a", "b")

    def test_is_classifier_or_regressor(self, nk_pm: Any) -> None:
        from sklearn.base import is_classifier, is_regressor

        learner = self.build(nk_pm)
        assert is_classifier(learner) or is_regressor(learner)

    def test_clone_and_params_roundtrip(self, nk_pm: Any) -> None:
        from sklearn.base import clone

        learner = self.build(nk_pm)
        params = learner.get_params()
        assert clone(learner).get_params().keys() == params.keys()
        assert learner.set_params(**params) is learner

    def test_fit_returns_self_and_predicts(self, nk_pm: Any) -> None:
        learner = self.build(nk_pm)
        X, y = self._data(learner)
        assert learner.fit(X, y) is learner
        pred = np.asarray(learner.predict(X))
        assert pred.shape == (len(X),)
        if hasattr(learner, "predict_proba") and hasattr(learner, "classes_"):
            proba = learner.predict_proba(X)
            np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)

    def test_learns_something(self, nk_pm: Any) -> None:
        from sklearn.base import is_classifier

        learner = self.build(nk_pm)
        X, y = self._data(learner)
        learner.fit(X, y)
        pred = np.asarray(learner.predict(X))
        if is_classifier(learner):
            assert (pred == y).mean() > 0.7
        else:
            assert np.corrcoef(pred.astype(float), y)[0, 1] > 0.7


class LoaderContract(_Contract):
    """Loaders: the corpus frame follows the data contract and holds the default target."""

    group = "data"

    def test_load_follows_contract(self, nk_pm: Any, nk_context: Any) -> None:
        corpus = self.build(nk_pm).load(nk_context)
        check_corpus(corpus.frame, f"data {self.name!r}", target=corpus.default_target)
        files = corpus.frame.index.get_level_values("file")
        assert all(Path(f).is_absolute() for f in files[:50])


class SegmenterContract(_Contract):
    """Segmenters: segmented index with timedelta start/end inside each file."""

    group = "segment"

    def test_segment_follows_contract(self, nk_pm: Any, nk_context: Any, tiny_corpus: pd.DataFrame) -> None:
        out = self.build(nk_pm).segment(tiny_corpus, nk_context)
        check_index(out.index, f"segment {self.name!r}")
        assert isinstance(out.index, pd.MultiIndex)
        assert set(out.index.get_level_values("file")) <= set(tiny_corpus.index)


class AugmenterContract(_Contract):
    """Augmenters: new rows with new files and the input's columns."""

    group = "augment"

    def test_augment_follows_contract(self, nk_pm: Any, nk_context: Any, tiny_corpus: pd.DataFrame) -> None:
        out = self.build(nk_pm).augment(tiny_corpus, nk_context)
        check_corpus(out, f"augment {self.name!r}")
        assert not out.index.isin(tiny_corpus.index).any()
        assert set(tiny_corpus.columns) <= set(out.columns)


class ReporterContract(_Contract):
    """Reporters: write existing files inside the run folder."""

    group = "report"

    def test_report_writes_files(self, nk_pm: Any, nk_context: Any) -> None:
        from nk import metrics as evaluate

        truth = ["a", "b", "a", "b"]
        pred = pd.DataFrame({"truth": truth, "pred": ["a", "b", "b", "b"]},
                            index=pd.Index([f"/x/{i}.wav" for i in range(4)], name="file"))
        metrics = evaluate.classification_metrics(pred["truth"], pred["pred"])
        paths = self.build(nk_pm).report(
            {"predictions": pred, "metrics": metrics, "summary": "UAR 0.75", "results": {}}, nk_context)
        for path in paths:
            assert Path(path).exists() and Path(path).resolve().is_relative_to(nk_context.run_dir.resolve())


class PredictorContract(_Contract):
    """Predictors: new columns for every input row, index unchanged, no input column replaced."""

    group = "predict"

    def test_predict_follows_contract(self, nk_pm: Any, nk_context: Any, tiny_corpus: pd.DataFrame) -> None:
        out = self.build(nk_pm).predict(tiny_corpus, nk_context)
        assert isinstance(out, pd.DataFrame)
        assert out.index.equals(tiny_corpus.index), "a predictor must return one row per input row"
        assert len(out.columns) > 0, "a predictor must return at least one column"


class EnsemblerContract(_Contract):
    """Ensemblers: combine prediction frames of several runs into one on the same rows."""

    group = "ensemble"

    @pytest.fixture
    def predictions(self) -> list[pd.DataFrame]:
        index = pd.Index([f"/x/{i}.wav" for i in range(6)], name="file")
        truth = ["a", "b", "a", "b", "a", "b"]
        rng = np.random.default_rng(0)
        out = []
        for _ in range(3):
            p_a = rng.uniform(0, 1, len(index))
            out.append(pd.DataFrame({"truth": truth, "pred": np.where(p_a > 0.5, "a", "b"),
                                     "proba.a": p_a, "proba.b": 1 - p_a}, index=index))
        return out

    def test_combine_follows_contract(self, nk_pm: Any, nk_context: Any,
                                      predictions: list[pd.DataFrame]) -> None:
        out = self.build(nk_pm).combine(predictions, nk_context)
        assert out.index.equals(predictions[0].index)
        assert {"truth", "pred"} <= set(out.columns)
        assert set(out["pred"]) <= {"a", "b"}


class DatasetContract(_Contract):
    """Dataset recipes (``nk data prepare NAME``): registered, documented, light to import."""

    group = "dataset"


CONTRACTS: dict[str, type[_Contract]] = {
    cls.__name__: cls for cls in (
        FeaturizerContract, LearnerContract, LoaderContract, SegmenterContract, AugmenterContract,
        ReporterContract, PredictorContract, EnsemblerContract, DatasetContract)
}
"""The suite of each kind, by the name :data:`nk.kinds.KINDS` gives it."""
