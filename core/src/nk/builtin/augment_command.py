"""Built-in subcommand ``nk augment``: write augmented copies of the training data, no training.

It runs ``nk run``'s load, segment, split and augment stages (:mod:`nk.stages`) with the
configured augmenter (``augment=noise``, ``augment=audiomentations`` …): the augmenter sees the
training rows only, as in ``nk run``. Written into ``<results_root>/<name>/<time>-augment/``:

- ``augmented.csv``: one row per augmented copy: ``file`` (the new audio), ``start``/``end`` for
  segments, the data's columns, ``augmented_from`` (the source file) and ``split`` (``train``);
- with ``augmentation.copy_audio=true`` (default) the audio is copied to ``audio/`` and the table
  points there; otherwise it points into the cache (``<cache>/augment/…``);
- with ``augmentation.with_originals=true`` the table also holds the original rows with their
  split, so that ``data=csv split.method=given`` trains on the same split;
- ``augment.json``: rows per split, augmented rows, where the audio is.

``nk run augment=…`` trains with the augmented rows directly (nkululeko's aug_train).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nk.hookspecs import hookimpl
from nk.registry import param

if TYPE_CHECKING:
    import pandas as pd

    from nk.cli import App
    from nk.context import RunContext
    from nk.registry import AddSection

AUGMENT_EPILOG = """\
examples:
  nk augment augment=noise augment.min_snr_db=5 augment.max_snr_db=20
  nk augment augment=noise 'augment.only={emotion: [sad]}' augment.copies=3
  nk augment augment=audiomentations 'augment.transforms=[{name: PitchShift, p: 1.0}]'
  nk run augment=noise                                   train with the augmented rows

Config groups and overrides are those of `nk run`; the `augmentation` section holds this
command's options. Results go to <results_root>/<name>/<time>-augment/.
"""


@dataclass
class AugmentationConfig:
    """Options of ``nk augment`` (the augmenter's own are under ``augment``)."""

    copy_audio: bool = param(True, help="copy the augmented audio into the run folder's audio/ "
                                        "(false: the table points into the cache)")
    with_originals: bool = param(False, help="also list the original rows, with their split")


@hookimpl
def nk_add_config_sections(add: AddSection) -> None:
    add("augmentation", AugmentationConfig, help="what `nk augment` writes")


@hookimpl
def nk_add_commands(subparsers: argparse._SubParsersAction) -> None:
    cmd = subparsers.add_parser(
        "augment", help="write augmented copies of the training rows and their table (no training)",
        epilog=AUGMENT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Compose a config from overrides (Hydra syntax, as for `nk run`), load, segment "
                    "and split the data, augment the training rows with the selected augmenter and "
                    "write augmented.csv (loadable with data=csv).",
    )
    cmd.add_argument("overrides", nargs="*", help="group=option or key=value (Hydra syntax)")
    cmd.add_argument("--cfg", action="store_true", help="print the composed config and exit")
    from nk.builtin.ini_command import add_config_option

    add_config_option(cmd)
    cmd.set_defaults(handler=_augment)


def _augment(args: argparse.Namespace, app: App) -> int:
    from omegaconf import OmegaConf

    from nk.builtin.ini_command import command_config
    from nk.errors import UserError
    from nk.pipeline import run_in_folder
    from nk.results import new_run_dir

    cfg = command_config(args, app, "augment")
    if cfg.get("augment") is None:
        raise UserError("nk augment needs an augmenter", where="config group augment",
                        allowed=", ".join(app.pm.registry.names("augment")) or "none installed "
                        "(pip install nk-audiomentations)", todo="add e.g. `augment=noise`")
    if args.cfg:
        app.console.print(OmegaConf.to_yaml(cfg), highlight=False, markup=False)
        return 0
    run_dir = new_run_dir(Path(cfg.results_root).resolve(), str(cfg.name), label="augment")
    app.console.print(f"[bold]nk augment[/] {cfg.name} → {run_dir}", highlight=False)
    result = run_in_folder(cfg, app.pm, run_dir, app.console, "augment", augment_corpus)
    app.console.print(f"{result['augmented_rows']} augmented rows from {result['source_rows']} training rows. "
                      f"Table: {run_dir / 'augmented.csv'}", highlight=False)
    return 0


def augment_corpus(ctx: RunContext) -> dict[str, Any]:
    """Load, segment, split and augment the configured data into ``ctx.run_dir``; returns
    ``augment.json``."""
    import json
    import shutil

    import pandas as pd

    from nk import stages

    loaded = stages.load(ctx)
    frame = stages.segment(ctx, loaded.frame)
    splits = stages.split(ctx, frame, loaded.target, loaded.task)
    augmented, folds = stages.augment(ctx, frame, splits.folds)
    extra = augmented.iloc[len(frame):]
    split_of = folds[0].split if len(folds) == 1 else None
    table = _table(extra, split_of)
    if ctx.cfg.augmentation.copy_audio:
        audio = ctx.run_dir / "audio"
        audio.mkdir(exist_ok=True)
        copies = []
        for file in table["file"]:
            target = audio / Path(file).name
            shutil.copyfile(file, target)
            copies.append(str(target))
        table["file"] = copies
    if ctx.cfg.augmentation.with_originals:
        table = pd.concat([_table(frame, split_of), table], ignore_index=True)
    table.to_csv(ctx.run_dir / "augmented.csv", index=False)
    report = stages.augment_report(augmented, folds)
    result = {"source_rows": int(extra["augmented_from"].nunique()) if len(extra) else 0,
              "augmented_rows": len(extra), "augmentation": report,
              "audio": str(ctx.run_dir / "audio") if ctx.cfg.augmentation.copy_audio
              else str(ctx.cache_dir / "augment"), "files": ["augmented.csv"]}
    (ctx.run_dir / "augment.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def _table(frame: pd.DataFrame, split_of: pd.Series | None) -> pd.DataFrame:
    import pandas as pd

    public = [c for c in frame.columns if not str(c).startswith("_") and c not in ("duration", "split")]
    if isinstance(frame.index, pd.MultiIndex):
        out = pd.DataFrame({"file": frame.index.get_level_values("file").astype(str),
                            "start": frame.index.get_level_values("start").total_seconds().to_numpy(),
                            "end": frame.index.get_level_values("end").total_seconds().to_numpy()})
    else:
        out = pd.DataFrame({"file": frame.index.astype(str)})
    for column in public:
        out[column] = frame[column].to_numpy()
    if split_of is not None:
        out["split"] = split_of.reindex(frame.index).to_numpy()
    return out
