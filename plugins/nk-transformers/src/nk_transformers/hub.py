"""Finding a model: a local folder, the local Hugging Face cache, or the hub; clear offline errors.

A local folder (with a ``config.json``) is used as it is, with no network. A hub id is loaded
with ``from_pretrained(id)`` as usual when the hub can be reached. Without network, or with
``HF_HUB_OFFLINE=1``, a model in the local cache is loaded from there (without the five retries
``huggingface_hub`` would otherwise spend), and a model missing from it is one
:class:`~nk.errors.UserError` naming the model, the cache folder and the fix.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

from nk.errors import UserError

T = TypeVar("T")
PROBE_TIMEOUT = 3.0
"""Seconds to wait for a TCP connection to the hub before calling it unreachable."""


@dataclass(frozen=True)
class Source:
    """Where a model's files come from, and how ``from_pretrained`` is called for them."""

    model: str  # what the user gave
    path: str  # what from_pretrained gets: a resolved folder or the hub id
    local_folder: bool
    revision: str | None
    token: str | None
    local_files_only: bool
    config_key: str

    def kwargs(self) -> dict[str, Any]:
        if self.local_folder:
            return {"local_files_only": True}
        out: dict[str, Any] = {"local_files_only": self.local_files_only}
        if self.revision:
            out["revision"] = self.revision
        if self.token:
            out["token"] = self.token
        return out


def cache_folder() -> str:
    from huggingface_hub import constants

    return constants.HF_HUB_CACHE


def _offline_flag() -> bool:
    """HF_HUB_OFFLINE as huggingface_hub read it at import, or as the environment says now."""
    from huggingface_hub import constants

    from nk.env import env_flag

    return bool(constants.HF_HUB_OFFLINE) or env_flag("HF_HUB_OFFLINE", default=False)


def hub_reachable() -> bool:
    """Whether a TCP connection to the hub's endpoint opens within :data:`PROBE_TIMEOUT`.

    With a proxy configured the probe cannot tell, so the hub counts as reachable.
    """
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True
    from huggingface_hub import constants

    url = urlparse(constants.ENDPOINT)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "huggingface.co", port), timeout=PROBE_TIMEOUT):
            return True
    except OSError:
        return False


def in_cache(model: str, revision: str | None) -> bool:
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(model, "config.json", revision=revision or None)
    except Exception:  # an id the hub library rejects is not cached either
        return False
    return isinstance(found, str)


def looks_like_path(model: str) -> bool:
    return model.startswith((".", "/", "~")) or model.count("/") > 1 or "\\" in model


def resolve(model: str, revision: str | None, token: str | None, config_key: str) -> Source:
    """Decide where ``model`` is loaded from; raise a UserError when it cannot be.

    ``config_key`` is the key the user set the model with (e.g. ``feats.wav2vec2.model``,
    ``predict.age.model``, ``model.pretrained_model``): the errors name it. The embeddings, the
    predictors (nk-predict) and fine-tuning (nk-finetune) all find their models here."""
    model = str(model).strip()
    if not model:
        raise UserError("No model given", where=f"config key {config_key}",
                        allowed="a Hugging Face hub id (e.g. facebook/wav2vec2-base) or a local folder",
                        todo=f"set {config_key}=...")
    folder = Path(model).expanduser()
    if folder.is_dir():
        if not (folder / "config.json").is_file():
            raise UserError(f"The folder {str(folder)!r} holds no config.json, so it is not a "
                            "saved Hugging Face model", where=f"config key {config_key}",
                            todo="point to the folder `save_pretrained` wrote (config.json and "
                                 "model.safetensors), or give a hub id")
        return Source(model, str(folder.resolve()), True, None, None, True, config_key)
    if looks_like_path(model) or folder.exists():
        raise UserError(f"The model folder {str(folder)!r} does not exist",
                        where=f"config key {config_key}",
                        allowed="a Hugging Face hub id (owner/name) or an existing local folder",
                        todo="check the path")
    cached = in_cache(model, revision)
    if _offline_flag():
        if not cached:
            raise missing(model, revision, config_key, "HF_HUB_OFFLINE is set")
        return Source(model, model, False, revision, token, True, config_key)
    if not hub_reachable():
        if not cached:
            raise missing(model, revision, config_key, "the Hugging Face hub cannot be reached "
                                                       "(no network)")
        return Source(model, model, False, revision, token, True, config_key)
    return Source(model, model, False, revision, token, False, config_key)


def missing(model: str, revision: str | None, config_key: str, reason: str) -> UserError:
    rev = f" at revision {revision!r}" if revision and revision != "main" else ""
    return UserError(
        f"The model {model!r}{rev} is not in the local Hugging Face cache and cannot be "
        f"downloaded: {reason}",
        where=f"config key {config_key}; nk looked in the Hugging Face cache "
              f"{cache_folder()} (set by HF_HOME or HF_HUB_CACHE)",
        todo=f"run `nk models fetch {model}` once on a machine with internet access (with the "
             f"same HF_HOME), or set {config_key}=/path/to/a/local/model/folder",
    )


def load(source: Source, what: str, loader: Callable[..., T]) -> T:
    """``loader(source.path, **kwargs)``, with hub and file errors turned into UserErrors."""
    try:
        return loader(source.path, **source.kwargs())
    except UserError:
        raise
    except (OSError, ValueError) as exc:
        if source.local_folder:
            raise UserError(f"Cannot load the {what} of the local model {source.model!r}: {exc}",
                            where=f"config key {source.config_key}",
                            todo="check that the folder holds a complete saved model") from None
        if source.local_files_only:
            raise missing(source.model, source.revision, source.config_key,
                          f"the cached copy is incomplete ({type(exc).__name__})") from None
        raise UserError(
            f"Cannot load the {what} of {source.model!r} from the Hugging Face hub: "
            f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
            where=f"config key {source.config_key} (revision "
                  f"{source.revision or 'main'}); cache {cache_folder()}",
            todo="check the model id and revision on huggingface.co; for a gated model log in "
                 "(`hf auth login`) or set HF_TOKEN; or use a local folder",
        ) from None
