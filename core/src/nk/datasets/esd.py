"""ESD, the Emotional Speech Dataset (Zhou, Sisman, Liu & Li 2021).

35,000 utterances: 10 Mandarin (0001–0010) and 10 English (0011–0020) speakers, 350 parallel
sentences in 5 emotions each. Scheme (the dataset's README): ``0011/Angry/0011_000351.wav`` =
speaker folder / emotion folder (Angry, Happy, Neutral, Sad, Surprise) / speaker_utterance;
the first release puts each emotion's files in ``train/``, ``evaluation/`` and ``test/``
subfolders (300/20/30 per emotion), which become the ``split`` column (evaluation → dev).
``<speaker>/<speaker>.txt`` holds ``utterance<TAB>text<TAB>emotion`` lines; the text is added
when present.

The dataset is shared after accepting its licence agreement (non-commercial research):
``--source`` only.
"""

from __future__ import annotations

from pathlib import Path
from re import Match
from typing import ClassVar

from nk.datasets.base import Recipe, Row, read_text


class Esd(Recipe):
    name = "esd"
    title = "ESD (Emotional Speech Dataset, English and Mandarin)"
    licence = "non-commercial research after accepting the ESD licence agreement"
    citation = ("Zhou, Sisman, Liu, Li (2021). Seen and unseen emotional style transfer for voice conversion "
                "with a new emotional speech dataset. ICASSP 2021, 920-924.")
    homepage = "https://github.com/HLTSingapore/Emotional-Speech-Data"
    layout = ("<speaker 0001…0020>/<Angry|Happy|Neutral|Sad|Surprise>/[train|evaluation|test/]"
              "<speaker>_<6 digits>.wav, e.g. 0011/Angry/0011_000351.wav")
    instructions = ("request ESD through https://github.com/HLTSingapore/Emotional-Speech-Data (licence "
                    "agreement) and download the archive")
    emotions: ClassVar[dict[str, str]] = {"Angry": "anger", "Happy": "happiness", "Neutral": "neutral", "Sad": "sadness",
                "Surprise": "surprise"}

    def parse(self, root: Path) -> tuple[list[Row], list[Path]]:
        texts: dict[str, str] = {}
        for listing in root.rglob("00[0-2][0-9].txt"):
            for line in read_text(listing).splitlines():
                parts = line.split("\t")
                if len(parts) >= 2:
                    texts[parts[0].strip()] = parts[1].strip()
        splits = {"train": "train", "evaluation": "dev", "test": "test"}

        def make(path: Path, m: Match[str]) -> Row | None:
            spk = m.group(1)
            parent = path.parent.name
            split = splits.get(parent.lower())
            emo_folder = path.parent.parent.name if split else parent
            if emo_folder not in self.emotions:
                return None
            row: Row = {"speaker": self.speaker(spk), "language": "Mandarin" if int(spk) <= 10 else "English",
                        "emotion": self.emotion(emo_folder), "emotion_code": emo_folder}
            if path.stem in texts:
                row["text"] = texts[path.stem]
            if split:
                row["split"] = split
            return row

        return self.match_names(root, r"(00(?:0[1-9]|1\d|20))_\d{6}", make)


RECIPE = Esd
