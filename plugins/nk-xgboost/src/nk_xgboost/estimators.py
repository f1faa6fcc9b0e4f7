"""Gradient-boosted trees (XGBoost) as scikit-learn estimators with dev-set early stopping.

Not the entry module: nk imports it when it builds a learner. ``xgboost`` itself is imported
inside ``fit``, so unpickling a fitted model imports it only when the booster is restored.
"""

from __future__ import annotations

import inspect
import os
from typing import Any, TypeVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.validation import check_is_fitted, validate_data

_Estimator = TypeVar("_Estimator", bound=BaseEstimator)


def _threads(n_jobs: int | None) -> int:
    """XGBoost thread count: ``n_jobs`` > 0 as given; -1, 0 or None: every core."""
    if n_jobs is not None and n_jobs > 0:
        return int(n_jobs)
    return os.cpu_count() or 1


def _seed(random_state: Any) -> int:
    """An int seed for XGBoost; None keeps XGBoost's default (0), so fits stay reproducible."""
    if random_state is None:
        return 0
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    return int(random_state)


def _weights(sample_weight: Any, n: int) -> np.ndarray | None:
    """``sample_weight`` as floats, checked: one non-negative weight per row, not all zero."""
    if sample_weight is None:
        return None
    weight = np.asarray(sample_weight, dtype=np.float64)
    if weight.shape != (n,):
        raise ValueError(f"sample_weight must have shape ({n},), got {weight.shape}")
    if not np.isfinite(weight).all() or (weight < 0).any():
        raise ValueError("sample_weight must be finite and non-negative")
    if not weight.any():
        raise ValueError("sample_weight is zero for every row: nothing to learn from")
    return weight


