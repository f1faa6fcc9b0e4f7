"""EmoDB, the Berlin Database of Emotional Speech (Burkhardt et al. 2005).

535 utterances of 10 actors (5 female, 5 male) speaking 10 German sentences in 7 emotions.
Scheme (the corpus's ``erklaerung.txt``): ``wav/03a01Fa.wav`` = speaker ``03`` (two digits),
text ``a01`` (a01…a07, b01…b10), emotion letter (German initial: W Ärger = anger,
L Langeweile = boredom, E Ekel = disgust, A Angst = fear, F Freude = happiness, T Trauer =
sadness, N neutral), version letter (a, b, …). Speakers' sex and age from the same
documentation: 03 m 31, 08 f 34, 09 f 21, 10 m 32, 11 m 26, 12 m 30, 13 f 32, 14 f 35,
15 m 25, 16 f 31.

Download: the archive the corpus's site offers (http://emodb.bilderbar.info/download/,
``download.zip``); its sha256 is not published, so the layout is checked instead.
"""

from __future__ import annotations

from pathlib import Path
from re import Match
from typing import ClassVar

from nk.datasets.base import Download, Recipe, Row

SPEAKERS = {"03": ("male", 31), "08": ("female", 34), "09": ("female", 21), "10": ("male", 32),
            "11": ("male", 26), "12": ("male", 30), "13": ("female", 32), "14": ("female", 35),
            "15": ("male", 25), "16": ("female", 31)}


class EmoDB(Recipe):
    name = "emodb"
    title = "EmoDB (Berlin Database of Emotional Speech)"
    licence = "free for research, cite the paper (republished as CC0-1.0 by audEERING's audb)"
    citation = ("Burkhardt, Paeschke, Rolfes, Sendlmeier, Weiss (2005). A database of German emotional "
                "speech. Interspeech 2005, 1517-1520.")
    homepage = "http://emodb.bilderbar.info/"
    layout = "wav/<speaker 2 digits><text a01…b10><emotion W/L/E/A/F/T/N><version>.wav, e.g. wav/03a01Fa.wav"
    downloads = (Download("http://emodb.bilderbar.info/download/download.zip", "emodb.zip"),)
    emotions: ClassVar[dict[str, str]] = {"W": "anger", "L": "boredom", "E": "disgust", "A": "fear", "F": "happiness",
                "T": "sadness", "N": "neutral"}

    def parse(self, root: Path) -> tuple[list[Row], list[Path]]:
        def make(path: Path, m: Match[str]) -> Row | None:
            spk, text, emo, version = m.groups()
            if spk not in SPEAKERS:
                return None
            gender, age = SPEAKERS[spk]
            return {"speaker": self.speaker(spk), "gender": gender, "age": age, "emotion": self.emotion(emo),
                    "emotion_code": emo, "text": text, "version": version}

        return self.match_names(root, r"(\d\d)([ab]\d\d)([WLEAFTN])([a-z])", make)


RECIPE = EmoDB
