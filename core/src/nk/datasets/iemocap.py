"""IEMOCAP, the Interactive Emotional Dyadic Motion Capture database (Busso et al. 2008).

About 10,000 utterances of 10 actors (5 sessions, one woman and one man each), scripted and
improvised dialogues. Layout of ``IEMOCAP_full_release`` (the release's documentation):
``Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav``; the labels are in
``Session1/dialog/EmoEvaluation/Ses01F_impro01.txt``, one line per utterance::

    [6.2901 - 8.2357]	Ses01F_impro01_F000	neu	[2.5000, 2.5000, 2.5000]

= time span, utterance, consensus category (neu, hap, exc, sad, ang, fru, sur, fea, dis, oth,
xxx = no agreement) and [valence, activation, dominance] on 1–5. The utterance's speaker is
the session plus the letter before its number (``F000``: the session's female actor).
``split`` is not written (IEMOCAP has none); ``session`` lets you leave one session out.

IEMOCAP is licensed by USC SAIL on request: ``--source`` only.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

from nk.datasets.base import Recipe, Row, audio_files, read_text

LINE = re.compile(r"\[\s*([\d.]+)\s*-\s*([\d.]+)\s*\]\s+(Ses\d\d[FM]_\S+)\s+(\w+)\s+"
                  r"\[\s*([\d.]+),\s*([\d.]+),\s*([\d.]+)\s*\]")
UTTERANCE = re.compile(r"Ses(\d\d)[FM]_.*_([FM])\d+")


class Iemocap(Recipe):
    name = "iemocap"
    title = "IEMOCAP (Interactive Emotional Dyadic Motion Capture)"
    licence = "licensed by USC SAIL (release form; research only, no redistribution)"
    citation = ("Busso, Bulut, Lee, Kazemzadeh, Mower, Kim, Chang, Lee, Narayanan (2008). IEMOCAP: "
                "interactive emotional dyadic motion capture database. Language Resources and Evaluation "
                "42(4), 335-359.")
    homepage = "https://sail.usc.edu/iemocap/"
    layout = ("IEMOCAP_full_release/SessionN/sentences/wav/<dialog>/<utterance>.wav and "
              "SessionN/dialog/EmoEvaluation/<dialog>.txt")
    instructions = ("request IEMOCAP from https://sail.usc.edu/iemocap/iemocap_release.htm (release form); "
                    "pass the extracted IEMOCAP_full_release folder (or its archive)")
    emotions: ClassVar[dict[str, str]] = {"neu": "neutral", "hap": "happiness", "exc": "excitement", "sad": "sadness", "ang": "anger",
                "fru": "frustration", "sur": "surprise", "fea": "fear", "dis": "disgust", "oth": "other",
                "xxx": "no_agreement"}

    def parse(self, root: Path) -> tuple[list[Row], list[Path]]:
        labels: dict[str, Row] = {}
        for path in sorted(root.rglob("EmoEvaluation/*.txt")):
            for line in read_text(path).splitlines():
                m = LINE.match(line.strip())
                if m and m.group(4) in self.emotions:
                    start, end, utt, code, val, act, dom = m.groups()
                    labels[utt] = {"emotion": self.emotion(code), "emotion_code": code, "valence": float(val),
                                   "arousal": float(act), "dominance": float(dom),
                                   "utterance_start": float(start), "utterance_end": float(end)}
        rows, skipped = [], []
        for path in audio_files(root):
            m = UTTERANCE.fullmatch(path.stem)
            if m is None or path.stem not in labels or "sentences" not in path.parts:
                skipped.append(path)
                continue
            session, sex = m.groups()
            rows.append({"file": path, "speaker": self.speaker(f"Ses{session}{sex}"),
                         "gender": {"F": "female", "M": "male"}[sex], "session": int(session),
                         "improvised": "_impro" in path.stem, **labels[path.stem]})
        return rows, skipped


RECIPE = Iemocap
