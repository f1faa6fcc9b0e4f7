"""nk-xgboost: gradient-boosted trees (XGBoost, CPU build) as nk learners ``xgb`` and ``xgr``.

Both are scikit-learn estimators (:mod:`nk_xgboost.estimators`) whose ``fit`` takes the dev
split: nk passes it, and they stop adding trees when the dev loss has not improved for
``early_stopping_rounds`` rounds. This entry module imports neither xgboost nor scikit-learn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nk.hookspecs import hookimpl
from nk.registry import Register, param

_HELP = {
    "n_estimators": "boosting rounds (trees per class); the most trained when early stopping is on",
    "max_depth": "maximum depth of each tree",
    "learning_rate": "shrinkage of each tree's contribution (XGBoost's eta)",
    "subsample": "share of training rows sampled for each tree",
    "colsample_bytree": "share of features sampled for each tree",
    "min_child_weight": "minimum sum of instance weight (hessian) in a leaf",
    "reg_lambda": "L2 penalty on leaf weights",
    "reg_alpha": "L1 penalty on leaf weights",
    "early_stopping_rounds": "stop when the dev loss has not improved for this many rounds and keep "
                             "the best round's trees (needs split.dev_size > 0); None: off",
    "n_jobs": "threads for training and prediction; -1 or 0: every core",
}


@dataclass
class XgrConfig:
    n_estimators: int = param(300, ge=1, help=_HELP["n_estimators"])
    max_depth: int = param(4, ge=1, help=_HELP["max_depth"])
    learning_rate: float = param(0.1, gt=0, le=1, help=_HELP["learning_rate"])
    subsample: float = param(0.8, gt=0, le=1, help=_HELP["subsample"])
    colsample_bytree: float = param(0.8, gt=0, le=1, help=_HELP["colsample_bytree"])
    min_child_weight: float = param(1.0, ge=0, help=_HELP["min_child_weight"])
    reg_lambda: float = param(1.0, ge=0, help=_HELP["reg_lambda"])
    reg_alpha: float = param(0.0, ge=0, help=_HELP["reg_alpha"])
    early_stopping_rounds: int | None = param(20, ge=1, help=_HELP["early_stopping_rounds"])
    n_jobs: int = param(-1, ge=-1, help=_HELP["n_jobs"])


@dataclass
class XgbConfig(XgrConfig):
    """The regressor's parameters plus class weighting."""

    class_weight: bool = param(False, help="weight classes inversely to their frequency (in the "
                                           "training rows and in the dev loss)")


def xgb(*, n_estimators: int, max_depth: int, learning_rate: float, subsample: float,
        colsample_bytree: float, min_child_weight: float, reg_lambda: float, reg_alpha: float,
        early_stopping_rounds: int | None, class_weight: bool, n_jobs: int) -> Any:
    """An :class:`~nk_xgboost.estimators.XgbClassifier`; nk sets ``random_state`` to the run's seed."""
    from nk_xgboost.estimators import XgbClassifier

    return XgbClassifier(
        n_estimators=n_estimators, max_depth=max_depth, learning_rate=learning_rate,
        subsample=subsample, colsample_bytree=colsample_bytree, min_child_weight=min_child_weight,
        reg_lambda=reg_lambda, reg_alpha=reg_alpha, early_stopping_rounds=early_stopping_rounds,
        class_weight=class_weight, n_jobs=n_jobs,
    )


def xgr(*, n_estimators: int, max_depth: int, learning_rate: float, subsample: float,
        colsample_bytree: float, min_child_weight: float, reg_lambda: float, reg_alpha: float,
        early_stopping_rounds: int | None, n_jobs: int) -> Any:
    """An :class:`~nk_xgboost.estimators.XgbRegressor`; nk sets ``random_state`` to the run's seed."""
    from nk_xgboost.estimators import XgbRegressor

    return XgbRegressor(
        n_estimators=n_estimators, max_depth=max_depth, learning_rate=learning_rate,
        subsample=subsample, colsample_bytree=colsample_bytree, min_child_weight=min_child_weight,
        reg_lambda=reg_lambda, reg_alpha=reg_alpha, early_stopping_rounds=early_stopping_rounds,
        n_jobs=n_jobs,
    )


@hookimpl
def nk_register_learners(register: Register) -> None:
    register("xgb", xgb, XgbConfig,
             description="gradient-boosted trees classifier (XGBoost), early stopping on dev")
    register("xgr", xgr, XgrConfig,
             description="gradient-boosted trees regressor (XGBoost), early stopping on dev")
