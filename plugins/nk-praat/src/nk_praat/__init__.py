"""nk-praat: Praat voice, formant, intensity and speech-rate features as the nk featurizer ``praat``.

Praat is used through parselmouth, which this entry module never imports (``nk --help`` and
the contract suite import it): :mod:`nk_praat._extract` imports it on the first extraction.
The feature list and the definitions are in :data:`FEATURE_NAMES` and in the README.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from nk.errors import UserError
from nk.hookspecs import hookimpl
from nk.registry import Register, param

if TYPE_CHECKING:
    import numpy as np

__all__ = ["FEATURE_NAMES", "HnrMethod", "PitchMethod", "Praat", "PraatConfig"]

_STATS = ("mean", "sd", "median", "min", "max", "p5", "p95")

FEATURE_NAMES: tuple[str, ...] = (
    *(f"f0_{s}_hz" for s in _STATS),
    *(f"f0_{s}_st" for s in _STATS),
    "f0_range_st",
    "voiced_fraction",
    "jitter_local",
    "jitter_rap",
    "jitter_ppq5",
    "shimmer_local",
    "shimmer_apq3",
    "shimmer_apq5",
    "shimmer_apq11",
    "hnr_mean_db",
    "cpps_db",
    *(f"f{i}_{s}_hz" for i in range(1, 5) for s in ("mean", "sd")),
    "formant_dispersion_hz",
    "intensity_mean_db",
    "intensity_sd_db",
    "intensity_min_db",
    "intensity_max_db",
    "speech_rate",
    "articulation_rate",
    "pause_count",
    "pause_mean_s",
    "pause_ratio",
)
"""Names of the features, in the order of :meth:`Praat.extract`'s vector."""


class PitchMethod(enum.Enum):
    """Praat's pitch algorithms: autocorrelation (``To Pitch (ac)``) or cross-correlation (``cc``)."""

    ac = "ac"
    cc = "cc"


class HnrMethod(enum.Enum):
    """Where the harmonics-to-noise ratio comes from (see the README)."""

    pitch = "pitch"  # periodicity strength of the Pitch analysis already made (no extra cost)
    cc = "cc"  # a separate Praat ``To Harmonicity (cc)`` analysis (Praat's standard; slower)


@dataclass
class PraatConfig:
    pitch_floor: float = param(75.0, gt=0, help="lowest F0 searched (Hz); also sets the analysis "
                                                "windows of pitch, intensity, HNR and the cepstrogram")
    pitch_ceiling: float = param(600.0, gt=0, help="highest F0 searched (Hz); must exceed pitch_floor")
    pitch_method: PitchMethod = param(PitchMethod.ac, help="Praat pitch algorithm: ac (autocorrelation, "
                                                           "Praat's default, faster) or cc (cross-correlation)")
    time_step: float = param(0.01, gt=0, le=0.1, help="frame step (s) of the pitch, intensity, formant "
                                                      "and harmonicity analyses")
    hnr_method: HnrMethod = param(HnrMethod.pitch, help="HNR from the pitch analysis' periodicity strength "
                                                        "(pitch, free) or from Praat's To Harmonicity (cc) "
                                                        "(cc, about 40 ms more per 2 s of audio)")
    cpps_time_step: float = param(0.02, gt=0, le=0.1, help="frame step (s) of the PowerCepstrogram for CPPS "
                                                            "(Praat's 0.002 is 10x slower; 0.02 agrees at r > 0.99)")
    max_formant: float = param(5500.0, gt=0, help="formant ceiling (Hz) of Praat's Burg analysis "
                                                  "(about 5000 for adult male, 5500 for adult female voices)")
    number_of_formants: float = param(5.0, ge=4, le=7, help="formants the Burg analysis looks for below "
                                                            "max_formant (half numbers allowed, as in Praat)")
    silence_threshold_db: float = param(-25.0, lt=0, help="frames quieter than this (dB) relative to the "
                                                          "maximum intensity count as silence")
    min_pause: float = param(0.2, gt=0, help="shortest silence (s) between sounding stretches counted as a pause")
    min_dip_db: float = param(2.0, ge=0, help="intensity dip (dB) that must separate two syllable nuclei; "
                                              "peaks with a shallower dip between them merge into one")

    def validate(self, path: str) -> None:
        """Cross-field rules, checked once when nk builds the component (not once per file)."""
        floor, ceiling = float(self.pitch_floor), float(self.pitch_ceiling)
        if ceiling <= floor:
            raise UserError(
                f"pitch_ceiling ({ceiling:g} Hz) of feats 'praat' must exceed pitch_floor ({floor:g} Hz)",
                where=f"config keys {path}.pitch_floor and {path}.pitch_ceiling",
                allowed="pitch_floor < pitch_ceiling, e.g. 75 and 600 Hz",
                todo=f"raise {path}.pitch_ceiling or lower {path}.pitch_floor",
            )


class Praat:
    """Praat prosody, voice-quality, formant and speech-rate functionals of one segment.

    Undefined features are NaN, never a placeholder 0: F0, jitter, shimmer, HNR and formants
    without (enough) voiced frames, and everything for digital silence and for segments shorter
    than the shortest sound Praat's intensity analysis accepts (6.4 / ``pitch_floor`` seconds,
    85 ms at 75 Hz). Counts and rates that are really zero (no voiced frame, no syllable
    nucleus, no pause in a stretch of speech) are 0. The README defines every feature.
    """

    process_safe: ClassVar[bool] = True
    cache_dependencies: ClassVar[tuple[str, ...]] = ("praat-parselmouth",)  # Praat's version
    may_return_nan: ClassVar[bool] = True  # the core imputes NaN by its policy (train statistics)
    sampling_rate = 16000

    def __init__(
        self,
        *,
        pitch_floor: float,
        pitch_ceiling: float,
        pitch_method: PitchMethod,
        time_step: float,
        hnr_method: HnrMethod,
        cpps_time_step: float,
        max_formant: float,
        number_of_formants: float,
        silence_threshold_db: float,
        min_pause: float,
        min_dip_db: float,
    ) -> None:
        self.pitch_floor = pitch_floor
        self.pitch_ceiling = pitch_ceiling
        self.pitch_method = PitchMethod(pitch_method)
        self.time_step = time_step
        self.hnr_method = HnrMethod(hnr_method)
        self.cpps_time_step = cpps_time_step
        self.max_formant = max_formant
        self.number_of_formants = number_of_formants
        self.silence_threshold_db = silence_threshold_db
        self.min_pause = min_pause
        self.min_dip_db = min_dip_db

    def feature_names(self) -> Sequence[str]:
        return list(FEATURE_NAMES)

    def prepare(self) -> None:
        """Called by nk before it forks extraction workers: they inherit these imports."""
        from nk_praat._extract import prepare

        prepare()

    def extract(self, signal: np.ndarray, sampling_rate: int) -> np.ndarray:
        from nk_praat._extract import extract

        return extract(self, signal, sampling_rate)


@hookimpl
def nk_register_featurizers(register: Register) -> None:
    register("praat", Praat, PraatConfig,
             description=f"Praat (parselmouth) F0, jitter, shimmer, HNR, CPPS, formants, intensity and "
                         f"speech rate/pauses ({len(FEATURE_NAMES)} features; NaN where undefined)")