def _adds_parameters(cls: type[_Estimator]) -> type[_Estimator]:
    """Class decorator for an estimator whose ``__init__(self, *, own..., **params)`` passes
    ``params`` on to its base class: its signature then lists the base's parameters and its own.

    scikit-learn reads an estimator's parameters from its ``__init__`` signature (``get_params``,
    ``set_params``, ``clone``, grid search, ``repr``), so the base's are declared only once.
    """
    init: Any = cls.__init__
    own = inspect.signature(init)
    base = list(inspect.signature(super(cls, cls).__init__).parameters.values())
    added = [p for p in own.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    clash = {p.name for p in base} & {p.name for p in added}
    if clash:
        raise TypeError(f"{cls.__name__} redeclares parameters of its base class: {sorted(clash)}")
    init.__signature__ = own.replace(parameters=[*base, *added])
    return cls


class _XgbBase(BaseEstimator):
    """Shared parameters, training loop and prediction of :class:`XgbClassifier`/:class:`XgbRegressor`."""

    def __init__(
        self,
        *,
        n_estimators: int = 300,
        max_depth: int = 4,
        learning_rate: float = 0.1,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        min_child_weight: float = 1.0,
        reg_lambda: float = 1.0,
        reg_alpha: float = 0.0,
        early_stopping_rounds: int | None = 20,
        n_jobs: int = -1,
        random_state: Any = None,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.min_child_weight = min_child_weight
        self.reg_lambda = reg_lambda
        self.reg_alpha = reg_alpha
        self.early_stopping_rounds = early_stopping_rounds
        self.n_jobs = n_jobs
        self.random_state = random_state

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # XGBoost learns a default direction for missing values
        return tags

    # subclasses: the objective, the dev metric, and y → float labels
    def _objective(self) -> dict[str, Any]:
        raise NotImplementedError

    def _booster_params(self) -> dict[str, Any]:
        return {
            **self._objective(),
            "tree_method": "hist",
            "eta": self.learning_rate,
            "max_depth": self.max_depth,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "min_child_weight": self.min_child_weight,
            "lambda": self.reg_lambda,
            "alpha": self.reg_alpha,
            "nthread": _threads(self.n_jobs),
            "seed": _seed(self.random_state),
            "verbosity": 0,
        }

    def _train(
        self,
        X: np.ndarray,
        label: np.ndarray,
        weight: np.ndarray | None,
        dev: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None,
    ) -> None:
        import xgboost

        if self.n_estimators < 1:
            raise ValueError(f"n_estimators must be >= 1, got {self.n_estimators}")
        params = self._booster_params()
        threads = params["nthread"]
        train = xgboost.DMatrix(X, label=label, weight=weight, nthread=threads)
        evals = []
        if dev is not None:  # the dev split only: nk never passes test data to fit
            X_dev, label_dev, weight_dev = dev
            evals = [(xgboost.DMatrix(X_dev, label=label_dev, weight=weight_dev, nthread=threads), "dev")]
        log: dict[str, Any] = {}
        stopping = self.early_stopping_rounds if dev is not None else None
        booster = xgboost.train(params, train, num_boost_round=int(self.n_estimators), evals=evals,
                                early_stopping_rounds=stopping, evals_result=log, verbose_eval=False)
        rounds = booster.num_boosted_rounds()
        metric = params["eval_metric"]
        curves: dict[str, list[float]] = {name: list(values) for name, values in log.get("dev", {}).items()}
        best_score: float | None = None
        if stopping is not None:
            # keep the trees up to the best dev round: predictions and the saved model use them
            best = int(booster.best_iteration)
            best_score = float(booster.best_score)
            booster = booster[: best + 1]
        else:
            best = rounds - 1
            best_score = curves[metric][-1] if curves else None
        self.evals_result_ = curves  # the dev metric after each round (empty without dev data)
        self.best_iteration_ = best  # 0-based: the model keeps rounds 0..best_iteration_
        self.best_score_ = best_score  # the dev metric at best_iteration_ (None without dev data)
        self.n_rounds_trained_ = rounds
        self.booster_ = booster

    def _raw_predict(self, X: Any) -> np.ndarray:
        import xgboost

        check_is_fitted(self, "booster_")
        X = validate_data(self, X, reset=False, dtype=np.float32, ensure_all_finite="allow-nan")
        return self.booster_.predict(xgboost.DMatrix(X, nthread=_threads(self.n_jobs)))

    # --- what nk asks of a fitted learner beyond scikit-learn's API ---------------------------

    @property
    def feature_importances_(self) -> np.ndarray:
        """Gain importance per input column, summing to 1 (0 for columns no tree splits on)."""
        check_is_fitted(self, "booster_")
        out = np.zeros(int(self.n_features_in_))
        for key, value in self.booster_.get_score(importance_type="gain").items():
            out[int(key.lstrip("f"))] = value
        total = out.sum()
        return out / total if total > 0 else out

    def shap_model(self) -> Any:
        """What SHAP's TreeExplainer explains: the booster."""
        check_is_fitted(self, "booster_")
        return self.booster_

    def save_model(self, folder: Any) -> None:
        """Write the fitted model into ``folder`` as XGBoost's JSON plus a JSON of the estimator's
        fitted attributes: no pickle (nk's model files are loaded without running code)."""
        import json
        from pathlib import Path

        check_is_fitted(self, "booster_")
        folder = Path(folder)
        self.booster_.save_model(str(folder / "booster.json"))
        state: dict[str, Any] = {"n_features_in_": int(self.n_features_in_), "best_iteration_": self.best_iteration_,
                                 "best_score_": self.best_score_, "n_rounds_trained_": self.n_rounds_trained_,
                                 "evals_result_": self.evals_result_}
        classes = getattr(self, "classes_", None)
        if classes is not None:
            state["classes_"] = classes.tolist()
            state["classes_dtype"] = classes.dtype.str if classes.dtype != object else "object"
        (folder / "estimator.json").write_text(json.dumps(state), encoding="utf-8")

    def load_model(self, folder: Any) -> None:
        """Restore what :meth:`save_model` wrote (on an unfitted instance with the same parameters)."""
        import json
        from pathlib import Path

        import xgboost

        folder = Path(folder)
        state = json.loads((folder / "estimator.json").read_text(encoding="utf-8"))
        booster = xgboost.Booster()
        booster.load_model(str(folder / "booster.json"))
        self.booster_ = booster
        for key in ("n_features_in_", "best_iteration_", "best_score_", "n_rounds_trained_", "evals_result_"):
            setattr(self, key, state[key])
        if "classes_" in state:
            from sklearn.preprocessing import LabelEncoder

            dtype = object if state["classes_dtype"] == "object" else np.dtype(state["classes_dtype"])
            self.classes_ = np.asarray(state["classes_"], dtype=dtype)
            self.label_encoder_ = LabelEncoder()
            self.label_encoder_.classes_ = self.classes_

    def _check_dev(self, X_dev: Any, y_dev: Any) -> np.ndarray | None:
        if (X_dev is None) != (y_dev is None):
            raise ValueError("X_dev and y_dev must be given together")
        if X_dev is None:
            return None
        return validate_data(self, X_dev, reset=False, dtype=np.float32, ensure_all_finite="allow-nan")


@_adds_parameters
class XgbClassifier(ClassifierMixin, _XgbBase):
    """XGBoost classifier for any labels (strings included).

    Labels are encoded internally; ``classes_``, ``predict`` and the columns of
    ``predict_proba`` use the original labels. ``fit(X, y, X_dev, y_dev)`` stops early on the
    dev set's log loss when ``early_stopping_rounds`` is set and keeps the trees up to
    ``best_iteration_``; without dev data it trains ``n_estimators`` rounds. With
    ``class_weight=True`` every class weighs the same in training and in the dev loss.
    """

    def __init__(self, *, class_weight: bool = False, **params: Any) -> None:
        super().__init__(**params)
        self.class_weight = class_weight

    def _objective(self) -> dict[str, Any]:
        if len(self.classes_) == 2:
            return {"objective": "binary:logistic", "eval_metric": "logloss"}
        return {"objective": "multi:softprob", "num_class": len(self.classes_), "eval_metric": "mlogloss"}

    def fit(self, X: Any, y: Any, X_dev: Any = None, y_dev: Any = None, *,
            sample_weight: Any = None) -> XgbClassifier:
        from sklearn.preprocessing import LabelEncoder
        from sklearn.utils.multiclass import check_classification_targets

        X, y = validate_data(self, X, y, dtype=np.float32, ensure_all_finite="allow-nan")
        check_classification_targets(y)
        self.label_encoder_ = LabelEncoder().fit(y)
        self.classes_ = self.label_encoder_.classes_
        if len(self.classes_) < 2:
            raise ValueError(f"XgbClassifier needs at least 2 classes in y; got 1 class: {self.classes_[0]!r}")
        codes = self.label_encoder_.transform(y)
        weight = _weights(sample_weight, len(y))
        if self.class_weight:
            # n / (k · count(class)) per row, k the classes present: every class weighs the same
            balanced = compute_sample_weight("balanced", codes)
            weight = balanced if weight is None else weight * balanced
        dev = None
        X_dev = self._check_dev(X_dev, y_dev)
        if X_dev is not None:
            y_dev = np.asarray(y_dev)
            unseen = sorted(set(y_dev.tolist()) - set(self.classes_.tolist()))
            if unseen:
                raise ValueError(f"y_dev holds labels that y lacks: {unseen[:5]}")
            dev_codes = self.label_encoder_.transform(y_dev)
            dev_weight = compute_sample_weight("balanced", dev_codes) if self.class_weight else None
            dev = (X_dev, dev_codes.astype(np.float32), dev_weight)
        self._train(X, codes.astype(np.float32), weight, dev)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``."""
        raw = self._raw_predict(X)
        if raw.ndim == 1:  # binary:logistic gives P(classes_[1])
            raw = np.column_stack([1.0 - raw, raw])
        return raw

    def predict(self, X: Any) -> np.ndarray:
        proba = self.predict_proba(X)  # first: it raises NotFittedError before classes_ exists
        return self.classes_[np.argmax(proba, axis=1)]


class XgbRegressor(RegressorMixin, _XgbBase):
    """XGBoost regressor (squared error); ``fit(X, y, X_dev, y_dev)`` stops early on dev RMSE."""

    def _objective(self) -> dict[str, Any]:
        return {"objective": "reg:squarederror", "eval_metric": "rmse"}

    def fit(self, X: Any, y: Any, X_dev: Any = None, y_dev: Any = None, *,
            sample_weight: Any = None) -> XgbRegressor:
        X, y = validate_data(self, X, y, dtype=np.float32, ensure_all_finite="allow-nan", y_numeric=True)
        weight = _weights(sample_weight, len(y))
        dev = None
        X_dev = self._check_dev(X_dev, y_dev)
        if X_dev is not None:
            dev = (X_dev, np.asarray(y_dev, dtype=np.float64), None)
        self._train(X, np.asarray(y, dtype=np.float64), weight, dev)
        return self

    def predict(self, X: Any) -> np.ndarray:
        return self._raw_predict(X).astype(np.float64)
