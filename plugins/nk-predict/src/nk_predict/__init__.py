"""nk-predict: predictors of speaker and signal characteristics for ``nk predict`` and
``nk explore predict=[…]`` (group ``predict``).

=============  ====================================================  =======================
predictor      output columns                                        model
=============  ====================================================  =======================
``snr``        ``snr_pred`` (dB)                                     noise-floor estimate (numpy)
``mos``        ``mos_pred`` (P.808), ``sig/bak/ovrl_pred`` (P.835)   DNSMOS (speechmos, ONNX)
``speaker``    ``speaker_pred``                                      resemblyzer + clustering
``age``        ``age_pred`` (years)                                  audEERING w2v2 age/gender
``gender``     ``gender_pred`` + ``gender_proba.<class>``            audEERING w2v2 age/gender
``arousal`` …  ``arousal_pred``, ``valence_pred``, ``dominance_pred``  audEERING w2v2 MSP-dim
``emotion``    ``emotion_pred`` + ``emotion_proba.<class>``          any HF audio classifier
``pesq`` …     ``pesq_pred``, ``stoi_pred``, ``sdr_pred``            torchaudio SQUIM (if it loads)
=============  ====================================================  =======================

This entry module imports neither numpy-heavy libraries nor torch: the models load on first use.
Every predictor computes per-row values through :class:`nk.predict.RowPredictor`, so they are
cached in the feature cache and resumable.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from nk.errors import UserError
from nk.hookspecs import hookimpl
from nk.predict import CATEGORY, FLOAT, SUFFIX, RowPredictor
from nk.registry import Register, param

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from nk.context import RunContext

AGE_GENDER_MODEL = "audeering/wav2vec2-large-robust-24-ft-age-gender"
DIMENSIONS_MODEL = "audeering/wav2vec2-large-robust-12-ft-emotion-msp-dim"
EMOTION_MODEL = "superb/wav2vec2-base-superb-er"


# --- snr -----------------------------------------------------------------------------------


@dataclass
class SnrConfig:
    quantile: float = param(0.1, gt=0, lt=0.5, help="per-frequency quantile over frames taken as the "
                                                    "noise floor (frames of speech pauses)")
    floor: float = param(-10.0, help="lowest reported SNR (dB)")
    ceiling: float = param(60.0, help="highest reported SNR (dB; digital silence would be infinite)")


class Snr(RowPredictor):
    """Blind SNR (dB) of each row from its own signal (:mod:`nk_predict._snr`)."""

    target = "snr"
    process_safe = True

    def __init__(self, *, quantile: float, floor: float, ceiling: float) -> None:
        if floor >= ceiling:
            raise UserError(f"snr: floor ({floor}) must be below ceiling ({ceiling})",
                            where="config keys predict.snr.floor/ceiling")
        self.quantile = quantile
        self.floor = floor
        self.ceiling = ceiling

    def feature_names(self) -> Sequence[str]:
        return ["snr_db"]

    def extract(self, signal: np.ndarray, sampling_rate: int) -> np.ndarray:
        import numpy as np

        from nk_predict._snr import snr_db

        return np.array([snr_db(signal, quantile=self.quantile, floor=self.floor, ceiling=self.ceiling)],
                        dtype=np.float32)


# --- mos -----------------------------------------------------------------------------------


@dataclass
class MosConfig:
    personalized: bool = param(False, help="DNSMOS's personalized model (penalises interfering talkers)")


class Mos(RowPredictor):
    """DNSMOS (Reddy et al. 2022) through speechmos: P.808 MOS and P.835 SIG/BAK/OVRL (1–5)."""

    target = "mos"
    cache_dependencies = ("speechmos", "onnxruntime")

    def __init__(self, *, personalized: bool) -> None:
        self.personalized = personalized
        self._console: Any = None
        self._warm = False

    def output_columns(self) -> dict[str, str]:
        return {f"{k}{SUFFIX}": FLOAT for k in ("mos", "sig", "bak", "ovrl")}

    def feature_names(self) -> Sequence[str]:
        return ["p808_mos", "sig_mos", "bak_mos", "ovrl_mos"]

    def predict(self, frame: pd.DataFrame, ctx: RunContext) -> pd.DataFrame:
        self._console = ctx.console
        return super().predict(frame, ctx)

    def extract(self, signal: np.ndarray, sampling_rate: int) -> np.ndarray:
        from nk_predict._mos import dnsmos

        if not self._warm and self._console is not None:
            self._console.print("[dim]mos: the first DNSMOS call compiles librosa's numba code "
                                "(7–70 s, once per process)…[/]", highlight=False)
        self._warm = True
        return dnsmos(signal, sampling_rate, personalized=self.personalized)


# --- speaker -------------------------------------------------------------------------------


class Clustering(enum.Enum):
    kmeans = "kmeans"  # on centred, PCA-whitened (2 × n_speakers dims), unit-length embeddings
    agglomerative = "agglomerative"  # linkage=…; the only one that takes a distance threshold


class Linkage(enum.Enum):
    ward = "ward"
    average = "average"
    complete = "complete"


class SpeakerMethod(enum.Enum):
    resemblyzer = "resemblyzer"  # 256-d voice encoder, weights in the wheel (offline)
    pyannote = "pyannote"  # pyannote.audio embedding model from the HF hub (token; nk-pyannote's way)


@dataclass
class SpeakerConfig:
    # n_speakers, threshold and linkage only cluster the cached embeddings: not in the cache key
    n_speakers: int | None = param(None, ge=1, key=False, help="number of speakers to cluster into; None: "
                                   "cut at threshold, or (no threshold) the count with the best silhouette")
    threshold: float | None = param(None, gt=0, key=False, help="linkage distance at which clusters stop "
                                    "merging (clustering=agglomerative; ward: on centred unit vectors; "
                                    "average/complete: cosine)")
    clustering: Clustering = param(Clustering.kmeans, key=False, help="kmeans (on whitened embeddings) or "
                                   "agglomerative (linkage=…, the one that takes a threshold)")
    linkage: Linkage = param(Linkage.ward, key=False, help="agglomerative linkage: ward, average, complete")
    whiten: int | None = param(None, ge=0, key=False, help="PCA-whitening dimensions before clustering; "
                               "None: 2 × n_speakers for kmeans, none for agglomerative; 0: off")
    method: SpeakerMethod = param(SpeakerMethod.resemblyzer, help="embedding model: resemblyzer "
                                  "(offline) or pyannote (needs pyannote.audio and an HF token)")
    pyannote_model: str = param("pyannote/wespeaker-voxceleb-resnet34-LM",
                                help="pyannote embedding model (method=pyannote)")
    token: str | None = param(None, secret=True, help="HF token for method=pyannote (else $HF_TOKEN)")
    telemetry: bool = param(False, key=False, help="let pyannote send its usage metrics (off by default)")


class Speaker(RowPredictor):
    """Speaker identity without labels: an embedding per row (cached), then clustering over all
    predicted rows together (:func:`nk_predict._speaker.cluster`: k-means on whitened embeddings,
    or agglomerative)."""

    target = "speaker"

    def __init__(self, *, n_speakers: int | None, threshold: float | None, clustering: Clustering,
                 linkage: Linkage, whiten: int | None, method: SpeakerMethod, pyannote_model: str,
                 token: str | None, telemetry: bool) -> None:
        self.n_speakers = n_speakers
        self.threshold = threshold
        self.clustering = clustering if isinstance(clustering, Clustering) else Clustering(str(clustering))
        self.linkage = linkage if isinstance(linkage, Linkage) else Linkage(str(linkage))
        self.whiten = whiten
        if threshold is not None and self.clustering is Clustering.kmeans:
            raise UserError(f"speaker: threshold={threshold} is a linkage distance, but clustering=kmeans "
                            "takes a number of speakers", where="config key predict.speaker.threshold",
                            allowed="threshold with clustering=agglomerative",
                            todo="add predict.speaker.clustering=agglomerative, or give n_speakers instead")
        self.method = method if isinstance(method, SpeakerMethod) else SpeakerMethod(str(method))
        self.pyannote_model = pyannote_model
        self.token = token
        self.telemetry = telemetry
        self._encoder: Any = None

    @property
    def cache_dependencies(self) -> tuple[str, ...]:
        return ("resemblyzer",) if self.method is SpeakerMethod.resemblyzer else ("pyannote.audio",)

    def output_columns(self) -> dict[str, str]:
        return {f"speaker{SUFFIX}": CATEGORY}

    def feature_names(self) -> Sequence[str]:
        from nk_predict import _speaker

        return [f"emb{i:03d}" for i in range(_speaker.dimension(self.method.value))]

    def extract(self, signal: np.ndarray, sampling_rate: int) -> np.ndarray:
        from nk_predict import _speaker

        if self._encoder is None:
            self._encoder = _speaker.encoder(self.method.value, model=self.pyannote_model, token=self.token,
                                             telemetry=self.telemetry)
        return self._encoder(signal, sampling_rate)

    def finish(self, values: pd.DataFrame, frame: pd.DataFrame, ctx: RunContext) -> pd.DataFrame:
        import pandas as pd

        from nk_predict._speaker import cluster

        if self.n_speakers is not None and self.n_speakers > len(values):
            raise UserError(f"speaker: n_speakers={self.n_speakers} but only {len(values)} rows to cluster",
                            where="config key predict.speaker.n_speakers",
                            todo="give at most as many speakers as rows, or leave it unset (threshold)")
        labels = cluster(values.to_numpy(), n_speakers=self.n_speakers, threshold=self.threshold,
                         clustering=self.clustering.value, linkage=self.linkage.value, whiten=self.whiten)
        ctx.log.info("speaker: %d rows clustered into %d speakers", len(values), len(set(labels)))
        return pd.DataFrame({f"speaker{SUFFIX}": labels}, index=values.index)


# --- hub models (torch and transformers, imported on first use) -------------------------------


class Device(enum.Enum):
    cpu = "cpu"
    cuda = "cuda"
    auto = "auto"  # cuda when available


@dataclass
class AgeConfig:
    model: str = param(AGE_GENDER_MODEL, help="HF hub id or local folder (audEERING age/gender architecture)")
    device: Device = param(Device.auto, key=False, help="cpu, cuda, or auto")
    batch_seconds: float = param(60.0, gt=0, key=False, help="padded audio seconds per batch")
    window_seconds: float = param(30.0, gt=1, help="longer rows are cut into windows this long, averaged")
    token: str | None = param(None, secret=True, help="HF token for gated or private models (else $HF_TOKEN)")


@dataclass
class GenderConfig(AgeConfig):
    pass


@dataclass
class DimensionConfig:
    model: str = param(DIMENSIONS_MODEL, help="HF hub id or local folder (audEERING MSP-dim architecture)")
    device: Device = param(Device.auto, key=False, help="cpu, cuda, or auto")
    batch_seconds: float = param(60.0, gt=0, key=False, help="padded audio seconds per batch")
    window_seconds: float = param(30.0, gt=1, help="longer rows are cut into windows this long, averaged")
    token: str | None = param(None, secret=True, help="HF token for gated or private models (else $HF_TOKEN)")


@dataclass
class EmotionConfig:
    model: str = param(EMOTION_MODEL, help="HF hub id or local folder of an audio-classification model")
    device: Device = param(Device.auto, key=False, help="cpu, cuda, or auto")
    batch_seconds: float = param(60.0, gt=0, key=False, help="padded audio seconds per batch")
    window_seconds: float = param(30.0, gt=1, help="longer rows are cut into windows this long, averaged")
    token: str | None = param(None, secret=True, help="HF token for gated or private models (else $HF_TOKEN)")


class _Hub(RowPredictor):
    """Shared by the hub predictors: a lazily loaded model (:mod:`nk_predict._hub`), batched."""

    kind: ClassVar[str] = ""  # age_gender | dimensions | classifier
    cache_dependencies = ("transformers", "torch")

    def __init__(self, *, model: str, device: Device, batch_seconds: float, window_seconds: float,
                 token: str | None) -> None:
        self.model = model
        self.device = device if isinstance(device, Device) else Device(str(device))
        self.batch_seconds = batch_seconds
        self.window_seconds = window_seconds
        self.token = token
        self._runner: Any = None

    def runner(self) -> Any:
        if self._runner is None:
            from nk_predict._hub import load

            self._runner = load(self.kind, self.model, device=self.device.value, token=self.token,
                                window_seconds=self.window_seconds, who=self.target)
        return self._runner

    def feature_names(self) -> Sequence[str]:
        return list(self.runner().names)

    def extract(self, signal: np.ndarray, sampling_rate: int) -> np.ndarray:
        return self.runner()([signal], sampling_rate)[0]

    def extract_batch(self, signals: list[np.ndarray], sampling_rate: int) -> list[np.ndarray]:
        return self.runner()(signals, sampling_rate)

    def _classes(self, values: pd.DataFrame, classes: list[str]) -> pd.DataFrame:
        import pandas as pd

        from nk.predict import proba_column

        proba = values[[f"p_{c}" for c in classes]].to_numpy()
        out = pd.DataFrame({f"{self.target}{SUFFIX}": [classes[i] for i in proba.argmax(axis=1)]},
                           index=values.index)
        for i, c in enumerate(classes):
            out[proba_column(self.target, c)] = proba[:, i].astype(float)
        return out


class Age(_Hub):
    """Age in years (audEERING's wav2vec2-large-robust age/gender model, its age head × 100)."""

    target = "age"
    kind = "age_gender"

    def finish(self, values: pd.DataFrame, frame: pd.DataFrame, ctx: RunContext) -> pd.DataFrame:
        return values[["age"]].astype(float).set_axis([f"age{SUFFIX}"], axis=1)


class Gender(_Hub):
    """female / male / child with probabilities (the same model's gender head)."""

    target = "gender"
    kind = "age_gender"

    def output_columns(self) -> dict[str, str]:
        from nk.predict import proba_column
        from nk_predict._hub import GENDERS

        return {f"gender{SUFFIX}": CATEGORY, **{proba_column("gender", c): FLOAT for c in GENDERS}}

    def finish(self, values: pd.DataFrame, frame: pd.DataFrame, ctx: RunContext) -> pd.DataFrame:
        from nk_predict._hub import GENDERS

        return self._classes(values, list(GENDERS))


class _Dimension(_Hub):
    kind = "dimensions"

    def finish(self, values: pd.DataFrame, frame: pd.DataFrame, ctx: RunContext) -> pd.DataFrame:
        return values[[self.target]].astype(float).set_axis([f"{self.target}{SUFFIX}"], axis=1)


class Arousal(_Dimension):
    """Arousal (about 0–1) from audEERING's MSP-Podcast dimensional model."""

    target = "arousal"


class Valence(_Dimension):
    """Valence (about 0–1) from audEERING's MSP-Podcast dimensional model."""

    target = "valence"


class Dominance(_Dimension):
    """Dominance (about 0–1) from audEERING's MSP-Podcast dimensional model."""

    target = "dominance"


class Emotion(_Hub):
    """Categorical emotion from any HF audio-classification model (its id2label classes)."""

    target = "emotion"
    kind = "classifier"

    def output_columns(self) -> dict[str, str]:
        from nk.predict import proba_column

        classes = self.runner().classes
        return {f"emotion{SUFFIX}": CATEGORY, **{proba_column("emotion", c): FLOAT for c in classes}}

    def finish(self, values: pd.DataFrame, frame: pd.DataFrame, ctx: RunContext) -> pd.DataFrame:
        return self._classes(values, list(self.runner().classes))


# --- pesq / stoi / sdr ---------------------------------------------------------------------


@dataclass
class SquimConfig:
    device: Device = param(Device.auto, key=False, help="cpu, cuda, or auto")


class _Squim(RowPredictor):
    """Non-intrusive PESQ/STOI/SI-SDR estimates from torchaudio's SQUIM objective model; it needs
    a torchaudio that imports (not the case beside nk's CPU torch 2.13): a clear error otherwise."""

    cache_dependencies = ("torchaudio",)
    index: ClassVar[int] = 0

    def __init__(self, *, device: Device) -> None:
        self.device = device if isinstance(device, Device) else Device(str(device))
        self._model: Any = None

    def feature_names(self) -> Sequence[str]:
        return [self.target]

    def extract(self, signal: np.ndarray, sampling_rate: int) -> np.ndarray:
        from nk_predict._hub import squim

        if self._model is None:
            self._model = squim(self.target, self.device.value)
        return self._model(signal, sampling_rate)[self.index : self.index + 1]


class Stoi(_Squim):
    target = "stoi"
    index = 0


class Pesq(_Squim):
    target = "pesq"
    index = 1


class Sdr(_Squim):
    target = "sdr"
    index = 2


@hookimpl
def nk_register_predictors(register: Register) -> None:
    register("snr", Snr, SnrConfig, description="blind SNR in dB (spectral noise-floor estimate; numpy only)")
    register("mos", Mos, MosConfig, description="DNSMOS quality: P.808 MOS and P.835 SIG/BAK/OVRL (speechmos)")
    register("speaker", Speaker, SpeakerConfig,
             description="speaker identity: resemblyzer embeddings clustered over the whole data")
    register("age", Age, AgeConfig, description="age in years (audEERING wav2vec2 age/gender, HF hub)")
    register("gender", Gender, GenderConfig,
             description="female/male/child with probabilities (audEERING wav2vec2 age/gender, HF hub)")
    for dim in (Arousal, Valence, Dominance):  # a config class each: Hydra's nodes are per class
        config: type = dataclass(type(f"{dim.__name__}Config", (DimensionConfig,), {}))
        register(dim.target, dim, config,
                 description=f"{dim.target} (audEERING wav2vec2 MSP-Podcast dimensions, HF hub)")
    register("emotion", Emotion, EmotionConfig,
             description="emotion classes with probabilities (any HF audio-classification model)")
    for squim in (Pesq, Stoi, Sdr):
        config = dataclass(type(f"{squim.__name__}Config", (SquimConfig,), {}))
        register(squim.target, squim, config,
                 description=f"non-intrusive {squim.target.upper()} estimate (torchaudio SQUIM; needs torchaudio)")


__all__ = ["Age", "Emotion", "Gender", "Mos", "Snr", "Speaker"]
