"""nk-transformers: self-supervised speech embeddings as nk featurizers.

Components: ``wav2vec2``, ``hubert``, ``wavlm``, ``data2vec``, ``whisper`` (the encoder) and
``hf`` (any Hugging Face audio encoder by hub id or local folder). One forward pass keeps the
mean, standard deviation and maximum over time of *every* hidden layer; that vector is cached,
and ``layer``, ``layers``, ``layer_combine`` and ``pooling`` only select from it (they are
views: a layer sweep extracts once). ``nk models fetch NAME`` downloads a model for offline use.

This entry module imports nothing heavy: torch and transformers are imported when a model is
first needed (:mod:`nk_transformers.encoder`).
"""

from __future__ import annotations

import argparse
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from nk.hookspecs import hookimpl
from nk.registry import Register, param

if TYPE_CHECKING:
    import numpy as np

    from nk.cli import App
    from nk.context import RunContext
    from nk_transformers import hub
    from nk_transformers.encoder import Encoder


class _Choice(enum.Enum):
    def __repr__(self) -> str:  # `nk plugins` shows the default as 'mean'
        return repr(self.value)


class Pooling(_Choice):
    """Which statistics over time a view takes from the stored vector."""

    mean = "mean"
    mean_std = "mean_std"
    max = "max"


class LayerCombine(_Choice):
    """How several ``layers`` become one vector."""

    mean = "mean"  # unit-wise average of the layers' statistics
    concat = "concat"  # side by side


class DType(_Choice):
    float32 = "float32"
    float16 = "float16"
    bfloat16 = "bfloat16"


_HELP = {
    "model": "Hugging Face hub id (owner/name) or a local folder written by save_pretrained",
    "revision": "hub revision: branch, tag or commit hash (ignored for a local folder)",
    "layer": "hidden state to use: 0 is the transformer's input, 1..N its layers' outputs, "
             "negative counts from the top; null: the last (a view: changing it re-uses the cache)",
    "layers": "several hidden states, combined by layer_combine (instead of `layer`; a view)",
    "layer_combine": "how `layers` are combined: mean (unit-wise average) or concat (a view)",
    "pooling": "statistics over time: mean, mean_std (mean and standard deviation) or max (a view)",
    "max_duration": "seconds per chunk: longer signals are cut into equal chunks whose statistics "
                    "are merged, so memory stays bounded",
    "device": "auto (a CUDA GPU when torch sees one), cpu, cuda or cuda:N",
    "dtype": "float32, or float16 / bfloat16 (faster on a GPU, slightly different values)",
    "batch_seconds": "padded audio per batch in seconds (raise it on a GPU)",
    "hf_token": "Hugging Face token for gated or private models (default: HF_TOKEN or `hf auth login`); "
                "never written to any file",
}


def _no_layers() -> list[int]:
    return []


@dataclass
class EmbeddingConfig:
    """The parameters of every embedding featurizer; subclasses change the default model."""

    model: str = param("microsoft/wavlm-base-plus", help=_HELP["model"])
    revision: str = param("main", help=_HELP["revision"])
    layer: int | None = param(None, help=_HELP["layer"])
    layers: list[int] = param(default_factory=_no_layers, help=_HELP["layers"])
    layer_combine: LayerCombine = param(LayerCombine.mean, help=_HELP["layer_combine"])
    pooling: Pooling = param(Pooling.mean, help=_HELP["pooling"])
    max_duration: float = param(20.0, gt=0, help=_HELP["max_duration"])
    device: str = param("auto", key=False, help=_HELP["device"])
    dtype: DType = param(DType.float32, help=_HELP["dtype"])
    batch_seconds: float = param(20.0, gt=0, key=False, help=_HELP["batch_seconds"])
    hf_token: str | None = param(None, secret=True, help=_HELP["hf_token"])


@dataclass
class Wav2Vec2Config(EmbeddingConfig):
    model: str = param("facebook/wav2vec2-large-robust", help=_HELP["model"])


@dataclass
class HubertConfig(EmbeddingConfig):
    model: str = param("facebook/hubert-large-ll60k", help=_HELP["model"])


@dataclass
class WavLMConfig(EmbeddingConfig):
    model: str = param("microsoft/wavlm-large", help=_HELP["model"])


@dataclass
class Data2VecConfig(EmbeddingConfig):
    model: str = param("facebook/data2vec-audio-large", help=_HELP["model"])


@dataclass
class WhisperConfig(EmbeddingConfig):
    model: str = param("openai/whisper-small", help=_HELP["model"])
    max_duration: float = param(30.0, gt=0, le=30, help=_HELP["max_duration"] + " (Whisper: at most 30)")


@dataclass
class HfConfig(EmbeddingConfig):
    model: str = param("microsoft/wavlm-base-plus", help=_HELP["model"])


