"""Tiny randomly initialised models (hidden size 32, two layers), saved once per test session.

They have the real architectures (so the loading, masking and pooling code paths are the real
ones) at a size that runs in milliseconds on a CPU. No test needs the network.
"""

from __future__ import annotations

from pathlib import Path

import pytest

SSL_SMALL = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                 conv_dim=(32, 32, 32), conv_stride=(5, 4, 4), conv_kernel=(10, 4, 4),
                 num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)


def build_tiny_models(root: Path) -> dict[str, Path]:
    import torch
    from transformers import (
        BertConfig,
        BertModel,
        Data2VecAudioConfig,
        Data2VecAudioModel,
        HubertConfig,
        HubertModel,
        Wav2Vec2Config,
        Wav2Vec2FeatureExtractor,
        Wav2Vec2Model,
        WavLMConfig,
        WavLMModel,
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperModel,
    )

    torch.manual_seed(0)
    specs = {
        # wav2vec2-base style: group norm after the first convolution, no attention mask in training
        "wav2vec2_group": (Wav2Vec2Config, Wav2Vec2Model, dict(feat_extract_norm="group")),
        # wav2vec2-large(-robust) style: layer norm everywhere, pre-norm transformer
        "wav2vec2_layer": (Wav2Vec2Config, Wav2Vec2Model,
                           dict(feat_extract_norm="layer", do_stable_layer_norm=True)),
        "hubert": (HubertConfig, HubertModel, dict(feat_extract_norm="group")),
        "wavlm": (WavLMConfig, WavLMModel, dict(feat_extract_norm="group")),
        "data2vec": (Data2VecAudioConfig, Data2VecAudioModel, dict(num_conv_pos_embeddings=3)),
    }
    out = {}
    for name, (config_cls, model_cls, extra) in specs.items():
        path = root / name
        model_cls(config_cls(**{**SSL_SMALL, **extra})).save_pretrained(path)
        out[name] = path
    # a saved feature extractor decides the normalisation (the others use nk's fallback)
    Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=True).save_pretrained(
        out["wav2vec2_layer"])
    whisper = WhisperConfig(d_model=32, encoder_layers=2, decoder_layers=1, encoder_attention_heads=2,
                            decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64,
                            num_mel_bins=80, vocab_size=100, pad_token_id=1, bos_token_id=2,
                            eos_token_id=3, decoder_start_token_id=2, max_target_positions=32)
    out["whisper"] = root / "whisper"
    WhisperModel(whisper).save_pretrained(out["whisper"])
    WhisperFeatureExtractor(feature_size=80).save_pretrained(out["whisper"])
    out["bert"] = root / "bert"  # a text model: not an audio encoder
    BertModel(BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=64, vocab_size=100)).save_pretrained(out["bert"])
    return out


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    return build_tiny_models(tmp_path_factory.mktemp("tiny-models"))
