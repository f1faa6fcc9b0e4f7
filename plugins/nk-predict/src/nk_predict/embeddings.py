"""The one resemblyzer voice encoder of nk: ``predict=[speaker]`` embeds whole rows with it,
nk-diarize (``segment=diarize``) embeds speech windows with it.

resemblyzer's 256-d voice encoder (Wan et al. 2018, GE2E) ships its weights in its wheel, so it
works offline. Its webrtcvad imports ``pkg_resources`` (gone in setuptools 81); a failing import
is a :class:`~nk.errors.UserError` that says what to install.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from nk.errors import UserError

RATE = 16000  # the encoder's sampling rate
DIMENSION = 256
MIN_SECONDS = 0.5  # voiced audio a whole-row embedding needs; shorter (after its VAD trim): the whole row


class Resemblyzer:
    """resemblyzer's ``VoiceEncoder`` on the CPU, loaded once per instance.

    The encoder is a small LSTM fed one 1.6 s window at a time: torch's intra-op threads only
    contend there (10 windows took 29 s with 2 threads on a busy 2-core machine, 1.5 s with one),
    so every call runs on one thread and restores the caller's setting afterwards.
    """

    def __init__(self, who: str = "predictor 'speaker' (nk-predict)") -> None:
        try:
            with warnings.catch_warnings():  # webrtcvad: pkg_resources; resemblyzer: scipy.ndimage.morphology
                warnings.simplefilter("ignore")
                from resemblyzer import VoiceEncoder
        except ImportError as exc:  # typically webrtcvad's `import pkg_resources` (setuptools >= 81)
            raise UserError(f"Cannot import resemblyzer ({exc})", where=who,
                            todo="pip install resemblyzer 'setuptools<81' (its webrtcvad needs pkg_resources), "
                                 "or webrtcvad-wheels") from None
        self._encoder: Any = VoiceEncoder(device="cpu", verbose=False)

    def _run(self, fn: Any, *args: Any) -> Any:
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return fn(*args)
        finally:
            torch.set_num_threads(threads)

    def utterance(self, signal: np.ndarray, rate: int) -> np.ndarray:
        """The embedding of a whole recording: resampled to 16 kHz, volume-normalised, long
        silences dropped by webrtcvad (resemblyzer's ``preprocess_wav``); when that keeps under
        0.5 s of a 16 kHz row, the whole row volume-normalised instead."""
        from resemblyzer import preprocess_wav
        from resemblyzer.audio import normalize_volume

        x = np.asarray(signal, dtype=np.float32)
        wav = preprocess_wav(x, source_sr=rate)
        if wav.size < MIN_SECONDS * RATE and rate == RATE:  # its VAD kept too little: the whole row
            wav = normalize_volume(x, -30, increase_only=True)
        if wav.size < 1600 or not np.any(wav):
            raise UserError("too little audio for a speaker embedding (under 0.1 s, or silent)")
        return np.asarray(self._run(self._encoder.embed_utterance, wav), dtype=np.float32)

    def windows(self, signals: list[np.ndarray]) -> np.ndarray:
        """One unit-length embedding per signal, each taken as it is: 16 kHz speech windows that a
        VAD has already cut (no volume normalisation, no webrtcvad trim)."""
        def embed() -> np.ndarray:
            return np.stack([self._encoder.embed_utterance(np.asarray(s, dtype=np.float32)) for s in signals])

        return np.asarray(self._run(embed), dtype=np.float32)
