"""``nk spotlight``: look at a database in Renumics Spotlight — audio, labels, predictions, features.

The frame handed to Spotlight has one row per file (or segment): ``audio`` (the absolute path,
shown as a playable audio column), ``start``/``end`` in seconds for segments, every column of
the loaded table (labels, speaker, gender, split, db …; nk's private ``_role`` left out), a
run's ``pred`` and ``proba.<class>`` columns when ``spotlight.run=<run folder>`` names one, and
the features as one ``features`` embedding column (the configured ``feats``, from the feature
cache) unless ``spotlight.features=false``.

Spotlight is an optional extra (``pip install 'nk[spotlight]'``, the ``renumics-spotlight``
package); its server is bound to 127.0.0.1, so nothing is reachable from other machines.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nk.errors import UserError
from nk.registry import param

if TYPE_CHECKING:
    import pandas as pd
    from omegaconf import DictConfig

    from nk.cli import App
    from nk.context import RunContext

HOST = "127.0.0.1"
"""Spotlight's server listens here only (never on other interfaces)."""


@dataclass
class SpotlightConfig:
    run: str | None = param(None, help="a run folder of `nk run` whose predictions.csv is shown beside the labels")
    features: bool = param(True, help="add the configured features (feats=…) as an embedding column")
    port: int | None = param(None, ge=1, le=65535, help="the port on 127.0.0.1; None: a free one")


def check_viewer() -> None:
    """The optional extra is installed, or a user error saying how to install it."""
    import importlib.util

    try:
        found = importlib.util.find_spec("renumics.spotlight") is not None
    except ModuleNotFoundError:
        found = False
    if not found:
        raise UserError("nk spotlight needs Renumics Spotlight, which is not installed",
                        todo="pip install 'nk[spotlight]' (the renumics-spotlight package)")


def start_viewer(frame: pd.DataFrame, dtypes: dict[str, str], *, host: str, port: int | None) -> None:
    """Open Spotlight on ``frame`` (blocks until it is closed)."""
    from renumics import spotlight

    kinds = {"audio": spotlight.Audio, "embedding": spotlight.Embedding}
    spotlight.show(frame, dtype={c: kinds[k] for c, k in dtypes.items()}, host=host,
                   port="auto" if port is None else port, wait=True)


def spotlight_command(overrides: list[str], app: App, *, show_cfg: bool) -> int:
    from omegaconf import OmegaConf

    from nk.config import compose
    from nk.pipeline import run_in_folder
    from nk.results import new_run_dir

    cfg = compose(overrides, app.pm)
    if show_cfg:
        app.console.print(OmegaConf.to_yaml(cfg), highlight=False, markup=False)
        return 0
    check_viewer()
    run = _run_folder(cfg)
    run_dir = new_run_dir(Path(cfg.results_root).resolve(), str(cfg.name), label="spotlight")
    frame, dtypes = run_in_folder(cfg, app.pm, run_dir, app.console, "spotlight",
                                  lambda ctx: {"view": spotlight_frame(ctx, run)})["view"]
    port = cfg.spotlight.port
    app.console.print(f"Opening Renumics Spotlight on http://{HOST}:{port or '<free port>'} with {len(frame)} rows "
                      f"and {frame.shape[1]} columns (Ctrl-C ends it)", highlight=False)
    start_viewer(frame, dtypes, host=HOST, port=None if port is None else int(port))
    return 0


def _run_folder(cfg: DictConfig) -> Path | None:
    if cfg.spotlight.run is None:
        return None
    run = Path(str(cfg.spotlight.run)).expanduser()
    if not (run / "predictions.csv").is_file():
        raise UserError(f"{str(run)!r} is not the folder of a finished `nk run` (no predictions.csv)",
                        where="config key spotlight.run", todo="give a run folder below results/")
    return run


def spotlight_frame(ctx: RunContext, run: Path | None = None) -> tuple[pd.DataFrame, dict[str, str]]:
    """The frame Spotlight shows and the Spotlight kind of its special columns."""
    import numpy as np
    import pandas as pd

    from nk import stages

    loaded = stages.load(ctx)
    frame = stages.segment(ctx, loaded.frame)
    view = frame.drop(columns=["_role"], errors="ignore")
    if isinstance(view.index, pd.MultiIndex):
        files = view.index.get_level_values("file").astype(str)
        start = view.index.get_level_values("start").total_seconds()
        end = view.index.get_level_values("end").total_seconds()
        out = view.reset_index(drop=True).assign(audio=list(files), start=np.asarray(start), end=np.asarray(end))
    else:
        out = view.reset_index(drop=True).assign(audio=[str(f) for f in view.index])
    out = out[["audio", *[c for c in out.columns if c != "audio"]]]
    for column in out.columns:  # Spotlight takes plain types: categories and objects as text
        if column != "audio" and (out[column].dtype == object or isinstance(out[column].dtype, pd.CategoricalDtype)):
            out[column] = out[column].astype("string")
    dtypes = {"audio": "audio"}
    if run is not None:
        out = _with_predictions(out, frame, run)
    if ctx.cfg.spotlight.features:
        features = stages.featurize(ctx, frame)
        out["features"] = list(features.to_numpy(dtype=np.float32))
        dtypes["features"] = "embedding"
    return out, dtypes


def _with_predictions(out: pd.DataFrame, frame: pd.DataFrame, run: Path) -> pd.DataFrame:
    import pandas as pd

    pred = pd.read_csv(run / "predictions.csv")
    if "file" not in pred.columns or isinstance(frame.index, pd.MultiIndex):
        raise UserError(f"The predictions of {str(run)!r} cannot be matched to the files",
                        allowed="a run on whole files (not segments)", todo="give the folder of a run on files")
    # the run's own copies of the data's columns (truth, speaker) are in the table already
    pred = pred.drop(columns=["truth", "speaker"], errors="ignore").drop_duplicates("file").set_index("file")
    matched = out["audio"].isin(pred.index)
    if not matched.any():
        raise UserError(f"None of the files of {str(run)!r}'s predictions are in the loaded data",
                        where="config key spotlight.run", todo="give a run made on these databases")
    joined = out.join(pred, on="audio")
    return joined.assign(pred=joined["pred"].astype("string"))


__all__ = ["HOST", "SpotlightConfig", "check_viewer", "spotlight_command", "spotlight_frame", "start_viewer"]
