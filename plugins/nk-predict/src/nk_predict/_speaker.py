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
    import warnings

    try:
        import torch

        with warnings.catch_warnings():  # webrtcvad: pkg_resources; resemblyzer: scipy.ndimage.morphology
            warnings.simplefilter("ignore")
            from resemblyzer import VoiceEncoder, preprocess_wav
            from resemblyzer.audio import normalize_volume
    except ImportError as exc:  # typically webrtcvad's `import pkg_resources` (setuptools >= 81)
        raise UserError(f"The speaker predictor cannot import resemblyzer ({exc})",
                        where="predictor 'speaker' (nk-predict)",
                        todo="pip install resemblyzer 'setuptools<81' (its webrtcvad needs pkg_resources), "
                             "or webrtcvad-wheels") from None
    enc = VoiceEncoder(device="cpu", verbose=False)

    def embed(signal: np.ndarray, rate: int) -> np.ndarray:
        x = np.asarray(signal, dtype=np.float32)
        wav = preprocess_wav(x, source_sr=rate)  # resample, normalise, drop long silences (webrtcvad)
        if wav.size < MIN_SECONDS * 16000 and rate == 16000:  # its VAD kept too little: the whole row
            wav = normalize_volume(x, -30, increase_only=True)
        if wav.size < 1600 or not np.any(wav):
            raise UserError("too little audio for a speaker embedding (under 0.1 s, or silent)")
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # small matrices: extra threads only contend with other work
        try:
            return np.asarray(enc.embed_utterance(wav), dtype=np.float32)
        finally:
            torch.set_num_threads(threads)

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


MAX_AUTO_SPEAKERS = 20


def cluster(embeddings: np.ndarray, *, n_speakers: int | None, threshold: float | None,
            linkage: str = "ward") -> list[str]:
    """Agglomerative clustering of the rows' embeddings into labels ``spk01`` … (numbered in
    order of first appearance).

    The embeddings are centred on the database's mean and scaled to unit length first (what all
    rows share — language, channel, speaking style — then weighs less than who speaks; on the
    Polish corpus this raised the ARI of Ward clustering from 0.50 to 0.54). ``n_speakers``
    given: that many clusters; else ``threshold``: cut the tree at that linkage distance; else
    the number of clusters (2 … 20) with the best cosine silhouette.
    """
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.metrics import silhouette_score

    n = len(embeddings)
    if n == 0:
        return []
    if n == 1:
        return ["spk01"]
    x = np.asarray(embeddings, dtype=np.float64)
    x = x - x.mean(axis=0)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    metric = "euclidean" if linkage == "ward" else "cosine"

    def fit(k: int | None, cut: float | None = None) -> np.ndarray:
        model = AgglomerativeClustering(n_clusters=k, distance_threshold=cut, metric=metric, linkage=linkage)
        return model.fit_predict(x)

    if n_speakers is not None:
        raw = fit(min(n_speakers, n))
    elif threshold is not None:
        raw = fit(None, threshold)
    elif n < 3:
        raw = np.zeros(n, dtype=int)
    else:
        best: tuple[float, np.ndarray] | None = None
        for k in range(2, min(MAX_AUTO_SPEAKERS, n - 1) + 1):
            labels = fit(k)
            score = float(silhouette_score(x, labels, metric="cosine"))
            if best is None or score > best[0]:
                best = (score, labels)
        assert best is not None
        raw = best[1]
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
