"""The Polish emotional speech corpus of the nkululeko paper's example (Mięsikowska &
Świsulski 2020).

450 files of 5 male speakers, anger/fear/neutral. Scheme (``polish_speech_emotions.zip``):
``POLISH/m1.a_nie_1.wav`` = speaker (m1…m5) . emotion (a anger, s strach = fear, n neutral) _
word _ repetition. Its ``split`` column is nkululeko's split: speaker m1 test, m4 dev, the
others train.

Download: nkululeko's sdist on PyPI (``nkululeko==1.14.1``) carries the zip
(``data/polish/polish_speech_emotions.zip``); fetched with pip, which checks the sdist
against PyPI's sha256.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from re import Match
from typing import Any, ClassVar

from nk.datasets.base import Recipe, Row
from nk.errors import UserError

SPLIT = {"m1": "test", "m4": "dev"}  # nkululeko's split; the other speakers train
SDIST = "nkululeko==1.14.1"
MEMBER = "data/polish/polish_speech_emotions.zip"


class Polish(Recipe):
    name = "polish"
    title = "the Polish emotional speech corpus"
    licence = "CC BY 4.0"
    citation = ("Mięsikowska, Świsulski (2020). Emotions in Polish speech recordings. Data set, CC BY 4.0; "
                "the nkululeko paper's example (Burkhardt et al. 2022, LREC).")
    homepage = "https://pypi.org/project/nkululeko/1.14.1/"
    layout = "POLISH/m<speaker 1…5>.<a|s|n>_<word>_<repetition>.wav, e.g. POLISH/m1.a_nie_1.wav"
    emotions: ClassVar[dict[str, str]] = {"a": "anger", "s": "fear", "n": "neutral"}

    @classmethod
    def can_download(cls) -> bool:
        return True

    def fetch_sources(self, folder: Path, console: Any) -> list[Path]:
        import tarfile

        folder.mkdir(parents=True, exist_ok=True)
        out = folder / "polish_speech_emotions.zip"
        if out.is_file():
            return [out]
        console.print(f"Downloading the {SDIST} sdist from PyPI (it carries the corpus) …")
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", SDIST, "-d",
               str(folder)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        sdists = list(folder.glob("nkululeko-*.tar.gz"))
        if done.returncode != 0 or not sdists:
            raise UserError(f"Could not download {SDIST} from PyPI: "
                            f"{(done.stderr or done.stdout).strip().splitlines()[-1:]}",
                            todo="check the network, or pass the zip with --source PATH")
        with tarfile.open(sdists[0]) as tar:
            member = next((m for m in tar.getmembers() if m.name.endswith(MEMBER)), None)
            if member is None:
                raise UserError(f"{sdists[0].name} does not contain {MEMBER}", todo="pass the zip with --source PATH")
            extracted = tar.extractfile(member)
            assert extracted is not None
            with open(out, "wb") as fh:
                shutil.copyfileobj(extracted, fh)
        return [out]

    def parse(self, root: Path) -> tuple[list[Row], list[Path]]:
        def make(path: Path, m: Match[str]) -> Row | None:
            speaker, emo, word, rep = m.groups()
            return {"speaker": self.speaker(speaker), "gender": "male", "emotion": self.emotion(emo),
                    "emotion_code": emo, "word": word, "repetition": int(rep), "split": SPLIT.get(speaker, "train")}

        return self.match_names(root, r"(m\d+)\.([asn])_([^_]+)_(\d+)", make)


RECIPE = Polish
