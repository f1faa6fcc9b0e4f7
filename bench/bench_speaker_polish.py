"""Benchmark (not a test): unsupervised speaker clustering (`predict=[speaker]`) on the Polish
corpus, every embedding and clustering variant tried, with ARI and purity.

    .venv/bin/python bench/bench_speaker_polish.py [--polish ../shared/data/polish/polish_speech_emotions.zip]

450 single words (0.5–1.6 s) of 5 male speakers in 3 emotions. The speaker labels are used only
to score; no variant is tuned on them beyond choosing the method, and all are printed. The
shipped default is `nk_predict._speaker.cluster` (k-means on centred embeddings PCA-whitened to
2 × n_speakers dimensions); the whitening dimension's sensitivity is printed too.

Embeddings (resemblyzer 256-d):
- `pad` — what the predictor stores: webrtcvad-trimmed (`preprocess_wav`), zero-padded to the
  model's 1.6 s partial window (`embed_utterance`);
- `novad` — the same without the VAD trim (volume-normalised only);
- `exact` — the trimmed word's own frames through the LSTM, no padding;
- `loop` — the trimmed word repeated to fill 1.6 s.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from nk_predict._speaker import cluster, normalise, quality

PARTIAL = 25600  # samples in resemblyzer's 1.6 s window


def embeddings(paths: list[Path]) -> dict[str, np.ndarray]:
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from resemblyzer import VoiceEncoder, preprocess_wav
        from resemblyzer.audio import normalize_volume, wav_to_mel_spectrogram
    from nk_predict._speaker import encoder

    shipped = encoder("resemblyzer", model="", token=None, telemetry=False)
    enc = VoiceEncoder(device="cpu", verbose=False)
    torch.set_num_threads(1)
    out: dict[str, list[np.ndarray]] = {"pad": [], "novad": [], "exact": [], "loop": []}
    for path in paths:
        x, rate = sf.read(path, dtype="float32")
        out["pad"].append(shipped(x, rate))
        out["novad"].append(enc.embed_utterance(normalize_volume(x, -30, increase_only=True)))
        wav = preprocess_wav(x, source_sr=rate)
        if wav.size < 8000:
            wav = normalize_volume(x, -30, increase_only=True)
        with torch.no_grad():
            out["exact"].append(enc(torch.from_numpy(wav_to_mel_spectrogram(wav)[None])).numpy()[0])
        out["loop"].append(enc.embed_utterance(np.tile(wav, int(np.ceil(PARTIAL / wav.size)))[: max(PARTIAL, wav.size)]))
    return {k: np.stack(v) for k, v in out.items()}


def spectral(x: np.ndarray, k: int) -> np.ndarray:
    from sklearn.cluster import SpectralClustering

    affinity = np.clip(x @ x.T, 0, None)  # cosine similarity of unit vectors, negatives cut
    return SpectralClustering(k, affinity="precomputed", random_state=0, assign_labels="cluster_qr").fit_predict(affinity)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--polish", type=Path, default=Path("../shared/data/polish/polish_speech_emotions.zip"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        source = args.polish
        if source.suffix == ".zip":
            with zipfile.ZipFile(source) as archive:
                archive.extractall(tmp)
            source = Path(tmp)
        paths = sorted(source.rglob("*.wav"))
        truth = [p.name.split(".")[0] for p in paths]
        t0 = time.perf_counter()
        emb = embeddings(paths)
    print(f"{len(paths)} files, {len(set(truth))} speakers; embeddings in {time.perf_counter() - t0:.0f} s\n")
    k = len(set(truth))
    rows = []

    def score(embedding: str, prep: str, method: str, labels: list[str] | np.ndarray) -> None:
        q = quality(truth, labels)
        rows.append({"embedding": embedding, "normalisation": prep, "clustering": method,
                     "ARI": round(q["ari"], 3), "purity": round(q["purity"], 3), "clusters": q["clusters"]})

    for name, x in emb.items():
        raw = x / np.linalg.norm(x, axis=1, keepdims=True)
        for prep, z in (("unit", raw), ("centred+unit", normalise(x)), (f"whiten{2 * k}+unit", normalise(x, 2 * k))):
            from sklearn.cluster import AgglomerativeClustering, KMeans

            for linkage in ("ward", "average", "complete"):
                metric = "euclidean" if linkage == "ward" else "cosine"
                score(name, prep, f"agglomerative/{linkage}",
                      AgglomerativeClustering(k, metric=metric, linkage=linkage).fit_predict(z))
            score(name, prep, "kmeans(100 starts)", KMeans(k, n_init=100, random_state=0).fit_predict(z))
            score(name, prep, "spectral(cosine)", spectral(z, k))
    table = pd.DataFrame(rows)
    with pd.option_context("display.max_rows", None, "display.width", 160):
        print(table.to_string(index=False))
        print("\nARI by embedding × (normalisation, clustering):")
        print(table.pivot_table(index=["normalisation", "clustering"], columns="embedding", values="ARI").round(3))

    print("\nShipped default, cluster(pad, n_speakers=5) — whitening dimension sensitivity (pad embeddings):")
    for dims in (0, 4, 6, 8, 10, 12, 15, 20, 30, 60):
        labels = cluster(emb["pad"], n_speakers=k, threshold=None, whiten=dims)
        q = quality(truth, labels)
        mark = "  <- default (2 × n_speakers)" if dims == 2 * k else ""
        print(f"  whiten={dims:3d}: ARI {q['ari']:.3f}  purity {q['purity']:.3f}{mark}")
    from sklearn.cluster import KMeans

    z = normalise(emb["pad"], 2 * k)
    seeds = [quality(truth, KMeans(k, n_init=100, random_state=s).fit_predict(z))["ari"] for s in range(5)]
    print(f"  k-means seeds 0–4 at whiten={2 * k}: ARI " + " ".join(f"{a:.3f}" for a in seeds))
    auto = cluster(emb["pad"], n_speakers=None, threshold=None)
    q = quality(truth, auto)
    print(f"  n_speakers unset (silhouette picks the count): {q['clusters']} clusters, ARI {q['ari']:.3f}, "
          f"purity {q['purity']:.3f}")
    old = cluster(emb["pad"], n_speakers=k, threshold=None, clustering="agglomerative", linkage="ward")
    q = quality(truth, old)
    print(f"  previous default (agglomerative ward, centred unit vectors): ARI {q['ari']:.3f}, purity {q['purity']:.3f}")


if __name__ == "__main__":
    main()
