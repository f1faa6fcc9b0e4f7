"""Fine-tuning a Hugging Face audio encoder with transformers' ``Trainer``.

``FinetuneClassifier`` / ``FinetuneRegressor`` take audio rows (``input = "audio"``): nk passes
a DataFrame with ``file``, ``start``, ``end`` (seconds, NaN: whole file) and ``sampling_rate``.
The model is ``AutoModelForAudioClassification`` (the encoder, mean pooling over frames, a
projection and the output layer), so the saved folder loads with ``from_pretrained`` anywhere.
The loss is nk's (class-weighted cross-entropy, or 1 − CCC), the checkpoint kept is the best on
dev (or on a seeded, speaker-disjoint hold-out of train), and the Trainer's logs go to
tensorboard event files in the run folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from nk.errors import UserError

log = logging.getLogger("nk.finetune")
HF_DIR = "hf"
ATTRS_FILE = "estimator.json"


@contextlib.contextmanager
def _env(**values: str) -> Iterator[None]:
    """Set environment variables for a block (the Trainer's tensorboard callback reads
    ``TENSORBOARD_LOGGING_DIR``; transformers 5 has no ``logging_dir`` argument)."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def load_pretrained(source: str, where: str, **kwargs: Any) -> tuple[Any, Any]:
    """The feature extractor and ``AutoModelForAudioClassification`` of a hub id or local folder,
    found as nk-transformers finds its encoders (:mod:`nk_transformers.hub`: a local folder, the
    local Hugging Face cache, or the hub; offline, one clear error)."""
    import transformers

    from nk_transformers import hub

    found = hub.resolve(source, None, None, where)
    extractor = hub.load(found, "feature extractor", transformers.AutoFeatureExtractor.from_pretrained)
    model = hub.load(found, "model", lambda path, **kw: transformers.AutoModelForAudioClassification
                     .from_pretrained(path, **kw, **kwargs))
    return extractor, model


