"""Log-mel spectrogram patches computed with torch (``torch.stft`` and a mel filterbank built
here; no torchaudio): one fixed-size patch of ``n_mels`` × frames per row, flattened band by
band, so that any learner can take it and ``cnn`` can read it back as an image."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np


def mel_filterbank(n_fft: int, n_mels: int, sampling_rate: int, fmin: float, fmax: float) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) triangular filters equally spaced on the HTK mel scale."""
    def to_mel(f: np.ndarray) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def to_hz(m: np.ndarray) -> np.ndarray:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)

    bins = np.linspace(0.0, sampling_rate / 2, n_fft // 2 + 1)
    edges = to_hz(np.linspace(to_mel(np.array(fmin)), to_mel(np.array(fmax)), n_mels + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins[None, :] - lower) / np.maximum(centre - lower, 1e-9)
    falling = (upper - bins[None, :]) / np.maximum(upper - centre, 1e-9)
    return np.clip(np.minimum(rising, falling), 0.0, None).astype(np.float32)


class LogMel:
    """``n_mels`` log-mel bands (dB) × ``duration`` seconds of frames per row: longer audio is
    cut to its middle, shorter audio is padded with silence at the end."""

    process_safe: ClassVar[bool] = False  # torch in the parent process (threads and fork do not mix)
    cache_dependencies: ClassVar[tuple[str, ...]] = ("torch",)
    sampling_rate = 16000

    def __init__(self, *, n_mels: int, duration: float, win_ms: float, hop_ms: float, fmin: float,
                 fmax: float) -> None:
        self.n_mels = n_mels
        self.duration = duration
        self.win_ms = win_ms
        self.hop_ms = hop_ms
        self.fmin = fmin
        self.fmax = fmax
        self._bank: Any = None

    @property
    def hop(self) -> int:
        return max(1, round(self.sampling_rate * self.hop_ms / 1000))

    @property
    def win(self) -> int:
        return max(2, round(self.sampling_rate * self.win_ms / 1000))

    @property
    def n_frames(self) -> int:
        return max(1, round(self.duration * self.sampling_rate / self.hop))

    def feature_names(self) -> list[str]:
        return [f"mel{m:02d}_t{t:03d}" for m in range(self.n_mels) for t in range(self.n_frames)]

    def extract(self, signal: np.ndarray, sampling_rate: int) -> np.ndarray:
        import torch

        length = (self.n_frames - 1) * self.hop + 1  # samples that give exactly n_frames centred frames
        x = np.asarray(signal, dtype=np.float32)
        if len(x) > length:
            start = (len(x) - length) // 2
            x = x[start:start + length]
        elif len(x) < length:
            x = np.pad(x, (0, length - len(x)))
        n_fft = 1 << (self.win - 1).bit_length()
        if self._bank is None or self._bank.shape[1] != n_fft // 2 + 1:
            self._bank = torch.from_numpy(mel_filterbank(n_fft, self.n_mels, self.sampling_rate, self.fmin,
                                                         min(self.fmax, self.sampling_rate / 2)))
        spec = torch.stft(torch.from_numpy(x), n_fft=n_fft, hop_length=self.hop, win_length=self.win,
                          window=torch.hann_window(self.win), center=True, return_complex=True)
        power = spec.abs() ** 2
        mel = self._bank @ power
        db = 10.0 * torch.log10(torch.clamp(mel, min=1e-10))
        return db[:, : self.n_frames].reshape(-1).numpy().astype(np.float32)
