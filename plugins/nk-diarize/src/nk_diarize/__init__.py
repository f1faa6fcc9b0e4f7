"""nk-diarize: who speaks when, per file, as nk segmenters.

- ``segment=diarize``: speech segments from silero-vad (nk-silero), cut into windows that
  nk-predict's resemblyzer encoder embeds (256-d speaker embeddings, weights in its wheel; the
  same code as ``predict=[speaker]``, :mod:`nk_predict.embeddings`), clustered per
  file (agglomerative, cosine distance; a fixed ``n_speakers`` or a distance ``threshold``);
  consecutive windows of one speaker become one segment. Offline, no token.
- ``segment=pyannote``: pyannote.audio's pretrained pipeline for users who have it (a Hugging
  Face token for the gated model, ``segment.token`` or ``HF_TOKEN``; telemetry switched off). It
  is imported only when it runs, and a failing import is a clear error naming ``segment=diarize``.

Both write the speaker of each segment, within its file, to the column ``diarized_speaker``
(``spk0``, ``spk1`` … in order of first appearance); the data's own ``speaker`` column is kept.
``nk segment`` then writes ``speakers.csv`` and a speakers-per-file plot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nk.errors import UserError
from nk.hookspecs import hookimpl
from nk.registry import Register, param

if TYPE_CHECKING:
    import pandas as pd

    from nk.context import RunContext

__all__ = ["SPEAKER_COLUMN", "Diarize", "DiarizeConfig", "Pyannote", "PyannoteConfig"]

SPEAKER_COLUMN = "diarized_speaker"


@dataclass
class DiarizeConfig:
    n_speakers: int = param(0, ge=0, help="speakers per file (0: found with threshold)")
    max_speakers: int = param(8, ge=1, help="most speakers a file may get when n_speakers=0")
    threshold: float = param(0.3, gt=0, lt=2, help="cosine distance (average linkage) above which "
                             "two groups of windows are different speakers")
    window: float = param(1.5, gt=0.2, help="seconds of speech per embedding")
    hop: float = param(0.75, gt=0.05, help="seconds between embedding windows")
    vad_threshold: float = param(0.5, gt=0, lt=1, help="silero speech probability that starts a segment")
    min_speech: float = param(0.25, ge=0, help="shortest speech segment kept, seconds")
    min_silence: float = param(0.1, ge=0, help="shortest pause that ends a segment, seconds")
    padding: float = param(0.03, ge=0, help="seconds added around each speech segment")

    def validate(self, path: str) -> None:
        if self.hop > self.window:
            raise UserError(f"{path}.hop={self.hop} is longer than {path}.window={self.window}", where=path,
                            allowed="hop ≤ window", todo=f"lower {path}.hop")
        if self.n_speakers > self.max_speakers:
            raise UserError(f"{path}.n_speakers={self.n_speakers} is above {path}.max_speakers={self.max_speakers}",
                            where=path, allowed="n_speakers ≤ max_speakers", todo=f"raise {path}.max_speakers")


class Diarize:
    """silero-vad speech, resemblyzer embeddings of windows, agglomerative clustering per file."""

    library_dependencies = ("resemblyzer", "silero-vad", "scikit-learn")

    def __init__(self, *, n_speakers: int, max_speakers: int, threshold: float, window: float, hop: float,
                 vad_threshold: float, min_speech: float, min_silence: float, padding: float) -> None:
        self.n_speakers = n_speakers
        self.max_speakers = max_speakers
        self.threshold = threshold
        self.window = window
        self.hop = hop
        self.vad_threshold = vad_threshold
        self.min_speech = min_speech
        self.min_silence = min_silence
        self.padding = padding

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    def segment(self, frame: pd.DataFrame, ctx: RunContext) -> pd.DataFrame:
        from nk_diarize._cluster import diarize_frame

        return diarize_frame(self, frame, ctx)


@dataclass
class PyannoteConfig:
    pipeline: str = param("pyannote/speaker-diarization-3.1", help="pyannote pipeline (hub name or local folder)")
    token: str | None = param(None, secret=True, help="Hugging Face token for gated pipelines (None: HF_TOKEN)")
    n_speakers: int = param(0, ge=0, help="speakers per file (0: the pipeline decides)")
    device: str = param("cpu", key=False, help="torch device the pipeline runs on")


class Pyannote:
    """pyannote.audio's diarization pipeline (optional; imported when it runs)."""

    library_dependencies = ("pyannote.audio",)

    def __init__(self, *, pipeline: str, token: str | None, n_speakers: int, device: str) -> None:
        self.pipeline = pipeline
        self.token = token
        self.n_speakers = n_speakers
        self.device = device

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    def segment(self, frame: pd.DataFrame, ctx: RunContext) -> pd.DataFrame:
        from nk_diarize._pyannote import pyannote_frame

        return pyannote_frame(self, frame, ctx)


@hookimpl
def nk_register_segmenters(register: Register) -> None:
    register("diarize", Diarize, DiarizeConfig,
             description="speech segments with a speaker each (silero + resemblyzer + clustering; offline)")
    register("pyannote", Pyannote, PyannoteConfig,
             description="pyannote.audio's diarization pipeline (optional install, HF token)")
