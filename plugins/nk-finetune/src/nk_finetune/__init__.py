"""nk-finetune: ``model=finetune`` (classification) and ``model=finetune_reg`` (regression)
fine-tune a pre-trained Hugging Face audio encoder end to end on the run's audio.

The learners take audio rows (``input = "audio"``, so ``feats=[]``); see
:mod:`nk_finetune.estimator`. This entry module imports neither torch nor transformers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from nk.errors import UserError
from nk.hookspecs import hookimpl
from nk.registry import Register, param


@dataclass
class FinetuneRegConfig:
    pretrained_model: str = param("microsoft/wavlm-base",
                                  help="Hugging Face hub id or local folder of a wav2vec2, HuBERT, WavLM or "
                                       "data2vec-audio encoder")
    max_duration: float = param(8.0, gt=0, help="seconds of audio per row the model sees (the middle part)")
    freeze_feature_encoder: bool = param(True, help="keep the convolutional feature encoder fixed")
    freeze_layers: int = param(0, ge=0, help="keep the first N transformer layers fixed")
    learning_rate: float = param(3e-5, gt=0, help="peak learning rate (AdamW, linear decay)")
    warmup: float = param(0.1, ge=0, lt=1, help="share of the training steps with a linear warm-up")
    batch_size: int = param(8, ge=1, key=False, help="rows per device step")
    gradient_accumulation: int = param(1, ge=1, help="device steps per optimizer step (effective batch = "
                                                     "batch_size × this)")
    epochs: int = param(5, ge=1, help="training epochs; the best on dev is kept")
    patience: int | None = param(None, ge=1, help="stop when the dev metric has not improved for this many "
                                                  "epochs; None: train every epoch")
    weight_decay: float = param(0.0, ge=0, help="AdamW weight decay")
    device: str = param("auto", key=False, help="cpu, cuda, cuda:N or auto (the GPU when there is one)")
    mixed_precision: bool = param(True, key=False, help="bf16 (or fp16) on a GPU; ignored on the CPU")
    holdout: float = param(0.2, ge=0, lt=1, help="without a dev split: share of train held out (whole speakers) "
                                                 "to choose the checkpoint; 0: keep the last epoch")
    resume: bool = param(False, key=False, help="continue from the last checkpoint a killed earlier run of this "
                                                "experiment left (same options and training rows)")
    push_to_hub: bool = param(False, key=False, help="upload the best model to the Hugging Face hub as "
                                                     "hub_model_id (private)")
    hub_model_id: str | None = param(None, key=False, help="hub repository for push_to_hub, e.g. user/my-model "
                                                           "(the token comes from the environment variable HF_TOKEN)")

    def validate(self, path: str) -> None:
        if self.push_to_hub and not self.hub_model_id:
            raise UserError(f"{path}.push_to_hub=true needs {path}.hub_model_id",
                            where=f"config keys {path}.push_to_hub, {path}.hub_model_id",
                            todo=f"set {path}.hub_model_id=<user>/<name>")
        if self.push_to_hub and not os.environ.get("HF_TOKEN"):
            # the token only comes from the environment: never a config value, so it can reach no
            # config.yaml, log or saved model spec (and loading a saved model needs none)
            raise UserError(f"{path}.push_to_hub=true needs a Hugging Face token",
                            where="the environment variable HF_TOKEN",
                            todo="export HF_TOKEN=... (it is never written to a file or log)")


@dataclass
class FinetuneConfig(FinetuneRegConfig):
    """The regressor's options; classification uses class-weighted cross-entropy."""


def finetune(**params: Any) -> Any:
    """A :class:`~nk_finetune.estimator.FinetuneClassifier`; nk sets ``random_state`` to the seed."""
    from nk_finetune.estimator import FinetuneClassifier

    return FinetuneClassifier(**params)


def finetune_reg(**params: Any) -> Any:
    """A :class:`~nk_finetune.estimator.FinetuneRegressor` (1 − CCC loss)."""
    from nk_finetune.estimator import FinetuneRegressor

    return FinetuneRegressor(**params)


# the learners' classes say input = "audio"; nk reads it from the built instance
finetune.library_dependencies = ("torch", "transformers", "accelerate")  # type: ignore[attr-defined]
finetune_reg.library_dependencies = ("torch", "transformers", "accelerate")  # type: ignore[attr-defined]


@hookimpl
def nk_register_learners(register: Register) -> None:
    register("finetune", finetune, FinetuneConfig,
             description="fine-tune a Hugging Face audio encoder on the audio (classification), best epoch on dev")
    register("finetune_reg", finetune_reg, FinetuneRegConfig,
             description="fine-tune a Hugging Face audio encoder on the audio (regression, CCC loss)")
