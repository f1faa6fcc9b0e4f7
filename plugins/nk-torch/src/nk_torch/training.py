"""The training loop nk's torch learners share: seeded mini-batches, the loss, and the best
epoch chosen on dev (or on a seeded, speaker-disjoint hold-out of train when nk passes no dev).

Imported only when a learner is fitted (torch is heavy).
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from nk.errors import UserError

log = logging.getLogger("nk.torch")


def resolve_device(device: str, where: str = "model.device") -> torch.device:
    """``auto``: the GPU when torch sees one, else the CPU; ``cuda`` without a GPU is a user error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"{where}={device} but torch sees no CUDA GPU on this machine",
                        where=f"config key {where}", allowed="cpu, auto, cuda (with a GPU)",
                        todo=f"set {where}=cpu or {where}=auto")
    return torch.device(device)


def seeded(seed: int | None) -> torch.Generator:
    """Seed torch's global generator (weight initialisation, dropout) and return a generator
    for the order of mini-batches; the same seed gives the same model on the CPU."""
    seed = 0 if seed is None else int(seed)
    torch.manual_seed(seed)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


# --- losses --------------------------------------------------------------------------------


def ccc(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Lin's concordance correlation coefficient of two 1-D tensors (population moments)."""
    pred_mean, target_mean = pred.mean(), target.mean()
    pred_var = ((pred - pred_mean) ** 2).mean()
    target_var = ((target - target_mean) ** 2).mean()
    cov = ((pred - pred_mean) * (target - target_mean)).mean()
    return 2 * cov / (pred_var + target_var + (pred_mean - target_mean) ** 2 + 1e-8)


def ccc_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 − CCC: 0 for perfect agreement, 1 for none, 2 for perfect disagreement."""
    return 1 - ccc(pred.reshape(-1), target.reshape(-1))


def focal_loss(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None,
               gamma: float = 2.0) -> torch.Tensor:
    """Focal loss (Lin et al. 2017): cross-entropy scaled by (1 − p_true)^gamma, class-weighted."""
    log_p = torch.log_softmax(logits, dim=1)
    log_p_true = log_p.gather(1, target[:, None])[:, 0]
    loss = -((1 - log_p_true.exp()) ** gamma) * log_p_true
    if weight is not None:
        w = weight[target]
        return (loss * w).sum() / w.sum()
    return loss.mean()


def class_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """Weights inversely proportional to class frequency (scikit-learn's 'balanced')."""
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    return np.where(counts > 0, len(y) / (n_classes * np.maximum(counts, 1)), 0.0).astype(np.float32)


def loss_function(name: str, weight: np.ndarray | None = None) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The loss named by a learner's ``loss`` option (outputs, targets) → scalar."""
    w = None if weight is None else torch.as_tensor(weight)
    if name == "cross_entropy":
        return lambda out, y: nn.functional.cross_entropy(out, y, weight=None if w is None else w.to(out.device))
    if name == "focal":
        return lambda out, y: focal_loss(out, y, None if w is None else w.to(out.device))
    if name == "ccc":
        return lambda out, y: ccc_loss(out[:, 0], y)
    if name == "mse":
        return lambda out, y: nn.functional.mse_loss(out[:, 0], y)
    if name == "mae":
        return lambda out, y: nn.functional.l1_loss(out[:, 0], y)
    raise ValueError(f"unknown loss {name!r}")


# --- hold-out ------------------------------------------------------------------------------


def holdout_split(n: int, y: np.ndarray, groups: np.ndarray | None, fraction: float, seed: int | None,
                  classification: bool) -> tuple[np.ndarray, np.ndarray, str]:
    """Train and hold-out row indices for choosing the epoch when nk passed no dev split:
    speaker-disjoint (``groups``) when the speakers are known, else stratified rows. Returns the
    indices and a sentence for the log."""
    from sklearn.model_selection import GroupShuffleSplit, ShuffleSplit, StratifiedShuffleSplit

    seed = 0 if seed is None else int(seed)
    if groups is not None and len(np.unique(groups)) >= 2:
        splitter = GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
        train, held = next(splitter.split(np.zeros(n), y, groups))
        how = f"{len(np.unique(groups[held]))} of {len(np.unique(groups))} training speakers"
    else:
        stratify = classification and np.bincount(y).min() >= 2
        splitter = (StratifiedShuffleSplit if stratify else ShuffleSplit)(
            n_splits=1, test_size=fraction, random_state=seed)
        train, held = next(splitter.split(np.zeros(n), y))
        how = "rows; the speakers are unknown, so the slice may share speakers with train"
    return train, held, f"held out {len(held)} of {n} training rows ({how}) to choose the epoch"


# --- the loop ------------------------------------------------------------------------------


@dataclass
class Settings:
    epochs: int
    patience: int | None
    batch_size: int
    learning_rate: float
    weight_decay: float
    optimizer: str
    device: torch.device


def make_optimizer(name: str, params: Any, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay, momentum=0.9)
    raise ValueError(f"unknown optimizer {name!r}")


def predict_batches(module: nn.Module, X: torch.Tensor, batch_size: int, device: torch.device) -> torch.Tensor:
    """The module's outputs for every row of ``X`` (eval mode, no gradients), on the CPU."""
    module.eval()
    outs = []
    with torch.no_grad():
        for start in range(0, len(X), max(batch_size, 1)):
            outs.append(module(X[start:start + batch_size].to(device)).float().cpu())
    return torch.cat(outs) if outs else torch.empty(0)


def train(module: nn.Module, X: torch.Tensor, y: torch.Tensor, X_dev: torch.Tensor | None, y_dev: np.ndarray | None,
          loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
          dev_metric: Callable[[torch.Tensor, np.ndarray], float], metric_name: str, settings: Settings,
          generator: torch.Generator) -> tuple[list[dict[str, Any]], int]:
    """Train ``module`` in place for up to ``settings.epochs`` epochs; after each epoch score
    the dev rows (higher is better) and keep the best epoch's weights, stopping when the dev
    metric has not improved for ``patience`` epochs. Without dev rows every epoch is trained and
    the last is kept. Returns the per-epoch history and the chosen epoch (1-based)."""
    device = settings.device
    module.to(device)
    optimizer = make_optimizer(settings.optimizer, module.parameters(), settings.learning_rate,
                               settings.weight_decay)
    history: list[dict[str, Any]] = []
    best_score, best_epoch, best_state = -math.inf, 0, None
    n = len(X)
    for epoch in range(1, settings.epochs + 1):
        started = time.perf_counter()
        module.train()
        order = torch.randperm(n, generator=generator)
        total, seen = 0.0, 0
        for start in range(0, n, settings.batch_size):
            idx = order[start:start + settings.batch_size]
            if len(idx) < 2 and n >= 2:  # batch norm and CCC need two rows; the row is seen next epoch
                continue
            optimizer.zero_grad()
            loss = loss_fn(module(X[idx].to(device)), y[idx].to(device))
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(idx)
            seen += len(idx)
        entry: dict[str, Any] = {"epoch": epoch, "train_loss": total / max(seen, 1)}
        if X_dev is not None and y_dev is not None:
            score = dev_metric(predict_batches(module, X_dev, settings.batch_size, device), y_dev)
            entry[f"dev_{metric_name}"] = score
            if score > best_score or best_state is None:
                best_score, best_epoch = score, epoch
                best_state = copy.deepcopy(module.state_dict())
        entry["seconds"] = round(time.perf_counter() - started, 4)
        history.append(entry)
        if (X_dev is not None and settings.patience is not None
                and epoch - best_epoch >= settings.patience):
            break
    if best_state is not None:
        module.load_state_dict(best_state)
    else:
        best_epoch = len(history)
    module.eval()
    return history, best_epoch


def uar(outputs: torch.Tensor, y: np.ndarray) -> float:
    """Unweighted average recall of the arg-max class (nk's primary classification metric)."""
    from sklearn.metrics import balanced_accuracy_score

    return float(balanced_accuracy_score(y, outputs.argmax(dim=1).numpy()))


def ccc_metric(outputs: torch.Tensor, y: np.ndarray) -> float:
    """CCC of the first output column (nk's primary regression metric)."""
    value = float(ccc(outputs[:, 0].double(), torch.as_tensor(y, dtype=torch.float64)))
    return value if math.isfinite(value) else -1.0
