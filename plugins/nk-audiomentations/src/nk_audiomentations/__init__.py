"""nk-audiomentations: augmenters for ``augment=``.

- ``audiomentations``: a chain of audiomentations transforms written in the config
  (``augment.transforms=[{name: AddGaussianSNR, min_snr_db: 10, p: 1}, …]``), checked against the
  installed library when the config is composed;
- ``noise``: white noise at an SNR drawn from ``[min_snr_db, max_snr_db]``;
- ``speed``: speed perturbation (tempo and pitch together, by resampling) with a factor drawn
  from ``[min_rate, max_rate]``;
- ``pitch``: pitch shift by ``[min_semitones, max_semitones]`` (audiomentations' PitchShift);
- ``random_splice``: the signal cut into chunks that are put back in a random order (content
  is masked, the voice stays).

Every augmenter has ``copies`` (augmented copies per source row), ``seed`` (None: the run's) and
``only`` (``{emotion: [sad]}``: augment only rows with these values, the bias use case). nk's
augment stage hands them the training rows only (per fold for cross-validation), so an
augmented copy is never in dev or test. The audio is written content-addressed below the
cache (``<cache>/augment/<component>/``): a rerun with the same source, parameters, seed and
copy number reuses the file. This module imports neither audiomentations nor scipy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nk.errors import UserError
from nk.hookspecs import hookimpl
from nk.registry import Register, param

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from nk.context import RunContext

__all__ = [
    "AudiomentationsChain",
    "ChainConfig",
    "Noise",
    "NoiseConfig",
    "Pitch",
    "PitchConfig",
    "RandomSplice",
    "Speed",
    "SpeedConfig",
    "SpliceConfig",
]


@dataclass
class AugmentOptions:
    """Options every augmenter of this plugin has."""

    copies: int = param(1, ge=1, help="augmented copies of each selected training row")
    seed: int | None = param(None, help="seed of the random draws (None: the run's seed)")
    # typed Any: OmegaConf refuses new keys in a typed dict under struct mode, and
    # `augment.only={emotion: [sad]}` must work; validate() checks the shape instead
    only: Any = param(None, help="augment only rows with these values, e.g. {emotion: [sad]} "
                                 "(None: every training row)")

    def validate(self, path: str) -> None:
        only = self.only
        if only is None:
            return
        items = dict(only.items()) if hasattr(only, "items") else None
        if items is None or not all(isinstance(k, str) for k in items) or not all(
                isinstance(v, (str, int, float, bool)) or (hasattr(v, "__iter__") and not isinstance(v, dict))
                for v in items.values()):
            raise UserError(f"{path}.only={only!r} is not a mapping of columns to values", where=f"{path}.only",
                            allowed="{column: [value, …]}, e.g. {emotion: [sad]}",
                            todo=f"write {path}.only='{{emotion: [sad]}}'")


def _range(path: str, low_name: str, low: float, high_name: str, high: float) -> None:
    if low > high:
        raise UserError(f"{path}.{low_name}={low} is above {path}.{high_name}={high}", where=path,
                        allowed=f"{low_name} ≤ {high_name}", todo=f"swap or change {path}.{low_name}/{high_name}")


class _Augmenter:
    """What the augmenters share: choose rows, draw, transform, cache, return the new rows."""

    name = ""
    cache_dependencies: tuple[str, ...] = ()

    def __init__(self, *, copies: int, seed: int | None, only: Any, **params: Any) -> None:
        self.copies = copies
        self.seed = seed
        self.only = only
        self.params = params

    def transform(self, signal: np.ndarray, sampling_rate: int, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def augment(self, frame: pd.DataFrame, ctx: RunContext) -> pd.DataFrame:
        from nk_audiomentations._engine import augment_rows

        return augment_rows(self, frame, ctx)


@dataclass
class NoiseConfig(AugmentOptions):
    min_snr_db: float = param(10.0, help="lowest signal-to-noise ratio (dB) of the added white noise")
    max_snr_db: float = param(30.0, help="highest signal-to-noise ratio (dB)")

    def validate(self, path: str) -> None:
        super().validate(path)
        _range(path, "min_snr_db", self.min_snr_db, "max_snr_db", self.max_snr_db)


class Noise(_Augmenter):
    """White noise at a signal-to-noise ratio drawn uniformly from the range (of the signal's RMS)."""

    name = "noise"

    def __init__(self, *, copies: int, seed: int | None, only: Any, min_snr_db: float,
                 max_snr_db: float) -> None:
        super().__init__(copies=copies, seed=seed, only=only, min_snr_db=min_snr_db, max_snr_db=max_snr_db)

    def transform(self, signal: np.ndarray, sampling_rate: int, rng: np.random.Generator) -> np.ndarray:
        import numpy as np

        snr = rng.uniform(self.params["min_snr_db"], self.params["max_snr_db"])
        rms = float(np.sqrt(np.mean(np.square(signal, dtype=np.float64)))) if len(signal) else 0.0
        noise = rng.standard_normal(len(signal)) * rms / (10 ** (snr / 20))
        return (signal + noise).astype(np.float32)


@dataclass
class SpeedConfig(AugmentOptions):
    min_rate: float = param(0.9, gt=0, help="slowest speed factor (0.9: 10 % slower and lower)")
    max_rate: float = param(1.1, gt=0, help="fastest speed factor")

    def validate(self, path: str) -> None:
        super().validate(path)
        _range(path, "min_rate", self.min_rate, "max_rate", self.max_rate)


class Speed(_Augmenter):
    """Speed perturbation: the signal resampled by a factor, so tempo and pitch change together."""

    name = "speed"
    cache_dependencies = ("scipy",)

    def __init__(self, *, copies: int, seed: int | None, only: Any, min_rate: float,
                 max_rate: float) -> None:
        super().__init__(copies=copies, seed=seed, only=only, min_rate=min_rate, max_rate=max_rate)

    def transform(self, signal: np.ndarray, sampling_rate: int, rng: np.random.Generator) -> np.ndarray:
        from fractions import Fraction

        import numpy as np
        from scipy.signal import resample_poly

        drawn = float(rng.uniform(self.params["min_rate"], self.params["max_rate"]))
        # a ratio of small integers for resample_poly; denominators up to 50 turned every factor
        # within 1 % of 1 (a tenth of the default range) into an unchanged copy
        rate = Fraction(drawn).limit_denominator(1000)
        if rate == 1 and self.params["min_rate"] != self.params["max_rate"]:
            rate = Fraction(1001 if drawn >= 1 else 999, 1000)  # the nearest factor that changes the audio
        return resample_poly(signal, rate.denominator, rate.numerator).astype(np.float32)


@dataclass
class PitchConfig(AugmentOptions):
    min_semitones: float = param(-2.0, help="largest shift down (semitones)")
    max_semitones: float = param(2.0, help="largest shift up (semitones)")

    def validate(self, path: str) -> None:
        super().validate(path)
        _range(path, "min_semitones", self.min_semitones, "max_semitones", self.max_semitones)


class Pitch(_Augmenter):
    """Pitch shift (tempo kept) by audiomentations' PitchShift."""

    name = "pitch"
    cache_dependencies = ("audiomentations",)

    def __init__(self, *, copies: int, seed: int | None, only: Any, min_semitones: float,
                 max_semitones: float) -> None:
        super().__init__(copies=copies, seed=seed, only=only, min_semitones=min_semitones,
                         max_semitones=max_semitones)

    def transform(self, signal: np.ndarray, sampling_rate: int, rng: np.random.Generator) -> np.ndarray:
        from nk_audiomentations._engine import run_audiomentations

        spec = [{"name": "PitchShift", "min_semitones": self.params["min_semitones"],
                 "max_semitones": self.params["max_semitones"], "p": 1.0}]
        return run_audiomentations(spec, signal, sampling_rate, rng)


@dataclass
class SpliceConfig(AugmentOptions):
    min_chunk: float = param(0.2, gt=0, help="shortest chunk, seconds")
    max_chunk: float = param(0.5, gt=0, help="longest chunk, seconds")
    crossfade: float = param(0.01, ge=0, help="crossfade between chunks, seconds")

    def validate(self, path: str) -> None:
        super().validate(path)
        _range(path, "min_chunk", self.min_chunk, "max_chunk", self.max_chunk)
        if self.crossfade * 2 >= self.min_chunk:
            raise UserError(f"{path}.crossfade={self.crossfade} is too long for chunks of {self.min_chunk} s",
                            where=path, allowed="crossfade < min_chunk / 2", todo=f"lower {path}.crossfade")


class RandomSplice(_Augmenter):
    """Chunks of the signal in a random order, joined with short crossfades: masks the words,
    keeps the voice."""

    name = "random_splice"

    def __init__(self, *, copies: int, seed: int | None, only: Any, min_chunk: float,
                 max_chunk: float, crossfade: float) -> None:
        super().__init__(copies=copies, seed=seed, only=only, min_chunk=min_chunk, max_chunk=max_chunk,
                         crossfade=crossfade)

    def transform(self, signal: np.ndarray, sampling_rate: int, rng: np.random.Generator) -> np.ndarray:
        from nk_audiomentations._engine import splice

        return splice(signal, sampling_rate, rng, self.params["min_chunk"], self.params["max_chunk"],
                      self.params["crossfade"])


def _default_chain() -> list[dict[str, Any]]:
    return [{"name": "AddGaussianSNR", "min_snr_db": 10.0, "max_snr_db": 30.0, "p": 1.0},
            {"name": "PitchShift", "min_semitones": -2.0, "max_semitones": 2.0, "p": 0.5}]


@dataclass
class ChainConfig(AugmentOptions):
    transforms: list[dict[str, Any]] = field(
        default_factory=_default_chain,
        metadata={"help": "audiomentations transforms applied in order: [{name: AddGaussianSNR, "
                          "min_snr_db: 10, p: 1.0}, …] (each transform's own parameters; p: its probability)",
                  "ge": None, "gt": None, "le": None, "lt": None, "secret": False, "key": True})

    def validate(self, path: str) -> None:
        super().validate(path)
        from nk_audiomentations._engine import check_chain

        check_chain(self.transforms, f"{path}.transforms")


class AudiomentationsChain(_Augmenter):
    """A chain of audiomentations transforms from the config (``transforms``)."""

    name = "audiomentations"
    cache_dependencies = ("audiomentations",)

    def __init__(self, *, copies: int, seed: int | None, only: Any,
                 transforms: list[dict[str, Any]]) -> None:
        super().__init__(copies=copies, seed=seed, only=only, transforms=[dict(t) for t in transforms])

    def transform(self, signal: np.ndarray, sampling_rate: int, rng: np.random.Generator) -> np.ndarray:
        from nk_audiomentations._engine import run_audiomentations

        return run_audiomentations(self.params["transforms"], signal, sampling_rate, rng)


@hookimpl
def nk_register_augmenters(register: Register) -> None:
    register("audiomentations", AudiomentationsChain, ChainConfig,
             description="a chain of audiomentations transforms from the config")
    register("noise", Noise, NoiseConfig, description="white noise at an SNR range (dB)")
    register("speed", Speed, SpeedConfig, description="speed perturbation (tempo and pitch) by resampling")
    register("pitch", Pitch, PitchConfig, description="pitch shift in semitones (audiomentations)")
    register("random_splice", RandomSplice, SpliceConfig,
             description="chunks in a random order: masks content, keeps the voice")