class _Finetune(BaseEstimator):
    input: ClassVar[str] = "audio"
    _classification: ClassVar[bool] = False
    library_dependencies: ClassVar[tuple[str, ...]] = ("torch", "transformers", "accelerate")

    def __init__(self, *, pretrained_model: str = "microsoft/wavlm-base", max_duration: float = 8.0,
                 freeze_feature_encoder: bool = True, freeze_layers: int = 0, learning_rate: float = 3e-5,
                 warmup: float = 0.1, batch_size: int = 8, gradient_accumulation: int = 1, epochs: int = 5,
                 patience: int | None = None, weight_decay: float = 0.0, device: str = "auto",
                 mixed_precision: bool = True, holdout: float = 0.2, resume: bool = False,
                 push_to_hub: bool = False, hub_model_id: str | None = None,
                 random_state: int | None = None) -> None:
        self.pretrained_model = pretrained_model
        self.max_duration = max_duration
        self.freeze_feature_encoder = freeze_feature_encoder
        self.freeze_layers = freeze_layers
        self.learning_rate = learning_rate
        self.warmup = warmup
        self.batch_size = batch_size
        self.gradient_accumulation = gradient_accumulation
        self.epochs = epochs
        self.patience = patience
        self.weight_decay = weight_decay
        self.device = device
        self.mixed_precision = mixed_precision
        self.holdout = holdout
        self.resume = resume
        self.push_to_hub = push_to_hub
        self.hub_model_id = hub_model_id
        self.random_state = random_state

    # --- audio -----------------------------------------------------------------------------

    def _signals(self, rows: Any, rate: int) -> list[np.ndarray]:
        """Each row's signal at the model's rate, at most ``max_duration`` s (the middle part)."""
        from nk.audio import read

        longest = int(self.max_duration * rate)
        out = []
        for file, start, end in zip(rows["file"], rows["start"], rows["end"], strict=True):
            signal, _ = read(file, sampling_rate=rate, start=None if _nan(start) else float(start),
                             end=None if _nan(end) else float(end))
            if len(signal) > longest:
                skip = (len(signal) - longest) // 2
                signal = signal[skip:skip + longest]
            out.append(np.asarray(signal, dtype=np.float32))
        return out

    # --- fitting ---------------------------------------------------------------------------

    @staticmethod
    def _token() -> str | None:
        """The hub token: only from the environment (``HF_TOKEN``), never a parameter."""
        return os.environ.get("HF_TOKEN") or None

    def _fit_key(self, rows: Any, y: np.ndarray) -> str:
        """What a resumed run must share with the killed one: the options that change training
        and the training rows."""
        skip = {"device", "resume", "push_to_hub", "hub_model_id", "batch_size"}
        params = {k: v for k, v in sorted(self.get_params().items()) if k not in skip}
        text = json.dumps([params, list(map(str, rows["file"])), list(map(str, y))], default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def fit(self, X: Any, y: Any, X_dev: Any = None, y_dev: Any = None, groups: Any = None,
            run_dir: Any = None) -> Any:
        """Fine-tune on the audio rows ``X``; the best checkpoint on ``X_dev`` (or a hold-out) is kept."""
        with _quiet_transformers():
            return self._fit(X, y, X_dev, y_dev, groups, run_dir)

    _extra_callbacks: ClassVar[tuple[Any, ...]] = ()  # tests: e.g. a callback that simulates a kill

    def _fit(self, X: Any, y: Any, X_dev: Any, y_dev: Any, groups: Any, run_dir: Any) -> Any:
        import tempfile

        import torch
        import transformers

        from nk_torch import training

        if (X_dev is None) != (y_dev is None):
            raise ValueError("X_dev and y_dev must be given together")
        if self.push_to_hub and not self._token():
            raise UserError("model.push_to_hub=true needs a Hugging Face token",
                            where="the environment variable HF_TOKEN",
                            todo="export HF_TOKEN=... (it is never written to a file or log), or set "
                            "push_to_hub=false")
        device = training.resolve_device(self.device)
        rows, y = X, np.asarray(y)
        codes = self._encode(y, fit=True)
        dev_codes = None
        if X_dev is not None:
            dev_rows, dev_codes = X_dev, self._encode(np.asarray(y_dev))
            self.selection_ = "dev"
        elif self.holdout > 0 and len(rows) >= 4:
            train_idx, held_idx, sentence = training.holdout_split(
                len(rows), codes.astype(int) if self._classification else np.zeros(len(rows), int),
                None if groups is None else np.asarray(groups), self.holdout, self.random_state,
                self._classification)
            log.info("finetune: no dev split; %s", sentence)
            dev_rows, dev_codes = rows.iloc[held_idx], codes[held_idx]
            rows, codes = rows.iloc[train_idx], codes[train_idx]
            self.selection_ = "held-out " + ("speakers" if groups is not None else "rows") + " of train"
        else:
            dev_rows = None
            log.info("finetune: no dev split and holdout=0: every epoch is trained and the last is kept")
            self.selection_ = "last epoch (no dev)"

        seed = 0 if self.random_state is None else int(self.random_state)
        transformers.set_seed(seed)
        n_out = len(self.classes_) if self._classification else 1
        labels = {str(i): str(c) for i, c in enumerate(self.classes_)} if self._classification else {"0": "value"}
        extractor, model = load_pretrained(
            self.pretrained_model, "model.pretrained_model", num_labels=n_out, id2label=labels,
            label2id={v: int(k) for k, v in labels.items()}, layerdrop=0.0, ignore_mismatched_sizes=True,
            problem_type="single_label_classification" if self._classification else "regression")
        self._freeze(model)
        rate = int(extractor.sampling_rate)
        train_set = _AudioSet(self._signals(rows, rate), codes, self._classification)
        dev_set = None if dev_rows is None or dev_codes is None else _AudioSet(
            self._signals(dev_rows, rate), dev_codes, self._classification)

        owned_tmp = None
        if run_dir is None:  # outside nk run (tests, notebooks): a temporary folder
            owned_tmp = tempfile.mkdtemp(prefix="nk-finetune-")
            base = Path(owned_tmp)
        else:
            base = Path(run_dir) / "finetune" / f"fit-{self._fit_key(rows, codes)}"
        checkpoints, events = base / "checkpoints", base / "tensorboard"
        base.mkdir(parents=True, exist_ok=True)
        resume_from = self._resume_point(base, run_dir) if self.resume else None

        on_gpu = device.type == "cuda"
        bf16 = bool(self.mixed_precision and on_gpu and torch.cuda.is_bf16_supported())
        metric = "uar" if self._classification else "ccc"
        evaluate = dev_set is not None
        args = transformers.TrainingArguments(
            output_dir=str(checkpoints), per_device_train_batch_size=self.batch_size,
            per_device_eval_batch_size=self.batch_size, gradient_accumulation_steps=self.gradient_accumulation,
            learning_rate=self.learning_rate, warmup_steps=float(self.warmup), weight_decay=self.weight_decay,
            num_train_epochs=self.epochs, eval_strategy="epoch" if evaluate else "no", save_strategy="epoch",
            logging_strategy="epoch", load_best_model_at_end=evaluate,
            metric_for_best_model=metric if evaluate else None, greater_is_better=True if evaluate else None,
            save_total_limit=2, report_to=["tensorboard"], seed=seed, data_seed=seed, use_cpu=not on_gpu,
            bf16=bf16, fp16=bool(self.mixed_precision and on_gpu and not bf16), dataloader_num_workers=0,
            remove_unused_columns=False, disable_tqdm=True,
        )
        callbacks: list[Any] = []
        if evaluate and self.patience is not None:
            callbacks.append(transformers.EarlyStoppingCallback(early_stopping_patience=self.patience))
        weight = training.class_weights(codes, n_out) if self._classification else None
        callbacks += [_LogCallback(), *self._extra_callbacks]
        with _env(TENSORBOARD_LOGGING_DIR=str(events)):
            trainer = transformers.Trainer(
                model=model, args=args, train_dataset=train_set, eval_dataset=dev_set,
                data_collator=_Collator(extractor, rate), compute_metrics=self._metrics,
                compute_loss_func=_Loss(self._classification, weight), callbacks=callbacks)
            trainer.remove_callback(transformers.trainer_callback.PrinterCallback)  # into nk.log instead
            if resume_from is not None:
                log.info("finetune: resuming from %s", resume_from)
            trainer.train(resume_from_checkpoint=None if resume_from is None else str(resume_from))
        self.history_, self.best_epoch_ = _history(trainer.state.log_history, metric)
        self.dev_metric_ = metric
        best_model: Any = trainer.model
        self.model_: Any = best_model.to("cpu").eval()
        self.extractor_ = extractor
        if owned_tmp is not None:
            shutil.rmtree(owned_tmp, ignore_errors=True)
        else:
            # the best model in Hugging Face's format; the checkpoints (with optimizer state, for
            # resume=true after a killed run) are not needed once training has finished
            self.model_.save_pretrained(base / "best")
            extractor.save_pretrained(base / "best")
            shutil.rmtree(checkpoints, ignore_errors=True)
            self.saved_to_ = str(base / "best")
        if self.push_to_hub:
            self._push()
        return self

    def _freeze(self, model: Any) -> None:
        if self.freeze_feature_encoder and hasattr(model, "freeze_feature_encoder"):
            model.freeze_feature_encoder()
        if self.freeze_layers:
            encoder = getattr(model, model.base_model_prefix)
            layers = encoder.encoder.layers
            if self.freeze_layers > len(layers):
                raise UserError(f"model.freeze_layers={self.freeze_layers} but {self.pretrained_model} has "
                                f"{len(layers)} transformer layers", where="config key model.freeze_layers",
                                allowed=f"0 to {len(layers)}", todo=f"set model.freeze_layers<={len(layers)}")
            for layer in layers[: self.freeze_layers]:
                for p in layer.parameters():
                    p.requires_grad = False

    def _resume_point(self, base: Path, run_dir: Any) -> Path | None:
        """The last checkpoint of this fit in an earlier run folder of the same experiment."""
        from transformers.trainer_utils import get_last_checkpoint

        if run_dir is None:
            return None
        here = Path(run_dir).resolve()
        candidates = sorted((p for p in here.parent.iterdir() if p.is_dir() and p.resolve() != here),
                            key=lambda p: p.stat().st_mtime, reverse=True)
        for run in candidates:
            folder = run / "finetune" / base.name / "checkpoints"
            if folder.is_dir():
                last = get_last_checkpoint(str(folder))
                if last is not None:
                    return Path(last)
        log.info("finetune: resume=true but no earlier run of this experiment left a checkpoint of this fit; "
                 "training from the start")
        return None

    def _push(self) -> None:
        """Upload the best model (Hugging Face format) to ``hub_model_id``; the token is passed
        to the hub client only, never written or logged."""
        import tempfile

        from huggingface_hub import HfApi

        api = HfApi(token=self._token())
        repo = str(self.hub_model_id)
        with tempfile.TemporaryDirectory(prefix="nk-push-") as tmp:
            self.model_.save_pretrained(tmp)
            self.extractor_.save_pretrained(tmp)
            api.create_repo(repo, exist_ok=True, private=True)
            api.upload_folder(folder_path=tmp, repo_id=repo, commit_message="nk: fine-tuned model")
        log.info("finetune: pushed the model to the Hugging Face hub as %s", repo)

    def _metrics(self, prediction: Any) -> dict[str, float]:
        import torch

        from nk_torch import training

        out = torch.as_tensor(np.asarray(prediction.predictions, dtype=np.float32))
        truth = np.asarray(prediction.label_ids)
        if self._classification:
            return {"uar": training.uar(out, truth.astype(int))}
        return {"ccc": training.ccc_metric(out.reshape(len(out), -1), truth.astype(np.float64))}

    def _encode(self, y: np.ndarray, fit: bool = False) -> np.ndarray:
        if self._classification:
            if fit:
                self.classes_ = np.unique(y)
                if len(self.classes_) < 2:
                    raise ValueError(f"fine-tuning a classifier needs two classes, got {self.classes_.tolist()}")
            pos = np.clip(np.searchsorted(self.classes_, y), 0, len(self.classes_) - 1)
            return np.where(self.classes_[pos] == y, pos, -1).astype(np.int64)
        values = y.astype(np.float32)
        if fit:  # standardised targets: the head starts near 0 whatever the unit (years, ratings)
            self.target_mean_ = float(values.mean())
            self.target_scale_ = float(values.std()) or 1.0
        return ((values - self.target_mean_) / self.target_scale_).astype(np.float32)

    # --- prediction ------------------------------------------------------------------------

    def _outputs(self, X: Any) -> np.ndarray:
        import torch

        from nk_torch import training

        check_is_fitted(self, "model_")
        device = training.resolve_device(self.device)
        rate = int(self.extractor_.sampling_rate)
        signals = self._signals(X, rate)
        collate = _Collator(self.extractor_, rate)
        model = self.model_.to(device).eval()
        outs = []
        try:
            with torch.no_grad():
                # sorted by length, so that a batch pads little; put back in order afterwards
                order = np.argsort([len(s) for s in signals], kind="stable")
                for start in range(0, len(order), self.batch_size):
                    idx = order[start:start + self.batch_size]
                    batch = collate([{"input_values": signals[i]} for i in idx])
                    logits = model(**{k: v.to(device) for k, v in batch.items()}).logits
                    outs.append((idx, logits.float().cpu().numpy()))
        finally:
            self.model_ = model.to("cpu")
        result = np.zeros((len(signals), outs[0][1].shape[1] if outs else 1), dtype=np.float32)
        for idx, values in outs:
            result[idx] = values
        return result

    # --- saving ----------------------------------------------------------------------------

    def save_model(self, folder: Any) -> None:
        """The model and feature extractor in Hugging Face's format (``hf/``, safetensors) and
        the estimator's fitted attributes as JSON."""
        check_is_fitted(self, "model_")
        folder = Path(folder)
        self.model_.save_pretrained(folder / HF_DIR)
        self.extractor_.save_pretrained(folder / HF_DIR)
        state = {"history_": self.history_, "best_epoch_": self.best_epoch_, "dev_metric_": self.dev_metric_,
                 "selection_": self.selection_}
        if self._classification:
            state["classes_"] = self.classes_.tolist()
            state["classes_dtype"] = self.classes_.dtype.str if self.classes_.dtype != object else "object"
        else:
            state.update(target_mean_=self.target_mean_, target_scale_=self.target_scale_)
        (folder / ATTRS_FILE).write_text(json.dumps(state), encoding="utf-8")

    def load_model(self, folder: Any) -> None:
        """Restore what :meth:`save_model` wrote (offline: the folder holds everything)."""
        import transformers

        folder = Path(folder)
        state = json.loads((folder / ATTRS_FILE).read_text(encoding="utf-8"))
        for key in ("history_", "best_epoch_", "dev_metric_", "selection_", "target_mean_", "target_scale_"):
            if key in state:
                setattr(self, key, state[key])
        if "classes_" in state:
            dtype = object if state["classes_dtype"] == "object" else np.dtype(state["classes_dtype"])
            self.classes_ = np.asarray(state["classes_"], dtype=dtype)
        self.extractor_ = transformers.AutoFeatureExtractor.from_pretrained(str(folder / HF_DIR))
        self.model_ = transformers.AutoModelForAudioClassification.from_pretrained(
            str(folder / HF_DIR), local_files_only=True).eval()

    def __getstate__(self) -> dict[str, Any]:
        """Pickles hold the weights as numpy arrays and the configs as dicts, not the modules."""
        state = dict(self.__dict__)
        model = state.pop("model_", None)
        extractor = state.pop("extractor_", None)
        if model is not None:
            state["_hf_model"] = (model.config.to_dict(),
                                  {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()})
            state["_hf_extractor"] = extractor.to_dict()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        packed = state.pop("_hf_model", None)
        extractor = state.pop("_hf_extractor", None)
        self.__dict__.update(state)
        if packed is not None:
            import torch
            import transformers

            config_dict, tensors = packed
            config = transformers.AutoConfig.for_model(**config_dict)
            model = transformers.AutoModelForAudioClassification.from_config(config)
            model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in tensors.items()})
            self.model_ = model.eval()
            cls = getattr(transformers, extractor.get("feature_extractor_type", "Wav2Vec2FeatureExtractor"))
            self.extractor_ = cls.from_dict(extractor)


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """transformers' own warnings, load reports and progress bars off for a block (nk logs
    what matters), restored afterwards."""
    from transformers.utils import logging as hf_logging

    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


