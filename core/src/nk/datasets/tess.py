"""TESS, the Toronto Emotional Speech Set (Dupuis & Pichora-Fuller 2010).

2800 files: two actresses (OAF, aged 64, and YAF, aged 26) say "Say the word ___" with 200
target words in 7 emotions. Scheme (the dataset's description): ``OAF_angry/OAF_back_angry.wav``
= speaker (OAF, YAF) _ word _ emotion (angry, disgust, fear, happy, neutral, ps = pleasant
surprise, sad); folder names vary between releases (``YAF_pleasant_surprised``), so only the
file name is parsed, case-insensitively (some releases write ``Fear``).

Download: the University of Toronto's Borealis Dataverse record doi:10.5683/SP2/E8H2MF, as
the zip of all its files that the Dataverse access API serves (no checksum of that zip is
published; the layout is checked instead).
"""

from __future__ import annotations

import re
from pathlib import Path
from re import Match
from typing import ClassVar

from nk.datasets.base import Download, Recipe, Row

DOI = "doi:10.5683/SP2/E8H2MF"


class Tess(Recipe):
    name = "tess"
    title = "TESS (Toronto Emotional Speech Set)"
    licence = "CC BY-NC-ND 4.0"
    citation = ("Dupuis, Pichora-Fuller (2010). Toronto emotional speech set (TESS). University of "
                "Toronto, Psychology Department. doi:10.5683/SP2/E8H2MF")
    homepage = f"https://borealisdata.ca/dataset.xhtml?persistentId={DOI}"
    layout = "<speaker OAF|YAF>_<word>_<angry|disgust|fear|happy|neutral|ps|sad>.wav, e.g. OAF_angry/OAF_back_angry.wav"
    downloads = (Download(f"https://borealisdata.ca/api/access/dataset/:persistentId/?persistentId={DOI}",
                          "tess.zip"),)
    emotions: ClassVar[dict[str, str]] = {"angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "happiness",
                "neutral": "neutral", "ps": "surprise", "sad": "sadness"}

    def parse(self, root: Path) -> tuple[list[Row], list[Path]]:
        ages = {"OAF": 64, "YAF": 26}

        def make(path: Path, m: Match[str]) -> Row | None:
            spk, word, emo = m.group(1).upper(), m.group(2), m.group(3).lower()
            return {"speaker": self.speaker(spk), "gender": "female", "age": ages[spk],
                    "emotion": self.emotion(emo), "emotion_code": emo, "word": word.lower()}

        return self.match_names(root, r"(OAF|YAF)_(.+)_(angry|disgust|fear|happy|neutral|ps|sad)", make,
                                flags=re.IGNORECASE)


RECIPE = Tess
