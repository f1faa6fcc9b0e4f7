"""CaFE, the Canadian French Emotional speech dataset (Gournay, Lahaie & Lefebvre 2018).

936 utterances of 12 actors (6 female, 6 male) speaking 6 French sentences in 7 emotions, two
intensities. Scheme (the dataset's README): ``Colère/Faible/01-C-1-1.wav`` = actor (01…12) -
emotion initial (C colère = anger, D dégoût = disgust, J joie = happiness, N neutre = neutral,
P peur = fear, S surprise, T tristesse = sadness) - intensity (1 faible = low, 2 fort = high) -
sentence (1…6); neutral files have no intensity (``Neutre/01-N-1.wav``). The README does not
say which actor is which sex in a form nk can rely on, so no gender column is written.

Download: Zenodo record 1478765, ``CaFE_48k.zip`` (Zenodo publishes MD5s, not sha256; the
layout is checked instead).
"""

from __future__ import annotations

from pathlib import Path
from re import Match
from typing import ClassVar

from nk.datasets.base import Download, Recipe, Row


class Cafe(Recipe):
    name = "cafe"
    title = "CaFE (Canadian French Emotional speech)"
    licence = "CC BY-NC-SA 4.0"
    citation = ("Gournay, Lahaie, Lefebvre (2018). A Canadian French emotional speech dataset. ACM "
                "Multimedia Systems Conference (MMSys 2018), 399-402. doi:10.5281/zenodo.1478765")
    homepage = "https://zenodo.org/records/1478765"
    layout = "<actor 01…12>-<C|D|J|N|P|S|T>-<intensity 1|2>-<sentence 1…6>.wav (neutral: 01-N-1.wav)"
    downloads = (Download("https://zenodo.org/records/1478765/files/CaFE_48k.zip?download=1", "CaFE_48k.zip"),)
    emotions: ClassVar[dict[str, str]] = {"C": "anger", "D": "disgust", "J": "happiness", "N": "neutral", "P": "fear", "S": "surprise",
                "T": "sadness"}

    def parse(self, root: Path) -> tuple[list[Row], list[Path]]:
        def make(path: Path, m: Match[str]) -> Row | None:
            actor, emo, first, second = m.groups()
            if (emo == "N") != (second is None) or (second is not None and first not in "12"):
                return None
            intensity, sentence = ("none", first) if second is None else ({"1": "low", "2": "high"}[first], second)
            return {"speaker": self.speaker(actor), "emotion": self.emotion(emo), "emotion_code": emo,
                    "intensity": intensity, "sentence": int(sentence)}

        return self.match_names(root, r"(\d\d)-([CDJNPST])-([1-6])(?:-([1-6]))?", make)


RECIPE = Cafe
