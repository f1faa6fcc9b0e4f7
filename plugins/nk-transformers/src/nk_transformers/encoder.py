"""The torch side: one loaded model, batched forward passes, every layer pooled at once.

Imported lazily by the featurizers (it imports torch and transformers at module level).

For every signal, :meth:`Encoder.pool` returns the mean, standard deviation and maximum over
the frames that carry audio of every hidden state (the transformer's input and each layer's
output), layer-major: ``(layers, 3, hidden)`` flattened. Long signals are cut into equal
chunks of at most ``max_duration`` seconds whose frame statistics are merged exactly
(Chan et al.'s pairwise update), so memory stays bounded by the chunk size.

Batches are padded, and the padding never changes a value:

* wav2vec 2.0-style models (wav2vec2, HuBERT, WavLM, data2vec-audio, …) get an attention mask;
  frames after a signal's end are excluded from pooling. Checkpoints whose first convolution is
  followed by a group norm (``feat_extract_norm == "group"``, e.g. wav2vec2-base) normalise over
  time, so padding would change them: that one layer runs per signal on its exact length (it
  is cheap), the rest of the network batched — the result equals the per-file forward pass.
* Whisper's encoder always sees 30 s (its padding is part of the model); only the frames that
  carry audio are pooled.
* Other models (``feats=hf`` with an architecture nk does not know) run one signal at a time.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from nk.errors import UserError
from nk_transformers import hub

WHISPER_SECONDS = 30.0
SSL_TYPES = frozenset({"wav2vec2", "hubert", "wavlm", "data2vec-audio", "unispeech", "unispeech-sat",
                       "sew", "sew-d", "wav2vec2-conformer"})
"""Model types run by the batched wav2vec 2.0-style path (raw samples in, conv feature encoder)."""
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass
class Settings:
    """What the featurizer passes to its encoder (everything that affects loading or batching)."""

    model: str
    revision: str | None
    token: str | None
    device: str
    dtype: str
    max_duration: float
    batch_seconds: float
    config_key: str
    component: str
    allowed_types: frozenset[str] | None  # None: any audio encoder (feats=hf)


def load_config(source: hub.Source, settings: Settings) -> Any:
    """The model's config (no weights), checked to be an audio encoder of an allowed type."""
    from transformers import AutoConfig

    config = hub.load(source, "config", AutoConfig.from_pretrained)
    check_config(config, settings)
    return config


def _audio_input(config: Any) -> str | None:
    """The main input of the model class ``AutoModel`` builds for ``config`` (None: unknown)."""
    from transformers import AutoModel

    try:
        cls = AutoModel._model_mapping[type(config)]
    except (KeyError, ValueError):
        return None
    name = getattr(cls, "main_input_name", None)
    return name if name in ("input_values", "input_features") else None


def check_config(config: Any, settings: Settings) -> None:
    model_type = getattr(config, "model_type", "?")
    where = f"config key {settings.config_key}.model ({settings.model})"
    if settings.allowed_types is not None:
        if model_type not in settings.allowed_types:
            raise UserError(
                f"{settings.model!r} is a {model_type!r} model, not one feats={settings.component} runs",
                where=where, allowed="model types " + ", ".join(sorted(settings.allowed_types)),
                todo=f"choose a matching feats (wav2vec2, hubert, wavlm, data2vec, whisper), or "
                     f"use feats=hf feats.hf.model={settings.model}")
        return
    if model_type == "whisper" or _audio_input(config) is not None:
        return
    raise UserError(
        f"{settings.model!r} is a {model_type!r} model, which is not an audio encoder",
        where=where,
        allowed="audio encoders that take raw samples or spectrograms: "
                + ", ".join(sorted(SSL_TYPES | {"whisper"})) + ", and others of that kind",
        todo="choose a speech model (e.g. microsoft/wavlm-base-plus)")


