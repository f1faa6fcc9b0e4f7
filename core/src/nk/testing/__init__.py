"""Test helpers for nk plugin authors: contract suites, fixtures and synthetic audio.

Every plugin's tests start with the contract suites of its components::

    from nk.testing import FeaturizerContract

    class TestEgemaps(FeaturizerContract):
        name = "egemaps"

The pytest plugin :mod:`nk.testing.plugin` (registered through the ``pytest11`` entry point)
provides the fixtures ``nk_pm``, ``nk_register_plugin``, ``tiny_corpus``, ``nk_compose`` and
``nk_experiment``. :mod:`nk.testing.slow` is a slow, counting featurizer plugin for tests that run
nk in other processes.
"""

from __future__ import annotations

from nk.testing.audio import (
    boundary_errors,
    frame_accuracy,
    speech_like,
    write_speech_bursts,
    write_tiny_corpus,
    write_tone,
)
from nk.testing.contracts import (
    AugmenterContract,
    DatasetContract,
    EnsemblerContract,
    FeaturizerContract,
    LearnerContract,
    LoaderContract,
    PredictorContract,
    ReporterContract,
    SegmenterContract,
)

__all__ = [
    "AugmenterContract",
    "DatasetContract",
    "EnsemblerContract",
    "FeaturizerContract",
    "LearnerContract",
    "LoaderContract",
    "PredictorContract",
    "ReporterContract",
    "SegmenterContract",
    "boundary_errors",
    "frame_accuracy",
    "speech_like",
    "write_speech_bursts",
    "write_tiny_corpus",
    "write_tone",
]
