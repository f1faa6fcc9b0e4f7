"""scikit-learn estimators around nk-torch's modules: MlpClassifier, MlpRegressor,
CnnClassifier, CnnRegressor.

``fit(X, y, X_dev=None, y_dev=None, groups=None)``: nk passes the dev split (never test); the
best epoch on dev is kept. Without dev rows, a seeded slice of train (speaker-disjoint when nk
passes the speakers as ``groups``) is held out to choose the epoch, and the log says so.

Fitted models hold their weights as a torch module; ``save_model(folder)`` writes them as a
safetensors state dict plus a JSON of the fitted attributes (no pickle), and pickling an
estimator stores the state dict as numpy arrays rather than the module object.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from nk.errors import UserError

STATE_FILE = "model.safetensors"
ATTRS_FILE = "estimator.json"


class _TorchLearner(BaseEstimator):
    """Shared fitting, prediction and saving; subclasses build the module."""

    input: ClassVar[str] = "features"
    _classification: ClassVar[bool] = False
    _model_path: ClassVar[str] = "model"  # where the options live in nk's config (error messages)

    def __init__(self, *, layers: tuple[int, ...] = (64,), dropout: float = 0.2, activation: str = "relu",
                 batch_size: int = 32, learning_rate: float = 1e-3, weight_decay: float = 0.0, epochs: int = 100,
                 patience: int | None = 10, loss: str = "cross_entropy", optimizer: str = "adam",
                 device: str = "cpu", holdout: float = 0.2, random_state: int | None = None) -> None:
        self.layers = layers
        self.dropout = dropout
        self.activation = activation
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.patience = patience
        self.loss = loss
        self.optimizer = optimizer
        self.device = device
        self.holdout = holdout
        self.random_state = random_state

    # --- to override -----------------------------------------------------------------------

    def _module(self, n_features: int, n_out: int) -> Any:
        raise NotImplementedError

    def _check_input(self, n_features: int) -> None:
        """Shape checks beyond the number of columns (the CNN's mel bands)."""

    # --- fitting ---------------------------------------------------------------------------

    def _check_options(self) -> None:
        bad = [int(s) for s in self.layers if int(s) < 1]
        if bad:
            raise UserError(f"{self._model_path}.layers={list(self.layers)}: every hidden layer needs at least one unit",
                            where=f"config key {self._model_path}.layers",
                            allowed="a list of positive sizes, in order from input to output (e.g. [64, 16]); [] for "
                            "no hidden layer", todo=f"set {self._model_path}.layers=[64,16]")
        allowed = ("cross_entropy", "focal") if self._classification else ("ccc", "mse", "mae")
        if self.loss not in allowed:
            task = "classification" if self._classification else "regression"
            raise UserError(f"{self._model_path}.loss={self.loss} is not a {task} loss",
                            where=f"config key {self._model_path}.loss", allowed=", ".join(allowed),
                            todo=f"set {self._model_path}.loss={allowed[0]}, or choose a model for the other task")

    def fit(self, X: Any, y: Any, X_dev: Any = None, y_dev: Any = None, groups: Any = None) -> Any:
        """Train on ``X``, ``y``; choose the epoch on ``X_dev``, ``y_dev`` (or a hold-out of train)."""
        import torch

        from nk_torch import training

        self._check_options()
        X = validate_data(self, X, dtype=np.float32)
        self._check_input(X.shape[1])
        y = np.asarray(y)
        if (X_dev is None) != (y_dev is None):
            raise ValueError("X_dev and y_dev must be given together")
        if len(X) < 2:
            raise ValueError(f"{type(self).__name__} needs at least two training rows")
        codes = self._encode_targets(y, fit=True)
        dev_codes = None
        if X_dev is not None:
            X_dev = validate_data(self, X_dev, dtype=np.float32, reset=False)
            dev_codes = self._encode_targets(np.asarray(y_dev))
            self.selection_ = "dev"
        elif self.holdout > 0 and len(X) >= 4:
            train_idx, held_idx, sentence = training.holdout_split(
                len(X), codes.astype(int) if self._classification else np.zeros(len(X), int),
                None if groups is None else np.asarray(groups), self.holdout, self.random_state, self._classification)
            training.log.info("%s: no dev split; %s", type(self).__name__, sentence)
            X, X_dev = X[train_idx], X[held_idx]
            codes, dev_codes = codes[train_idx], codes[held_idx]
            self.selection_ = "held-out " + ("speakers" if groups is not None else "rows") + " of train"
        else:
            training.log.info("%s: no dev split and holdout=0: every epoch is trained and the last is kept",
                              type(self).__name__)
            self.selection_ = "last epoch (no dev)"
        device = training.resolve_device(self.device, f"{self._model_path}.device")
        generator = training.seeded(self.random_state)
        module = self._module(X.shape[1], self.n_outputs_)
        weight = training.class_weights(codes, self.n_outputs_) if self._classification else None
        loss_fn = training.loss_function(self.loss, weight)
        metric, metric_name = (training.uar, "uar") if self._classification else (training.ccc_metric, "ccc")
        target_dtype = torch.long if self._classification else torch.float32
        settings = training.Settings(self.epochs, self.patience, self.batch_size, self.learning_rate,
                                     self.weight_decay, self.optimizer, device)
        dev_truth = None if dev_codes is None else (dev_codes if self._classification else
                                                    dev_codes * self.target_scale_ + self.target_mean_)
        history, best = training.train(
            module, torch.from_numpy(X), torch.as_tensor(codes, dtype=target_dtype),
            None if X_dev is None else torch.from_numpy(np.ascontiguousarray(X_dev)), dev_truth,
            loss_fn, self._dev_metric(metric), metric_name, settings, generator)
        self.module_ = module.cpu()
        self.n_train_, self.n_dev_ = len(X), 0 if X_dev is None else len(X_dev)  # rows trained / chosen on
        self.history_ = history
        self.best_epoch_ = best
        self.dev_metric_ = metric_name
        return self

    def _dev_metric(self, metric: Any) -> Any:
        if self._classification:
            return metric

        def on_original_scale(out: Any, y: np.ndarray) -> float:
            return float(metric(out * self.target_scale_ + self.target_mean_, y))
        return on_original_scale

    def _encode_targets(self, y: np.ndarray, fit: bool = False) -> np.ndarray:
        if self._classification:
            if fit:
                self.classes_, codes = np.unique(y, return_inverse=True)
                if len(self.classes_) < 2:
                    raise ValueError(f"{type(self).__name__} needs at least two classes, got {self.classes_.tolist()}")
                self.n_outputs_ = len(self.classes_)
                return codes.astype(np.int64)
            pos = np.searchsorted(self.classes_, y)
            pos = np.clip(pos, 0, len(self.classes_) - 1)
            return np.where(self.classes_[pos] == y, pos, -1).astype(np.int64)  # -1: a class train lacks
        values = y.astype(np.float32)
        if fit:
            self.target_mean_ = float(values.mean())
            self.target_scale_ = float(values.std()) or 1.0
            self.n_outputs_ = 1
        return ((values - self.target_mean_) / self.target_scale_).astype(np.float32)

    # --- prediction ------------------------------------------------------------------------

    def _outputs(self, X: Any) -> Any:
        import torch

        from nk_torch import training

        check_is_fitted(self, "module_")
        X = validate_data(self, X, dtype=np.float32, reset=False)
        device = training.resolve_device(self.device, f"{self._model_path}.device")
        module = self.module_.to(device)
        try:
            return training.predict_batches(module, torch.from_numpy(X), max(self.batch_size, 256), device)
        finally:
            self.module_ = module.cpu()

    # --- saving ----------------------------------------------------------------------------

    def _fitted_attributes(self) -> dict[str, Any]:
        state: dict[str, Any] = {"n_features_in_": int(self.n_features_in_), "n_outputs_": int(self.n_outputs_),
                                 "history_": self.history_, "best_epoch_": int(self.best_epoch_),
                                 "dev_metric_": self.dev_metric_, "selection_": self.selection_,
                                 "n_train_": int(self.n_train_), "n_dev_": int(self.n_dev_)}
        if self._classification:
            state["classes_"] = self.classes_.tolist()
            state["classes_dtype"] = self.classes_.dtype.str if self.classes_.dtype != object else "object"
        else:
            state["target_mean_"] = self.target_mean_
            state["target_scale_"] = self.target_scale_
        return state

    def _restore(self, state: dict[str, Any], tensors: dict[str, Any]) -> None:
        for key in ("n_features_in_", "n_outputs_", "history_", "best_epoch_", "dev_metric_", "selection_",
                    "target_mean_", "target_scale_", "n_train_", "n_dev_"):
            if key in state:
                setattr(self, key, state[key])
        if "classes_" in state:
            dtype = object if state["classes_dtype"] == "object" else np.dtype(state["classes_dtype"])
            self.classes_ = np.asarray(state["classes_"], dtype=dtype)
        module = self._module(self.n_features_in_, self.n_outputs_)
        module.load_state_dict(tensors)
        module.eval()
        self.module_ = module

    def save_model(self, folder: Any) -> None:
        """Write ``model.safetensors`` (the state dict) and ``estimator.json`` into ``folder``."""
        from safetensors.torch import save_file

        check_is_fitted(self, "module_")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_file({k: v.detach().cpu().contiguous() for k, v in self.module_.state_dict().items()},
                  str(folder / STATE_FILE))
        (folder / ATTRS_FILE).write_text(json.dumps(self._fitted_attributes()), encoding="utf-8")

    def load_model(self, folder: Any) -> None:
        """Restore what :meth:`save_model` wrote, on an unfitted instance with the same parameters."""
        from safetensors.torch import load_file

        folder = Path(folder)
        state = json.loads((folder / ATTRS_FILE).read_text(encoding="utf-8"))
        self._restore(state, load_file(str(folder / STATE_FILE)))

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        module = state.pop("module_", None)
        if module is not None:  # numpy arrays, not the module object
            state["_module_state"] = {k: v.detach().cpu().numpy() for k, v in module.state_dict().items()}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        tensors = state.pop("_module_state", None)
        self.__dict__.update(state)
        if tensors is not None:
            import torch

            module = self._module(self.n_features_in_, self.n_outputs_)
            module.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in tensors.items()})
            module.eval()
            self.module_ = module


