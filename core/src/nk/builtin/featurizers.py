"""Built-in featurizer ``mfcc``: MFCC statistics in NumPy, a dependency-free baseline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from nk.hookspecs import hookimpl
from nk.registry import Register, param

if TYPE_CHECKING:
    import numpy as np


@dataclass
class MfccConfig:
    n_mfcc: int = param(13, ge=1, le=40, help="cepstral coefficients (incl. c0)")
    n_mels: int = param(40, ge=8, help="mel bands")
    win_ms: float = param(25.0, gt=0, help="window length in ms")
    hop_ms: float = param(10.0, gt=0, help="hop length in ms")


class Mfcc:
    """Mean and standard deviation of MFCCs and their deltas over the whole segment."""

    process_safe: ClassVar[bool] = True

    def __init__(self, *, n_mfcc: int, n_mels: int, win_ms: float, hop_ms: float) -> None:
        self.n_mfcc = n_mfcc
        self.n_mels = n_mels
        self.win_ms = win_ms
        self.hop_ms = hop_ms
        self.sampling_rate = 16000

    def feature_names(self) -> Sequence[str]:
        base = [f"mfcc{i}" for i in range(self.n_mfcc)] + [f"delta{i}" for i in range(self.n_mfcc)]
        return [f"{b}_mean" for b in base] + [f"{b}_std" for b in base]

    def _mel_matrix(self, n_fft: int, rate: int) -> np.ndarray:
        import numpy as np

        def hz_to_mel(f: np.ndarray) -> np.ndarray:
            return 2595.0 * np.log10(1.0 + f / 700.0)

        mels = np.linspace(hz_to_mel(np.array(0.0)), hz_to_mel(np.array(rate / 2)), self.n_mels + 2)
        hz = 700.0 * (10 ** (mels / 2595.0) - 1.0)
        bins = np.fft.rfftfreq(n_fft, 1.0 / rate)
        lower, centre, upper = hz[:-2, None], hz[1:-1, None], hz[2:, None]
        up = (bins - lower) / (centre - lower)
        down = (upper - bins) / (upper - centre)
        return np.maximum(0.0, np.minimum(up, down))

    def extract(self, signal: np.ndarray, sampling_rate: int) -> np.ndarray:
        import numpy as np
        from scipy.fft import dct

        win = int(sampling_rate * self.win_ms / 1000)
        hop = int(sampling_rate * self.hop_ms / 1000)
        if len(signal) < win:
            signal = np.pad(signal, (0, win - len(signal)))
        frames = np.lib.stride_tricks.sliding_window_view(signal, win)[::hop]
        n_fft = 1 << (win - 1).bit_length()
        spec = np.abs(np.fft.rfft(frames * np.hamming(win), n=n_fft)) ** 2
        mel = np.log(spec @ self._mel_matrix(n_fft, sampling_rate).T + 1e-10)
        cep = dct(mel, type=2, norm="ortho", axis=1)[:, : self.n_mfcc]
        delta = np.gradient(cep, axis=0) if len(cep) > 1 else np.zeros_like(cep)
        both = np.hstack([cep, delta])
        return np.concatenate([both.mean(axis=0), both.std(axis=0)]).astype(np.float32)


@hookimpl
def nk_register_featurizers(register: Register) -> None:
    register("mfcc", Mfcc, MfccConfig, description="MFCC + delta statistics (NumPy, no extras)")
