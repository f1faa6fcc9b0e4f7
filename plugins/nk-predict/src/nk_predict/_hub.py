"""Hugging Face hub models for the age, gender, arousal/valence/dominance and emotion predictors
(torch and transformers, imported here only), and torchaudio's SQUIM for pesq/stoi/sdr.

audEERING's models add their own heads to a wav2vec2 encoder; the classes below rebuild that
architecture with the same module names, so that the published weights load:

- ``audeering/wav2vec2-large-robust-24-ft-age-gender``: mean-pooled last hidden state →
  ``age`` head (1 output: age / 100) and ``gender`` head (3 logits: female, male, child);
- ``audeering/wav2vec2-large-robust-12-ft-emotion-msp-dim``: mean-pooled → ``classifier``
  head (3 outputs: arousal, dominance, valence, about 0–1).

Each head is dropout → dense (hidden → hidden) → tanh → dropout → out_proj. Rows are batched (the
core groups them by duration, at most ``batch_seconds`` of padded audio per batch), pooled over
their own frames only (attention mask), and rows longer than ``window_seconds`` are cut into
windows whose outputs are averaged (weighted by length), so memory stays bounded.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nk.errors import UserError

RATE = 16000
GENDERS = ("female", "male", "child")
DIMENSIONS = ("arousal", "dominance", "valence")  # the MSP-dim model's output order


def _architectures() -> dict[str, type]:
    """audEERING's architectures (defined here, after importing torch and transformers)."""
    import torch
    from torch import nn
    from transformers import Wav2Vec2Model, Wav2Vec2PreTrainedModel

    class Head(nn.Module):
        def __init__(self, config: Any, n_out: int) -> None:
            super().__init__()
            self.dense = nn.Linear(config.hidden_size, config.hidden_size)
            self.dropout = nn.Dropout(config.final_dropout)
            self.out_proj = nn.Linear(config.hidden_size, n_out)

        def forward(self, x: Any) -> Any:
            x = self.dropout(x)
            x = torch.tanh(self.dense(x))
            return self.out_proj(self.dropout(x))

    class _Pooled(Wav2Vec2PreTrainedModel):
        def pooled(self, input_values: Any, attention_mask: Any = None) -> Any:
            hidden = self.wav2vec2(input_values, attention_mask=attention_mask)[0]  # type: ignore[operator]
            if attention_mask is None:
                return hidden.mean(dim=1)
            mask = self._get_feature_vector_attention_mask(hidden.shape[1], attention_mask)
            mask = mask.to(hidden.dtype).unsqueeze(-1)
            return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)

    class AgeGenderModel(_Pooled):
        def __init__(self, config: Any) -> None:
            super().__init__(config)
            self.config = config
            self.wav2vec2 = Wav2Vec2Model(config)
            self.age = Head(config, 1)
            self.gender = Head(config, 3)
            self.post_init()

        def forward(self, input_values: Any, attention_mask: Any = None) -> Any:
            pooled = self.pooled(input_values, attention_mask)
            return torch.cat([self.age(pooled), torch.softmax(self.gender(pooled), dim=1)], dim=1)

    class DimensionModel(_Pooled):
        def __init__(self, config: Any) -> None:
            super().__init__(config)
            self.config = config
            self.wav2vec2 = Wav2Vec2Model(config)
            self.classifier = Head(config, 3)
            self.post_init()

        def forward(self, input_values: Any, attention_mask: Any = None) -> Any:
            return self.classifier(self.pooled(input_values, attention_mask))

    return {"age_gender": AgeGenderModel, "dimensions": DimensionModel}


def architectures() -> dict[str, type]:
    """For tests and users who build a model of the same architecture."""
    return _architectures()


def _offline_error(who: str, model: str, exc: BaseException) -> UserError:
    offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
    return UserError(
        f"Cannot load the model {model!r} for the {who} predictor: it is neither a local folder nor in "
        f"the local Hugging Face cache, and the hub could not be reached"
        + (" (HF_HUB_OFFLINE is set)" if offline else "") + f" ({type(exc).__name__}: {str(exc)[:160]})",
        where=f"config key predict.{who}.model",
        todo="connect to the internet once (the model is cached in ~/.cache/huggingface), or download it "
             f"elsewhere with `hf download {model}` and set predict.{who}.model=<its folder>; a gated model "
             "also needs HF_TOKEN (or the secret predict.<name>.token)",
    )


