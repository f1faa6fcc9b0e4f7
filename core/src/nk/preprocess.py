"""Feature preprocessing, fitted on the training rows only: missing values, feature selection,
scaling, and re-sampling (balancing) of the training set.

Order: impute (with indicator columns) → select by name → scale → k-best → balance → learner.
Speaker-wise scaling is the one step that uses held-out rows: each speaker is normalised with
its own statistics, never with another speaker's or with labels.
"""

from __future__ import annotations

import fnmatch
from typing import Any

import numpy as np
import pandas as pd

from nk.config import Balancing, MissingPolicy, Scaling, SelectScore
from nk.errors import UserError


def _scaler(kind: Scaling, n_rows: int) -> Any:
    """The scikit-learn scaler for ``kind`` (None for ``none``/``speaker``), for ``n_rows`` rows."""
    from sklearn import preprocessing

    factories = {
        Scaling.standard: preprocessing.StandardScaler,
        Scaling.robust: preprocessing.RobustScaler,
        Scaling.minmax: preprocessing.MinMaxScaler,
        Scaling.maxabs: preprocessing.MaxAbsScaler,
        Scaling.power: lambda: preprocessing.PowerTransformer(method="yeo-johnson"),
        # at most one quantile per training row (scikit-learn would lower it with a warning)
        Scaling.quantile: lambda: preprocessing.QuantileTransformer(
            output_distribution="normal", n_quantiles=max(1, min(100, n_rows))),
    }
    return factories[kind]() if kind in factories else None


def sampler(kind: Balancing, seed: int) -> Any:
    """The imbalanced-learn sampler for ``kind`` (None for ``none``)."""
    if kind is Balancing.none:
        return None
    from imblearn import combine, over_sampling, under_sampling

    factories = {
        Balancing.ros: lambda: over_sampling.RandomOverSampler(random_state=seed),
        Balancing.rus: lambda: under_sampling.RandomUnderSampler(random_state=seed),
        Balancing.smote: lambda: over_sampling.SMOTE(random_state=seed),
        Balancing.adasyn: lambda: over_sampling.ADASYN(random_state=seed),
        Balancing.borderline_smote: lambda: over_sampling.BorderlineSMOTE(random_state=seed),
        Balancing.svm_smote: lambda: over_sampling.SVMSMOTE(random_state=seed),
        Balancing.smoteenn: lambda: combine.SMOTEENN(random_state=seed),
        Balancing.smotetomek: lambda: combine.SMOTETomek(random_state=seed),
        Balancing.cluster_centroids: lambda: under_sampling.ClusterCentroids(random_state=seed),
        Balancing.tomek: under_sampling.TomekLinks,
        Balancing.enn: under_sampling.EditedNearestNeighbours,
    }
    return factories[kind]()


def _matches(name: str, patterns: list[str]) -> bool:
    short = name.split(".", 1)[-1]
    return any(fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(short, p) for p in patterns)


