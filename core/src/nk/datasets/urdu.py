"""URDU, an Urdu emotional speech corpus from talk shows (Latif et al. 2018).

400 utterances of 38 speakers (27 male, 11 female) in 4 emotions. Scheme (the repository):
``Angry/SM1_F1_A01.wav`` = folder by emotion (Angry, Happy, Neutral, Sad); file name
S<sex M|F><speaker number>_F<file number>_<emotion initial A|H|N|S><number>.

Download: the GitHub repository siddiquelatif/URDU-Dataset as GitHub's zip of its master
branch (such zips have no fixed checksum; the layout is checked instead).
"""

from __future__ import annotations

from pathlib import Path
from re import Match
from typing import ClassVar

from nk.datasets.base import Download, Recipe, Row


class Urdu(Recipe):
    name = "urdu"
    title = "URDU (Urdu emotional speech)"
    licence = "research use, cite the paper (see the repository)"
    citation = ("Latif, Qayyum, Usman, Qadir (2018). Cross lingual speech emotion recognition: Urdu vs. "
                "Western languages. FIT 2018, 88-93.")
    homepage = "https://github.com/siddiquelatif/URDU-Dataset"
    layout = "<Angry|Happy|Neutral|Sad>/S<M|F><n>_F<n>_<A|H|N|S><n>.wav, e.g. Angry/SM1_F1_A01.wav"
    downloads = (Download("https://github.com/siddiquelatif/URDU-Dataset/archive/refs/heads/master.zip",
                          "URDU-Dataset-master.zip"),)
    emotions: ClassVar[dict[str, str]] = {"A": "anger", "H": "happiness", "N": "neutral", "S": "sadness"}

    def parse(self, root: Path) -> tuple[list[Row], list[Path]]:
        folders = {"angry": "A", "happy": "H", "neutral": "N", "sad": "S"}

        def make(path: Path, m: Match[str]) -> Row | None:
            sex, spk, number, emo = m.group(1), m.group(2), m.group(3), m.group(4)
            folder = folders.get(path.parent.name.lower())
            if folder is not None and folder != emo:
                return None  # name and folder disagree: listed, not guessed
            return {"speaker": self.speaker(f"S{sex}{spk}"), "gender": {"M": "male", "F": "female"}[sex],
                    "emotion": self.emotion(emo), "emotion_code": emo, "file_number": int(number)}

        return self.match_names(root, r"S([MF])(\d+)_F(\d+)_([AHNS])\d+", make)


RECIPE = Urdu
