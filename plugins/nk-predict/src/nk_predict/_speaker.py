"""Speaker embeddings (resemblyzer, or pyannote.audio for users who have it) and clustering."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from nk.errors import UserError

RESEMBLYZER_DIM = 256
PYANNOTE_DIM = 256  # wespeaker-voxceleb-resnet34-LM; other models: their own dimension
MIN_SECONDS = 0.5  # voiced audio resemblyzer needs; shorter (after its VAD trim) uses the whole row


def dimension(method: str) -> int:
    return RESEMBLYZER_DIM if method == "resemblyzer" else PYANNOTE_DIM


def encoder(method: str, *, model: str, token: str | None, telemetry: bool) -> Callable[[np.ndarray, int], np.ndarray]:
    """A function signal → embedding (float32) for ``method``."""
    if method == "resemblyzer":
        return _resemblyzer()
    return _pyannote(model, token, telemetry)


def _resemblyzer() -> Callable[[np.ndarray, int], np.ndarray]:
    try:
        from resemblyzer import VoiceEncoder, preprocess_wav
    except ImportError as exc:  # typically webrtcvad's `import pkg_resources` (setuptools >= 81)
        raise UserError(f"The speaker predictor cannot import resemblyzer ({exc})",
                        where="predictor 'speaker' (nk-predict)",
                        todo="pip install resemblyzer 'setuptools<81' (its webrtcvad needs pkg_resources), "
                             "or webrtcvad-wheels") from None
    enc = VoiceEncoder(device="cpu", verbose=False)

    def embed(signal: np.ndarray, rate: int) -> np.ndarray:
        wav = preprocess_wav(np.asarray(signal, dtype=np.float32), source_sr=rate)
        if wav.size < MIN_SECONDS * 16000:  # its VAD kept too little: use the whole row
            wav = preprocess_wav(np.asarray(signal, dtype=np.float32), source_sr=rate, trim_silence=False)
        if wav.size < 1600 or not np.any(wav):
            raise UserError("too little audio for a speaker embedding (under 0.1 s, or silent)")
        return np.asarray(enc.embed_utterance(wav), dtype=np.float32)

    return embed


def _pyannote(model: str, token: str | None, telemetry: bool) -> Callable[[np.ndarray, int], np.ndarray]:
    if not telemetry:  # pyannote.audio sends usage metrics unless told not to
        os.environ["PYANNOTE_METRICS_ENABLED"] = "false"
    try:
        import torch
        from pyannote.audio import Inference, Model
    except Exception as exc:  # pyannote.audio imports torchaudio, which may not load
        raise UserError(f"method=pyannote needs pyannote.audio, which does not import here "
                        f"({type(exc).__name__}: {str(exc)[:200]})",
                        where="config key predict.speaker.method",
                        todo="install pyannote.audio with a torchaudio that matches your torch, or use "
                             "method=resemblyzer (offline, weights in its wheel)") from None
    token = token or os.environ.get("HF_TOKEN")
    try:
        net = Model.from_pretrained(model, token=token)
    except Exception as exc:
        raise UserError(f"Cannot load the pyannote model {model!r} ({type(exc).__name__})",
                        where="config key predict.speaker.pyannote_model",
                        todo="accept the model's conditions on huggingface.co, set HF_TOKEN (or "
                             "predict.speaker.token), and be online once; or use method=resemblyzer") from None
    if net is None:
        raise UserError(f"pyannote could not load {model!r}: a gated model needs a token",
                        where="config key predict.speaker.token", todo="set HF_TOKEN")
    inference = Inference(net, window="whole")

    def embed(signal: np.ndarray, rate: int) -> np.ndarray:
        wave = torch.as_tensor(np.asarray(signal, dtype=np.float32))[None]
        return np.asarray(inference({"waveform": wave, "sample_rate": rate}), dtype=np.float32).reshape(-1)

    return embed


def cluster(embeddings: np.ndarray, *, n_speakers: int | None, threshold: float) -> list[str]:
    """Agglomerative clustering (cosine distance, average linkage) of the rows' embeddings into
    labels ``spk01`` …, numbered in order of first appearance."""
    from sklearn.cluster import AgglomerativeClustering

    n = len(embeddings)
    if n == 0:
        return []
    if n == 1:
        return ["spk01"]
    if n_speakers is not None:
        model = AgglomerativeClustering(n_clusters=min(n_speakers, n), metric="cosine", linkage="average")
    else:
        model = AgglomerativeClustering(n_clusters=None, distance_threshold=threshold, metric="cosine",
                                        linkage="average")
    raw = model.fit_predict(np.asarray(embeddings, dtype=np.float64))
    order: dict[int, str] = {}
    for label in raw:
        order.setdefault(int(label), f"spk{len(order) + 1:02d}")
    return [order[int(label)] for label in raw]


def quality(truth: Any, predicted: Any) -> dict[str, float]:
    """Adjusted Rand index and purity of a clustering against known speakers."""
    import pandas as pd
    from sklearn.metrics import adjusted_rand_score

    truth = pd.Series(list(truth)).astype(str)
    predicted = pd.Series(list(predicted)).astype(str)
    table = pd.crosstab(predicted, truth)
    return {"ari": float(adjusted_rand_score(truth, predicted)),
            "purity": float(table.max(axis=1).sum() / len(truth)),
            "clusters": int(predicted.nunique()), "speakers": int(truth.nunique())}
