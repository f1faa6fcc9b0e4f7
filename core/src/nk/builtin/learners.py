"""scikit-learn learners: svm, svr, knn, knn_reg, tree, tree_reg, extra_trees, extra_trees_reg,
random_forest, random_forest_reg, log_reg, lin_reg, bayes.

Each learner's parameters are a typed config dataclass; the factory builds the estimator.
Estimators with a ``random_state`` get the run's seed from the pipeline.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from nk.hookspecs import hookimpl
from nk.registry import Register, param


class Kernel(enum.Enum):
    linear = "linear"
    rbf = "rbf"
    poly = "poly"
    sigmoid = "sigmoid"


class Weights(enum.Enum):
    uniform = "uniform"
    distance = "distance"


class Criterion(enum.Enum):
    gini = "gini"
    entropy = "entropy"
    log_loss = "log_loss"


def _weight(balanced: bool) -> str | None:
    return "balanced" if balanced else None


def _gamma(gamma: float | None) -> float | str:
    return "scale" if gamma is None else gamma


@dataclass
class SvmConfig:
    C: float = param(1.0, gt=0, help="inverse regularisation strength")
    kernel: Kernel = param(Kernel.rbf, help="kernel function")
    gamma: float | None = param(None, gt=0, help="kernel coefficient; None: 1/(n_features·var)")
    degree: int = param(3, ge=1, help="degree of the poly kernel")
    class_weight: bool = param(False, help="weight classes inversely to their frequency")


def svm(*, C: float, kernel: Kernel, gamma: float | None, degree: int, class_weight: bool) -> Any:
    from sklearn.svm import SVC

    from nk.builtin._svm import CalibratedSVC

    # labels from the SVM's decision, Platt-calibrated probabilities for predictions.csv
    # (SVC(probability=True) is deprecated)
    svc = SVC(C=C, kernel=Kernel(kernel).value, gamma=_gamma(gamma), degree=degree,
              class_weight=_weight(class_weight))
    return CalibratedSVC(svc, ensemble=False)


@dataclass
class SvrConfig:
    C: float = param(1.0, gt=0, help="inverse regularisation strength")
    kernel: Kernel = param(Kernel.rbf, help="kernel function")
    gamma: float | None = param(None, gt=0, help="kernel coefficient; None: 1/(n_features·var)")
    epsilon: float = param(0.1, ge=0, help="width of the insensitive tube")


def svr(*, C: float, kernel: Kernel, gamma: float | None, epsilon: float) -> Any:
    from sklearn.svm import SVR

    return SVR(C=C, kernel=Kernel(kernel).value, gamma=_gamma(gamma), epsilon=epsilon)


@dataclass
class KnnConfig:
    n_neighbors: int = param(5, ge=1, help="number of neighbours")
    weights: Weights = param(Weights.uniform, help="neighbour weighting")


def knn(*, n_neighbors: int, weights: Weights) -> Any:
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier(n_neighbors=n_neighbors, weights=Weights(weights).value)


def knn_reg(*, n_neighbors: int, weights: Weights) -> Any:
    from sklearn.neighbors import KNeighborsRegressor

    return KNeighborsRegressor(n_neighbors=n_neighbors, weights=Weights(weights).value)


@dataclass
class TreeConfig:
    max_depth: int | None = param(None, ge=1, help="maximum depth; None: unlimited")
    min_samples_leaf: int = param(1, ge=1, help="minimum samples per leaf")
    criterion: Criterion = param(Criterion.gini, help="split quality measure")
    class_weight: bool = param(False, help="weight classes inversely to their frequency")


def tree(*, max_depth: int | None, min_samples_leaf: int, criterion: Criterion, class_weight: bool) -> Any:
    from sklearn.tree import DecisionTreeClassifier

    return DecisionTreeClassifier(max_depth=max_depth, min_samples_leaf=min_samples_leaf,
                                  criterion=Criterion(criterion).value,
                                  class_weight=_weight(class_weight))


@dataclass
class TreeRegConfig:
    max_depth: int | None = param(None, ge=1, help="maximum depth; None: unlimited")
    min_samples_leaf: int = param(1, ge=1, help="minimum samples per leaf")


def tree_reg(*, max_depth: int | None, min_samples_leaf: int) -> Any:
    from sklearn.tree import DecisionTreeRegressor

    return DecisionTreeRegressor(max_depth=max_depth, min_samples_leaf=min_samples_leaf)


@dataclass
class ForestRegConfig:
    n_estimators: int = param(100, ge=1, help="number of trees")
    max_depth: int | None = param(None, ge=1, help="maximum depth; None: unlimited")
    min_samples_leaf: int = param(1, ge=1, help="minimum samples per leaf")
    n_jobs: int = param(1, ge=-1, help="threads for fitting and prediction; -1: every core")


@dataclass
class ForestConfig(ForestRegConfig):
    class_weight: bool = param(False, help="weight classes inversely to their frequency")


def extra_trees(*, n_estimators: int, max_depth: int | None, min_samples_leaf: int, n_jobs: int,
                class_weight: bool) -> Any:
    from sklearn.ensemble import ExtraTreesClassifier

    return ExtraTreesClassifier(n_estimators=n_estimators, max_depth=max_depth, min_samples_leaf=min_samples_leaf,
                                n_jobs=n_jobs, class_weight=_weight(class_weight))


def extra_trees_reg(*, n_estimators: int, max_depth: int | None, min_samples_leaf: int, n_jobs: int) -> Any:
    from sklearn.ensemble import ExtraTreesRegressor

    return ExtraTreesRegressor(n_estimators=n_estimators, max_depth=max_depth, min_samples_leaf=min_samples_leaf,
                               n_jobs=n_jobs)


def random_forest(*, n_estimators: int, max_depth: int | None, min_samples_leaf: int, n_jobs: int,
                  class_weight: bool) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth,
                                  min_samples_leaf=min_samples_leaf, n_jobs=n_jobs,
                                  class_weight=_weight(class_weight))


def random_forest_reg(*, n_estimators: int, max_depth: int | None, min_samples_leaf: int, n_jobs: int) -> Any:
    from sklearn.ensemble import RandomForestRegressor

    return RandomForestRegressor(n_estimators=n_estimators, max_depth=max_depth, min_samples_leaf=min_samples_leaf,
                                 n_jobs=n_jobs)


@dataclass
class LogRegConfig:
    C: float = param(1.0, gt=0, help="inverse regularisation strength")
    max_iter: int = param(1000, ge=1, help="maximum solver iterations")
    class_weight: bool = param(False, help="weight classes inversely to their frequency")


def log_reg(*, C: float, max_iter: int, class_weight: bool) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, max_iter=max_iter, class_weight=_weight(class_weight))


@dataclass
class LinRegConfig:
    alpha: float = param(0.0, ge=0, help="L2 penalty; 0: ordinary least squares")


def lin_reg(*, alpha: float) -> Any:
    from sklearn.linear_model import LinearRegression, Ridge

    return Ridge(alpha=alpha) if alpha > 0 else LinearRegression()


@dataclass
class BayesConfig:
    var_smoothing: float = param(1e-9, gt=0, help="variance added for numerical stability")


def bayes(*, var_smoothing: float) -> Any:
    from sklearn.naive_bayes import GaussianNB

    return GaussianNB(var_smoothing=var_smoothing)


@hookimpl
def nk_register_learners(register: Register) -> None:
    register("svm", svm, SvmConfig, description="support vector classifier (scikit-learn SVC)")
    register("svr", svr, SvrConfig, description="support vector regressor (scikit-learn SVR)")
    register("knn", knn, KnnConfig, description="k-nearest-neighbours classifier")
    register("knn_reg", knn_reg, KnnConfig, description="k-nearest-neighbours regressor")
    register("tree", tree, TreeConfig, description="decision tree classifier")
    register("tree_reg", tree_reg, TreeRegConfig, description="decision tree regressor")
    register("extra_trees", extra_trees, ForestConfig, description="extremely randomised trees classifier")
    register("extra_trees_reg", extra_trees_reg, ForestRegConfig, description="extremely randomised trees regressor")
    register("random_forest", random_forest, ForestConfig, description="random forest classifier")
    register("random_forest_reg", random_forest_reg, ForestRegConfig, description="random forest regressor")
    register("log_reg", log_reg, LogRegConfig, description="logistic regression classifier")
    register("lin_reg", lin_reg, LinRegConfig, description="linear (ridge) regression")
    register("bayes", bayes, BayesConfig, description="Gaussian naive Bayes classifier")
