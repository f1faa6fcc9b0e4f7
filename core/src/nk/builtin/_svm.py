"""SVC whose labels come from the SVM's own decision and whose probabilities are calibrated.

``CalibratedClassifierCV.predict`` takes the arg-max of the calibrated probabilities, which can
differ from the SVM's decision; nk reports the SVM's decision (as ``SVC.predict`` would) and
keeps the Platt-calibrated probabilities for ``predict_proba``.
"""

from __future__ import annotations

from typing import Any

from sklearn.calibration import CalibratedClassifierCV


class CalibratedSVC(CalibratedClassifierCV):
    def predict(self, X: Any) -> Any:
        return self.calibrated_classifiers_[0].estimator.predict(X)
