"""MESD, the Mexican Emotional Speech Database (Duville, Alonso-Valerdi & Ibarra-Zarate 2021).

864 single words spoken by adult female, adult male and child voices in 6 emotions. Scheme
(the dataset's description on Mendeley Data): ``Anger_C_A_abajo.wav`` = emotion (Anger,
Disgust, Fear, Happiness, Neutral, Sadness) _ voice (F adult female, M adult male, C child) _
corpus (A, B) _ word. The names identify the voice category, not the person: ``speaker`` is
the category (3 "speakers"), so a speaker-independent split separates voice categories, and
confidence intervals over speakers are not possible (nk says so in the results).

Distributed on Mendeley Data (doi:10.17632/cy34mh68j9): ``--source`` with the downloaded zip.
"""

from __future__ import annotations

from pathlib import Path
from re import Match
from typing import ClassVar

from nk.datasets.base import Recipe, Row


class Mesd(Recipe):
    name = "mesd"
    title = "MESD (Mexican Emotional Speech Database)"
    licence = "CC BY 4.0"
    citation = ("Duville, Alonso-Valerdi, Ibarra-Zarate (2021). The Mexican Emotional Speech Database "
                "(MESD): elaboration and assessment based on machine learning. EMBC 2021, 1644-1647. "
                "doi:10.17632/cy34mh68j9")
    homepage = "https://data.mendeley.com/datasets/cy34mh68j9"
    layout = "<Anger|Disgust|Fear|Happiness|Neutral|Sadness>_<F|M|C>_<A|B>_<word>.wav, e.g. Anger_C_A_abajo.wav"
    instructions = ("download the zip from https://data.mendeley.com/datasets/cy34mh68j9 (\"Download All\")")
    emotions: ClassVar[dict[str, str]] = {"Anger": "anger", "Disgust": "disgust", "Fear": "fear", "Happiness": "happiness",
                "Neutral": "neutral", "Sadness": "sadness"}

    def parse(self, root: Path) -> tuple[list[Row], list[Path]]:
        voices = {"F": ("female", "adult"), "M": ("male", "adult"), "C": (None, "child")}

        def make(path: Path, m: Match[str]) -> Row | None:
            emo, voice, corpus, word = m.groups()
            gender, age_group = voices[voice]
            return {"speaker": self.speaker(voice), "gender": gender, "age_group": age_group,
                    "emotion": self.emotion(emo), "emotion_code": emo, "corpus": corpus, "word": word}

        return self.match_names(root, r"(Anger|Disgust|Fear|Happiness|Neutral|Sadness)_([FMC])_([AB])_(.+)", make)


RECIPE = Mesd
