"""DNSMOS through speechmos (ONNX models in its wheel; onnxruntime and librosa do the work)."""

from __future__ import annotations

import numpy as np

from nk.errors import UserError

RATE = 16000


def dnsmos(signal: np.ndarray, rate: int, *, personalized: bool) -> np.ndarray:
    """[P.808 MOS, SIG, BAK, OVRL] of one signal (at 16 kHz; nk reads it at that rate)."""
    try:
        from speechmos import dnsmos as model
    except ImportError as exc:
        raise UserError(f"The mos predictor cannot import speechmos ({exc})", where="predictor 'mos' (nk-predict)",
                        todo="pip install speechmos onnxruntime librosa requests") from None
    if rate != RATE:
        raise UserError(f"DNSMOS needs {RATE} Hz audio, got {rate} Hz", where="predictor 'mos' (nk-predict)")
    x = np.asarray(signal, dtype=np.float32)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak >= 1.0:  # speechmos insists on values inside (-1, 1)
        x = x * (0.999 / peak)
    if x.size < RATE:  # DNSMOS scores windows of 9 s; pad very short rows to 1 s by repetition
        x = np.resize(x, RATE) if x.size else np.zeros(RATE, dtype=np.float32)
    out = model.run(x, sr=RATE, personalized=personalized)
    return np.array([out["p808_mos"], out["sig_mos"], out["bak_mos"], out["ovrl_mos"]], dtype=np.float32)