class _LogCallback:
    """The Trainer's per-epoch logs (loss, dev metric) into nk's log."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("on_"):
            return lambda *args, **kwargs: None
        raise AttributeError(name)

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
        if logs:
            shown = {k: round(v, 4) if isinstance(v, float) else v for k, v in logs.items()}
            log.info("finetune: step %d %s", state.global_step, shown)


def _nan(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


class _AudioSet:
    """A torch-style dataset of (signal, label) items for the Trainer."""

    def __init__(self, signals: list[np.ndarray], labels: np.ndarray, classification: bool) -> None:
        self.signals = signals
        self.labels = labels
        self.classification = classification

    def __len__(self) -> int:
        return len(self.signals)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"input_values": self.signals[i], "labels": self.labels[i]}


class _Collator:
    """Pads a batch with the feature extractor (normalisation, attention mask)."""

    def __init__(self, extractor: Any, rate: int) -> None:
        self.extractor = extractor
        self.rate = rate

    def __call__(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        batch = self.extractor([it["input_values"] for it in items], sampling_rate=self.rate, padding=True,
                               return_tensors="pt", return_attention_mask=True)
        out = {"input_values": batch["input_values"]}
        if "attention_mask" in batch:
            out["attention_mask"] = batch["attention_mask"]
        if "labels" in items[0]:
            labels = np.asarray([it["labels"] for it in items])
            out["labels"] = torch.as_tensor(labels, dtype=torch.long if labels.dtype.kind == "i" else torch.float32)
        return out


class _Loss:
    """nk's loss for the Trainer: class-weighted cross-entropy, or 1 − CCC; scaled by the rows in
    the accumulated batch (the Trainer does not divide a custom loss by the accumulation steps)."""

    def __init__(self, classification: bool, weight: np.ndarray | None) -> None:
        self.classification = classification
        self.weight = weight

    def __call__(self, outputs: Any, labels: Any, num_items_in_batch: Any = None) -> Any:
        import torch

        from nk_torch import training

        logits = outputs["logits"] if isinstance(outputs, dict) else outputs.logits
        if self.classification:
            w = None if self.weight is None else torch.as_tensor(self.weight, device=logits.device)
            loss = torch.nn.functional.cross_entropy(logits.float(), labels, weight=w)
        else:
            loss = training.ccc_loss(logits.float().reshape(-1), labels.float())
        if num_items_in_batch is not None:
            loss = loss * len(labels) / float(num_items_in_batch)
        return loss


def _history(log_history: list[dict[str, Any]], metric: str) -> tuple[list[dict[str, Any]], int]:
    """Per-epoch train loss and dev metric from the Trainer's log, and the best epoch."""
    epochs: dict[int, dict[str, Any]] = {}
    for entry in log_history:
        if "epoch" not in entry:
            continue
        epoch = max(1, round(float(entry["epoch"])))
        row = epochs.setdefault(epoch, {"epoch": epoch})
        if "loss" in entry:
            row["train_loss"] = float(entry["loss"])
        if f"eval_{metric}" in entry:
            row[f"dev_{metric}"] = float(entry[f"eval_{metric}"])
    history = [epochs[e] for e in sorted(epochs) if "train_loss" in epochs[e] or f"dev_{metric}" in epochs[e]]
    scores = [h.get(f"dev_{metric}", -math.inf) for h in history]
    best = int(np.argmax(scores)) + 1 if history and max(scores) > -math.inf else len(history)
    return history, best


class FinetuneClassifier(ClassifierMixin, _Finetune):
    """A fine-tuned audio encoder that classifies (class-weighted cross-entropy)."""

    _classification = True

    def predict_proba(self, X: Any) -> np.ndarray:
        logits = self._outputs(X).astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[self._outputs(X).argmax(axis=1)]


class FinetuneRegressor(RegressorMixin, _Finetune):
    """A fine-tuned audio encoder that regresses (1 − CCC loss)."""

    def predict(self, X: Any) -> np.ndarray:
        return self._outputs(X)[:, 0].astype(np.float64) * self.target_scale_ + self.target_mean_
