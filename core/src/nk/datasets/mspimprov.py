"""MSP-IMPROV (Busso et al. 2017): acted and improvised dyadic emotional speech, UT Dallas.

12 actors (6 sessions, one woman and one man each). Scheme (the release's documentation):
``Audio/session1/S01A/P/MSP-IMPROV-S01A-F01-P-FM01.wav`` = sentence (S01…S15) and its target
emotion (A angry, H happy, S sad, N neutral), speaker (F01 = the female actor of session 1,
M01 the male), scenario (R read, S improvised target sentence, T target-related improvisation
context, P natural interaction) and turn. Consensus labels in ``Evaluation.txt``, one line per
file::

    UTD-IMPROV-S01A-F01-R-FF01.avi; A; A:4.0; V:2.0; D:4.0; N:5

= clip (named UTD-IMPROV-… for the video), consensus (A angry, H happy, S sad, N neutral,
O other, X no agreement), mean arousal/valence/dominance/naturalness.

MSP-IMPROV is licensed by UT Dallas (academic licence): ``--source`` only.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

from nk.datasets.base import Recipe, Row, audio_files, read_text
from nk.errors import UserError

LINE = re.compile(r"(?:UTD|MSP)-IMPROV-(S\d\d[AHSN]-[FM]\d\d-[RSTP]-\w+?)(?:\.\w+)?;\s*([AHSNOX])\s*;(.*)")
NAME = re.compile(r"MSP-IMPROV-(S\d\d)([AHSN])-([FM])(\d\d)-([RSTP])-(\w+)")


class MspImprov(Recipe):
    name = "mspimprov"
    title = "MSP-IMPROV"
    licence = "licensed by UT Dallas (academic licence agreement; no redistribution)"
    citation = ("Busso, Parthasarathy, Burmania, AbdelWahab, Sadoughi, Mower Provost (2017). MSP-IMPROV: an "
                "acted corpus of dyadic interactions to study emotion perception. IEEE Trans. Affective "
                "Computing 8(1), 67-80.")
    homepage = "https://ecs.utdallas.edu/research/researchlabs/msp-lab/MSP-Improv.html"
    layout = "Audio/sessionN/<sentence>/<scenario>/MSP-IMPROV-S01A-F01-P-FM01.wav and Evaluation.txt"
    instructions = ("request MSP-IMPROV from the MSP lab at UT Dallas (licence agreement) and pass the release "
                    "folder (with Audio/ and Evaluation.txt)")
    emotions: ClassVar[dict[str, str]] = {"A": "anger", "H": "happiness", "S": "sadness", "N": "neutral", "O": "other", "X": "no_agreement"}

    def parse(self, root: Path) -> tuple[list[Row], list[Path]]:
        found = sorted(root.rglob("Evaluation.txt"))
        if not found:
            raise UserError(f"{str(root)!r} has no Evaluation.txt", allowed=self.layout,
                            todo="pass the MSP-IMPROV release folder")
        labels: dict[str, Row] = {}
        for line in read_text(found[0]).splitlines():
            m = LINE.match(line.strip())
            if m is None:
                continue
            clip, code, rest = m.groups()
            dims = dict(re.findall(r"([AVDN]):\s*([\d.]+)", rest))
            labels[clip] = {"emotion": self.emotion(code), "emotion_code": code,
                            **{k: float(dims[c]) for k, c in (("arousal", "A"), ("valence", "V"),
                                                              ("dominance", "D")) if c in dims}}
        rows, skipped = [], []
        for path in audio_files(root):
            m = NAME.fullmatch(path.stem)
            key = path.stem.removeprefix("MSP-IMPROV-")
            if m is None or key not in labels:
                skipped.append(path)
                continue
            sentence, target, sex, session, scenario, _ = m.groups()
            rows.append({"file": path, "speaker": self.speaker(f"{sex}{session}"),
                         "gender": {"F": "female", "M": "male"}[sex], "session": int(session),
                         "scenario": scenario, "sentence": sentence, "target_emotion": self.emotions[target],
                         **labels[key]})
        return rows, skipped


RECIPE = MspImprov