class Embedding:
    """Pooled hidden states of a pretrained speech encoder; every layer in one forward pass.

    ``extract``/``extract_batch`` return the stored vector (``feature_names()``): for each hidden
    state ``lNN`` the ``mean``, ``std`` and ``max`` over the frames that carry audio, one value per
    hidden unit. ``view`` selects the configured layer(s) and pooling from it after the cache.
    The model is loaded on first use, once per process, and never pickled.
    """

    process_safe: ClassVar[bool] = False  # one model in the parent process; batches instead
    cache_dependencies: ClassVar[tuple[str, ...]] = ("torch", "transformers")
    view_params: ClassVar[tuple[str, ...]] = ("layer", "layers", "layer_combine", "pooling")
    config_key: ClassVar[str] = "feats.hf"
    component: ClassVar[str] = "hf"
    model_types: ClassVar[frozenset[str] | None] = None  # None: any audio encoder
    sampling_rate = 16000  # every supported family is trained on 16 kHz audio

    def __init__(self, *, model: str, revision: str, layer: int | None, layers: Sequence[int],
                 layer_combine: LayerCombine, pooling: Pooling, max_duration: float, device: str,
                 dtype: DType, batch_seconds: float, hf_token: str | None) -> None:
        self.model = model
        self.revision = revision
        self.layer = layer
        self.layers = layers
        self.layer_combine = layer_combine
        self.pooling = pooling
        self.max_duration = max_duration
        self.device = device
        self.dtype = dtype
        self.batch_seconds = batch_seconds
        self.hf_token = hf_token

    def __repr__(self) -> str:  # never shows the token
        return f"{type(self).__name__}(model={self.model!r}, revision={self.revision!r})"

    # --- the model ---------------------------------------------------------------------------

    def _encoder(self) -> Encoder:
        encoder = self.__dict__.get("_encoder_")
        if encoder is None:
            self._check_choices()
            source = self._source()  # before importing torch: a missing model fails at once
            from nk_transformers.encoder import Encoder, Settings

            encoder = Encoder(Settings(
                model=str(self.model), revision=str(self.revision) if self.revision else None,
                token=self.hf_token or None, device=str(self.device), dtype=_name(self.dtype),
                max_duration=float(self.max_duration), batch_seconds=float(self.batch_seconds),
                config_key=self.config_key, component=self.component, allowed_types=self.model_types),
                source)
            self.__dict__["_encoder_"] = encoder
        return encoder

    def _source(self) -> hub.Source:
        from nk_transformers import hub

        return hub.resolve(str(self.model), str(self.revision) if self.revision else None,
                           self.hf_token or None, f"{self.config_key}.model")

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_encoder_"}

    def _check_choices(self) -> None:
        from nk.errors import UserError

        for key, value, cls in (("pooling", self.pooling, Pooling),
                                ("layer_combine", self.layer_combine, LayerCombine),
                                ("dtype", self.dtype, DType)):
            if _name(value) not in cls.__members__:
                raise UserError(f"Unknown {key} {_name(value)!r}", where=f"config key {self.config_key}.{key}",
                                allowed=", ".join(cls.__members__))

    # --- the featurizer protocol -------------------------------------------------------------

    def feature_names(self) -> Sequence[str]:
        from nk_transformers.views import resolve_layers, stored_names

        encoder = self._encoder()
        # the layer range is known once the model is: check the view before extracting anything
        resolve_layers(self.layer, list(self.layers or ()), encoder.n_layers, self.config_key, str(self.model))
        return stored_names(encoder.n_layers, encoder.hidden)

    def extract(self, signal: np.ndarray, sampling_rate: int) -> np.ndarray:
        return self._encoder().pool([signal], sampling_rate)[0]

    def extract_batch(self, signals: list[np.ndarray], sampling_rate: int) -> list[np.ndarray]:
        """The same vectors as ``extract`` on each signal (float32 rounding: within 1e-4)."""
        return self._encoder().pool(signals, sampling_rate)

    def view(self, stored: np.ndarray, names: list[str]) -> tuple[np.ndarray, list[str]]:
        from nk_transformers.views import apply_view, resolve_layers, shape_of

        self._check_choices()
        n_layers, _ = shape_of(names)
        chosen = resolve_layers(self.layer, list(self.layers or ()), n_layers, self.config_key, str(self.model))
        return apply_view(stored, names, chosen, _name(self.pooling), _name(self.layer_combine))


def _name(value: Any) -> str:
    return str(getattr(value, "name", value))


class Wav2Vec2(Embedding):
    config_key = "feats.wav2vec2"
    component = "wav2vec2"
    model_types = frozenset({"wav2vec2", "wav2vec2-conformer"})


class Hubert(Embedding):
    config_key = "feats.hubert"
    component = "hubert"
    model_types = frozenset({"hubert"})


class WavLM(Embedding):
    config_key = "feats.wavlm"
    component = "wavlm"
    model_types = frozenset({"wavlm"})


