"""Dataset recipes (``nk data prepare NAME``) and the ``nk data`` command.

``polish``: the Polish emotional speech corpus of the nkululeko paper's example (450 files,
5 male speakers, anger/fear/neutral; CC BY 4.0, Mięsikowska & Świsulski 2020), from the zip
given with ``--zip``, or from nkululeko's sdist on PyPI, which carries that zip.
"""

from __future__ import annotations

import argparse
import csv
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nk.errors import UserError
from nk.hookspecs import hookimpl
from nk.registry import Register

if TYPE_CHECKING:
    from nk.cli import App

POLISH_EMOTIONS = {"a": "anger", "s": "fear", "n": "neutral"}
POLISH_SPLIT = {"m1": "test", "m4": "dev"}  # nkululeko's split; the other speakers train
POLISH_SDIST = "nkululeko==1.14.1"
POLISH_MEMBER = "data/polish/polish_speech_emotions.zip"


@dataclass
class PolishConfig:
    """The recipe has no parameters."""


class Polish:
    """Unzips the corpus into ``dest`` and writes ``dest/polish.csv``."""

    def prepare(self, dest: Path, *, source: Path | None, console: Any) -> Path:
        dest.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            archive = source if source is not None else self._from_pypi(Path(tmp), console)
            if not archive.is_file():
                raise UserError(f"The zip file {str(archive)!r} does not exist",
                                where="nk data prepare polish --zip",
                                todo="give the path of polish_speech_emotions.zip")
            try:
                with zipfile.ZipFile(archive) as zf:
                    members = [m for m in zf.namelist() if m.lower().endswith(".wav")]
                    if not members:
                        raise UserError(f"{str(archive)!r} holds no wav files",
                                        todo="give the polish_speech_emotions.zip archive")
                    zf.extractall(dest, members=members)
            except zipfile.BadZipFile:
                raise UserError(f"{str(archive)!r} is not a zip archive",
                                todo="give the polish_speech_emotions.zip archive") from None
        rows = []
        pattern = re.compile(r"^(m\d+)\.([asn])_([^_]+)_(\d+)\.wav$")
        for member in sorted(members):
            match = pattern.match(Path(member).name)
            if not match:
                continue
            speaker, emo, word, rep = match.groups()
            rows.append({"file": member, "speaker": f"polish_{speaker}", "gender": "male",
                         "emotion": POLISH_EMOTIONS[emo], "word": word, "repetition": int(rep),
                         "split": POLISH_SPLIT.get(speaker, "train")})
        table = dest / "polish.csv"
        with open(table, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        console.print(f"Prepared {len(rows)} files of the Polish emotional speech corpus in {dest}",
                      highlight=False)
        return table

    @staticmethod
    def _from_pypi(tmp: Path, console: Any) -> Path:
        console.print(f"Downloading the {POLISH_SDIST} sdist from PyPI (it carries the corpus) …")
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
               POLISH_SDIST, "-d", str(tmp)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        sdists = list(tmp.glob("nkululeko-*.tar.gz"))
        if done.returncode != 0 or not sdists:
            raise UserError(f"Could not download {POLISH_SDIST} from PyPI: "
                            f"{(done.stderr or done.stdout).strip().splitlines()[-1:]}",
                            todo="check the network, or pass the zip with --zip PATH")
        with tarfile.open(sdists[0]) as tar:
            member = next((m for m in tar.getmembers() if m.name.endswith(POLISH_MEMBER)), None)
            if member is None:
                raise UserError(f"{sdists[0].name} does not contain {POLISH_MEMBER}",
                                todo="pass the zip with --zip PATH")
            extracted = tar.extractfile(member)
            assert extracted is not None
            out = tmp / "polish_speech_emotions.zip"
            with open(out, "wb") as fh:
                shutil.copyfileobj(extracted, fh)
        return out


@hookimpl
def nk_register_datasets(register: Register) -> None:
    register("polish", Polish, PolishConfig,
             description="Polish emotional speech (450 files, 5 speakers, 3 emotions; nkululeko's example)")


@hookimpl
def nk_add_commands(subparsers: argparse._SubParsersAction) -> None:
    data = subparsers.add_parser("data", help="prepare example databases")
    sub = data.add_subparsers(title="data commands", metavar="ACTION")
    prepare = sub.add_parser("prepare", help="build a database from a recipe (see `nk data list`)")
    prepare.add_argument("recipe", help="recipe name, e.g. polish")
    prepare.add_argument("--zip", type=Path, help="use this archive instead of downloading")
    prepare.add_argument("--dest", type=Path, help="target folder (default: ./data/RECIPE)")
    prepare.set_defaults(handler=_prepare)
    listing = sub.add_parser("list", help="list the recipes")
    listing.set_defaults(handler=_list)
    data.set_defaults(handler=lambda args, app: (data.print_help(), 0)[1])


def _prepare(args: argparse.Namespace, app: App) -> int:
    comp = app.pm.registry.get("dataset", args.recipe)
    dest = args.dest or Path("data") / args.recipe
    table = comp.build({}).prepare(dest.resolve(), source=args.zip, console=app.console)
    app.console.print(f"Table: {table}", highlight=False)
    return 0


def _list(args: argparse.Namespace, app: App) -> int:
    for comp in app.pm.registry:
        if comp.group == "dataset":
            app.console.print(f"{comp.name:12s} {comp.description} ({comp.provider})", highlight=False)
    return 0
