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
    if x.size == 0:
        raise UserError("an empty signal has no quality")
    # speechmos repeats rows shorter than its 9 s window and averages 9 s windows 1 s apart
    out = model.run(x, sr=RATE, model_type="dnsmos_personalized" if personalized else "dnsmos")
    return np.array([out["p808_mos"], out["sig_mos"], out["bak_mos"], out["ovrl_mos"]], dtype=np.float32)