@dataclass
class Runner:
    """A loaded model: ``runner(signals, rate)`` → one vector per signal (see :data:`names`)."""

    kind: str
    net: Any
    features: Callable[[list[np.ndarray]], dict[str, Any]]
    names: list[str]
    classes: list[str]
    device: str
    window_seconds: float
    batchable: bool  # padding does not change a row's output (layer-norm feature encoder)

    def __call__(self, signals: Sequence[np.ndarray], rate: int) -> list[np.ndarray]:
        if rate != RATE:
            raise UserError(f"the hub models need {RATE} Hz audio, got {rate} Hz")
        window = int(self.window_seconds * RATE)
        pieces: list[tuple[int, np.ndarray]] = []
        for i, s in enumerate(signals):
            s = np.asarray(s, dtype=np.float32).reshape(-1)
            if s.size < RATE // 10:  # under 0.1 s: too short for the encoder
                s = np.resize(s, RATE // 10) if s.size else np.zeros(RATE // 10, dtype=np.float32)
            n = max(1, int(np.ceil(s.size / window)))
            for part in np.array_split(s, n):
                pieces.append((i, part))
        outputs = np.zeros((len(signals), len(self.names)), dtype=np.float64)
        weights = np.zeros(len(signals))
        step = 1 if not self.batchable else max(1, len(pieces))
        # at most about one window of padded audio beyond the core's batch per forward pass
        for start in range(0, len(pieces), step):
            chunk = pieces[start : start + step]
            values = self._forward([p for _, p in chunk])
            for (i, part), row in zip(chunk, values, strict=True):
                outputs[i] += part.size * row
                weights[i] += part.size
        return [(outputs[i] / weights[i]).astype(np.float32) for i in range(len(signals))]

    def _forward(self, signals: list[np.ndarray]) -> np.ndarray:
        import torch

        inputs = self.features(signals)
        with torch.inference_mode():
            kwargs = {"input_values": inputs["input_values"].to(self.device)}
            if self.batchable and inputs.get("attention_mask") is not None:
                kwargs["attention_mask"] = inputs["attention_mask"].to(self.device)
            out = self.net(**kwargs)
            if self.kind == "classifier":
                out = torch.softmax(out.logits, dim=-1)
        values = out.detach().float().cpu().numpy()
        if self.kind == "age_gender":
            values[:, 0] *= 100.0  # the age head predicts age / 100
        return values


def load(kind: str, model: str, *, device: str, token: str | None, window_seconds: float, who: str) -> Runner:
    """Load ``model`` (a hub id or a local folder) for the predictor ``who``."""
    try:
        import torch
        from transformers import AutoFeatureExtractor, AutoModelForAudioClassification
    except ImportError as exc:
        raise UserError(f"The {who} predictor needs torch and transformers ({exc})",
                        where=f"predictor {who!r} (nk-predict)", todo="pip install torch transformers") from None
    token = token or os.environ.get("HF_TOKEN") or None
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    options: dict[str, Any] = {"token": token}
    if not Path(model).expanduser().is_dir():
        from nk_transformers.hub import hub_reachable  # the embeddings plugin's probe, not a second one

        if os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0") or not hub_reachable():
            options["local_files_only"] = True  # the cache only: no five retries against an unreachable hub
    try:
        if kind == "classifier":
            net = AutoModelForAudioClassification.from_pretrained(model, **options)
        else:
            net = _architectures()[kind].from_pretrained(model, **options)  # type: ignore[attr-defined]
    except Exception as exc:
        raise _offline_error(who, model, exc) from None
    try:
        extractor = AutoFeatureExtractor.from_pretrained(model, **options)
    except Exception:  # no preprocessor config: wav2vec2's default (zero mean, unit variance)
        from transformers import Wav2Vec2FeatureExtractor

        extractor = Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=True)
    net.eval().to(device)
    batchable = getattr(net.config, "feat_extract_norm", "layer") == "layer"

    def features(signals: list[np.ndarray]) -> dict[str, Any]:
        return extractor(signals, sampling_rate=RATE, return_tensors="pt", padding=True,
                         return_attention_mask=True)

    if kind == "age_gender":
        names, classes = ["age", *(f"p_{g}" for g in GENDERS)], list(GENDERS)
    elif kind == "dimensions":
        names, classes = list(DIMENSIONS), []
    else:
        labels = net.config.id2label
        classes = [str(labels[i]) for i in range(len(labels))]
        names = [f"p_{c}" for c in classes]
    return Runner(kind, net, features, names, classes, device, window_seconds, batchable)


def squim(who: str, device: str) -> Callable[[np.ndarray, int], np.ndarray]:
    """torchaudio's SQUIM objective model: signal → [STOI, PESQ, SI-SDR]."""
    try:
        import torch
        from torchaudio.pipelines import SQUIM_OBJECTIVE
    except Exception as exc:
        raise UserError(
            f"The {who} predictor needs torchaudio's SQUIM objective model (torchaudio.pipelines."
            f"SQUIM_OBJECTIVE), and torchaudio does not import here ({type(exc).__name__}: {str(exc)[:160]})",
            where=f"predictor {who!r} (nk-predict)",
            todo="install a torchaudio build that matches your torch (none exists on PyPI for nk's CPU "
                 "torch); no other non-intrusive PESQ/STOI/SDR model ships in a pip package. For "
                 "quality without it use predict=[mos] (DNSMOS) or predict=[snr]") from None
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        model = SQUIM_OBJECTIVE.get_model().to(device).eval()  # downloads its weights once
    except Exception as exc:
        raise _offline_error(who, "torchaudio SQUIM_OBJECTIVE", exc) from None

    def run(signal: np.ndarray, rate: int) -> np.ndarray:
        with torch.inference_mode():
            wave = torch.as_tensor(np.asarray(signal, dtype=np.float32))[None].to(device)
            stoi, pesq, sdr = model(wave)
        return np.array([float(stoi), float(pesq), float(sdr)], dtype=np.float32)

    return run
