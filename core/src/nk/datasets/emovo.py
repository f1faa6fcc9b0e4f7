"""EMOVO, an Italian emotional speech corpus (Costantini et al. 2014).

588 utterances of 6 actors (f1, f2, f3 female; m1, m2, m3 male) speaking 14 sentences in 7
emotions. Scheme (the corpus's description): ``f1/dis-f1-b1.wav`` = emotion (dis disgusto =
disgust, gio gioia = happiness, neu neutral, pau paura = fear, rab rabbia = anger, sor
sorpresa = surprise, tri tristezza = sadness) - actor - sentence (b1, b2, d1, d2, l1…l4,
n1…n5, t1, t2).

The corpus's original site (Fondazione Ugo Bordoni) no longer serves it reliably: ``--source``
only, with the archive or folder from wherever you obtained it.
"""

from __future__ import annotations

from pathlib import Path
from re import Match
from typing import ClassVar

from nk.datasets.base import Recipe, Row


class Emovo(Recipe):
    name = "emovo"
    title = "EMOVO (Italian emotional speech)"
    licence = "research use, cite the paper"
    citation = ("Costantini, Iaderola, Paoloni, Todisco (2014). EMOVO corpus: an Italian emotional speech "
                "database. LREC 2014, 3501-3504.")
    homepage = "http://voice.fub.it/activities/corpora/emovo/index.html"
    layout = "<f1|f2|f3|m1|m2|m3>/<dis|gio|neu|pau|rab|sor|tri>-<actor>-<sentence>.wav, e.g. f1/dis-f1-b1.wav"
    instructions = ("download EMOVO from its site (http://voice.fub.it/activities/corpora/emovo/) or a "
                    "mirror the authors name")
    emotions: ClassVar[dict[str, str]] = {"dis": "disgust", "gio": "happiness", "neu": "neutral", "pau": "fear", "rab": "anger",
                "sor": "surprise", "tri": "sadness"}

    def parse(self, root: Path) -> tuple[list[Row], list[Path]]:
        def make(path: Path, m: Match[str]) -> Row | None:
            emo, actor, sentence = m.groups()
            return {"speaker": self.speaker(actor), "gender": "female" if actor[0] == "f" else "male",
                    "emotion": self.emotion(emo), "emotion_code": emo, "sentence": sentence}

        return self.match_names(root, r"(dis|gio|neu|pau|rab|sor|tri)-([fm][1-3])-([a-z]\d)", make)


RECIPE = Emovo