def _resolve_device(name: str, config_key: str) -> torch.device:
    spec = str(name).strip().lower()
    allowed = "auto, cpu, cuda, cuda:N (N: a GPU index)"
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "cuda" or (spec.startswith("cuda:") and spec[5:].isdigit()):
        if not torch.cuda.is_available():
            raise UserError(f"device={name} is set but torch sees no CUDA GPU",
                            where=f"config key {config_key}.device", allowed=allowed,
                            todo=f"use {config_key}.device=cpu (or auto), or install a CUDA build of torch")
        index = int(spec[5:]) if ":" in spec else 0
        if index >= torch.cuda.device_count():
            raise UserError(f"device={name}: there are {torch.cuda.device_count()} GPUs",
                            where=f"config key {config_key}.device",
                            allowed=f"cuda:0 to cuda:{torch.cuda.device_count() - 1}")
        return torch.device(spec)
    raise UserError(f"Unknown device {name!r}", where=f"config key {config_key}.device", allowed=allowed)


def _dtype(name: str, device: torch.device, config_key: str) -> torch.dtype:
    name = str(getattr(name, "name", name))
    if name not in DTYPES:
        raise UserError(f"Unknown dtype {name!r}", where=f"config key {config_key}.dtype",
                        allowed=", ".join(DTYPES))
    if name == "float16" and device.type == "cpu":
        raise UserError("dtype=float16 needs a GPU: on a CPU it is slow or unsupported",
                        where=f"config key {config_key}.dtype",
                        allowed="float32 or bfloat16 on a CPU; float16 with device=cuda",
                        todo=f"set {config_key}.dtype=float32 (or bfloat16)")
    return DTYPES[name]


