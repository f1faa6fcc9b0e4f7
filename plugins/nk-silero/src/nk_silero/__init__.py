"""nk-silero: voice activity detection with silero-vad as the nk segmenter ``segment=silero``.

The weights come from the ``silero-vad`` wheel (no torch.hub, no network). Two backends run
the same model: ``onnx`` (silero's sequence ONNX export through onnxruntime; no torch at all)
and ``torch`` (the TorchScript model; importing silero_vad sets torch to one thread, which
:mod:`nk_silero._vad` undoes). Audio is read with :func:`nk.audio.read`. This entry module
imports neither: ``nk --help`` stays light.

The speech/silence decisions from the per-frame probabilities (hysteresis, minimum speech and
silence, padding, merging, cutting long segments at their quietest frame) are
:func:`nk_silero.timeline.speech_segments`, shared with the diarization plugin.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nk.errors import UserError
from nk.hookspecs import hookimpl
from nk.registry import Register, param

if TYPE_CHECKING:
    import pandas as pd

    from nk.context import RunContext

__all__ = ["Backend", "Silero", "SileroConfig"]


class Backend(enum.Enum):
    """How the silero model runs: ``auto`` (onnx when onnxruntime imports, else torch)."""

    auto = "auto"
    onnx = "onnx"
    torch = "torch"


@dataclass
class SileroConfig:
    threshold: float = param(0.5, gt=0, lt=1, help="speech probability that starts a segment")
    neg_threshold: float = param(0.0, ge=0, lt=1, help="probability below which speech ends "
                                 "(0: threshold - 0.15)")
    min_speech: float = param(0.25, ge=0, help="shortest kept segment, seconds")
    min_silence: float = param(0.1, ge=0, help="shortest pause that ends a segment, seconds")
    max_segment: float = param(0.0, ge=0, help="longest segment, seconds; longer speech is cut at its "
                               "quietest frame (0: no limit)")
    padding: float = param(0.03, ge=0, help="seconds added before and after each segment (never "
                           "across the middle of a pause)")
    trim_db: float = param(35.0, ge=0, help="trim each segment's leading and trailing frames more "
                           "than this many dB below its loudest (silero's decision lags ~0.15 s; 0: no trim)")
    merge_gap: float = param(0.0, ge=0, help="segments closer than this (seconds, after padding) "
                             "become one")
    backend: Backend = param(Backend.auto, key=False, help="auto | onnx (torch-free) | torch")
    sampling_rate: int = param(16000, help="rate (Hz) audio is resampled to for the model: 16000, or "
                               "8000 with the torch backend")

    def validate(self, path: str) -> None:
        if self.max_segment and self.max_segment < max(self.min_speech, 0.1):
            raise UserError(
                f"{path}.max_segment={self.max_segment} is shorter than {path}.min_speech={self.min_speech}",
                where=path, allowed="max_segment = 0 (no limit) or ≥ min_speech and ≥ 0.1 s",
                todo=f"raise {path}.max_segment or lower {path}.min_speech")
        if self.neg_threshold and self.neg_threshold >= self.threshold:
            raise UserError(
                f"{path}.neg_threshold={self.neg_threshold} is not below {path}.threshold={self.threshold}",
                where=path, allowed="0 < neg_threshold < threshold, or 0 for threshold - 0.15",
                todo=f"lower {path}.neg_threshold")
        if self.sampling_rate not in (8000, 16000):
            raise UserError(f"{path}.sampling_rate={self.sampling_rate} is not a rate silero-vad works at",
                            where=path, allowed="16000, 8000", todo=f"set {path}.sampling_rate=16000")
        backend = self.backend if isinstance(self.backend, Backend) else Backend[str(self.backend)]
        if self.sampling_rate == 8000 and backend is Backend.onnx:
            raise UserError(
                f"{path}.sampling_rate=8000 needs the torch backend; the ONNX sequence model runs at 16 kHz",
                where=path, allowed="backend=torch or auto with 8000, or 16000 with any backend",
                todo=f"set {path}.backend=torch or {path}.sampling_rate=16000")


class Silero:
    """Cuts every file (or given segment) of the corpus into its speech segments.

    Files without speech are dropped (the log and ``nk segment``'s statistics say which); every
    segment keeps its file's columns.
    """

    library_dependencies = ("silero-vad",)

    def __init__(self, *, threshold: float, neg_threshold: float, min_speech: float, min_silence: float,
                 max_segment: float, padding: float, trim_db: float, merge_gap: float, backend: Backend = Backend.auto,
                 sampling_rate: int = 16000) -> None:
        self.threshold = threshold
        self.neg_threshold = neg_threshold
        self.min_speech = min_speech
        self.min_silence = min_silence
        self.max_segment = max_segment
        self.padding = padding
        self.trim_db = trim_db
        self.merge_gap = merge_gap
        self.backend = backend
        self.sampling_rate = sampling_rate

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_model"}

    def model(self) -> Any:
        """The backend's model, loaded once."""
        if getattr(self, "_model", None) is None:
            from nk_silero._vad import load_model

            backend = self.backend if isinstance(self.backend, Backend) else Backend[str(self.backend)]
            self._model = load_model(backend.value, self.rate)
        return self._model

    @property
    def rate(self) -> int:
        return int(self.sampling_rate)

    def speech(self, signal: Any, sampling_rate: int) -> list[tuple[float, float]]:
        """(start, end) seconds of the speech in ``signal`` (already at :attr:`rate`)."""
        from nk_silero.timeline import speech_segments

        probs, hop = self.model().probabilities(signal, sampling_rate)
        return speech_segments(
            probs, hop, signal, sampling_rate, threshold=self.threshold,
            neg_threshold=self.neg_threshold or max(0.01, self.threshold - 0.15),
            min_speech=self.min_speech, min_silence=self.min_silence, max_segment=self.max_segment,
            padding=self.padding, merge_gap=self.merge_gap, trim_db=self.trim_db)

    def segment(self, frame: pd.DataFrame, ctx: RunContext) -> pd.DataFrame:
        from nk_silero.timeline import segment_frame

        return segment_frame(frame, ctx, self.speech, self.rate, "silero")


@hookimpl
def nk_register_segmenters(register: Register) -> None:
    register("silero", Silero, SileroConfig,
             description="speech segments by silero-vad (shipped weights, offline; onnx or torch backend)")
