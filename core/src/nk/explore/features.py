"""Feature analysis of ``nk explore``: importance (permutation, tree, linear, SHAP) and per-class
effect sizes of every feature.

The permutation importance uses the run's configured model, fitted on the training rows of the
configured (speaker-disjoint by default) split and scored on the held-out test rows: the drop
of the primary metric (UAR, or CCC for regression) when one feature's test values are shuffled.
Tree, linear and SHAP importances come from models fitted on the same training rows.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from nk.config import as_enum
from nk.explore import stats
from nk.explore.config import Importance, RankBy


@dataclass
class ImportanceResult:
    table: pd.DataFrame  # index: feature; a column per method (+ rank columns, mean_rank)
    notes: list[str] = field(default_factory=list)
    baseline: dict[str, Any] = field(default_factory=dict)


def _score(task: str, truth: np.ndarray, pred: np.ndarray) -> float:
    """UAR (over the classes present in ``truth``) or CCC, as :mod:`nk.metrics` computes them
    (without its input checks: the permutation importance calls this thousands of times)."""
    from nk.metrics import ccc_pcc, uar_from_counts

    if task == "classification":
        classes, truth_idx = np.unique(truth, return_inverse=True)
        hit = (np.asarray(truth) == np.asarray(pred)).astype(float)
        correct = np.bincount(truth_idx, weights=hit, minlength=len(classes))
        total = np.bincount(truth_idx, minlength=len(classes)).astype(float)
        return float(uar_from_counts(correct, total))
    return ccc_pcc(np.asarray(truth, dtype=float), np.asarray(pred, dtype=float))[0]


def permutation_importance(model: Any, X_test: np.ndarray, y_test: np.ndarray, task: str, n_repeats: int,
                           seed: int, *, max_values: int = 4_000_000) -> tuple[np.ndarray, np.ndarray, float]:
    """(mean drop, sd of the drop, baseline score) per column of X_test.

    Shuffled copies of the test rows (one per feature and repeat) are stacked and predicted
    together, up to ``max_values`` matrix cells per call (32 MB): models with per-call overhead
    (calibration, input checks) then cost little more than their arithmetic.
    """
    rng = np.random.default_rng(seed)
    baseline = _score(task, y_test, model.predict(X_test))
    n, d = X_test.shape
    units = [(j, r) for j in range(d) for r in range(n_repeats)]  # one shuffled copy each
    per_call = max(1, max_values // max(1, n * d))
    drops = np.zeros((d, n_repeats))
    for first in range(0, len(units), per_call):
        chunk = units[first:first + per_call]
        stacked = np.tile(X_test, (len(chunk), 1))
        for k, (j, _) in enumerate(chunk):
            stacked[k * n:(k + 1) * n, j] = X_test[rng.permutation(n), j]
        pred = model.predict(stacked)
        for k, (j, r) in enumerate(chunk):
            drops[j, r] = baseline - _score(task, y_test, pred[k * n:(k + 1) * n])
    sds = drops.std(axis=1, ddof=1) if n_repeats > 1 else np.zeros(d)
    return drops.mean(axis=1), sds, baseline


def tree_model(names: Sequence[str], task: str, registry: Any, seed: int) -> tuple[str, Any]:
    """(name, unfitted estimator) of the first learner in ``names`` (``explore.tree_model``) that
    does ``task``, with 1 thread, at most 100 trees/rounds (an importance estimate, not a tuned
    model) and the seed. Its fitted model must have ``feature_importances_``; SHAP explains
    ``model.shap_model()`` when the learner has that method, else the model itself."""
    from nk.errors import UserError
    from nk.fit import model_task

    known = set(registry.names("model"))
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UserError(f"explore.tree_model names {unknown}, which {'is' if len(unknown) == 1 else 'are'} "
                        "not a model", where="config key explore.tree_model",
                        allowed=", ".join(sorted(known)),
                        todo="name learners whose fitted models have feature_importances_ (install the "
                        "plugin that provides one)")
    for name in names:
        comp = registry.get("model", name)
        params = comp.defaults()
        for key, limit in (("n_jobs", 1), ("n_estimators", 100)):
            if key in params and params[key] is not None:
                params[key] = limit if key == "n_jobs" else min(int(params[key]), limit)
        model = comp.build(params)
        if model_task(model) not in (task, None):
            continue
        if "random_state" in model.get_params():
            model.set_params(random_state=seed)
        return name, model
    raise UserError(f"explore.tree_model={list(names)} has no learner that does {task}",
                    where="config key explore.tree_model",
                    todo=f"add a {task} learner with feature_importances_ (e.g. extra_trees_reg for "
                    "regression, extra_trees for classification)")


def _tree_importance(name: str, model: Any, n_features: int) -> np.ndarray:
    values = getattr(model, "feature_importances_", None)
    if values is None:
        from nk.errors import UserError

        raise UserError(f"The fitted model of {name!r} has no feature_importances_",
                        where="config key explore.tree_model",
                        todo="choose a tree learner (extra_trees, random_forest, or a plugin's)")
    values = np.asarray(values, dtype=float)
    if values.shape != (n_features,):
        from nk.errors import ContractError

        raise ContractError(f"model {name!r}: feature_importances_ has shape {values.shape}, "
                            f"expected ({n_features},)")
    return values


def _shap(model: Any, X_test: np.ndarray) -> np.ndarray:
    import shap

    target = model.shap_model() if callable(getattr(model, "shap_model", None)) else model
    explainer = shap.TreeExplainer(target)
    values = explainer.shap_values(X_test, check_additivity=False)
    values = np.asarray(values)
    if values.ndim == 3:  # (rows, features, classes) or (classes, rows, features)
        axis_features = 1 if values.shape[1] == X_test.shape[1] else 2
        values = np.moveaxis(values, axis_features, -1).reshape(-1, X_test.shape[1])
    return np.abs(values).mean(axis=0)


def _linear(task: str, X_train: np.ndarray, y_train: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.preprocessing import StandardScaler

    Z = StandardScaler().fit_transform(X_train)
    if task == "classification":
        from sklearn.linear_model import LogisticRegression

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = LogisticRegression(max_iter=2000, C=1.0, random_state=seed).fit(Z, y_train)
        return np.abs(model.coef_).mean(axis=0)
    from sklearn.linear_model import Ridge

    return np.abs(Ridge(alpha=1.0).fit(Z, y_train).coef_)


def importance(
    *, features: pd.DataFrame, y: np.ndarray, split: np.ndarray, speakers: np.ndarray | None, task: str,
    methods: Sequence[Importance], model_comp: Any, model_params: dict[str, Any], cfg: Any,
    seed: int, n_repeats: int, tree: tuple[str, Any] | None, rank_by: RankBy, log: Any,
) -> ImportanceResult:
    """Importances of every feature by the chosen methods, ranked. ``tree``: (name, unfitted
    estimator) of the tree importance and SHAP (:func:`tree_model`), needed for those methods."""
    from nk.config import Scaling, SelectScore
    from nk.preprocess import Preprocessor

    notes: list[str] = []
    train = split == "train"
    test = split == "test"
    prep = Preprocessor(scale=as_enum(cfg.scale, Scaling), columns=list(cfg.select.columns),
                        exclude=list(cfg.select.exclude), k_best=None, score=SelectScore.anova, task=task,
                        seed=seed).fit(features[train], y[train])
    X = prep.transform(features, speakers).astype(np.float64)
    names = prep.feature_names()
    table = pd.DataFrame(index=pd.Index(names, name="feature"))
    baseline: dict[str, Any] = {"train_rows": int(train.sum()), "test_rows": int(test.sum())}
    if Importance.permutation in methods:
        model = model_comp.build(model_params)
        params = model.get_params()
        if "random_state" in params and params["random_state"] is None:
            model.set_params(random_state=seed)
        with warnings.catch_warnings():  # small classes: calibration folds warn, the fit is fine
            warnings.simplefilter("ignore", UserWarning)
            model.fit(X[train], y[train])
        mean, sd, base = permutation_importance(model, X[test], y[test], task, n_repeats, seed)
        table["permutation"] = mean
        table["permutation_sd"] = sd
        metric = "UAR" if task == "classification" else "CCC"
        baseline.update(model=model_comp.name, metric=metric, test_score=round(base, 4))
    fitted = None
    if Importance.tree in methods or Importance.shap in methods:
        assert tree is not None, "tree importance and SHAP need a tree model"
        tree_name, fitted = tree
        fitted.fit(X[train], y[train])
        baseline["tree_model"] = tree_name
        if Importance.tree in methods:
            table["tree"] = _tree_importance(tree_name, fitted, X.shape[1])
    if Importance.linear in methods:
        table["linear"] = _linear(task, X[train], y[train], seed)
    if Importance.shap in methods:
        try:
            import shap  # noqa: F401
        except ImportError:
            notes.append("SHAP importance skipped: the shap package is not installed (pip install shap)")
        else:
            assert fitted is not None
            try:
                table["shap"] = _shap(fitted, X[test])
            except Exception as exc:  # shap versions differ in what they accept; it is optional
                notes.append(f"SHAP importance skipped: {type(exc).__name__}: {exc}")
    for note in notes:
        log.info(note)
    methods_run = [m.value for m in Importance if m.value in table.columns]
    for m in methods_run:
        table[f"rank_{m}"] = table[m].rank(ascending=False, method="average")
    if methods_run:
        table["mean_rank"] = table[[f"rank_{m}" for m in methods_run]].mean(axis=1)
    key = rank_by.value
    if key != "mean_rank" and key not in table.columns:
        notes.append(f"explore.rank_by={key} was not computed; ranking by the mean rank instead")
        key = "mean_rank"
    if key in table.columns:
        ascending = key == "mean_rank"
        table = table.sort_values(key, ascending=ascending, kind="stable")
    table.insert(0, "rank", range(1, len(table) + 1))
    baseline["ranked_by"] = key
    return ImportanceResult(table, notes, baseline)


def effects(features: pd.DataFrame, y: pd.Series, task: str) -> pd.DataFrame:
    """Per-feature association with the target (every feature; Holm over all of them).

    Classification: Kruskal–Wallis H, p, ε², η² (and Cohen's d for two classes).
    Regression: Spearman ρ with its CI, and Pearson r.
    """
    rows = []
    if task == "classification":
        classes = sorted(y.astype(str).unique())
        labels = y.astype(str).to_numpy()
        for name in features.columns:
            values = features[name].to_numpy(dtype=float)
            groups = [values[labels == c] for c in classes]
            row: dict[str, Any] = {"feature": name}
            try:
                k = stats.kruskal(groups)
                row.update(H=k.h, p=k.p, epsilon2=k.epsilon2)
            except ValueError:
                row.update(H=np.nan, p=np.nan, epsilon2=0.0)
            row["eta2"] = stats.eta_squared(groups)
            if len(classes) == 2:
                row["cohens_d"] = stats.cohens_d(groups[0], groups[1])
            rows.append(row)
        table = pd.DataFrame(rows)
        table["p_holm"] = stats.holm(table["p"].to_numpy())
        measure = "cohens_d" if len(classes) == 2 else "epsilon2"
        words = [stats.strength("d" if measure == "cohens_d" else "epsilon2", v)[0]
                 for v in table[measure].fillna(0)]
        table["strength"] = words
        table["effect_measure"] = measure
    else:
        target = y.to_numpy(dtype=float)
        for name in features.columns:
            values = features[name].to_numpy(dtype=float)
            row = {"feature": name}
            try:
                sr = stats.spearman(values, target)
                pr = stats.pearson(values, target)
                row.update(rho=sr.r, p=sr.p, rho_ci_low=sr.ci[0], rho_ci_high=sr.ci[1], pearson_r=pr.r,
                           pearson_p=pr.p)
            except ValueError:
                row.update(rho=0.0, p=np.nan, rho_ci_low=np.nan, rho_ci_high=np.nan, pearson_r=np.nan,
                           pearson_p=np.nan)
            rows.append(row)
        table = pd.DataFrame(rows)
        table["p_holm"] = stats.holm(table["p"].to_numpy())
        table["strength"] = [stats.strength("rho", v)[0] for v in table["rho"].fillna(0)]
        table["effect_measure"] = "rho"
    return table.set_index("feature")


