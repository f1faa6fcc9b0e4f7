"""nk-opensmile: openSMILE functionals as nk featurizers (``egemaps``, ``gemaps``, ``compare``).

This entry module imports nothing heavy; ``opensmile`` is imported on first extraction.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from nk.hookspecs import hookimpl
from nk.registry import Register, param

if TYPE_CHECKING:
    import numpy as np


class FeatureSet(enum.Enum):
    eGeMAPSv02 = "eGeMAPSv02"
    GeMAPSv01b = "GeMAPSv01b"
    ComParE_2016 = "ComParE_2016"


class FeatureLevel(enum.Enum):
    Functionals = "Functionals"


@dataclass
class EgemapsConfig:
    feature_set: FeatureSet = param(FeatureSet.eGeMAPSv02, help="openSMILE feature set")
    feature_level: FeatureLevel = param(FeatureLevel.Functionals, help="openSMILE feature level")


@dataclass
class GemapsConfig:
    feature_set: FeatureSet = param(FeatureSet.GeMAPSv01b, help="openSMILE feature set")
    feature_level: FeatureLevel = param(FeatureLevel.Functionals, help="openSMILE feature level")


@dataclass
class CompareConfig:
    feature_set: FeatureSet = param(FeatureSet.ComParE_2016, help="openSMILE feature set")
    feature_level: FeatureLevel = param(FeatureLevel.Functionals, help="openSMILE feature level")


class OpenSmile:
    """One openSMILE configuration; the ``opensmile.Smile`` object is created lazily per process."""

    process_safe: ClassVar[bool] = True
    sampling_rate = 16000

    def __init__(self, *, feature_set: FeatureSet, feature_level: FeatureLevel) -> None:
        self.feature_set = feature_set
        self.feature_level = feature_level

    def _smile(self) -> Any:
        smile = self.__dict__.get("_smile_")
        if smile is None:
            import opensmile

            smile = opensmile.Smile(
                feature_set=getattr(opensmile.FeatureSet, FeatureSet(self.feature_set).value),
                feature_level=getattr(opensmile.FeatureLevel, FeatureLevel(self.feature_level).value),
            )
            self.__dict__["_smile_"] = smile
        return smile

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_smile_"}

    def feature_names(self) -> Sequence[str]:
        return list(self._smile().feature_names)

    def extract(self, signal: np.ndarray, sampling_rate: int) -> np.ndarray:
        import numpy as np

        values = self._smile().process_signal(signal, sampling_rate).to_numpy()
        return np.asarray(values[0], dtype=np.float32)


@hookimpl
def nk_register_featurizers(register: Register) -> None:
    register("egemaps", OpenSmile, EgemapsConfig,
             description="openSMILE eGeMAPSv02 functionals (88 features)")
    register("gemaps", OpenSmile, GemapsConfig,
             description="openSMILE GeMAPSv01b functionals (62 features)")
    register("compare", OpenSmile, CompareConfig,
             description="openSMILE ComParE 2016 functionals (6,373 features)")
