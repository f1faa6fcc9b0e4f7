"""nk-opensmile: openSMILE feature sets as nk featurizers.

Components: ``egemaps`` (eGeMAPSv02 functionals, nk's default features), ``gemaps``
(GeMAPSv01b), ``compare`` (ComParE 2016), ``emobase`` and ``opensmile`` (any feature set and
level). Every component takes ``feature_set``, ``feature_level`` and ``stats``: functionals give
one row per segment directly; low-level descriptors (LLDs, one row per 10 ms frame) are pooled
into one row per segment with the chosen statistics, named ``<lld>_<stat>``.

This entry module imports nothing heavy; ``opensmile`` is imported on first use.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from nk.errors import UserError
from nk.hookspecs import hookimpl
from nk.registry import Register, param

if TYPE_CHECKING:
    import numpy as np


class FeatureSet(enum.Enum):
    """The feature sets the ``opensmile`` package ships (member names are opensmile's)."""

    eGeMAPSv02 = "eGeMAPSv02"
    eGeMAPSv01b = "eGeMAPSv01b"
    eGeMAPSv01a = "eGeMAPSv01a"
    GeMAPSv01b = "GeMAPSv01b"
    GeMAPSv01a = "GeMAPSv01a"
    ComParE_2016 = "ComParE_2016"
    emobase = "emobase"
    IS09 = "IS09"
    IS10 = "IS10"
    IS11 = "IS11"
    IS12 = "IS12"
    IS13 = "IS13"


class FeatureLevel(enum.Enum):
    Functionals = "Functionals"
    LowLevelDescriptors = "LowLevelDescriptors"
    LowLevelDescriptors_Deltas = "LowLevelDescriptors_Deltas"


class Stat(enum.Enum):
    """Statistics that pool LLD frames into one value per descriptor."""

    mean = "mean"
    std = "std"
    min = "min"
    max = "max"
    median = "median"
    q05 = "q05"
    q95 = "q95"
    iqr = "iqr"
    skew = "skew"
    kurtosis = "kurtosis"

    def __repr__(self) -> str:  # `nk plugins` shows the default as ['mean', 'std']
        return repr(self.value)


# openSMILE's (e)GeMAPS configs define no delta coefficients (opensmile >= 2.0)
NO_DELTAS = frozenset({FeatureSet.eGeMAPSv02, FeatureSet.eGeMAPSv01b, FeatureSet.eGeMAPSv01a,
                       FeatureSet.GeMAPSv01b, FeatureSet.GeMAPSv01a})

_SET_HELP = ("openSMILE feature set: " + ", ".join(m.name for m in FeatureSet)
             + " (v01a/v01b are deprecated by openSMILE in favour of eGeMAPSv02 / GeMAPSv01b)")
_LEVEL_HELP = ("Functionals: openSMILE's statistics over the segment; LowLevelDescriptors(_Deltas): "
               "10 ms frames (or their deltas; not for the GeMAPS family) pooled with `stats`")
_STATS_HELP = ("statistics that pool LLD frames into one row, named <lld>_<stat> (ignored for "
               "Functionals): " + ", ".join(m.name for m in Stat))


def _default_stats() -> list[Stat]:
    return [Stat.mean, Stat.std]


@dataclass
class OpenSmileConfig:
    """The parameters of every openSMILE component; the subclasses change the default set only."""

    feature_set: FeatureSet = param(FeatureSet.eGeMAPSv02, help=_SET_HELP)
    feature_level: FeatureLevel = param(FeatureLevel.Functionals, help=_LEVEL_HELP)
    stats: list[Stat] = param(default_factory=_default_stats, help=_STATS_HELP)

    def validate(self, path: str) -> None:
        """Cross-field rules, checked once when nk builds the component (``path``: its config key)."""
        from nk.config import as_enum  # not at module level: nk.config imports omegaconf

        feature_set, level = as_enum(self.feature_set, FeatureSet), as_enum(self.feature_level, FeatureLevel)
        if level is FeatureLevel.LowLevelDescriptors_Deltas and feature_set in NO_DELTAS:
            raise UserError(
                f"openSMILE's {feature_set.name} has no LowLevelDescriptors_Deltas",
                where=f"config key {path}.feature_level",
                allowed="Functionals, LowLevelDescriptors (deltas exist for "
                + ", ".join(m.name for m in FeatureSet if m not in NO_DELTAS) + ")",
                todo="use LowLevelDescriptors, or a feature set that has deltas",
            )
        if level is FeatureLevel.Functionals:
            return
        key = f"config key {path}.stats"
        allowed = ", ".join(m.name for m in Stat)
        names = [as_enum(s, Stat).name for s in self.stats]
        if not names:
            raise UserError("No statistic given to pool the low-level descriptors", where=key,
                            allowed=allowed, todo=f"set e.g. {path}.stats=[mean,std]")
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise UserError(f"The statistics {repeated} are listed more than once", where=key,
                            allowed=f"each of {allowed} at most once",
                            todo="remove the repetitions")


@dataclass
class EgemapsConfig(OpenSmileConfig):
    feature_set: FeatureSet = param(FeatureSet.eGeMAPSv02, help=_SET_HELP)


@dataclass
class GemapsConfig(OpenSmileConfig):
    feature_set: FeatureSet = param(FeatureSet.GeMAPSv01b, help=_SET_HELP)


@dataclass
class CompareConfig(OpenSmileConfig):
    feature_set: FeatureSet = param(FeatureSet.ComParE_2016, help=_SET_HELP)


@dataclass
class EmobaseConfig(OpenSmileConfig):
    feature_set: FeatureSet = param(FeatureSet.emobase, help=_SET_HELP)


class OpenSmile:
    """One openSMILE configuration; openSMILE itself is set up lazily, once per process.

    ``extract`` returns the functionals, or the LLD frames pooled with ``stats``. It gives the
    values ``opensmile.Smile`` gives, but reuses one initialised openSMILE instance per sampling
    rate (reset after every signal) instead of parsing the configuration for every file, and
    skips ``Smile``'s DataFrames. Samples are clipped to the int16 range first: openSMILE
    converts to int16 without clipping, so a full-scale sample (1.0) would wrap around to -1.0.
    The ``opensmile.Smile`` object (feature names, options) and the instances are never pickled.
    """

    process_safe: ClassVar[bool] = True
    cache_dependencies: ClassVar[tuple[str, ...]] = ("opensmile",)  # its version keys the cache
    sampling_rate = 16000

    def __init__(self, *, feature_set: FeatureSet, feature_level: FeatureLevel,
                 stats: Sequence[Stat]) -> None:
        self.feature_set = feature_set
        self.feature_level = feature_level
        self.stats = stats

    # --- parameters --------------------------------------------------------------------------

    def _set(self) -> FeatureSet:
        from nk.config import as_enum  # not at module level: nk.config imports omegaconf

        return as_enum(self.feature_set, FeatureSet)

    def _level(self) -> FeatureLevel:
        from nk.config import as_enum

        return as_enum(self.feature_level, FeatureLevel)

    def _pooled(self) -> bool:
        return self._level() is not FeatureLevel.Functionals

    def _stat_names(self) -> tuple[str, ...]:
        """The statistics as strings (checked by ``OpenSmileConfig.validate`` when built)."""
        names = self.__dict__.get("_stat_names_")
        if names is None:
            names = self.__dict__["_stat_names_"] = tuple(
                s.name if isinstance(s, Stat) else str(s) for s in self.stats)
        return names

    # --- openSMILE ---------------------------------------------------------------------------

    def _smile(self) -> Any:
        smile = self.__dict__.get("_smile_")
        if smile is None:
            import warnings

            import opensmile

            with warnings.catch_warnings():
                # v01a/v01b: the deprecation is documented in the parameter's help instead of
                # being printed again by every worker process
                warnings.filterwarnings("ignore", message=".*deprecated.*", category=UserWarning)
                smile = opensmile.Smile(
                    feature_set=getattr(opensmile.FeatureSet, self._set().name),
                    feature_level=getattr(opensmile.FeatureLevel, self._level().name),
                )
            self.__dict__["_smile_"] = smile
        return smile

    def _instance(self, sampling_rate: int) -> Any:
        """An initialised openSMILE instance for ``sampling_rate``, taken out of the pool.

        The options are the ones ``Smile._extract`` passes; the caller gives the instance back
        with :meth:`_return` after a run and a successful reset, or frees it.
        """
        instances = self._instances()
        inst = instances.pop(sampling_rate, None)
        if inst is not None:
            return inst
        import os

        from opensmile.core.config import config

        smile = self._smile()
        options = smile._options()
        options["source"] = os.path.join(smile.default_config_root, config.EXTERNAL_INPUT_CONFIG)
        options["sampleRate"] = sampling_rate
        options["nBits"] = 16
        return smile._smile(options=options)

    def _instances(self) -> dict[int, Any]:
        """Idle instances by sampling rate; freed when this object is garbage-collected."""
        instances = self.__dict__.get("_instances_")
        if instances is None:
            import weakref

            instances = self.__dict__["_instances_"] = {}
            weakref.finalize(self, _free_instances, instances)
        return instances

    def _return(self, sampling_rate: int, inst: Any) -> None:
        spare = self._instances().setdefault(sampling_rate, inst)
        if spare is not inst:  # another thread returned one meanwhile
            inst.free()

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("_smile_", "_instances_")}

    def feature_names(self) -> Sequence[str]:
        names = list(self._smile().feature_names)
        if not self._pooled():
            return names
        stats = self._stat_names()
        return [f"{lld}_{stat}" for lld in names for stat in stats]

    def extract(self, signal: np.ndarray, sampling_rate: int) -> np.ndarray:
        import numpy as np
        from opensmile.core.config import config
        from opensmile.core.lib import smileapi

        # openSMILE scales by 32768 and casts to int16 without clipping (1.0 → -32768)
        x = np.clip(np.asarray(signal, dtype=np.float32), -1.0, 32767 / 32768)
        samples = (x * 32768).astype(np.int16)  # as Smile._extract, in float32
        rows: list[np.ndarray] = []
        inst = self._instance(sampling_rate)
        try:
            # reset() drops the callback: it must be set before every run
            inst.external_sink_set_callback_ex(config.EXTERNAL_OUTPUT_COMPONENT,
                                               lambda data, meta: rows.append(data.copy()))
            if not inst.external_audio_source_write_data(config.EXTERNAL_SOURCE_COMPONENT,
                                                         samples.tobytes()):
                raise RuntimeError("openSMILE did not accept the samples (input buffer full)")
            inst.external_audio_source_set_eoi(config.EXTERNAL_SOURCE_COMPONENT)
            inst.run()
            code = smileapi.smile_reset(inst._smileobj)
            if code != 0:
                raise RuntimeError(f"openSMILE could not be reset for the next signal (code {code})")
            # the wrapper keeps every callback it was given; the reset one is no longer used
            inst._callbacks.clear()
        except BaseException:
            inst.free()  # the next signal gets a fresh instance
            raise
        self._return(sampling_rate, inst)
        values = np.vstack(rows) if rows else np.empty((0, 0), np.float32)  # (frames, features)
        if not rows or not np.isfinite(values).all():
            raise ValueError(
                f"openSMILE {self._set().name} {self._level().name} gave no values for a "
                f"{1000 * len(x) / sampling_rate:.0f} ms signal; segments shorter than about "
                "100 ms are too short")
        if not self._pooled():
            return np.asarray(values[0], dtype=np.float32)
        from nk_opensmile.pooling import pool

        return pool(values, self._stat_names())


def _free_instances(instances: dict[int, Any]) -> None:
    while instances:
        instances.popitem()[1].free()


class Egemaps(OpenSmile):
    """The same component; its config's defaults choose another feature set."""


class Gemaps(OpenSmile):
    """The same component; its config's defaults choose another feature set."""


class Compare(OpenSmile):
    """The same component; its config's defaults choose another feature set."""


class Emobase(OpenSmile):
    """The same component; its config's defaults choose another feature set."""


@hookimpl
def nk_register_featurizers(register: Register) -> None:
    register("egemaps", Egemaps, EgemapsConfig,
             description="openSMILE eGeMAPSv02 functionals (88 features)", default=True)
    register("gemaps", Gemaps, GemapsConfig,
             description="openSMILE GeMAPSv01b functionals (62 features)")
    register("compare", Compare, CompareConfig,
             description="openSMILE ComParE 2016 functionals (6,373 features)")
    register("emobase", Emobase, EmobaseConfig,
             description="openSMILE emobase functionals (988 features)")
    register("opensmile", OpenSmile, OpenSmileConfig,
             description="any openSMILE feature set: functionals, or LLDs (+ deltas) pooled by stats")