class _Classifier(ClassifierMixin, _TorchLearner):
    _classification = True

    def predict_proba(self, X: Any) -> np.ndarray:
        import torch

        return torch.softmax(self._outputs(X), dim=1).numpy().astype(np.float64)

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[self._outputs(X).argmax(dim=1).numpy()]


class _Regressor(RegressorMixin, _TorchLearner):
    def __init__(self, *, layers: tuple[int, ...] = (64,), dropout: float = 0.2, activation: str = "relu",
                 batch_size: int = 32, learning_rate: float = 1e-3, weight_decay: float = 0.0, epochs: int = 100,
                 patience: int | None = 10, loss: str = "ccc", optimizer: str = "adam", device: str = "cpu",
                 holdout: float = 0.2, random_state: int | None = None) -> None:
        super().__init__(layers=layers, dropout=dropout, activation=activation, batch_size=batch_size,
                         learning_rate=learning_rate, weight_decay=weight_decay, epochs=epochs, patience=patience,
                         loss=loss, optimizer=optimizer, device=device, holdout=holdout, random_state=random_state)

    def predict(self, X: Any) -> np.ndarray:
        out = self._outputs(X)[:, 0].numpy().astype(np.float64)
        return out * self.target_scale_ + self.target_mean_


class _MlpMixin:
    def _module(self, n_features: int, n_out: int) -> Any:
        from nk_torch.nets import mlp

        return mlp(n_features, [int(s) for s in self.layers], n_out, self.dropout, self.activation)  # type: ignore[attr-defined]