class Preprocessor:
    """Fitted per fold on train; ``transform`` gives the learner's input matrix."""

    def __init__(self, *, scale: Scaling, columns: list[str], exclude: list[str], k_best: int | None,
                 score: SelectScore, task: str, seed: int) -> None:
        self.scale = scale
        self.columns = columns
        self.exclude = exclude
        self.k_best = k_best
        self.score = score
        self.task = task
        self.seed = seed

    def __getstate__(self) -> dict[str, Any]:
        # enums as their values: the saved model (skops) holds plain data only
        state = dict(self.__dict__)
        state["scale"], state["score"] = self.scale.value, self.score.value
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.scale, self.score = Scaling(state["scale"]), SelectScore(state["score"])

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> Preprocessor:
        names = list(X.columns)
        if self.columns:
            names = [n for n in names if _matches(n, self.columns)]
            if not names:
                raise UserError(f"select.columns={self.columns} matches no feature",
                                where="config key select.columns",
                                allowed=f"names or globs such as {list(X.columns[:3])}",
                                todo="check the names (`<featurizer>.<feature>` or the feature alone)")
        if self.exclude:
            names = [n for n in names if not _matches(n, self.exclude)]
            if not names:
                raise UserError("select.exclude removes every feature", where="config key select.exclude")
        self.columns_ = names
        values = X[names].to_numpy(dtype=np.float64)
        self.means_ = np.nanmean(values, axis=0) if len(values) else np.zeros(len(names))
        self.means_ = np.where(np.isnan(self.means_), 0.0, self.means_)
        values = self._impute(values)
        self.scaler_ = _scaler(self.scale, len(values))
        if self.scaler_ is not None:
            values = self.scaler_.fit_transform(values)
        self.selector_ = None
        if self.k_best is not None and self.k_best < values.shape[1]:
            from sklearn.feature_selection import (
                SelectKBest,
                f_classif,
                f_regression,
                mutual_info_classif,
                mutual_info_regression,
            )

            classif = self.task == "classification"
            from functools import partial

            if self.score is SelectScore.anova:
                fn: Any = f_classif if classif else f_regression
            else:  # a partial, not a closure: the fitted selector is pickled with the model
                fn = partial(mutual_info_classif if classif else mutual_info_regression, random_state=self.seed)
            self.selector_ = SelectKBest(fn, k=self.k_best).fit(values, y)
        return self

    def _impute(self, values: np.ndarray) -> np.ndarray:
        mask = np.isnan(values)
        if mask.any():
            values = np.where(mask, self.means_, values)
        return values

    def transform(self, X: pd.DataFrame, speakers: np.ndarray | None = None) -> np.ndarray:
        values = self._impute(X[self.columns_].to_numpy(dtype=np.float64))
        if self.scale is Scaling.speaker:
            values = speaker_normalise(values, speakers)
        elif self.scaler_ is not None:
            values = self.scaler_.transform(values)
        if self.selector_ is not None:
            values = self.selector_.transform(values)
        return values.astype(np.float32)

    def feature_names(self) -> list[str]:
        if self.selector_ is None:
            return list(self.columns_)
        return [c for c, keep in zip(self.columns_, self.selector_.get_support(), strict=False) if keep]


def speaker_normalise(values: np.ndarray, speakers: np.ndarray | None) -> np.ndarray:
    """z-score each speaker's rows with that speaker's own mean and sd."""
    if speakers is None:
        raise UserError("scale=speaker needs a speaker column", where="config key scale",
                        todo="add speakers to the data, or choose another scaling")
    out = np.empty_like(values)
    for spk in pd.unique(speakers):
        rows = speakers == spk
        mean = values[rows].mean(axis=0)
        sd = values[rows].std(axis=0)
        out[rows] = (values[rows] - mean) / np.where(sd > 0, sd, 1.0)
    return out


def handle_missing(features: pd.DataFrame, policy: MissingPolicy, log: Any) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Apply the missing-value policy to features that featurizers left undefined (NaN).

    ``impute``: keep the NaN (the fold's Preprocessor fills in train means) and add a 0/1
    ``<feature>.missing`` indicator column for each affected feature. ``drop``: remove the
    rows. ``error``: stop. Returns the frame and a report for results.json.
    """
    nan = features.isna()
    if not nan.to_numpy().any():
        return features, {"policy": policy.value, "features_with_missing": {}, "rows_with_missing": 0}
    counts = {str(k): int(v) for k, v in nan.sum().items() if v}
    rows = nan.any(axis=1)
    report: dict[str, Any] = {"policy": policy.value, "features_with_missing": counts,
                              "rows_with_missing": int(rows.sum())}
    if policy is MissingPolicy.error:
        raise UserError(
            f"{int(rows.sum())} rows have features that could not be computed "
            f"({', '.join(list(counts)[:5])}), e.g. {list(features.index[rows][:3])}",
            where="config key missing=error",
            allowed="missing=impute (train means + indicator columns) or missing=drop",
            todo="choose a policy, or remove the rows (e.g. unvoiced or too short files)",
        )
    if policy is MissingPolicy.drop:
        report["dropped_rows"] = [str(i) for i in features.index[rows]]
        log.info("missing=drop: dropping %d rows with undefined features", int(rows.sum()))
        return features[~rows], report
    indicators = pd.DataFrame(
        {f"{c}.missing": nan[c].astype(np.float32) for c in counts}, index=features.index)
    log.info("missing=impute: %d features have undefined values in %d rows; train means fill them",
             len(counts), int(rows.sum()))
    return pd.concat([features, indicators], axis=1), report
