"""The two backends of the silero model: per-frame speech probabilities of a signal.

Both read the weights that ship in the ``silero-vad`` wheel. The ONNX backend finds them
without importing ``silero_vad`` (whose package import pulls in torch), so it runs where torch
is not installed.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from nk.errors import UserError

SEQUENCE_MODEL = "silero_vad_16k_sequence.onnx"
"""silero's sequence export: one ONNX call per block of frames (16 kHz)."""

FRAME = {16000: (512, 64), 8000: (256, 32)}
"""Samples per frame and of the previous frame's tail (context) the model sees, per rate."""

BLOCK_FRAMES = 512
"""Frames per ONNX call (~16 s of audio)."""


class Model(Protocol):
    def probabilities(self, signal: np.ndarray, sampling_rate: int) -> tuple[np.ndarray, float]:
        """(speech probability per frame, seconds per frame)."""
        ...


def _missing(what: str, package: str) -> UserError:
    return UserError(f"segment=silero needs {what}, which is not installed",
                     allowed="backend=onnx (silero-vad's files + onnxruntime) or backend=torch (silero-vad + torch)",
                     todo=f"pip install {package}, or choose the other segment.backend")


def weights_folder() -> Path:
    """silero-vad's ``data`` folder, located without importing the package."""
    spec = find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise _missing("the silero-vad package (it ships the model files)", "silero-vad")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def load_model(backend: str, sampling_rate: int = 16000) -> Model:
    """The model for ``backend`` (``auto`` | ``onnx`` | ``torch``)."""
    if backend == "auto":
        backend = "onnx" if sampling_rate == 16000 and find_spec("onnxruntime") is not None else "torch"
    if backend == "onnx":
        return OnnxSequence(weights_folder() / SEQUENCE_MODEL)
    return TorchJit()


class OnnxSequence:
    """silero's sequence ONNX model through onnxruntime (numpy only; one thread)."""

    def __init__(self, path: Path) -> None:
        if find_spec("onnxruntime") is None:
            raise _missing("onnxruntime for its ONNX backend", "onnxruntime")
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), sess_options=options,
                                            providers=["CPUExecutionProvider"])

    def probabilities(self, signal: np.ndarray, sampling_rate: int) -> tuple[np.ndarray, float]:
        frame, context = FRAME[16000]
        n_frames = -(-len(signal) // frame)
        padded = np.zeros(n_frames * frame + context, dtype=np.float32)
        padded[context:context + len(signal)] = signal  # zeros before the first frame: its context
        h = np.zeros((1, 1, 128), dtype=np.float32)
        c = np.zeros((1, 1, 128), dtype=np.float32)
        out = []
        for first in range(0, n_frames, BLOCK_FRAMES):
            count = min(BLOCK_FRAMES, n_frames - first)
            # each row: the previous frame's last `context` samples, then the frame itself
            rows = np.lib.stride_tricks.as_strided(
                padded[first * frame:], shape=(count, frame + context),
                strides=(frame * padded.strides[0], padded.strides[0]))
            probs, h, c = self.session.run(["speech_probs", "hn", "cn"],
                                           {"input": np.ascontiguousarray(rows), "h": h, "c": c})
            out.append(np.asarray(probs, dtype=np.float32).reshape(-1))
        probs_all = np.concatenate(out) if out else np.zeros(0, dtype=np.float32)
        return probs_all, frame / 16000


class TorchJit:
    """silero's TorchScript model. Importing ``silero_vad`` sets torch to one thread for the whole
    process; the previous setting is restored right after."""

    def __init__(self) -> None:
        if find_spec("torch") is None:
            raise _missing("torch for its torch backend", "torch")
        weights_folder()
        import torch

        threads = torch.get_num_threads()
        try:
            from silero_vad import load_silero_vad
        finally:
            torch.set_num_threads(threads)
        self.torch = torch
        self.jit: Any = load_silero_vad(onnx=False)

    def probabilities(self, signal: np.ndarray, sampling_rate: int) -> tuple[np.ndarray, float]:
        torch = self.torch
        frame = FRAME[sampling_rate][0]
        if len(signal) == 0:
            return np.zeros(0, dtype=np.float32), frame / sampling_rate
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # one small frame at a time: more threads only contend
        try:
            with torch.inference_mode():
                probs = self.jit.audio_forward(torch.from_numpy(np.ascontiguousarray(signal))[None], sampling_rate)
        finally:
            torch.set_num_threads(threads)
        return probs.reshape(-1).numpy().astype(np.float32), frame / sampling_rate
