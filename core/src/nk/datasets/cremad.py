"""CREMA-D, the Crowd-sourced Emotional Multimodal Actors Dataset (Cao et al. 2014).

7442 clips of 91 actors (48 male, 43 female, ages 20–74) speaking 12 sentences in 6 emotions.
Scheme (the repository's README): ``AudioWAV/1001_DFA_ANG_XX.wav`` = actor id (1001…1091) _
sentence (IEO, TIE, IOM, IWW, TAI, MTI, IWL, ITH, DFA, ITS, TSI, WSI) _ emotion (ANG anger,
DIS disgust, FEA fear, HAP happy, NEU neutral, SAD sad) _ level (LO, MD, HI, XX unspecified).
Actors' sex and age come from ``VideoDemographics.csv`` (columns ActorID, Age, Sex, Race,
Ethnicity) when it is in the folder.

Download: the files of the GitHub repository CheyneyComputerScience/CREMA-D (stored with
git-lfs): ``SentenceFilenames.csv`` lists the clips, each ``AudioWAV/<clip>.wav`` is fetched
from GitHub's LFS media host (no checksums published; each clip is checked to be audio by the
load stage). Or clone it yourself (``git lfs clone``) and pass the folder with ``--source``.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from re import Match
from typing import Any, ClassVar

from nk.datasets.base import Download, Recipe, Row, fetch, read_text

REPO = "https://github.com/CheyneyComputerScience/CREMA-D"
RAW = "https://raw.githubusercontent.com/CheyneyComputerScience/CREMA-D/master"
MEDIA = "https://media.githubusercontent.com/media/CheyneyComputerScience/CREMA-D/master"
CLIP = r"(10\d\d)_([A-Z]{3})_(ANG|DIS|FEA|HAP|NEU|SAD)_(LO|MD|HI|XX)"
CLIP_IN_TEXT = r"10\d\d_[A-Z]{3}_(?:ANG|DIS|FEA|HAP|NEU|SAD)_(?:LO|MD|HI|XX)"


class CremaD(Recipe):
    name = "cremad"
    title = "CREMA-D (Crowd-sourced Emotional Multimodal Actors Dataset)"
    licence = "Open Database License (ODbL) v1.0; contents: Database Contents License v1.0"
    citation = ("Cao, Cooper, Keutmann, Gur, Nenkova, Verma (2014). CREMA-D: Crowd-sourced emotional "
                "multimodal actors dataset. IEEE Trans. Affective Computing 5(4), 377-390.")
    homepage = REPO
    layout = ("AudioWAV/<actor 1001…1091>_<sentence>_<ANG|DIS|FEA|HAP|NEU|SAD>_<LO|MD|HI|XX>.wav, e.g. "
              "AudioWAV/1001_DFA_ANG_XX.wav, and VideoDemographics.csv beside AudioWAV")
    emotions: ClassVar[dict[str, str]] = {"ANG": "anger", "DIS": "disgust", "FEA": "fear", "HAP": "happiness", "NEU": "neutral",
                "SAD": "sadness"}

    @classmethod
    def can_download(cls) -> bool:
        return True

    def fetch_sources(self, folder: Path, console: Any) -> list[Path]:
        listing = fetch(Download(f"{RAW}/SentenceFilenames.csv", "SentenceFilenames.csv"), folder, console,
                        homepage=REPO)
        demographics = fetch(Download(f"{RAW}/VideoDemographics.csv", "VideoDemographics.csv"), folder,
                             console, homepage=REPO)
        clips = sorted(set(re.findall(CLIP_IN_TEXT, read_text(listing))))
        if not clips:
            from nk.errors import UserError

            raise UserError(f"{listing} lists no CREMA-D clips", allowed="lines naming clips such as 1001_DFA_ANG_XX",
                            todo=f"clone {REPO} with git-lfs and pass it with --source")
        audio = folder / "AudioWAV"
        console.print(f"Downloading {len(clips)} CREMA-D clips (once; a second run reuses them) …",
                      highlight=False)
        for clip in clips:
            fetch(Download(f"{MEDIA}/AudioWAV/{clip}.wav", f"{clip}.wav"), audio, console, homepage=REPO)
        return [demographics, audio]

    def obtain(self, dest: Path, source: Path | None, console: Any) -> Path:
        if source is not None:
            return super().obtain(dest, source, console)
        folder = dest / "downloads"
        self.fetch_sources(folder, console)
        return folder.resolve()  # the clips are used where they were downloaded

    def parse(self, root: Path) -> tuple[list[Row], list[Path]]:
        people = self._demographics(root)

        def make(path: Path, m: Match[str]) -> Row | None:
            actor, sentence, emo, level = m.groups()
            sex, age = people.get(actor, (None, None))
            return {"speaker": self.speaker(actor), "gender": sex, "age": age, "emotion": self.emotion(emo),
                    "emotion_code": emo, "sentence": sentence, "level": level}

        return self.match_names(root, CLIP, make)

    @staticmethod
    def _demographics(root: Path) -> dict[str, tuple[str | None, int | None]]:
        found = sorted(root.rglob("VideoDemographics.csv"))
        if not found:
            return {}
        out: dict[str, tuple[str | None, int | None]] = {}
        for rec in csv.DictReader(io.StringIO(read_text(found[0]))):
            actor = str(rec.get("ActorID", "")).strip()
            sex = str(rec.get("Sex", "")).strip().lower() or None
            age = str(rec.get("Age", "")).strip()
            out[actor] = (sex if sex in ("male", "female") else None, int(age) if age.isdigit() else None)
        return out


RECIPE = CremaD
