"""segment=pyannote: pyannote.audio's pipeline, imported only here."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from nk.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

    from nk.context import RunContext

RATE = 16000


def load_pipeline(cfg: Any) -> Any:
    """The pyannote pipeline; a failing import or download is a UserError (no traceback)."""
    os.environ["PYANNOTE_METRICS_ENABLED"] = "false"  # pyannote's telemetry is on by default
    try:
        from pyannote.audio import Pipeline
    except Exception as exc:  # ImportError, or torchaudio's OSError/RuntimeError on import
        raise UserError(
            f"segment=pyannote cannot import pyannote.audio: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}",
            where="segment=pyannote",
            allowed="segment=diarize (offline: silero + resemblyzer, installed with nk-diarize)",
            todo="pip install 'nk-diarize[pyannote]' with a torchaudio matching your torch, or use "
                 "segment=diarize") from None
    token = cfg.token or os.environ.get("HF_TOKEN")
    try:
        try:
            pipeline = Pipeline.from_pretrained(cfg.pipeline, token=token)
        except TypeError:  # pyannote.audio 3.x names it use_auth_token
            pipeline = Pipeline.from_pretrained(cfg.pipeline, use_auth_token=token)
    except Exception as exc:
        raise UserError(f"segment=pyannote cannot load the pipeline {cfg.pipeline!r}: {type(exc).__name__}",
                        where="config key segment.pipeline",
                        todo="accept the model's conditions on the Hugging Face hub and set "
                             "segment.token (or HF_TOKEN), or give a local pipeline folder") from None
    if pipeline is None:
        raise UserError(f"segment=pyannote: the pipeline {cfg.pipeline!r} was not returned (gated, no token?)",
                        where="config key segment.token", todo="set segment.token or HF_TOKEN")
    import torch

    return pipeline.to(torch.device(cfg.device))


def pyannote_frame(cfg: Any, frame: pd.DataFrame, ctx: RunContext) -> pd.DataFrame:
    from nk_diarize import SPEAKER_COLUMN
    from nk_silero.timeline import segment_frame

    if getattr(cfg, "_pipeline", None) is None:
        cfg._pipeline = load_pipeline(cfg)

    def speakers(signal: Any, rate: int) -> list[tuple[float, float, str]]:
        import torch

        options = {"num_speakers": cfg.n_speakers} if cfg.n_speakers else {}
        out = cfg._pipeline({"waveform": torch.from_numpy(signal)[None], "sample_rate": rate}, **options)
        annotation = getattr(out, "speaker_diarization", out)  # 4.x wraps the annotation
        names: dict[str, str] = {}
        found = []
        for turn, _, label in annotation.itertracks(yield_label=True):
            who = names.setdefault(str(label), f"spk{len(names)}")
            found.append((round(float(turn.start), 3), round(float(turn.end), 3), who))
        return found

    return segment_frame(frame, ctx, speakers, RATE, "pyannote", label_column=SPEAKER_COLUMN)