def set_threads(n_jobs: int | None = None) -> None:
    """Give torch ``n_jobs`` threads (nk's cores for this run), at most the cores this process may
    run on (torch may count the whole host's). More threads than free cores make every operator
    wait for descheduled threads: on a shared machine that costs more than it gains."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    want = min(cores, n_jobs) if n_jobs else min(cores, torch.get_num_threads())
    if torch.get_num_threads() != want:
        torch.set_num_threads(max(1, want))


class _PerSignalFirstConv(nn.Module):
    """Runs a group-normalised first convolution on each signal's own samples.

    Group norm with one group per channel normalises over time, so zero padding would change the
    statistics; this layer is cheap next to the rest, so it runs per signal and its outputs are
    zero-padded to the batch's frame count. The later convolutions have no padding, so their
    frames inside a signal depend only on that signal's samples.
    """

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer
        self.lengths: list[int] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.lengths is None or x.shape[0] == 1:
            return self.layer(x)
        parts = [self.layer(x[i : i + 1, :, :n]) for i, n in enumerate(self.lengths)]
        frames = max(p.shape[-1] for p in parts)
        out = x.new_zeros((x.shape[0], parts[0].shape[1], frames))
        for i, p in enumerate(parts):
            out[i, :, : p.shape[-1]] = p[0]
        return out


class _ZeroAfterEnd(nn.Module):
    """Sets a layer's output frames after each signal's end to zero (as a per-signal pass sees).

    data2vec-audio's positional embedding stacks convolutions with zero padding: in a padded
    batch the second one would see the first one's output on padding frames instead of zeros.
    """

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer
        self.lengths: list[int] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layer(x)
        if self.lengths is not None and x.shape[0] > 1:
            keep = torch.arange(out.shape[-1], device=out.device)[None, :] < torch.tensor(
                self.lengths, device=out.device)[:, None]
            out = out * keep[:, None, :].to(out.dtype)
        return out


class _Moments:
    """Frame count, mean, sum of squared deviations and maximum per (layer, unit), in float64."""

    def __init__(self) -> None:
        self.n = 0
        self.mean: np.ndarray | None = None
        self.m2: np.ndarray | None = None
        self.max: np.ndarray | None = None

    def add(self, n: int, mean: np.ndarray, m2: np.ndarray, mx: np.ndarray) -> None:
        if self.mean is None or self.m2 is None or self.max is None:
            self.n, self.mean, self.m2, self.max = n, mean, m2, mx
            return
        total = self.n + n
        delta = mean - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + m2 + delta**2 * (self.n * n / total)
        self.max = np.maximum(self.max, mx)
        self.n = total

    def vector(self) -> np.ndarray:
        assert self.mean is not None and self.m2 is not None and self.max is not None
        std = np.sqrt(np.maximum(self.m2 / self.n, 0.0))
        return np.stack([self.mean, std, self.max], axis=1).astype(np.float32).reshape(-1)


class Encoder:
    """A loaded model on its device; ``pool`` gives the stored vectors of a list of signals."""

    def __init__(self, settings: Settings, source: hub.Source) -> None:
        from transformers.utils import logging as hf_logging

        set_threads()
        self.settings = settings
        self.source = source
        self.config = load_config(source, settings)
        key = settings.config_key
        self.device = _resolve_device(settings.device, key)
        self.dtype = _dtype(settings.dtype, self.device, key)
        model_type = self.config.model_type
        self.kind = ("whisper" if model_type == "whisper"
                     else "ssl" if model_type in SSL_TYPES else "generic")
        if self.kind == "whisper" and settings.max_duration > WHISPER_SECONDS:
            raise UserError(f"max_duration={settings.max_duration:g} s is longer than the "
                            f"{WHISPER_SECONDS:g} s Whisper's encoder takes",
                            where=f"config key {key}.max_duration",
                            allowed=f"0 < max_duration <= {WHISPER_SECONDS:g}")
        hf_logging.set_verbosity_error()  # no "some weights were not used" chatter per load
        hf_logging.disable_progress_bar()
        self.model = self._load_model()
        self.processor = self._load_processor()
        expected = getattr(self.processor, "sampling_rate", None)
        if expected is not None and int(expected) != 16000:
            raise UserError(f"{settings.model!r} expects {expected} Hz audio; nk's embedding "
                            "featurizers feed 16 kHz", where=f"config key {key}.model",
                            allowed="models trained on 16 kHz audio (wav2vec2, HuBERT, WavLM, "
                                    "data2vec, Whisper and most speech encoders)")
        self.forward_passes = 0  # counted for tests and logs
        self.n_layers, self.hidden = self._shape()

    # --- loading -----------------------------------------------------------------------------

    def _load_model(self) -> Any:
        from transformers import AutoModel

        kwargs: dict[str, Any] = {"dtype": self.dtype}
        model: Any
        if self.kind == "whisper":
            from transformers import WhisperModel

            full = hub.load(self.source, "weights",
                            lambda path, **kw: WhisperModel.from_pretrained(path, **kw, **kwargs))
            model = full.get_encoder()
            del full
        else:
            model = hub.load(self.source, "weights",
                             lambda path, **kw: AutoModel.from_pretrained(path, **kw, **kwargs))
        model.eval().to(self.device)
        self._per_signal: list[_PerSignalFirstConv] = []  # told the samples per signal
        self._per_frame: list[_ZeroAfterEnd] = []  # told the frames per signal
        if self.kind == "ssl":
            convs = getattr(getattr(model, "feature_extractor", None), "conv_layers", None)
            if convs is None:
                self.kind = "generic"
            elif getattr(self.config, "feat_extract_norm", "layer") == "group":
                first = _PerSignalFirstConv(convs[0])
                convs[0] = first
                self._per_signal.append(first)
            pos_layers = getattr(getattr(getattr(model, "encoder", None), "pos_conv_embed", None), "layers", None)
            if isinstance(pos_layers, nn.ModuleList):  # stacked positional convolutions
                for i, layer in enumerate(pos_layers):
                    wrapped = _ZeroAfterEnd(layer)
                    pos_layers[i] = wrapped
                    self._per_frame.append(wrapped)
        return model

    def _load_processor(self) -> Any:
        from transformers import AutoFeatureExtractor

        try:
            return hub.load(self.source, "feature extractor", AutoFeatureExtractor.from_pretrained)
        except UserError:
            if self.kind == "ssl":  # raw samples: the normalisation is all nk needs (see _normalize)
                return None
            if self.kind == "whisper":
                from transformers import WhisperFeatureExtractor

                return WhisperFeatureExtractor(feature_size=self.config.num_mel_bins)
            raise

    def _shape(self) -> tuple[int, int]:
        if self.kind == "whisper":
            return self.config.encoder_layers + 1, self.config.d_model
        if self.kind == "ssl":
            return self.config.num_hidden_layers + 1, self.config.hidden_size
        stats = self._forward_generic(np.zeros(16000, dtype=np.float32))
        self.forward_passes = 0
        return stats[1].shape[0], stats[1].shape[1]

    # --- public ------------------------------------------------------------------------------

    @property
    def min_samples(self) -> int:
        """The shortest input that gives one frame (the conv encoder's receptive field)."""
        if self.kind != "ssl":
            return 1
        size = 1
        for kernel, stride in zip(reversed(self.config.conv_kernel), reversed(self.config.conv_stride),
                                  strict=True):
            size = (size - 1) * stride + kernel
        return size

    def chunks(self, n_samples: int, rate: int) -> list[tuple[int, int]]:
        """Equal (start, stop) chunks of at most ``max_duration`` seconds covering the signal."""
        limit = max(1, int(self.settings.max_duration * rate))
        if self.kind == "whisper":
            limit = min(limit, int(WHISPER_SECONDS * rate))
        count = max(1, math.ceil(n_samples / limit))
        size = math.ceil(n_samples / count)
        return [(i * size, min(n_samples, (i + 1) * size)) for i in range(count)]

    def pool(self, signals: Sequence[np.ndarray], rate: int) -> list[np.ndarray]:
        """The stored vector (every layer's mean, std, max) of each signal."""
        pieces: list[tuple[int, np.ndarray]] = []
        for i, signal in enumerate(signals):
            x = np.asarray(signal, dtype=np.float32).reshape(-1)
            if len(x) < self.min_samples:
                raise ValueError(f"a {1000 * len(x) / rate:.0f} ms signal is shorter than the "
                                 f"{1000 * self.min_samples / rate:.0f} ms {self.settings.model} "
                                 "needs for one frame")
            if not np.isfinite(x).all():
                raise ValueError("the signal holds NaN or infinite samples")
            pieces += [(i, x[a:b]) for a, b in self.chunks(len(x), rate)]
        moments = [_Moments() for _ in signals]
        for batch in self._batches(pieces, rate):
            for (i, _), stats in zip(batch, self._forward([p for _, p in batch]), strict=True):
                moments[i].add(*stats)
        return [m.vector() for m in moments]

    # --- batching ------------------------------------------------------------------------------

    def _batches(self, pieces: list[tuple[int, np.ndarray]], rate: int) -> list[list[tuple[int, np.ndarray]]]:
        """Length-sorted groups holding at most ``batch_seconds`` of padded audio each."""
        order = sorted(range(len(pieces)), key=lambda k: len(pieces[k][1]))
        budget = self.settings.batch_seconds * rate
        if self.kind == "whisper":
            per_batch = max(1, int(self.settings.batch_seconds // WHISPER_SECONDS))
            return [[pieces[k] for k in order[j : j + per_batch]] for j in range(0, len(order), per_batch)]
        if self.kind == "generic":
            return [[pieces[k]] for k in order]
        out: list[list[tuple[int, np.ndarray]]] = []
        current: list[tuple[int, np.ndarray]] = []
        for k in order:
            longest = len(pieces[k][1])  # sorted: the newest piece is the longest
            if current and (len(current) + 1) * longest > budget:
                out.append(current)
                current = []
            current.append(pieces[k])
        if current:
            out.append(current)
        return out

    # --- forward passes ------------------------------------------------------------------------

    def _normalize(self, x: np.ndarray) -> np.ndarray:
        """Zero mean, unit variance per signal when the checkpoint was trained that way.

        From the checkpoint's feature extractor config; without one, fairseq's convention:
        layer-norm models (large, robust) normalise, group-norm models (base) do not.
        """
        proc = self.processor
        if proc is not None:
            normalize = bool(getattr(proc, "do_normalize", True))
        else:
            normalize = getattr(self.config, "feat_extract_norm", "layer") == "layer"
        if not normalize:
            return x
        x64 = x.astype(np.float64)
        return ((x64 - x64.mean()) / np.sqrt(x64.var() + 1e-7)).astype(np.float32)

    def _forward(self, pieces: list[np.ndarray]) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
        if self.kind == "whisper":
            return self._forward_whisper(pieces)
        if self.kind == "generic":
            return [self._forward_generic(p) for p in pieces]
        return self._forward_ssl(pieces)

    @torch.inference_mode()
    def _forward_ssl(self, pieces: list[np.ndarray]) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
        lengths = [len(p) for p in pieces]
        x = torch.zeros((len(pieces), max(lengths)), dtype=torch.float32)
        for i, p in enumerate(pieces):
            x[i, : len(p)] = torch.from_numpy(self._normalize(p))
        frames = [int(f) for f in self.model._get_feat_extract_output_lengths(torch.tensor(lengths)).tolist()]
        mask = None
        if len(pieces) > 1:
            mask = (torch.arange(x.shape[1])[None, :] < torch.tensor(lengths)[:, None]).long()
            mask = mask.to(self.device)
        for module in self._per_signal:
            module.lengths = lengths
        for other in self._per_frame:
            other.lengths = frames
        try:
            with warnings.catch_warnings():  # WavLM's mask types: a torch deprecation, not ours
                warnings.filterwarnings("ignore", message=".*mismatched key_padding_mask.*")
                out = self.model(x.to(self.device, self.dtype), attention_mask=mask,
                                 output_hidden_states=True)
        finally:
            for module in self._per_signal:
                module.lengths = None
            for other in self._per_frame:
                other.lengths = None
        self.forward_passes += 1
        return _pooled(out.hidden_states, frames)

    @torch.inference_mode()
    def _forward_whisper(self, pieces: list[np.ndarray]) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
        feats = self.processor(pieces, sampling_rate=self.processor.sampling_rate, return_tensors="pt",
                               return_attention_mask=True)
        mel_frames = feats["attention_mask"].sum(dim=1)
        out = self.model(feats["input_features"].to(self.device, self.dtype), output_hidden_states=True)
        self.forward_passes += 1
        # the encoder's two convolutions halve the mel frame rate (stride 2 in the second)
        frames = [int(f) for f in ((mel_frames + 1) // 2).tolist()]
        return _pooled(out.hidden_states, frames)

    @torch.inference_mode()
    def _forward_generic(self, piece: np.ndarray) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
        if self.processor is None:
            raise UserError(f"{self.settings.model!r} has no feature extractor config "
                            "(preprocessor_config.json), so nk cannot prepare its input",
                            where=f"config key {self.settings.config_key}.model")
        inputs = self.processor(piece, sampling_rate=getattr(self.processor, "sampling_rate", 16000),
                                return_tensors="pt")
        module = self.model.get_encoder() if getattr(self.config, "is_encoder_decoder", False) else self.model
        name = getattr(module, "main_input_name", "input_values")
        if name not in inputs:
            name = next(iter(inputs))
        args = {name: inputs[name].to(self.device, self.dtype)}
        out = module(**args, output_hidden_states=True)
        self.forward_passes += 1
        states = getattr(out, "hidden_states", None)
        if not states:
            raise UserError(f"{self.settings.model!r} returns no hidden states",
                            where=f"config key {self.settings.config_key}.model",
                            todo="use an encoder model of the transformers library")
        frames = states[0].shape[1]
        return _pooled(states, [frames])[0]


def _pooled(states: Sequence[torch.Tensor], frames: list[int]) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """Per item: (frames, mean, M2, max), each ``(layers, hidden)``, over its first frames."""
    total = states[0].shape[1]
    n = torch.tensor(frames, device=states[0].device)
    valid = (torch.arange(total, device=n.device)[None, :] < n[:, None])[..., None]  # (B, T, 1)
    means, m2s, maxes = [], [], []
    for h in states:
        h = h.float()
        mean = (h * valid).sum(dim=1) / n[:, None]
        dev = (h - mean[:, None, :]) * valid
        means.append(mean)
        m2s.append((dev * dev).sum(dim=1))
        maxes.append(h.masked_fill(~valid, float("-inf")).amax(dim=1))
    mean_t, m2_t, max_t = (torch.stack(t, dim=1).double().cpu().numpy() for t in (means, m2s, maxes))
    return [(frames[b], mean_t[b], m2_t[b], max_t[b]) for b in range(len(frames))]
