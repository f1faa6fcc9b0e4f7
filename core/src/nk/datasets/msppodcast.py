"""MSP-Podcast (Lotfian & Busso 2019): emotional speech from podcasts, UT Dallas.

Layout of a release (1.x, its documentation): ``Audios/MSP-PODCAST_0001_0008.wav`` (``Audio/``
in older releases) and ``Labels/labels_consensus.csv`` with the columns FileName, EmoClass,
EmoAct, EmoVal, EmoDom, SpkrID, Gender, Split_Set. EmoClass codes: A anger, S sadness,
H happiness, U surprise, F fear, D disgust, C contempt, N neutral, O other, X no agreement.
Split_Set Train → train, Development → dev, Test1 → test; the other test sets (Test2, Test3)
keep their name in ``split_set`` and get no ``split`` (choose with a filter or label map).
SpkrID ``Unknown`` becomes an empty speaker (it is not one person).

MSP-Podcast is licensed by UT Dallas (academic licence): ``--source`` only.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import ClassVar

from nk.datasets.base import Recipe, Row, audio_files, read_text
from nk.errors import UserError


class MspPodcast(Recipe):
    name = "msppodcast"
    title = "MSP-Podcast"
    licence = "licensed by UT Dallas (academic licence agreement; no redistribution)"
    citation = ("Lotfian, Busso (2019). Building naturalistic emotionally balanced speech corpus by retrieving "
                "emotional speech from existing podcast recordings. IEEE Trans. Affective Computing 10(4), "
                "471-483.")
    homepage = "https://ecs.utdallas.edu/research/researchlabs/msp-lab/MSP-Podcast.html"
    layout = "Audios/<FileName>.wav (or Audio/) and Labels/labels_consensus.csv"
    instructions = ("request MSP-Podcast from the MSP lab at UT Dallas (licence agreement) and pass the "
                    "release folder (with Audios/ and Labels/)")
    emotions: ClassVar[dict[str, str]] = {"A": "anger", "S": "sadness", "H": "happiness", "U": "surprise", "F": "fear", "D": "disgust",
                "C": "contempt", "N": "neutral", "O": "other", "X": "no_agreement"}

    def parse(self, root: Path) -> tuple[list[Row], list[Path]]:
        found = sorted(root.rglob("labels_consensus.csv"))
        if not found:
            raise UserError(f"{str(root)!r} has no Labels/labels_consensus.csv", allowed=self.layout,
                            todo="pass the MSP-Podcast release folder")
        audio = {p.name: p for p in audio_files(root)}
        splits = {"Train": "train", "Development": "dev", "Test1": "test"}
        rows, used = [], set()
        for rec in csv.DictReader(io.StringIO(read_text(found[0]))):
            name = rec.get("FileName", "").strip()
            code = rec.get("EmoClass", "").strip()
            if name not in audio or code not in self.emotions:
                continue
            used.add(name)
            spk = rec.get("SpkrID", "").strip()
            gender = rec.get("Gender", "").strip().lower()
            row: Row = {"file": audio[name], "speaker": self.speaker(spk) if spk and spk != "Unknown" else None,
                        "gender": gender if gender in ("male", "female") else None,
                        "emotion": self.emotion(code), "emotion_code": code,
                        "arousal": _number(rec.get("EmoAct")), "valence": _number(rec.get("EmoVal")),
                        "dominance": _number(rec.get("EmoDom")), "split_set": rec.get("Split_Set", "").strip()}
            row["split"] = splits.get(row["split_set"])
            rows.append(row)
        return rows, [p for n, p in audio.items() if n not in used]


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


RECIPE = MspPodcast
