"""The interfaces components implement. Plugins need not inherit from these: they are Protocols.

Components follow scikit-learn's conventions: ``__init__`` takes keyword parameters and only
stores them (no I/O, no validation); data goes to methods; learned state ends in ``_``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from nk.context import RunContext
    from nk.data import Corpus


@runtime_checkable
class Loader(Protocol):
    """Reads a labelled database into a :class:`nk.data.Corpus`."""

    def load(self, ctx: RunContext) -> Corpus: ...


@runtime_checkable
class Segmenter(Protocol):
    """Cuts files into segments: returns a frame indexed by (``file``, ``start``, ``end``)."""

    def segment(self, frame: pd.DataFrame, ctx: RunContext) -> pd.DataFrame: ...


@runtime_checkable
class Augmenter(Protocol):
    """Returns additional training rows (new audio written below ``ctx.work_dir``).

    The rows keep the input's columns and add ``augmented_from``: the source row's file, so
    that an augmented copy only trains folds whose training set holds its source.
    """

    def augment(self, frame: pd.DataFrame, ctx: RunContext) -> pd.DataFrame: ...


@runtime_checkable
class Featurizer(Protocol):
    """Turns one mono float32 signal into one feature vector.

    nk reads and resamples the audio (to ``sampling_rate`` when set), cuts segments, caches the
    result, runs files in parallel when ``process_safe`` is true, and names the columns
    ``<component>.<feature>``. Heavy libraries are imported inside ``extract``, not at module
    level; the object is pickled to worker processes, so create models lazily.

    Optional: ``cache_dependencies: ClassVar[tuple[str, ...]]`` names the distributions whose
    installed versions the feature cache key includes (the library that computes the values, e.g.
    ``("opensmile",)``), so that upgrading one recomputes the features.

    Optional: ``prepare(self) -> None`` is called once in the parent process before it starts
    worker processes. Import the libraries ``extract`` needs there: forked workers inherit them
    instead of each importing them again. It must leave the object picklable.

    Optional: ``start_method: ClassVar[str]`` (``fork``, the default where safe, ``spawn`` or
    ``forkserver``) for process-safe featurizers that hold threads or CUDA state.

    Optional, for models that are faster on several signals at once:
    ``extract_batch(self, signals: list[np.ndarray], sampling_rate: int) -> list[np.ndarray]``
    returns what ``extract`` would for each signal; nk sorts rows by duration and groups them so
    that a batch holds at most ``batch_seconds`` (an instance attribute) of padded audio.

    Optional, for featurizers that store more than one configuration needs (e.g. the pooled
    statistics of every transformer layer): ``view_params: ClassVar[tuple[str, ...]]`` names the
    parameters that only *select* from what ``extract`` returns; they do not enter the feature
    cache key, and ``view(self, stored: np.ndarray, names: list[str]) -> tuple[np.ndarray,
    list[str]]`` is applied to the (rows × stored features) matrix after the cache.
    """

    process_safe: ClassVar[bool]
    sampling_rate: int | None

    def feature_names(self) -> Sequence[str]: ...

    def extract(self, signal: np.ndarray, sampling_rate: int) -> np.ndarray: ...


@runtime_checkable
class Learner(Protocol):
    """A scikit-learn estimator (classifier or regressor).

    A learner whose ``fit`` accepts ``X_dev`` and ``y_dev`` keywords receives the dev split for
    model selection (early stopping, best epoch); nk never passes test data to ``fit``.
    Two more optional keywords: ``groups`` (the speaker id of each training row, when the corpus
    has speakers, e.g. for a speaker-disjoint hold-out when there is no dev split) and
    ``run_dir`` (the run folder, for checkpoints and training logs). A learner class with
    ``input = "audio"`` receives audio rows instead of features (see :mod:`nk.fit`).
    """

    def fit(self, X: Any, y: Any) -> Learner: ...

    def predict(self, X: Any) -> Any: ...

    def get_params(self, deep: bool = True) -> dict[str, Any]: ...

    def set_params(self, **params: Any) -> Learner: ...


@runtime_checkable
class Predictor(Protocol):
    """Predicts a speaker characteristic for unlabelled rows: returns new columns."""

    def predict(self, frame: pd.DataFrame, ctx: RunContext) -> pd.DataFrame: ...


@runtime_checkable
class Ensembler(Protocol):
    """Combines the prediction frames (``truth``, ``pred``, ``proba.*``) of several runs."""

    def combine(self, predictions: Sequence[pd.DataFrame], ctx: RunContext) -> pd.DataFrame: ...


@runtime_checkable
class DatasetRecipe(Protocol):
    """Builds a database for ``nk data prepare NAME``: audio plus a CSV table below ``dest``,
    from ``source`` (a downloaded archive or folder) or from the network; returns the table."""

    def prepare(self, dest: Path, *, source: Path | None, console: Any) -> Path: ...


@runtime_checkable
class Reporter(Protocol):
    """Writes artefacts (plots, tables, documents) of a finished run; returns their paths."""

    def report(self, result: dict[str, Any], ctx: RunContext) -> list[Path]: ...
