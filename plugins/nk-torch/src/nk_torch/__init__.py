"""nk-torch: neural learners on torch (``mlp``, ``mlp_reg``, ``cnn``, ``cnn_reg``) and the
``logmel`` featurizer (log-mel spectrogram patches for ``cnn``).

The learners are scikit-learn estimators (:mod:`nk_torch.estimators`) trained by one loop
(:mod:`nk_torch.training`): the best epoch is chosen on the dev split nk passes (or on a
seeded, speaker-disjoint hold-out of train), per-epoch train loss and dev metric are kept in
``history_`` (nk draws them as ``epochs.png``), and models are saved as safetensors state dicts.
This entry module imports neither torch nor scikit-learn.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from nk.errors import UserError
from nk.hookspecs import hookimpl
from nk.registry import Register, param


class Activation(enum.Enum):
    relu = "relu"
    gelu = "gelu"
    tanh = "tanh"
    leaky_relu = "leaky_relu"
    silu = "silu"


class Optimizer(enum.Enum):
    adam = "adam"
    adamw = "adamw"
    sgd = "sgd"


class ClassLoss(enum.Enum):
    cross_entropy = "cross_entropy"
    focal = "focal"


class RegressionLoss(enum.Enum):
    ccc = "ccc"
    mse = "mse"
    mae = "mae"


def _check_sizes(path: str, key: str, sizes: Any, example: str, empty_ok: bool) -> None:
    values = list(sizes)
    if any(not isinstance(v, int) or isinstance(v, bool) or v < 1 for v in values) or (not values and not empty_ok):
        raise UserError(f"{path}.{key}={values}: every entry is a number of units/channels of at least 1",
                        where=f"config key {path}.{key}",
                        allowed=f"a list of positive integers, in order from input to output (e.g. {example})"
                        + ("; [] for none" if empty_ok else ""),
                        todo=f"set {path}.{key}={example.replace(' ', '')}")


@dataclass
class _Training:
    dropout: float = param(0.2, ge=0, lt=1, help="dropout after each hidden layer (0: none)")
    activation: Activation = param(Activation.relu, help="activation after each hidden layer")
    batch_size: int = param(32, ge=1, key=False, help="rows per training step")
    learning_rate: float = param(1e-3, gt=0, help="optimizer step size")
    weight_decay: float = param(0.0, ge=0, help="L2 penalty on the weights")
    epochs: int = param(100, ge=1, help="most epochs trained")
    patience: int | None = param(10, ge=1, help="stop when the dev metric has not improved for this many epochs "
                                                "and keep the best epoch; None: train every epoch, keep the best")
    optimizer: Optimizer = param(Optimizer.adam, help="adam, adamw or sgd (momentum 0.9)")
    device: str = param("cpu", key=False, help="cpu, cuda, cuda:N or auto (the GPU when there is one)")
    holdout: float = param(0.2, ge=0, lt=1, help="without a dev split: share of train held out (whole speakers) to "
                                                 "choose the epoch; 0: keep the last epoch")


@dataclass
class MlpConfig(_Training):
    layers: list[int] = param(default_factory=lambda: [64, 16],
                              help="hidden layer sizes from input to output, kept in this order; [] for none")
    loss: ClassLoss = param(ClassLoss.cross_entropy, help="cross_entropy (class-weighted) or focal (class-weighted)")

    def validate(self, path: str) -> None:
        _check_sizes(path, "layers", self.layers, "[64, 16]", empty_ok=True)


@dataclass
class MlpRegConfig(_Training):
    layers: list[int] = param(default_factory=lambda: [64, 16],
                              help="hidden layer sizes from input to output, kept in this order; [] for none")
    loss: RegressionLoss = param(RegressionLoss.ccc, help="ccc (1 − concordance correlation), mse or mae")

    def validate(self, path: str) -> None:
        _check_sizes(path, "layers", self.layers, "[64, 16]", empty_ok=True)


@dataclass
class _CnnShape:
    n_mels: int = param(40, ge=1, help="mel bands per patch: must equal feats.logmel.n_mels")
    channels: list[int] = param(default_factory=lambda: [16, 32],
                                help="channels of each conv block (3×3 conv, batch norm, max-pool 2)")
    layers: list[int] = param(default_factory=lambda: [32], help="hidden sizes of the head after pooling")

    def validate(self, path: str) -> None:
        _check_sizes(path, "channels", self.channels, "[16, 32]", empty_ok=False)
        _check_sizes(path, "layers", self.layers, "[32]", empty_ok=True)


@dataclass
class CnnConfig(_CnnShape, _Training):
    loss: ClassLoss = param(ClassLoss.cross_entropy, help="cross_entropy (class-weighted) or focal (class-weighted)")


@dataclass
class CnnRegConfig(_CnnShape, _Training):
    loss: RegressionLoss = param(RegressionLoss.ccc, help="ccc (1 − concordance correlation), mse or mae")


@dataclass
class LogMelConfig:
    n_mels: int = param(40, ge=1, le=256, help="mel bands")
    duration: float = param(1.5, gt=0, help="seconds per patch: longer rows are cut to their middle, shorter padded")
    win_ms: float = param(25.0, gt=0, help="analysis window in ms (Hann)")
    hop_ms: float = param(10.0, gt=0, help="frame step in ms")
    fmin: float = param(50.0, ge=0, help="lowest band edge in Hz")
    fmax: float = param(8000.0, gt=0, help="highest band edge in Hz (at most half the sampling rate, 8000)")

    def validate(self, path: str) -> None:
        if self.fmin >= self.fmax:
            raise UserError(f"{path}.fmin={self.fmin} must be below {path}.fmax={self.fmax}",
                            where=f"config keys {path}.fmin, {path}.fmax", todo=f"lower {path}.fmin")
        if self.hop_ms > self.win_ms:
            raise UserError(f"{path}.hop_ms={self.hop_ms} exceeds {path}.win_ms={self.win_ms}: frames would skip audio",
                            where=f"config keys {path}.hop_ms, {path}.win_ms", todo=f"set {path}.hop_ms <= win_ms")


def _training(values: dict[str, Any]) -> dict[str, Any]:
    """Enum members → their values, lists → tuples: the estimators hold plain values (clone, JSON)."""
    out = {}
    for key, value in values.items():
        out[key] = value.value if isinstance(value, enum.Enum) else tuple(value) if isinstance(value, list) else value
    return out


def mlp(**params: Any) -> Any:
    """An :class:`~nk_torch.estimators.MlpClassifier`; nk sets ``random_state`` to the run's seed."""
    from nk_torch.estimators import MlpClassifier

    return MlpClassifier(**_training(params))


