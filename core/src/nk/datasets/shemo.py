"""ShEMO, the Sharif Emotional Speech Database (Persian; Mohamad Nezami et al. 2019).

3000 utterances of 87 speakers (31 female, 56 male) from radio plays, in 6 emotions. Scheme
(the repository's README): ``F01A01.wav`` = gender (F, M), speaker number (2 digits), emotion
letter (A anger, F fear, H happiness, N neutral, S sadness, W surprise), utterance number
(2 digits); the files come in ``female.zip`` and ``male.zip``.

Download: those two zips from the GitHub repository mansourehk/ShEMO (no checksums published;
the layout is checked instead).
"""

from __future__ import annotations

from pathlib import Path
from re import Match
from typing import ClassVar

from nk.datasets.base import Download, Recipe, Row

RAW = "https://github.com/mansourehk/ShEMO/raw/master"


class Shemo(Recipe):
    name = "shemo"
    title = "ShEMO (Sharif Emotional Speech Database, Persian)"
    licence = "research use, cite the paper (see the repository)"
    citation = ("Mohamad Nezami, Jamshid Lou, Karami (2019). ShEMO: a large-scale validated database for "
                "Persian speech emotion detection. Language Resources and Evaluation 53, 1-16.")
    homepage = "https://github.com/mansourehk/ShEMO"
    layout = "<F|M><speaker 2 digits><emotion A|F|H|N|S|W><utterance 2 digits>.wav, e.g. female/F01A01.wav"
    downloads = (Download(f"{RAW}/female.zip", "female.zip"), Download(f"{RAW}/male.zip", "male.zip"))
    emotions: ClassVar[dict[str, str]] = {"A": "anger", "F": "fear", "H": "happiness", "N": "neutral", "S": "sadness", "W": "surprise"}

    def parse(self, root: Path) -> tuple[list[Row], list[Path]]:
        def make(path: Path, m: Match[str]) -> Row | None:
            sex, spk, emo, utt = m.groups()
            return {"speaker": self.speaker(f"{sex}{spk}"), "gender": {"F": "female", "M": "male"}[sex],
                    "emotion": self.emotion(emo), "emotion_code": emo, "utterance": int(utt)}

        return self.match_names(root, r"([FM])(\d\d)([AFHNSW])(\d\d)", make)


RECIPE = Shemo
