"""JL-corpus, New Zealand English emotional speech (James, Tian & Watson 2018).

2400 sentences of 4 actors (female1, female2, male1, male2) in 5 primary emotions (angry,
sad, neutral, happy, excited) and 5 secondary ones (anxious, apologetic, assertive,
concerned, encouraging). Scheme (the corpus's README): ``female1_angry_1a_1.wav`` = speaker _
emotion _ sentence (number and a/b) _ session. The corpus's ``.txt``/``.phonetic`` files beside
the audio are not needed.

Distributed through Kaggle ("JL corpus", login required) and the authors' GitHub page:
``--source`` only.
"""

from __future__ import annotations

from pathlib import Path
from re import Match
from typing import ClassVar

from nk.datasets.base import Recipe, Row


class Jl(Recipe):
    name = "jl"
    title = "JL-corpus (New Zealand English emotional speech)"
    licence = "CC0 1.0 as distributed on Kaggle; cite the paper"
    citation = ("James, Tian, Watson (2018). An open source emotional speech corpus for human robot "
                "interaction applications. Interspeech 2018, 2768-2772.")
    homepage = "https://www.kaggle.com/datasets/tli725/jl-corpus"
    layout = "<female1|female2|male1|male2>_<emotion>_<sentence, e.g. 1a>_<session>.wav, e.g. female1_angry_1a_1.wav"
    instructions = "download the JL corpus from https://www.kaggle.com/datasets/tli725/jl-corpus"
    emotions: ClassVar[dict[str, str]] = {"angry": "anger", "sad": "sadness", "neutral": "neutral", "happy": "happiness",
                "excited": "excitement", "anxious": "anxiety", "apologetic": "apology",
                "assertive": "assertiveness", "concerned": "concern", "encouraging": "encouragement"}

    def parse(self, root: Path) -> tuple[list[Row], list[Path]]:
        primary = {"angry", "sad", "neutral", "happy", "excited"}

        def make(path: Path, m: Match[str]) -> Row | None:
            sex, number, emo, sentence, session = m.groups()
            if emo not in self.emotions:
                return None
            return {"speaker": self.speaker(f"{sex}{number}"), "gender": sex, "emotion": self.emotion(emo),
                    "emotion_code": emo, "primary": emo in primary, "sentence": sentence, "session": int(session)}

        return self.match_names(root, r"(female|male)([12])_([a-z]+)_(\d+[ab])_(\d+)", make)


RECIPE = Jl