def mlp_reg(**params: Any) -> Any:
    """An :class:`~nk_torch.estimators.MlpRegressor`; nk sets ``random_state`` to the run's seed."""
    from nk_torch.estimators import MlpRegressor

    return MlpRegressor(**_training(params))


def cnn(**params: Any) -> Any:
    """A :class:`~nk_torch.estimators.CnnClassifier` on log-mel patches."""
    from nk_torch.estimators import CnnClassifier

    return CnnClassifier(**_training(params))


def cnn_reg(**params: Any) -> Any:
    """A :class:`~nk_torch.estimators.CnnRegressor` on log-mel patches."""
    from nk_torch.estimators import CnnRegressor

    return CnnRegressor(**_training(params))


def logmel(**params: Any) -> Any:
    """A :class:`~nk_torch.spectrogram.LogMel` featurizer (torch is imported when it extracts)."""
    from nk_torch.spectrogram import LogMel

    return LogMel(**params)


@hookimpl
def nk_register_learners(register: Register) -> None:
    register("mlp", mlp, MlpConfig, description="multi-layer perceptron classifier (torch), best epoch on dev")
    register("mlp_reg", mlp_reg, MlpRegConfig, description="multi-layer perceptron regressor (torch), best epoch on dev")
    register("cnn", cnn, CnnConfig, description="2-D CNN classifier on log-mel patches (feats=logmel), best epoch on dev")
    register("cnn_reg", cnn_reg, CnnRegConfig, description="2-D CNN regressor on log-mel patches (feats=logmel)")


@hookimpl
def nk_register_featurizers(register: Register) -> None:
    register("logmel", logmel, LogMelConfig, description="log-mel spectrogram patch (torch), n_mels × frames per row")
