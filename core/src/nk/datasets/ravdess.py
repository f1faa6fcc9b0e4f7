"""RAVDESS, the Ryerson Audio-Visual Database of Emotional Speech and Song (Livingstone &
Russo 2018), audio-only speech part.

1440 files of 24 actors (12 female, 12 male), two statements in 8 emotions. Scheme (the
corpus's README on Zenodo): ``Actor_12/03-01-06-01-02-01-12.wav`` = modality (01 full AV,
02 video only, 03 audio only) - vocal channel (01 speech, 02 song) - emotion (01 neutral,
02 calm, 03 happy, 04 sad, 05 angry, 06 fearful, 07 disgust, 08 surprised) - intensity
(01 normal, 02 strong) - statement (01 "Kids are talking by the door", 02 "Dogs are sitting
by the door") - repetition (01, 02) - actor (01…24; odd numbers male, even female).
The song files (vocal channel 02) are accepted too and marked in ``channel``.

Download: Zenodo record 1188976, ``Audio_Speech_Actors_01-24.zip`` (Zenodo publishes MD5s,
not sha256; the layout is checked instead).
"""

from __future__ import annotations

from pathlib import Path
from re import Match
from typing import ClassVar

from nk.datasets.base import Download, Recipe, Row


class Ravdess(Recipe):
    name = "ravdess"
    title = "RAVDESS (Ryerson Audio-Visual Database of Emotional Speech and Song)"
    licence = "CC BY-NC-SA 4.0"
    citation = ("Livingstone, Russo (2018). The Ryerson Audio-Visual Database of Emotional Speech and Song "
                "(RAVDESS). PLoS ONE 13(5): e0196391. doi:10.5281/zenodo.1188976")
    homepage = "https://zenodo.org/records/1188976"
    layout = ("Actor_NN/MM-VV-EE-II-SS-RR-AA.wav (7 two-digit fields: modality, vocal channel, emotion, "
              "intensity, statement, repetition, actor), e.g. Actor_12/03-01-06-01-02-01-12.wav")
    downloads = (Download("https://zenodo.org/records/1188976/files/Audio_Speech_Actors_01-24.zip?download=1",
                          "Audio_Speech_Actors_01-24.zip"),)
    emotions: ClassVar[dict[str, str]] = {"01": "neutral", "02": "calm", "03": "happiness", "04": "sadness", "05": "anger", "06": "fear",
                "07": "disgust", "08": "surprise"}

    def parse(self, root: Path) -> tuple[list[Row], list[Path]]:
        def make(path: Path, m: Match[str]) -> Row | None:
            _, channel, emo, intensity, statement, rep, actor = m.groups()
            if emo not in self.emotions or not 1 <= int(actor) <= 24:
                return None
            return {"speaker": self.speaker(actor), "gender": "male" if int(actor) % 2 else "female",
                    "emotion": self.emotion(emo), "emotion_code": emo,
                    "intensity": {"01": "normal", "02": "strong"}.get(intensity, intensity),
                    "statement": statement, "repetition": int(rep),
                    "channel": {"01": "speech", "02": "song"}.get(channel, channel)}

        return self.match_names(root, r"(0[1-3])-(0[12])-(\d\d)-(0[12])-(0[12])-(0[12])-(\d\d)", make)


RECIPE = Ravdess
