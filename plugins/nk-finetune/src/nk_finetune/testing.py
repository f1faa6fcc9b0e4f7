"""Tiny local audio encoders for tests and benchmarks (no network): a few-kilobyte
wav2vec2-style model saved with ``save_pretrained`` plus its feature extractor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

KINDS = ("wav2vec2", "hubert", "wavlm", "data2vec-audio")


def tiny_encoder(path: str | Path, kind: str = "wav2vec2", *, hidden_size: int = 32, layers: int = 2,
                 seed: int = 0, **config: Any) -> Path:
    """Write a randomly initialised ``kind`` encoder (hidden 32, 2 layers, 2 conv layers) and a
    16 kHz feature extractor to ``path``; returns the path, loadable with ``from_pretrained``."""
    import torch
    import transformers

    configs = {"wav2vec2": transformers.Wav2Vec2Config, "hubert": transformers.HubertConfig,
               "wavlm": transformers.WavLMConfig, "data2vec-audio": transformers.Data2VecAudioConfig}
    models = {"wav2vec2": transformers.Wav2Vec2Model, "hubert": transformers.HubertModel,
              "wavlm": transformers.WavLMModel, "data2vec-audio": transformers.Data2VecAudioModel}
    settings: dict[str, Any] = dict(
        hidden_size=hidden_size, num_hidden_layers=layers, num_attention_heads=2, intermediate_size=2 * hidden_size,
        conv_dim=(16, 16), conv_stride=(5, 4), conv_kernel=(10, 8), num_conv_pos_embeddings=8,
        num_conv_pos_embedding_groups=2, layerdrop=0.0, mask_time_prob=0.0, vocab_size=8,
    )
    if kind == "data2vec-audio":
        settings.update(num_conv_pos_embeddings=3, conv_pos_kernel_size=3)
    settings.update(config)
    torch.manual_seed(seed)
    model = models[kind](configs[kind](**settings))
    path = Path(path)
    model.save_pretrained(path)
    transformers.Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0,
                                          do_normalize=True, return_attention_mask=True).save_pretrained(path)
    return path


def tone_rows(folder: str | Path, n: int = 16, seconds: float = 0.4, seed: int = 0) -> tuple[Any, Any]:
    """Audio rows (``file``, ``start``, ``end``, ``sampling_rate``) of ``n`` short wav files and
    labels ``low``/``high`` (a low quiet tone or a high loud one), for audio learners."""
    import numpy as np
    import pandas as pd
    import soundfile as sf

    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files, labels = [], []
    t = np.arange(int(seconds * 16000)) / 16000
    for i in range(n):
        high = i % 2 == 1
        f0 = (900.0 if high else 120.0) * (1 + 0.05 * rng.standard_normal())
        amp = 0.6 if high else 0.1
        signal = amp * np.sin(2 * np.pi * f0 * t) + 0.01 * rng.standard_normal(len(t))
        path = folder / f"tone{i:03d}.wav"
        sf.write(path, signal.astype(np.float32), 16000)
        files.append(str(path))
        labels.append("high" if high else "low")
    rows = pd.DataFrame({"file": files, "start": np.nan, "end": np.nan, "sampling_rate": 16000}, index=files)
    return rows, np.asarray(labels)
