"""nk-example: a complete template for a third-party nk plugin.

It registers one featurizer (``zcr``) and one learner (``centroid``). Copy this folder, rename
``nk-example``/``nk_example``, and replace the components. CONTRIBUTING.md walks through it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from nk import hookimpl
from nk.registry import Register, param

if TYPE_CHECKING:  # heavy or slow imports only for type checkers; at run time inside methods
    import numpy as np


@dataclass
class ZcrConfig:
    frame_ms: float = param(25.0, gt=0, help="analysis frame length in ms")
    silence_db: float = param(-50.0, lt=0, help="frames below this level (dBFS) count as silence")


class Zcr:
    """Zero-crossing rate and energy statistics: a fast voicing/loudness descriptor."""

    process_safe: ClassVar[bool] = True  # may run in worker processes
    sampling_rate = 16000  # nk resamples the audio to this rate before extract()

    def __init__(self, *, frame_ms: float, silence_db: float) -> None:
        self.frame_ms = frame_ms  # scikit-learn style: __init__ only stores parameters
        self.silence_db = silence_db

    def feature_names(self) -> Sequence[str]:
        return ["zcr_mean", "zcr_std", "energy_db_mean", "energy_db_std", "silence_ratio"]

    def extract(self, signal: np.ndarray, sampling_rate: int) -> np.ndarray:
        import numpy as np

        size = max(1, int(sampling_rate * self.frame_ms / 1000))
        n = max(1, len(signal) // size)
        frames = np.resize(signal, n * size).reshape(n, size)
        zcr = (np.diff(np.signbit(frames), axis=1) != 0).mean(axis=1)
        energy = 10 * np.log10((frames**2).mean(axis=1) + 1e-12)
        silent = energy < self.silence_db
        return np.array([zcr.mean(), zcr.std(), energy.mean(), energy.std(), silent.mean()],
                        dtype=np.float32)


@dataclass
class CentroidConfig:
    shrink_threshold: float | None = param(None, gt=0, help="shrink centroids towards the mean")


def centroid(*, shrink_threshold: float | None) -> Any:
    """A factory may be a function returning a scikit-learn estimator."""
    from sklearn.neighbors import NearestCentroid

    return NearestCentroid(shrink_threshold=shrink_threshold)


@hookimpl
def nk_register_featurizers(register: Register) -> None:
    register("zcr", Zcr, ZcrConfig, description="zero-crossing rate and energy statistics (example)")


@hookimpl
def nk_register_learners(register: Register) -> None:
    register("centroid", centroid, CentroidConfig, description="nearest-centroid classifier (example)")
