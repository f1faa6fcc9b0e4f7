"""eNTERFACE'05, an audio-visual emotion database (Martin, Kotsia, Macq & Pitas 2006).

About 1290 video clips of 42 subjects (14 nationalities, speaking English) reacting to short
stories in 6 emotions with 5 sentences each. Scheme (the database's layout):
``subject 1/anger/sentence 1/s1_an_1.avi`` = subject, emotion (an anger, di disgust, fe fear,
ha happiness, sa sadness, su surprise), sentence (1…5). The clips are AVI files; their audio
is extracted to ``dest/audio/<same path>.wav`` with ``ffmpeg`` (needed for ``.avi``; folders
that already hold ``.wav`` copies with the same names are used as they are). A few clips in
the release break the scheme (subject 6's files): they are listed and skipped.

The archive is offered on the eNTERFACE'05 site after accepting its terms: ``--source`` only.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from re import Match
from typing import Any, ClassVar

from nk.datasets.base import Recipe, Row
from nk.errors import UserError


class Enterface(Recipe):
    name = "enterface"
    title = "eNTERFACE'05 (audio-visual emotion database)"
    licence = "free for research, cite the paper"
    citation = ("Martin, Kotsia, Macq, Pitas (2006). The eNTERFACE'05 audio-visual emotion database. "
                "ICDE Workshops 2006, 8.")
    homepage = "http://www.enterface.net/enterface05/"
    layout = "subject N/<emotion>/sentence M/sN_<an|di|fe|ha|sa|su>_M.avi (or .wav), e.g. subject 1/anger/sentence 1/s1_an_1.avi"
    instructions = "download the eNTERFACE'05 emotion database from http://www.enterface.net/enterface05/"
    emotions: ClassVar[dict[str, str]] = {"an": "anger", "di": "disgust", "fe": "fear", "ha": "happiness", "sa": "sadness", "su": "surprise"}
    suffixes = (".wav", ".avi")

    def prepare(self, dest: Path, *, source: Path | None, console: Any) -> Path:
        self._dest = Path(dest)
        return super().prepare(dest, source=source, console=console)

    def parse(self, root: Path) -> tuple[list[Row], list[Path]]:
        def make(path: Path, m: Match[str]) -> Row | None:
            subject, emo, sentence = m.groups()
            return {"speaker": self.speaker(f"s{subject}"), "emotion": self.emotion(emo), "emotion_code": emo,
                    "sentence": int(sentence)}

        rows, skipped = self.match_names(root, r"s(\d+)_(an|di|fe|ha|sa|su)_([1-5])", make)
        by_stem: dict[str, Row] = {}
        for row in rows:  # a .wav copy beside the .avi wins
            key = str(Path(row["file"]).with_suffix(""))
            if key not in by_stem or Path(row["file"]).suffix.lower() == ".wav":
                by_stem[key] = row
        rows = list(by_stem.values())
        videos = [r for r in rows if Path(r["file"]).suffix.lower() == ".avi"]
        if videos:
            self._extract_audio(videos, root, getattr(self, "_dest", root) / "audio")
        return rows, skipped

    @staticmethod
    def _extract_audio(rows: list[Row], root: Path, into: Path) -> None:
        ffmpeg = shutil.which("ffmpeg")
        if ffmpeg is None:
            raise UserError(f"{len(rows)} eNTERFACE'05 clips are videos (.avi), and extracting their audio "
                            "needs ffmpeg, which is not installed",
                            todo="install ffmpeg (Debian/Ubuntu: apt-get install ffmpeg) and run again")
        for row in rows:
            video = Path(row["file"])
            wav = into / video.relative_to(root).with_suffix(".wav")
            if not wav.is_file():
                wav.parent.mkdir(parents=True, exist_ok=True)
                done = subprocess.run([ffmpeg, "-nostdin", "-loglevel", "error", "-y", "-i", str(video), "-vn",
                                       "-ac", "1", str(wav)], capture_output=True, text=True)
                if done.returncode != 0:
                    raise UserError(f"ffmpeg could not extract the audio of {str(video)!r}: "
                                    f"{done.stderr.strip()[-300:]}", todo="check the file")
            row["file"] = wav


RECIPE = Enterface
