"""SAVEE, the Surrey Audio-Visual Expressed Emotion database (Haq & Jackson 2009).

480 British English utterances of 4 male speakers (DC, JE, JK, KL) in 7 emotions. Scheme (the
database's documentation): ``AudioData/DC/a01.wav`` = speaker folder, emotion prefix (a anger,
d disgust, f fear, h happiness, n neutral, sa sadness, su surprise) and number (neutral 01–30,
the others 01–15). A common flattened copy names the files ``DC_a01.wav``; both are read.

The database is distributed after registration on its site: ``--source`` only.
"""

from __future__ import annotations

from pathlib import Path
from re import Match
from typing import ClassVar

from nk.datasets.base import Recipe, Row

SPEAKERS = ("DC", "JE", "JK", "KL")


class Savee(Recipe):
    name = "savee"
    title = "SAVEE (Surrey Audio-Visual Expressed Emotion)"
    licence = "free for research after registration on the database's site; cite the papers"
    citation = ("Haq, Jackson (2009). Speaker-dependent audio-visual emotion recognition. AVSP 2009, "
                "53-58.")
    homepage = "http://kahlan.eps.surrey.ac.uk/savee/"
    layout = "AudioData/<DC|JE|JK|KL>/<a|d|f|h|n|sa|su><NN>.wav (or flat DC_a01.wav)"
    instructions = ("register on http://kahlan.eps.surrey.ac.uk/savee/Register.html and download "
                    "AudioData.zip")
    emotions: ClassVar[dict[str, str]] = {"a": "anger", "d": "disgust", "f": "fear", "h": "happiness", "n": "neutral", "sa": "sadness",
                "su": "surprise"}

    def parse(self, root: Path) -> tuple[list[Row], list[Path]]:
        def make(path: Path, m: Match[str]) -> Row | None:
            spk = m.group(1) or path.parent.name
            if spk not in SPEAKERS:
                return None
            emo = m.group(2)
            return {"speaker": self.speaker(spk), "gender": "male", "emotion": self.emotion(emo),
                    "emotion_code": emo, "number": int(m.group(3))}

        return self.match_names(root, r"(?:(DC|JE|JK|KL)_)?(sa|su|a|d|f|h|n)(\d\d)", make)


RECIPE = Savee
