"""One inference path: a finished run's model applied to new audio, without the run's context.

:func:`load_run` reads a run's ``model/`` folder (checked against its manifest, no pickles; see
:func:`nk.results.load_model`), rebuilds the featurizers (and segmenter) through the registry
from the saved spec — their secret parameters, never saved, come from ``secrets=`` or the
environment (``NK_SECRET_<PARAM>``) — and returns a :class:`Predictor`. Features go through the
feature cache like a run's, the fitted preprocessing (imputation, scaling, selection) and the
learner. ``nk predict``, ``nk test``, ``nk demo`` and ``nk serve`` build on it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nk.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

    from nk.context import RunContext
    from nk.plugins import PluginManager


@dataclass
class Predictor:
    """A loaded model: ``predict_files`` turns audio into ``pred`` (and ``proba.<class>``)."""

    spec: dict[str, Any]  # model/spec.json
    model: Any
    preprocessor: Any  # None for learners that take audio
    featurizers: list[tuple[Any, Any, dict[str, Any]]]  # (component, featurizer, params with secrets)
    segmenter: Any  # None: whole files
    ctx: RunContext

    @property
    def target(self) -> str:
        return str(self.spec["target"])

    @property
    def task(self) -> str:
        return str(self.spec["task"])

    @property
    def labels(self) -> list[Any] | None:
        """The classes the model predicts (None for regression)."""
        return self.spec.get("labels")

    def predict_files(self, files: Iterable[str | Path] | pd.DataFrame) -> pd.DataFrame:
        """Predictions for audio files: paths, or a DataFrame indexed like a corpus (by ``file``,
        or by ``file``, ``start``, ``end`` for segments; a ``speaker`` column serves
        ``scale=speaker``). Returns ``pred`` and, for classifiers with probabilities,
        ``proba.<class>``, on the same index."""
        import pandas as pd

        from nk import stages
        from nk.data import check_features
        from nk.featurize import extract
        from nk.fit import probabilities

        frame = self._frame(files)
        if self.segmenter is not None:
            frame = self.segmenter.segment(frame, self.ctx)
        if self.spec["input"] == "audio":
            X: Any = stages.audio_rows(frame, int(self.spec["sampling_rate"]))
        else:
            parts = []
            for component, featurizer, params in self.featurizers:
                feats = extract(component, featurizer, params, frame.index, self.ctx)
                check_features(feats, frame.index, component.name,
                               allow_nan=bool(getattr(featurizer, "may_return_nan", False)))
                parts.append(feats)
            features = self._missing(pd.concat(parts, axis=1) if len(parts) > 1 else parts[0])
            speakers = frame["speaker"].to_numpy() if "speaker" in frame.columns else None
            X = self.preprocessor.transform(features, speakers)
        out = pd.DataFrame({"pred": self.model.predict(X)}, index=frame.index)
        for column, values in probabilities(self.model, X).items():
            out[column] = values
        return out

    def _frame(self, files: Iterable[str | Path] | pd.DataFrame) -> pd.DataFrame:
        import pandas as pd

        if isinstance(files, pd.DataFrame):
            frame = files
            if "file" in frame.columns and not isinstance(frame.index, pd.MultiIndex):
                frame = frame.set_index("file")
        else:
            paths = [str(Path(f).resolve()) for f in files]
            frame = pd.DataFrame(index=pd.Index(paths, name="file"))
        if len(frame) == 0:
            raise UserError("No files to predict", todo="pass one or more audio files")
        missing = [str(f) for f in frame.index.get_level_values(0) if not Path(f).is_file()]
        if missing:
            raise UserError(f"{len(missing)} audio files do not exist: {', '.join(missing[:5])}",
                            todo="check the paths")
        return frame

    def _missing(self, features: pd.DataFrame) -> pd.DataFrame:
        """The training run's ``missing`` policy: ``impute`` rebuilds the indicator columns the
        model was trained with (the preprocessor fills in train means); otherwise a row with
        an undefined feature cannot be predicted."""
        nan = features.isna()
        if self.spec["missing"] != "impute":
            rows = nan.any(axis=1)
            if rows.any():
                raise UserError(
                    f"{int(rows.sum())} rows have features that could not be computed, e.g. "
                    f"{list(features.index[rows][:3])}",
                    where=f"the saved model (trained with missing={self.spec['missing']})",
                    todo="remove these files (e.g. unvoiced or too short), or train with missing=impute")
            return features
        expected = [c for c in self.spec["features"] if c.endswith(".missing") and c not in features.columns]
        if expected:
            import numpy as np
            import pandas as pd

            indicators = {c: nan[c.removesuffix(".missing")].astype(np.float32) for c in expected}
            features = pd.concat([features, pd.DataFrame(indicators, index=features.index)], axis=1)
        return features


def load_run(run_dir_or_bundle: str | Path, pm: PluginManager | None = None,
             secrets: Mapping[str, Any] | None = None, *, cache_dir: str | Path | None = None,
             n_jobs: int = 1, console: Any = None) -> Predictor:
    """Load a finished run (its folder, or its ``model/`` folder) or a bundle (``nk export``,
    checked by :func:`nk.bundle.check_bundle`) for prediction.

    :param pm: the plugin manager whose registry rebuilds the components (a fresh one when None).
    :param secrets: values of secret parameters, keyed ``<param>`` or ``<component>.<param>``;
        missing ones are read from ``NK_SECRET_<PARAM>``, else a UserError names them.
    :param cache_dir: the feature cache (default: the run's, else ``$NK_CACHE_DIR``/``~/.cache/nk``).
    """
    from omegaconf import OmegaConf
    from rich.console import Console

    from nk.context import RunContext
    from nk.plugins import PluginManager
    from nk.results import MANIFEST_FILE, load_model, with_secrets

    folder = Path(run_dir_or_bundle)
    if not (folder / MANIFEST_FILE).exists() and (folder / "model").is_dir():
        folder = folder / "model"
    if not folder.is_dir():
        raise UserError(f"No run folder {folder}", todo="point to a finished run's folder (or its model/)")
    from nk.bundle import BUNDLE_FILE, check_bundle

    if (folder / BUNDLE_FILE).exists():  # an exported bundle (nk export): its hashes and nk version
        check_bundle(folder)
    pm = pm if pm is not None else PluginManager()
    bundle = load_model(folder, pm=pm, secrets=secrets)
    spec = {k: v for k, v in bundle.items() if k not in ("model", "preprocessor")}
    config = dict(spec.get("config") or {})
    config.update(sampling_rate=spec["sampling_rate"], n_jobs=n_jobs, extract={"backend": "local"},
                  cache_dir=str(cache_dir) if cache_dir is not None else config.get("cache_dir"))
    cfg = OmegaConf.create(config)
    ctx = RunContext(cfg=cfg, run_dir=folder.parent, pm=pm, log=logging.getLogger("nk.inference"),
                     console=console if console is not None else Console(quiet=True))

    def rebuild(group: str, saved: dict[str, Any]) -> tuple[Any, Any, dict[str, Any]]:
        if saved["name"] not in pm.registry.names(group):
            raise UserError(f"The saved model needs the {group} component {saved['name']!r} "
                            f"({saved['provider']} {saved['version']}), which is not installed",
                            where=str(folder), allowed=", ".join(pm.registry.names(group)),
                            todo=f"install {saved['provider']}")
        comp = pm.registry.get(group, saved["name"])
        params = with_secrets(comp, saved["params"], secrets, saved.get("secret_params"))
        return comp, comp.build(params), params

    featurizers = [rebuild("feats", f) for f in spec.get("featurizers", [])]
    segmenter = rebuild("segment", spec["segmenter"])[1] if spec.get("segmenter") else None
    return Predictor(spec, bundle["model"], bundle["preprocessor"], featurizers, segmenter, ctx)


__all__ = ["Predictor", "load_run"]