class Data2Vec(Embedding):
    config_key = "feats.data2vec"
    component = "data2vec"
    model_types = frozenset({"data2vec-audio"})


class Whisper(Embedding):
    config_key = "feats.whisper"
    component = "whisper"
    model_types = frozenset({"whisper"})


class Hf(Embedding):
    pass


COMPONENTS: dict[str, tuple[type[Embedding], type[EmbeddingConfig], str]] = {
    "wav2vec2": (Wav2Vec2, Wav2Vec2Config, "wav2vec 2.0 hidden states, every layer pooled (mean/std/max)"),
    "hubert": (Hubert, HubertConfig, "HuBERT hidden states, every layer pooled (mean/std/max)"),
    "wavlm": (WavLM, WavLMConfig, "WavLM hidden states, every layer pooled (mean/std/max)"),
    "data2vec": (Data2Vec, Data2VecConfig, "data2vec-audio hidden states, every layer pooled (mean/std/max)"),
    "whisper": (Whisper, WhisperConfig, "Whisper encoder hidden states over the audio frames, every layer pooled"),
    "hf": (Hf, HfConfig, "any Hugging Face audio encoder (hub id or local folder), every layer pooled"),
}


@hookimpl
def nk_register_featurizers(register: Register) -> None:
    for name, (cls, config, description) in COMPONENTS.items():
        register(name, cls, config, description=description)


@hookimpl
def nk_run_start(ctx: RunContext) -> None:
    """Check that the selected embedding models can be loaded before any data is read, and give
    torch the run's ``n_jobs`` threads."""
    from nk_transformers import hub

    feats = ctx.cfg.get("feats") or {}
    selected = False
    for name in COMPONENTS:
        options = feats.get(name) if hasattr(feats, "get") else None
        if options is not None and options.get("model"):
            selected = True
            revision = options.get("revision")
            hub.resolve(str(options.get("model")), str(revision) if revision else None, None,
                        f"feats.{name}.model")
    if selected:  # the models run in this process: as many torch threads as nk may use cores
        from nk_transformers.encoder import set_threads

        set_threads(ctx.n_jobs)


@hookimpl
def nk_add_commands(subparsers: argparse._SubParsersAction) -> None:
    models = subparsers.add_parser(
        "models", help="download and list the embedding models (for offline use)",
        description="Pre-download Hugging Face models into the local cache (HF_HOME), so that "
                    "feats=wav2vec2 and friends run later without network.")
    sub = models.add_subparsers(title="actions", metavar="ACTION")
    fetch = sub.add_parser("fetch", help="download a model: a featurizer's default or a hub id",
                           description="Download the model's config, weights and feature "
                                       "extractor, and check that it loads.")
    fetch.add_argument("name", help="a featurizer (wav2vec2, hubert, wavlm, data2vec, whisper, hf) "
                                    "for its default model, or a hub id such as facebook/wav2vec2-base")
    fetch.add_argument("--revision", default="main", help="branch, tag or commit (default: main)")
    fetch.set_defaults(handler=_fetch)
    listing = sub.add_parser("list", help="the featurizers' default models and whether they are cached")
    listing.set_defaults(handler=_list)
    models.set_defaults(handler=_list)


def _featurizer_for(name: str, revision: str) -> Embedding:
    if name in COMPONENTS:
        cls, config, _ = COMPONENTS[name]
        defaults = config()
        kwargs = {f: getattr(defaults, f) for f in defaults.__dataclass_fields__}
        kwargs.update(revision=revision, device="cpu")  # a check that it loads: no GPU needed
        return cls(**kwargs)
    defaults = HfConfig()
    kwargs = {f: getattr(defaults, f) for f in defaults.__dataclass_fields__}
    kwargs.update(model=name, revision=revision, device="cpu")
    return Hf(**kwargs)


def _fetch(args: argparse.Namespace, app: App) -> int:
    featurizer = _featurizer_for(args.name, args.revision)
    from nk_transformers import hub

    app.console.print(f"Fetching {featurizer.model} (revision {args.revision}) into {hub.cache_folder()} …")
    encoder = featurizer._encoder()
    app.console.print(f"[green]OK[/green]: {featurizer.model} ({encoder.config.model_type}, "
                      f"{encoder.n_layers - 1} layers × {encoder.hidden} units) loads from {encoder.source.path}")
    return 0


def _list(args: argparse.Namespace, app: App) -> int:
    from rich.table import Table

    from nk_transformers import hub

    table = Table(title=f"embedding models (cache: {hub.cache_folder()})", title_justify="left")
    for col in ("featurizer", "default model", "cached"):
        table.add_column(col)
    for name, (_, config, _) in COMPONENTS.items():
        model = config().model
        table.add_row(name, model, "yes" if hub.in_cache(model, None) else "no")
    app.console.print(table)
    return 0
