"""SVC whose labels come from the SVM's own decision and whose probabilities are calibrated.

``CalibratedClassifierCV.predict`` takes the arg-max of the calibrated probabilities, which can
differ from the SVM's decision; nk reports the SVM's decision (as ``SVC.predict`` would) and
keeps the Platt-calibrated probabilities for ``predict_proba``. The calibration's
cross-validation inside train uses 5 folds, or as many as the smallest class has rows (at least
2): scikit-learn would warn and give folds that lack a class.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV

from nk.errors import UserError

MAX_FOLDS = 5


class CalibratedSVC(CalibratedClassifierCV):
    def fit(self, X: Any, y: Any, **kwargs: Any) -> CalibratedSVC:
        labels, counts = np.unique(np.asarray(y), return_counts=True)
        folds = int(min(MAX_FOLDS, counts.min())) if len(counts) else MAX_FOLDS
        if folds < 2:
            rare = [str(label) for label, n in zip(labels, counts, strict=True) if n < 2]
            raise UserError(
                f"The svm model calibrates its probabilities by cross-validation within train, which "
                f"needs at least 2 training rows per class; {rare} {'has' if len(rare) == 1 else 'have'} 1",
                where="model svm and the training split",
                todo="use more data for these classes, remove them (labels=[...]), or choose "
                "another balance= method or model",
            )
        given: Any = getattr(self, "cv")  # noqa: B009  (sklearn sets it untyped)
        self.cv = folds if given is None else given
        try:
            return super().fit(X, y, **kwargs)
        finally:
            self.cv = given  # the parameter stays what it was set to (clone, get_params)

    def predict(self, X: Any) -> Any:
        return self.calibrated_classifiers_[0].estimator.predict(X)