class MlpClassifier(_MlpMixin, _Classifier):
    """Multi-layer perceptron classifier: hidden ``layers`` in the order given."""


class MlpRegressor(_MlpMixin, _Regressor):
    """Multi-layer perceptron regressor: hidden ``layers`` in the order given."""


class _CnnMixin:
    n_mels: int
    channels: tuple[int, ...]

    def _module(self, n_features: int, n_out: int) -> Any:
        from nk_torch.nets import Cnn

        return Cnn(self.n_mels, [int(c) for c in self.channels], [int(s) for s in self.layers],  # type: ignore[attr-defined]
                   n_out, self.dropout, self.activation)  # type: ignore[attr-defined]

    def _check_input(self, n_features: int) -> None:
        if n_features % self.n_mels:
            raise UserError(f"The cnn model reads each row as {self.n_mels} mel bands × frames, but the rows have "
                            f"{n_features} values, not a multiple of {self.n_mels}",
                            where="config keys model.n_mels, feats",
                            todo="use feats=logmel (alone) with model.n_mels equal to feats.logmel.n_mels")


class CnnClassifier(_CnnMixin, _Classifier):
    """2-D CNN classifier on log-mel patches (rows of ``n_mels`` × frames values)."""

    def __init__(self, *, n_mels: int = 40, channels: tuple[int, ...] = (16, 32), layers: tuple[int, ...] = (32,),
                 dropout: float = 0.2, activation: str = "relu", batch_size: int = 32, learning_rate: float = 1e-3,
                 weight_decay: float = 0.0, epochs: int = 100, patience: int | None = 10,
                 loss: str = "cross_entropy", optimizer: str = "adam", device: str = "cpu", holdout: float = 0.2,
                 random_state: int | None = None) -> None:
        self.n_mels = n_mels
        self.channels = channels
        super().__init__(layers=layers, dropout=dropout, activation=activation, batch_size=batch_size,
                         learning_rate=learning_rate, weight_decay=weight_decay, epochs=epochs, patience=patience,
                         loss=loss, optimizer=optimizer, device=device, holdout=holdout, random_state=random_state)


class CnnRegressor(_CnnMixin, _Regressor):
    """2-D CNN regressor on log-mel patches (rows of ``n_mels`` × frames values)."""

    def __init__(self, *, n_mels: int = 40, channels: tuple[int, ...] = (16, 32), layers: tuple[int, ...] = (32,),
                 dropout: float = 0.2, activation: str = "relu", batch_size: int = 32, learning_rate: float = 1e-3,
                 weight_decay: float = 0.0, epochs: int = 100, patience: int | None = 10, loss: str = "ccc",
                 optimizer: str = "adam", device: str = "cpu", holdout: float = 0.2,
                 random_state: int | None = None) -> None:
        self.n_mels = n_mels
        self.channels = channels
        super().__init__(layers=layers, dropout=dropout, activation=activation, batch_size=batch_size,
                         learning_rate=learning_rate, weight_decay=weight_decay, epochs=epochs, patience=patience,
                         loss=loss, optimizer=optimizer, device=device, holdout=holdout, random_state=random_state)
